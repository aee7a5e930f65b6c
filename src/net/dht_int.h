/* dht_int.h: what the tests of the discovery DHT need beyond zt_dht.h. */
#ifndef ZT_NET_DHT_INT_H
#define ZT_NET_DHT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_dht.h"

/* Put len raw bytes, unchecked, under the key a lookup for (role, model)
 * reads (model NULL: the role's key; role NULL: node_id's own key), as any
 * stranger on the DHT can. For the tests of forged and junk values.
 * ZT_EINVAL, ZT_ENOMEM, ZT_EUNSUPPORTED (not built). */
int zt__dht_put_raw(struct zt_dht *d, const char *role, const char *model, const char *node_id, const void *data,
                    size_t len);

/* What one DHT value is, checked as a lookup for (role, model) on a key
 * (want_id: a node's own key, only its descriptors; NULL: any) checks it
 * at time now: ZT__DHT_DESCRIPTOR, a descriptor that verifies and fits, in
 * *desc (release with zt_node_descriptor_deinit); ZT__DHT_REVOCATION, a
 * valid revocation in *rev; ZT__DHT_JUNK, anything else (nothing kept).
 * Any bytes at all may come in (fuzz/dht_value.c). */
enum { ZT__DHT_JUNK = 0, ZT__DHT_DESCRIPTOR = 1, ZT__DHT_REVOCATION = 2 };
int zt__dht_check_value(const void *data, size_t len, int64_t now, const char *role, const char *model,
                        const char *want_id, struct zt_node_descriptor *desc, struct zt_dht_revocation *rev);

#endif
