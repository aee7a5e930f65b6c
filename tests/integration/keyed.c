/* keyed.c: see keyed.h. */
#include "keyed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

void keyed_make(struct keyed_node *k, const char *tag)
{
    tmp_dir(k->dir, sizeof k->dir, tag);
    snprintf(k->data, sizeof k->data, "%s/data", k->dir);
    assert_int_equal(mkdir(k->data, 0700), 0);
    assert_int_equal(zt_identity_generate(&k->id), 0);
    char key[400];
    snprintf(key, sizeof key, "%s/node.key", k->data);
    assert_int_equal(zt_identity_save(k->id, key, NULL, 0, NULL, 0, NULL), 0);
}

void keyed_free(struct keyed_node *k)
{
    if (k->n.pid) node_cleanup(&k->n);
    k->n.pid = 0;
    zt_identity_free(k->id);
    k->id = NULL;
    if (k->dir[0]) rm_rf(k->dir);
    k->dir[0] = '\0';
}

char *keyed_tiny_worker(struct keyed_node *k, const char *model_path, const char *model_id,
                        struct keyed_node *const *gws, size_t n_gws, unsigned max_tokens)
{
    int64_t exp = zt_time_real_ms() / 1000 + 3600;
    const char *roles[] = {"gateway"};
    char *dg[16];
    assert_true(n_gws <= 16);
    for (size_t i = 0; i < n_gws; i++)
        assert_int_equal(zt_identity_descriptor(gws[i]->id, roles, 1, NULL, 0, "http://127.0.0.1:1", exp, &dg[i]), 0);
    put_json_array(k->data, "peers.json", dg, n_gws);
    for (size_t i = 0; i < n_gws; i++) zt_free(dg[i]);
    char yaml[1600];
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  memory_budget_mb: 0\n  default_model: %s\n"
             "models:\n  - id: %s\n    path: %s\n    context_size: 256\n    max_tokens: %u\n",
             model_id, model_id, model_path, max_tokens);
    put_file(k->dir, "models.yaml", yaml);
    put_file(k->dir, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 2\n");
    const char *const args[] = {"--config", k->dir, NULL};
    static const char *const env[] = {"ZENTALK_ENCRYPTION_SEALED_JOBS_CALLERS=peer", NULL};
    node_spawn(&k->n, args, env, true, k->dir);
    struct resp d;
    http(k->n.port, "GET", "/v1/node/descriptor", NULL, NULL, &d);
    assert_int_equal(d.status, 200);
    char *desc = zt_strdup(zt_buf_str(&d.body));
    resp_free(&d);
    assert_non_null(desc);
    return desc;
}

void keyed_bearer(const char *secret, const char *sub, char *out, size_t cap)
{
    keyed_bearer_role(secret, sub, "user", out, cap);
}

void keyed_bearer_role(const char *secret, const char *sub, const char *role, char *out, size_t cap)
{
    char *t = jwt_mint(secret, sub, role, 3600);
    snprintf(out, cap, "Bearer %s", t);
    free(t);
}

bool keyed_orch(struct node *orch, const char *const *oenv, char *cfg, size_t cap, const char *tag,
                struct keyed_node *wk, char (*ids)[64], size_t n)
{
    char t[64];
    snprintf(t, sizeof t, "%scfg", tag);
    if (!net_config(cfg, cap, t, 1)) return false;
    const char *const oargs[] = {"--roles", "orchestrator", NULL};
    node_spawn(orch, oargs, oenv, true, NULL);
    const char *const wenv[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", NULL};
    snprintf(t, sizeof t, "%swk", tag);
    for (size_t i = 0; i < n; i++) {
        keyed_make(&wk[i], t);
        net_worker(&wk[i].n, cfg, orch->url, wenv, NULL, wk[i].dir, ids[i]);
    }
    assert_int_equal(orch_wait_live(orch->port, (long)n, 20000), (long)n);
    return true;
}

void keyed_orch_stop(struct node *orch, const char *cfg, struct keyed_node *wk, size_t n)
{
    for (size_t i = 0; i < n; i++) keyed_free(&wk[i]);
    node_stop(orch, 20000);
    rm_rf(cfg);
}
