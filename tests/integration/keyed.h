/* keyed.h: nodes with an identity the test made (DIR/data/node.key), the
 * tiny-model worker that trusts a test's gateways, and API tokens: what
 * the black-box tests of gateways and workers (and bench/) repeat. Part of
 * the harness library (tests/integration/keyed.c). */
#ifndef ZT_TEST_KEYED_H
#define ZT_TEST_KEYED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"

struct zt_identity;

struct keyed_node {
    struct zt_identity *id;
    char dir[256];  /* the node's temp dir (its --config and reuse dir) */
    char data[320]; /* dir/data: its data directory */
    struct node n;
};

/* A fresh temp dir (tag in its name) with data/ and a new identity saved
 * in data/node.key (no passphrase). Fails the test on error. */
void keyed_make(struct keyed_node *k, const char *tag);
/* Kill its node if running, free the identity, remove the dir. */
void keyed_free(struct keyed_node *k);
/* Start k as a worker of the model file at model_path, served as model_id
 * (context 256, max_tokens, one CPU thread), that admits sealed jobs only
 * from signed peers and trusts the gateways gws (their descriptors in its
 * peers file). Returns its own descriptor (zt_malloc'd JSON text), for the
 * gateways' peers files. */
char *keyed_tiny_worker(struct keyed_node *k, const char *model_path, const char *model_id,
                        struct keyed_node *const *gws, size_t n_gws, unsigned max_tokens);
/* "Bearer <jwt>": HS256 under secret, sub, role user, iss zentalk-api,
 * aud zentalk-ai (the defaults of integration.*), an hour from now. */
void keyed_bearer(const char *secret, const char *sub, char *out, size_t cap);
/* The same with another role ("admin"). */
void keyed_bearer_role(const char *secret, const char *sub, const char *role, char *out, size_t cap);

/* ---- an orchestrator whose workers' keys the test holds ------------------ */
/* An orchestrator-only node (orch, with the environment oenv or NULL) on
 * a fresh net_config dir (cfg, cap: TAGcfg, one job at once) and n keyed
 * workers (wk: TAGwk) joined to it with --join (a heartbeat every 300 ms),
 * their node ids in ids, all live. False, nothing started, when the model
 * is missing. keyed_orch_stop undoes it. */
bool keyed_orch(struct node *orch, const char *const *oenv, char *cfg, size_t cap, const char *tag,
                struct keyed_node *wk, char (*ids)[64], size_t n);
void keyed_orch_stop(struct node *orch, const char *cfg, struct keyed_node *wk, size_t n);

#endif
