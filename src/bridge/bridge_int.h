/* bridge_int.h: shared by src/bridge's files (the outbox's row reader). */
#ifndef ZT_BRIDGE_INT_H
#define ZT_BRIDGE_INT_H

#include "zentalk/zt_bridge.h"
#include "zentalk/zt_store.h"

/* The columns zt__bridge_read_row reads, in its order. */
#define ZT__BRIDGE_COLS "idem_key, type, state, attempts, created_ms, next_ms, last_status, last_error"
int zt__bridge_read_row(struct zt_store_stmt *q, struct zt_bridge_row *r);

#endif
