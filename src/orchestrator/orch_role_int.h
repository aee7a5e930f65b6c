/* orch_role_int.h: the role object's fields, shared by orch_role.c (the
 * object and its pump) and place.c (the gateway's placement over it); not
 * a public API (zt_orch_role.h is). */
#ifndef ZT_ORCH_ROLE_INT_H
#define ZT_ORCH_ROLE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "zentalk/zt_orch_role.h"

struct zt_orch_role {
    const struct zt_config *cfg;
    struct zt_registry *reg;       /* borrowed (local) */
    struct zt_sched *sched;        /* borrowed (local) */
    struct zt_verifier *verifier;  /* which jobs are verified and by whom (zt_verifier.h) */
    struct zt_nat_relay *relay;    /* workers behind NAT (zt_nat_relay.h) */
    struct zt_lease *lease;        /* placement for gateways in other processes (zt_lease.h) */
    struct zt_orch_client *remote; /* this gateway's orchestrator in another process, or NULL */
    zt_orch_event_fn sink;
    void *sink_ud;
    struct zt_gw_runner *run; /* zt_orch_role_set_runner's, or NULL */
    pthread_t thread;
    bool running;
    pthread_mutex_t mu; /* kick, stop */
    pthread_cond_t cv;
    bool kicked, stop;
    atomic_uint_fast64_t queue_full, no_worker; /* submissions refused */
    _Atomic(struct zt_dht *) dht; /* revocations published to (zt_orch_role_set_dht), or NULL */
};

#endif
