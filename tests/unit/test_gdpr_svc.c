/* test_gdpr_svc.c: the GDPR export and erase service (zt_gdpr.h,
 * src/privacy/gdpr_svc.c) over the real holders, wired as the node wires
 * them: a privacy layer with its audit log and salts in a SQLite store, a
 * wallet with a signed-in session, the search store (SQLite, FTS5) and
 * the ledger (SQLite) in a temp directory. The export: every part, in
 * order, with the not-kept statements, for a wallet and a JWT identity;
 * the byte budget shared by the search messages and the audit entries.
 * The erase: its order (search messages and sessions gone and the salt
 * still there when the erase's own audit entry is written, the salt gone
 * after), its answer, idempotence, the export after it; and a search
 * store that fails (locked; exists but not open) stops everything: no
 * audit entry, salt, session or message is touched. The search parts need
 * the GloVe asset (`make data`) and are skipped without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_audit.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_embed.h"
#include "zentalk/zt_featset.h"
#include "zentalk/zt_gdpr.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_keccak.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_pii.h"
#include "zentalk/zt_privacy.h"
#include "zentalk/zt_search.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_wallet.h"
#include "zt_test.h"

#define JWT_ID "alice@example.org"
/* a fixed secp256k1 key: the wallet that signs in */
static const uint8_t WALLET_SK[32] = {0x4c, 0x08, 0x83, 0xa6, 0x91, 0x02, 0x93, 0x7d, 0x62, 0x31, 0x47,
                                      0x1b, 0x5d, 0xbb, 0x62, 0x04, 0xfe, 0x51, 0x29, 0x61, 0x70, 0x82,
                                      0x79, 0x2a, 0xe4, 0x68, 0xd0, 0x1a, 0x3f, 0x36, 0x23, 0x18};

static char dir[256];
static struct zt_identity *node_key; /* the node's key: one per test, for every world on dir */

/* A node's holders of personal data, on dir. */
struct world {
    struct zt_config cfg;
    const struct zt_identity *id;
    struct zt_privacy_layer *pv;
    struct zt_wallet *wallet;
    struct zt_searchfeat *sf;
    struct zt_store *search_store;
    struct zt_chain *chain;
    struct zt_gdpr *g;
    char wallet_id[64];  /* "wallet:0x..." */
    uint8_t addr[20];
};

static void rm_tree(const char *d)
{
    DIR *h = opendir(d);
    struct dirent *e;
    while (h && (e = readdir(h))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", d, e->d_name);
        if (e->d_type == DT_DIR)
            rm_tree(p);
        else
            unlink(p);
    }
    if (h) closedir(h);
    rmdir(d);
}

static int setup(void **state)
{
    (void)state;
    zt_test_leak_mark();
    snprintf(dir, sizeof dir, "/tmp/zt-gdpr-svc-XXXXXX");
    return mkdtemp(dir) && zt_identity_generate(&node_key) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    zt_identity_free(node_key);
    node_key = NULL;
    rm_tree(dir);
    int64_t leaked = zt_alloc_live() - zt_test_leak_base();
    if (leaked != 0) {
        printf("leak: %lld allocations\n", (long long)leaked);
        return -1;
    }
    return 0;
}

/* The world on dir: search opened only with open_search (else its file,
 * if an earlier world made it, is there but not open); export_max 0: the
 * default budget. */
static void world_open(struct world *w, bool open_search, size_t export_max)
{
    memset(w, 0, sizeof *w);
    static const char *const kv[][2] = {
        {"chain.enabled", "true"},
        {"database.busy_timeout_ms", "100"},
        {"database.sqlite_path", "node.db"},
    };
    assert_int_equal(zt_config_init_defaults(&w->cfg), 0);
    assert_int_equal(zt_config_set(&w->cfg, "node.data_dir", dir, "test", NULL), 0);
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        assert_int_equal(zt_config_set(&w->cfg, kv[i][0], kv[i][1], "test", NULL), 0);
    w->id = node_key;
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    struct zt_store *st = NULL;
    assert_int_equal(zt_privacy_layer_new(&w->cfg, &w->pv, &err), 0);
    assert_int_equal(zt_store_open_config(&w->cfg, NULL, &st, &err), 0);
    assert_int_equal(zt_privacy_layer_open_audit(w->pv, w->id, st, &err), 0);
    zt_buf_deinit(&err);
    assert_int_equal(zt_wallet_new(3600, &w->wallet), 0);
    assert_int_equal(zt_searchfeat_new(&w->cfg, &w->sf), 0);
    if (open_search && zt_searchfeat_wants_store(w->sf)) {
        assert_int_equal(zt_store_open_config(&w->cfg, w->cfg.features.search.db_path, &w->search_store, NULL), 0);
        assert_int_equal(zt_searchfeat_open(w->sf, w->id, w->search_store), 0);
    }
    assert_int_equal(zt_chain_open(&w->cfg, &w->chain, NULL), 0);
    /* as src/node/node.c wires them */
    const struct zt_gdpr_provider h[] = {
        {.name = "search_documents", .what = "the search messages", .export_fn = zt_searchfeat_gdpr_export,
         .erase_fn = zt_searchfeat_gdpr_erase, .ud = w->sf},
        {.name = "ledger", .what = "the ledger", .keeps = true, .export_fn = zt_chain_gdpr_export,
         .erase_fn = zt_chain_gdpr_erase, .ud = w->chain},
    };
    const struct zt_gdpr_opts o = {.node_id = "zt1test", .pv = w->pv, .wallet = w->wallet, .providers = h,
                                   .n_providers = 2, .export_max = export_max};
    assert_int_equal(zt_gdpr_new(&o, &w->g), 0);
    struct zt_payout_key *k = NULL;
    assert_int_equal(zt_payout_key_from_secret(WALLET_SK, &k), 0);
    zt_payout_key_address(k, w->addr);
    zt_payout_key_free(k);
    char hex[41];
    zt_hex_encode(hex, w->addr, 20);
    snprintf(w->wallet_id, sizeof w->wallet_id, "wallet:0x%s", hex);
}

static void world_close(struct world *w)
{
    zt_gdpr_free(w->g);
    zt_chain_free(w->chain);
    zt_searchfeat_free(w->sf);
    zt_store_close(w->search_store);
    zt_wallet_free(w->wallet);
    zt_privacy_layer_free(w->pv);
    zt_config_deinit(&w->cfg);
}

static struct zt_search *search_of(struct world *w)
{
    return zt_searchfeat_engine(w->sf);
}

/* Sign in with the wallet: one live session. */
static void sign_in(struct world *w)
{
    int64_t now = zt_time_real_ms() / 1000, exp = 0;
    char msg[ZT_WALLET_MSG_MAX], nonce[33], tok[ZT_WALLET_TOKEN_LEN + 1];
    assert_int_equal(zt_wallet_nonce(w->wallet, w->addr, NULL, now, msg, sizeof msg, nonce, &exp), 0);
    uint8_t h[ZT_KECCAK256_LEN], sig[ZT_EIP712_SIG_LEN];
    zt_eip191_hash(msg, strlen(msg), h);
    struct zt_payout_key *k = NULL;
    assert_int_equal(zt_payout_key_from_secret(WALLET_SK, &k), 0);
    assert_int_equal(zt_payout_key_sign(k, h, sig), 0);
    zt_payout_key_free(k);
    const char *why = NULL;
    assert_int_equal(zt_wallet_login(w->wallet, w->addr, msg, strlen(msg), sig, now, tok, &exp, &why), 0);
}

static size_t live_sessions(struct world *w)
{
    struct zt_wallet_session_info v[4];
    return zt_wallet_list(w->wallet, w->addr, zt_time_real_ms() / 1000, v, 4);
}

/* n audit entries by identity (under its pseudonym, as the node writes
 * them), and one more in clear when clear (an entry of an older node). */
static void audit_entries(struct world *w, const char *identity, int n, bool clear)
{
    char name[ZT_PSEUDOID_STR + 8];
    zt_privacy_layer_audit_name(w->pv, identity, name);
    for (int i = 0; i < n; i++) {
        struct zt_audit_event ev = {.identity = name, .role = "user", .route = "/v1/search/index", .status = 200};
        assert_int_equal(zt_audit_record(zt_privacy_layer_audit_log(w->pv), &ev), 0);
    }
    struct zt_audit_event old = {.identity = identity, .role = "user", .route = "/v1/chat/completions", .status = 200};
    if (clear) assert_int_equal(zt_audit_record(zt_privacy_layer_audit_log(w->pv), &old), 0);
}

static void index_messages(struct world *w, const char *identity)
{
    const struct zt_search_msg m[] = {
        {.id = "m1", .id_len = 2, .text = "the blue bicycle is in the garage", .text_len = 33},
        {.id = "m2", .id_len = 2, .text = "dinner at eight on friday", .text_len = 25},
    };
    assert_int_equal(zt_search_index(search_of(w), identity, m, 2), 0);
}

static size_t n_messages(struct world *w, const char *identity)
{
    size_t n = 99;
    assert_int_equal(zt_search_count(search_of(w), identity, &n), 0);
    return n;
}

/* The keys of a JSON object, comma-separated, in order. */
static const char *keys_of(json_t *o, char *buf, size_t cap)
{
    const char *k;
    json_t *v;
    buf[0] = '\0';
    json_object_foreach(o, k, v)
    {
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, "%s%s", n ? "," : "", k);
    }
    return buf;
}

static json_t *part(json_t *exp, const char *section, const char *name)
{
    return json_object_get(json_object_get(exp, section), name);
}

static void test_export(void **state)
{
    (void)state;
    struct world w;
    world_open(&w, true, 0);
    if (!search_of(&w)) {
        world_close(&w);
        zt_skip("%s not installed (run `make data`)", ZT_EMBED_ASSET);
    }
    char keys[256];
    index_messages(&w, w.wallet_id);
    sign_in(&w);
    audit_entries(&w, w.wallet_id, 2, true);
    char addr[43];
    assert_int_equal(zt_chain_payer(w.wallet_id, addr), 0);
    assert_int_equal(zt_chain_deposit(w.chain, "d1", addr, 700, NULL), 0);
    json_t *e = NULL;
    assert_int_equal(zt_gdpr_export(w.g, w.wallet_id, &e), 0);
    assert_string_equal(json_string_value(json_object_get(e, "format")), ZT_GDPR_EXPORT_FORMAT);
    assert_string_equal(json_string_value(json_object_get(e, "identity")), w.wallet_id);
    assert_string_equal(json_string_value(json_object_get(e, "node_id")), "zt1test");
    assert_string_equal(keys_of(json_object_get(e, "data"), keys, sizeof keys),
                        "sessions,search_documents,audit_entries,ledger");
    assert_string_equal(keys_of(json_object_get(e, "not_kept"), keys, sizeof keys), "jobs,caches,databases");
    json_t *s = part(e, "data", "sessions");
    assert_true(json_is_true(json_object_get(s, "kept")));
    assert_int_equal(json_integer_value(json_object_get(s, "count")), 1);
    json_t *d = part(e, "data", "search_documents");
    assert_int_equal(json_integer_value(json_object_get(d, "count")), 2);
    json_t *texts = json_object_get(d, "items");
    bool saw_bicycle = false;
    for (size_t i = 0; i < json_array_size(texts); i++)
        saw_bicycle |= !strcmp(json_string_value(json_object_get(json_array_get(texts, i), "text")),
                               "the blue bicycle is in the garage");
    assert_true(saw_bicycle);
    json_t *a = part(e, "data", "audit_entries");
    assert_int_equal(json_integer_value(json_object_get(a, "count")), 3);
    assert_int_equal(json_integer_value(json_object_get(a, "with_clear_identity")), 1);
    char ps[ZT_PSEUDOID_STR];
    assert_int_equal(zt_privacy_layer_pseudonym(w.pv, w.wallet_id, false, ps), 0);
    assert_string_equal(json_string_value(json_object_get(a, "pseudonym")), ps);
    json_t *l = part(e, "data", "ledger");
    assert_string_equal(json_string_value(json_object_get(l, "balance")), "700");
    assert_string_equal(json_string_value(json_object_get(l, "address")), addr);
    json_decref(e);
    /* a JWT identity: no session kept, no ledger account, its messages */
    index_messages(&w, JWT_ID);
    assert_int_equal(zt_gdpr_export(w.g, JWT_ID, &e), 0);
    assert_string_equal(keys_of(json_object_get(e, "data"), keys, sizeof keys),
                        "sessions,search_documents,audit_entries");
    assert_string_equal(keys_of(json_object_get(e, "not_kept"), keys, sizeof keys), "ledger,jobs,caches,databases");
    assert_false(json_is_true(json_object_get(part(e, "data", "sessions"), "kept")));
    assert_non_null(strstr(json_string_value(json_object_get(part(e, "not_kept", "ledger"), "reason")),
                           "wallet identities"));
    assert_int_equal(json_integer_value(json_object_get(part(e, "data", "audit_entries"), "count")), 0);
    assert_true(json_is_null(json_object_get(part(e, "data", "audit_entries"), "pseudonym"))); /* no salt yet */
    json_decref(e);
    /* a node without a ledger says so */
    const char *why = NULL;
    size_t used = 1;
    assert_int_equal(zt_chain_gdpr_export(NULL, w.wallet_id, 100, &used, &e, &why), 0);
    assert_null(e);
    assert_int_equal(used, 0);
    assert_non_null(strstr(why, "chain.enabled is false"));
    world_close(&w);
}

/* The byte budget: the search messages take theirs first, the audit
 * entries get what is left. */
static void test_export_budget(void **state)
{
    (void)state;
    struct world w;
    world_open(&w, true, 0);
    if (!search_of(&w)) {
        world_close(&w);
        zt_skip("%s not installed (run `make data`)", ZT_EMBED_ASSET);
    }
    index_messages(&w, JWT_ID);
    audit_entries(&w, JWT_ID, 1, false);
    world_close(&w);
    const size_t msgs = 2 + 33 + 2 + 25; /* ids and texts */
    static const struct {
        size_t max;
        int rc;
    } cases[] = {{msgs - 1, ZT_ETOOBIG}, {msgs + 20, ZT_ETOOBIG}, {msgs + 4096, 0}, {0, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        world_open(&w, true, cases[i].max);
        json_t *e = NULL;
        assert_int_equal(zt_gdpr_export(w.g, JWT_ID, &e), cases[i].rc);
        assert_true(cases[i].rc ? e == NULL : e != NULL);
        if (e) assert_int_equal(json_integer_value(json_object_get(part(e, "data", "audit_entries"), "count")), 1);
        json_decref(e);
        assert_int_equal(zt_gdpr_export_max(w.g), cases[i].max ? cases[i].max : ZT_GDPR_EXPORT_MAX);
        world_close(&w);
    }
}

/* What the erase's own audit entry saw when it was written. */
struct probe {
    struct world *w;
    const char *identity;
    int calls;
    bool salt_there;
    size_t messages, sessions;
    char ps[ZT_PSEUDOID_STR];
};

static void probe_audit(void *ud, const char *pseudonym)
{
    struct probe *p = ud;
    p->calls++;
    char now[ZT_PSEUDOID_STR];
    p->salt_there = pseudonym && zt_privacy_layer_pseudonym(p->w->pv, p->identity, false, now) == 0 &&
                    strcmp(now, pseudonym) == 0;
    if (pseudonym) snprintf(p->ps, sizeof p->ps, "%s", pseudonym);
    p->messages = n_messages(p->w, p->identity);
    p->sessions = live_sessions(p->w);
    /* the entry itself, as the route writes it */
    struct zt_audit_event ev = {.identity = pseudonym, .role = "user", .route = "/v1/privacy/erase", .status = 200};
    assert_int_equal(zt_audit_record(zt_privacy_layer_audit_log(p->w->pv), &ev), 0);
}

static void test_erase_order(void **state)
{
    (void)state;
    struct world w;
    world_open(&w, true, 0);
    if (!search_of(&w)) {
        world_close(&w);
        zt_skip("%s not installed (run `make data`)", ZT_EMBED_ASSET);
    }
    index_messages(&w, w.wallet_id);
    index_messages(&w, JWT_ID); /* someone else's: left alone */
    sign_in(&w);
    audit_entries(&w, w.wallet_id, 2, true);
    char before[ZT_PSEUDOID_STR], keys[256];
    assert_int_equal(zt_privacy_layer_pseudonym(w.pv, w.wallet_id, false, before), 0);
    struct probe p = {.w = &w, .identity = w.wallet_id};
    struct zt_gdpr_erase_fail f;
    json_t *j = NULL;
    assert_int_equal(zt_gdpr_erase(w.g, w.wallet_id, probe_audit, &p, &j, &f), 0);
    assert_int_equal(f.at, ZT_GDPR_STOP_NONE);
    /* the erase's own entry: written once, after the messages and sessions
     * went, under the pseudonym, while its salt was still there */
    assert_int_equal(p.calls, 1);
    assert_true(p.salt_there);
    assert_string_equal(p.ps, before);
    assert_int_equal(p.messages, 0);
    assert_int_equal(p.sessions, 0);
    /* then the salt went: the pseudonym cannot be recomputed */
    char after[ZT_PSEUDOID_STR];
    assert_int_equal(zt_privacy_layer_pseudonym(w.pv, w.wallet_id, false, after), ZT_ENOTFOUND);
    /* the entry is in the log under the old pseudonym: 2 before + the erase's */
    struct zt_gdpr_audit_scan sc = {.pseudonym = before, .identity = w.wallet_id};
    assert_int_equal(zt_gdpr_audit_scan(zt_privacy_layer_audit_dir(w.pv), &sc), 0);
    assert_int_equal(sc.n_pseudo, 3);
    /* the answer */
    json_t *er = json_object_get(j, "erased"), *kept = json_object_get(j, "kept");
    assert_string_equal(json_string_value(json_object_get(j, "identity")), w.wallet_id);
    assert_string_equal(keys_of(er, keys, sizeof keys), "search_documents,search_key_destroyed,sessions_revoked,"
                                                        "audit_salt_destroyed,audit_entries_unlinked");
    assert_string_equal(keys_of(kept, keys, sizeof keys),
                        "audit_entries_with_clear_identity,audit_scan_error,audit,ledger");
    assert_int_equal(json_integer_value(json_object_get(er, "search_documents")), 2);
    assert_true(json_is_true(json_object_get(er, "search_key_destroyed")));
    assert_int_equal(json_integer_value(json_object_get(er, "sessions_revoked")), 1);
    assert_true(json_is_true(json_object_get(er, "audit_salt_destroyed")));
    assert_int_equal(json_integer_value(json_object_get(er, "audit_entries_unlinked")), 2);
    assert_int_equal(json_integer_value(json_object_get(kept, "audit_entries_with_clear_identity")), 1);
    assert_true(json_is_null(json_object_get(kept, "audit_scan_error")));
    assert_non_null(strstr(json_string_value(json_object_get(kept, "ledger")), "not erased"));
    json_decref(j);
    assert_int_equal(n_messages(&w, JWT_ID), 2);
    /* the export after it finds only the entry in clear */
    json_t *e = NULL;
    assert_int_equal(zt_gdpr_export(w.g, w.wallet_id, &e), 0);
    assert_int_equal(json_integer_value(json_object_get(part(e, "data", "search_documents"), "count")), 0);
    assert_int_equal(json_integer_value(json_object_get(part(e, "data", "sessions"), "count")), 0);
    assert_int_equal(json_integer_value(json_object_get(part(e, "data", "audit_entries"), "count")), 1);
    json_decref(e);
    /* again: nothing left, and it says so */
    struct probe p2 = {.w = &w, .identity = w.wallet_id};
    assert_int_equal(zt_gdpr_erase(w.g, w.wallet_id, probe_audit, &p2, &j, &f), 0);
    er = json_object_get(j, "erased");
    assert_int_equal(json_integer_value(json_object_get(er, "search_documents")), 0);
    assert_int_equal(json_integer_value(json_object_get(er, "sessions_revoked")), 0);
    assert_false(json_is_true(json_object_get(er, "audit_salt_destroyed")));
    assert_int_equal(p2.calls, 1);
    assert_false(p2.salt_there); /* no pseudonym any more */
    json_decref(j);
    world_close(&w);
}

/* After a failed erase nothing has moved: messages, session, salt, and no
 * audit entry was asked for. */
static void assert_untouched(struct world *w, struct probe *p, const char *ps, bool search_open)
{
    assert_int_equal(p->calls, 0);
    char now[ZT_PSEUDOID_STR];
    assert_int_equal(zt_privacy_layer_pseudonym(w->pv, w->wallet_id, false, now), 0);
    assert_string_equal(now, ps);
    assert_int_equal(live_sessions(w), 1);
    if (search_open) assert_int_equal(n_messages(w, w->wallet_id), 2);
}

static void test_erase_search_fails(void **state)
{
    (void)state;
    struct world w;
    world_open(&w, true, 0);
    if (!search_of(&w)) {
        world_close(&w);
        zt_skip("%s not installed (run `make data`)", ZT_EMBED_ASSET);
    }
    index_messages(&w, w.wallet_id);
    sign_in(&w);
    audit_entries(&w, w.wallet_id, 1, false);
    char ps[ZT_PSEUDOID_STR];
    assert_int_equal(zt_privacy_layer_pseudonym(w.pv, w.wallet_id, false, ps), 0);
    /* 1. the search store locked by another writer: busy */
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, w.cfg.features.search.db_path);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    struct probe p = {.w = &w, .identity = w.wallet_id};
    struct zt_gdpr_erase_fail f;
    json_t *j = NULL;
    int rc = zt_gdpr_erase(w.g, w.wallet_id, probe_audit, &p, &j, &f);
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(rc, ZT_EBUSY);
    assert_null(j);
    assert_int_equal(f.at, ZT_GDPR_STOP_HOLDER);
    assert_string_equal(f.what, "the search messages");
    assert_true(f.first);
    assert_untouched(&w, &p, ps, true);
    /* 2. the same node whose search store did not open this time: its file
     * is there, its messages out of reach */
    struct world w2;
    world_close(&w);
    world_open(&w2, false, 0);
    assert_null(search_of(&w2));
    sign_in(&w2);
    assert_int_equal(zt_privacy_layer_pseudonym(w2.pv, w2.wallet_id, false, ps), 0);
    struct probe p2 = {.w = &w2, .identity = w2.wallet_id};
    assert_int_equal(zt_gdpr_erase(w2.g, w2.wallet_id, probe_audit, &p2, &j, &f), ZT_ECLOSED);
    assert_null(j);
    assert_true(f.at == ZT_GDPR_STOP_HOLDER && f.first);
    assert_untouched(&w2, &p2, ps, false);
    /* its export says the store is there but not open */
    json_t *e = NULL;
    assert_int_equal(zt_gdpr_export(w2.g, w2.wallet_id, &e), 0);
    json_t *d = part(e, "data", "search_documents");
    assert_true(json_is_true(json_object_get(d, "kept")));
    assert_non_null(strstr(json_string_value(json_object_get(d, "reason")), "not open"));
    json_decref(e);
    world_close(&w2);
    /* open again, the erase goes through */
    world_open(&w, true, 0);
    assert_int_equal(n_messages(&w, w.wallet_id), 2);
    struct probe p3 = {.w = &w, .identity = w.wallet_id};
    assert_int_equal(zt_gdpr_erase(w.g, w.wallet_id, probe_audit, &p3, &j, &f), 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "erased"), "search_documents")), 2);
    assert_true(p3.salt_there);
    json_decref(j);
    world_close(&w);
}

/* Stand-in holders: one that erases its notes, one that keeps its
 * records and fails to say so (a ledger whose store broke). */
static int fake_export(void *ud, const char *identity, size_t budget, size_t *used, json_t **out, const char **why)
{
    (void)ud, (void)identity, (void)budget;
    *used = 0;
    *out = NULL;
    *why = "a stand-in";
    return 0;
}

static int notes_erase(void *ud, const char *identity, json_t *erased, json_t *kept)
{
    (void)ud, (void)identity, (void)kept;
    return json_object_set_new(erased, "notes", json_integer(3)) ? ZT_ENOMEM : 0;
}

static int broken_keeper_erase(void *ud, const char *identity, json_t *erased, json_t *kept)
{
    (void)ud, (void)identity, (void)erased, (void)kept;
    return ZT_EIO;
}

/* review9 F7: a holder that keeps its records fails after the salt is
 * gone: the erase says what was erased (every other holder, the sessions,
 * the salt), not "nothing else was erased". */
static void test_erase_keeper_fails(void **state)
{
    (void)state;
    struct world w;
    world_open(&w, false, 0);
    sign_in(&w);
    audit_entries(&w, w.wallet_id, 1, false); /* the salt exists */
    const struct zt_gdpr_provider h[] = {
        {.name = "notes", .what = "the notes", .export_fn = fake_export, .erase_fn = notes_erase},
        {.name = "ledger", .what = "the ledger", .keeps = true, .export_fn = fake_export,
         .erase_fn = broken_keeper_erase},
    };
    const struct zt_gdpr_opts o = {.node_id = "zt1test", .pv = w.pv, .wallet = w.wallet, .providers = h,
                                   .n_providers = 2};
    struct zt_gdpr *g = NULL;
    assert_int_equal(zt_gdpr_new(&o, &g), 0);
    struct zt_gdpr_erase_fail f;
    json_t *j = NULL;
    assert_int_equal(zt_gdpr_erase(g, w.wallet_id, NULL, NULL, &j, &f), ZT_EIO);
    assert_null(j);
    assert_int_equal(f.at, ZT_GDPR_STOP_KEPT);
    assert_string_equal(f.what, "the ledger");
    assert_string_equal(f.erased, "the notes, 1 wallet session and the audit pseudonym salt");
    assert_int_equal(live_sessions(&w), 0);
    char ps[ZT_PSEUDOID_STR];
    assert_int_equal(zt_privacy_layer_pseudonym(w.pv, w.wallet_id, false, ps), ZT_ENOTFOUND); /* the salt is gone */
    /* again (nothing left to erase, the keeper still broken): the same stop */
    assert_int_equal(zt_gdpr_erase(g, w.wallet_id, NULL, NULL, &j, &f), ZT_EIO);
    assert_int_equal(f.at, ZT_GDPR_STOP_KEPT);
    assert_string_equal(f.erased, "the notes and 0 wallet sessions");
    zt_gdpr_free(g);
    world_close(&w);
}

/* The audit entry for a request (zt_privacy_layer_audit_request), the one
 * builder for the route's entry and a handler's own: the caller by its
 * pseudonym, the feature ("chat" for chat completions, else the last path
 * segment), the outcome by status, the PII names, the job, the subject,
 * the decision ("none" when not given); nothing written without a log. */
static void test_audit_request(void **state)
{
    (void)state;
    struct world w;
    world_open(&w, false, 0);
    const struct zt_pii_detector *d = zt_privacy_gate_detector(zt_privacy_layer_gate(w.pv));
    assert_true(zt_pii_type_count(d) >= 1);
    const struct zt_privacy_audit_req reqs[] = {
        {.identity = JWT_ID, .role = "user", .route = "/v1/chat/completions", .method = "POST", .request_id = "r1",
         .job_id = "00ff", .pii_types = 1, .decision = "pseudonymised", .status = 429},
        {.identity = JWT_ID, .role = "user", .route = "/v1/privacy/erase", .method = "POST", .request_id = "r2",
         .subject = "p:someone", .status = 200},
        {.identity = JWT_ID, .role = "user", .route = "/v1/features/summarize", .method = "POST", .request_id = "r3",
         .job_id = "", .status = 404},
        {.identity = JWT_ID, .role = "user", .route = "/v1/completions", .method = "POST", .request_id = "r4",
         .decision = "local", .status = 503},
    };
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++)
        assert_int_equal(zt_privacy_layer_audit_request(w.pv, &reqs[i]), 0);
    assert_int_equal(zt_privacy_layer_audit_request(NULL, &reqs[0]), 0); /* no log: nothing */
    json_t *e = NULL;
    assert_int_equal(zt_gdpr_export(w.g, JWT_ID, &e), 0);
    json_t *items = json_object_get(part(e, "data", "audit_entries"), "items");
    assert_int_equal(json_array_size(items), 4);
    static const char *const want[][4] = {/* feature, outcome, decision, request_id */
                                          {"chat", "denied", "pseudonymised", "r1"},
                                          {"erase", "ok", "none", "r2"},
                                          {"summarize", "rejected", "none", "r3"},
                                          {"completions", "error", "local", "r4"}};
    char ps[ZT_PSEUDOID_STR];
    assert_int_equal(zt_privacy_layer_pseudonym(w.pv, JWT_ID, false, ps), 0);
    for (size_t i = 0; i < 4; i++) {
        json_t *it = NULL;
        for (size_t k = 0; k < json_array_size(items); k++) {
            const char *rid = json_string_value(json_object_get(json_array_get(items, k), "request_id"));
            if (rid && !strcmp(rid, want[i][3])) it = json_array_get(items, k);
        }
        assert_non_null(it);
        assert_string_equal(json_string_value(json_object_get(it, "feature")), want[i][0]);
        assert_string_equal(json_string_value(json_object_get(it, "outcome")), want[i][1]);
        assert_string_equal(json_string_value(json_object_get(it, "decision")), want[i][2]);
        assert_non_null(strstr(json_string_value(json_object_get(it, "identity")), ps));
        const char *job = json_string_value(json_object_get(it, "job_id"));
        if (i == 0) {
            assert_string_equal(job, "00ff");
            json_t *pii = json_object_get(it, "pii");
            assert_int_equal(json_array_size(pii), 1);
            assert_string_equal(json_string_value(json_array_get(pii, 0)), zt_pii_type_name(d, 0));
        } else {
            assert_null(job); /* none, or "" */
        }
        if (i == 1) assert_string_equal(json_string_value(json_object_get(it, "subject")), "p:someone");
    }
    json_decref(e);
    world_close(&w);
}

/* The service refuses a provider it could not call. */
static void test_new_checks(void **state)
{
    (void)state;
    struct world w;
    world_open(&w, false, 0);
    struct zt_gdpr_provider bad = {.name = "x", .what = "x", .export_fn = zt_chain_gdpr_export};
    struct zt_gdpr *g = NULL;
    struct zt_gdpr_opts o = {.node_id = "n", .pv = w.pv, .wallet = w.wallet, .providers = &bad, .n_providers = 1};
    assert_int_equal(zt_gdpr_new(&o, &g), ZT_EINVAL);
    o.n_providers = 0;
    o.wallet = NULL;
    assert_int_equal(zt_gdpr_new(&o, &g), ZT_EINVAL);
    assert_null(g);
    world_close(&w);
}

int main(void)
{
    zt_log_set_level(ZT_LOG_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_export, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_erase_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_erase_search_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_erase_keeper_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_request, setup, teardown),
    };
    return zt_test_exit(cmocka_run_group_tests_name("gdpr_svc", tests, NULL, NULL));
}
