/* dht_int.h: what the tests of the discovery DHT need beyond zt_dht.h. */
#ifndef ZT_NET_DHT_INT_H
#define ZT_NET_DHT_INT_H

#include <stddef.h>

#include "zentalk/zt_dht.h"

/* Put len raw bytes, unchecked, under the key a lookup for (role, model)
 * reads (model NULL: the role's key; role NULL: node_id's own key), as any
 * stranger on the DHT can. For the tests of forged and junk values.
 * ZT_EINVAL, ZT_ENOMEM, ZT_EUNSUPPORTED (not built). */
int zt__dht_put_raw(struct zt_dht *d, const char *role, const char *model, const char *node_id, const void *data,
                    size_t len);

#endif
