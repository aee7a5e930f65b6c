/* zt_test_verdict.h: what the tests of the orchestrator's verdict checks
 * (src/orchestrator/orch_verdict.h) share: a table of named test nodes
 * with their signing keys, the key lookup those checks take
 * (zt__verdict_key_fn, ud = the table), and empty check reports with the
 * time now. test_orch_verdict and test_attack_replay_once. Header only;
 * include after <cmocka.h>. */
#ifndef ZT_TEST_VERDICT_H
#define ZT_TEST_VERDICT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../src/orchestrator/orch_verdict.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_time.h"

struct zt_test_nodes {
    const char *const *ids;    /* the nodes' ids */
    struct zt_identity **keys; /* keys[i] signs for ids[i] (zt_test_nodes_generate) */
    size_t n;
};

/* zt__verdict_key_fn: the Ed25519 key of node_id in the table ud. */
static inline int zt_test_nodes_key(void *ud, const char *node_id, uint8_t pk[static ZT_ED25519_PK_LEN])
{
    const struct zt_test_nodes *t = ud;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->ids[i], node_id) == 0) {
            memcpy(pk, zt_identity_sign_pk(t->keys[i]), ZT_ED25519_PK_LEN);
            return 0;
        }
    return ZT_ENOTFOUND;
}

/* A fresh key for every node: 0, or the first error. */
static inline int zt_test_nodes_generate(const struct zt_test_nodes *t)
{
    for (size_t i = 0; i < t->n; i++) {
        int rc = zt_identity_generate(&t->keys[i]);
        if (rc) return rc;
    }
    return 0;
}

static inline void zt_test_nodes_free(const struct zt_test_nodes *t)
{
    for (size_t i = 0; i < t->n; i++) {
        zt_identity_free(t->keys[i]);
        t->keys[i] = NULL;
    }
}

/* Empty check reports and picks, and the time now (unix ms and s). */
static inline struct zt__check_reports *zt_test_fresh_reports(int64_t *now, uint64_t *now_s)
{
    struct zt__check_reports *cr = NULL;
    assert_int_equal(zt__check_reports_new(&cr), 0);
    *now = zt_time_real_ms();
    *now_s = (uint64_t)(*now / 1000);
    return cr;
}

#endif
