/* records.c: the signed join, heartbeat and leave records of the registry
 * (zt_registry.h; the format is in docs/internals/orchestrator.md).
 *
 * A record is canonical JSON (compact, keys sorted) signed like a node
 * descriptor: "sig" is the hex Ed25519 signature of the node's key over
 * the object without "sig" (zt_identity_sign_json). The key set is exact:
 *   join:      aud boot caps descriptor kind node_id seq sig ts v
 *   heartbeat: aud boot busy kind node_id queue seq sig ts v
 *   leave:     aud boot kind node_id seq sig ts v
 *   caps:      cpu ctx_max engine gpu mem_mb price_per_1k slots [wallet]
 *              [price_prompt_per_1k price_completion_per_1k]
 * The join record carries the worker's signed descriptor as a string and
 * what the descriptor does not (caps), so the descriptor format of
 * crypto/ stays as it is. */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "orch_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_str.h"

static const char *const KIND_NAME[] = {"zentalk-join", "zentalk-heartbeat", "zentalk-leave"};

static const char *const JOIN_KEYS[] = {"aud", "boot", "caps", "descriptor", "kind", "node_id", "seq", "sig", "ts", "v", NULL};
static const char *const HB_KEYS[] = {"aud", "boot", "busy", "kind", "node_id", "queue", "seq", "sig", "ts", "v", NULL};
static const char *const LEAVE_KEYS[] = {"aud", "boot", "kind", "node_id", "seq", "sig", "ts", "v", NULL};
static const char *const CAPS_KEYS[] = {"cpu", "ctx_max", "engine", "gpu", "mem_mb", "price_per_1k", "slots", NULL};

/* "0x" + 40 hex digits */
static bool wallet_ok(const char *w)
{
    if (strlen(w) != 42 || w[0] != '0' || (w[1] != 'x' && w[1] != 'X')) return false;
    for (size_t i = 2; i < 42; i++)
        if (!((w[i] >= '0' && w[i] <= '9') || (w[i] >= 'a' && w[i] <= 'f') || (w[i] >= 'A' && w[i] <= 'F')))
            return false;
    return true;
}

/* ---- prices: canonical decimal strings of base units (u128) ---------------- */

static const char U128_MAX_DEC[] = "340282366920938463463374607431768211455";
_Static_assert(sizeof U128_MAX_DEC - 1 == ZT_REG_PRICE_MAX, "price digits");

bool orch_price_ok(const char *s)
{
    size_t n = strnlen(s, ZT_REG_PRICE_MAX + 1);
    if (n == 0 || n > ZT_REG_PRICE_MAX || (n > 1 && s[0] == '0')) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return n < ZT_REG_PRICE_MAX || strcmp(s, U128_MAX_DEC) <= 0;
}

int orch_price_cmp(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na != nb) return na < nb ? -1 : 1;
    int c = strcmp(a, b);
    return c < 0 ? -1 : c > 0;
}

const char *orch_price_max(const struct zt_worker_caps *c)
{
    return orch_price_cmp(c->price_prompt, c->price_completion) >= 0 ? c->price_prompt : c->price_completion;
}

/* price_per_1k as older readers know it: the higher price, at most 2^63-1 */
static uint64_t price_legacy(const struct zt_worker_caps *c)
{
    char lim[24];
    snprintf(lim, sizeof lim, "%lld", (long long)INT64_MAX);
    const char *hi = orch_price_max(c);
    if (orch_price_cmp(hi, lim) >= 0) return (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (const char *p = hi; *p; p++) v = v * 10u + (uint64_t)(*p - '0');
    return v;
}

/* keys exactly, and `extra` more members (checked by the caller) */
static bool exact_keys_plus(json_t *o, const char *const *keys, size_t extra)
{
    if (!json_is_object(o)) return false;
    size_t n = 0;
    for (; keys[n]; n++)
        if (!json_object_get(o, keys[n])) return false;
    return json_object_size(o) == n + extra;
}

static bool exact_keys(json_t *o, const char *const *keys)
{
    return exact_keys_plus(o, keys, 0);
}

/* A non-negative integer member up to max. */
static bool get_uint(json_t *o, const char *k, uint64_t max, uint64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max) return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

/* A string member of at most max bytes (empty allowed when min is 0) into buf. */
static bool get_str(json_t *o, const char *k, size_t min, size_t max, char *buf, size_t cap)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_string(v)) return false;
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n < min || n > max || n >= cap || strlen(s) != n || !zt_utf8_valid(s, n)) return false;
    memcpy(buf, s, n + 1);
    return true;
}

/* Parse twice and compare: jansson 2.14 may report an allocation failure as
 * a syntax error (or drop characters silently), so two different outcomes
 * mean ZT_ENOMEM, the same failure twice ZT_EPARSE. Records are small. */
static int parse_json(const char *text, size_t len, json_t **out)
{
    json_error_t e1, e2;
    json_t *a = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e1);
    json_t *b = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e2);
    int rc;
    if (a && b && json_equal(a, b)) {
        *out = a;
        a = NULL;
        rc = 0;
    } else if (!a && !b && json_error_code(&e1) == json_error_code(&e2) &&
               json_error_code(&e1) != json_error_out_of_memory) {
        rc = ZT_EPARSE;
    } else {
        rc = ZT_ENOMEM;
    }
    json_decref(a);
    json_decref(b);
    return rc;
}

int orch_rec_parse(const char *text, size_t len, enum orch_rec_kind kind, struct orch_rec *out)
{
    memset(out, 0, sizeof *out);
    out->kind = kind;
    if (!text) return ZT_EINVAL;
    if (len > ZT_REG_RECORD_MAX) return ZT_ETOOBIG;
    json_t *j = NULL;
    int rc = parse_json(text, len, &j);
    if (rc) return rc;
    out->j = j;
    const char *const *keys = kind == ORCH_REC_JOIN ? JOIN_KEYS : kind == ORCH_REC_HEARTBEAT ? HB_KEYS : LEAVE_KEYS;
    if (!exact_keys(j, keys)) return ZT_EPARSE;
    uint64_t v = 0, seq = 0, ts = 0;
    if (!get_uint(j, "v", INT64_MAX, &v)) return ZT_EPARSE;
    if (v != 1) return ZT_EUNSUPPORTED;
    const char *k = json_string_value(json_object_get(j, "kind"));
    if (!k || strcmp(k, KIND_NAME[kind]) != 0) return ZT_EPARSE;
    char hex[2 * ZT_REG_BOOT_LEN + 1];
    size_t got = 0;
    if (!get_str(j, "node_id", ZT_IDENTITY_ID_LEN, ZT_IDENTITY_ID_LEN, out->node_id, sizeof out->node_id) ||
        !zt_identity_id_valid(out->node_id) ||
        !get_str(j, "aud", ZT_IDENTITY_ID_LEN, ZT_IDENTITY_ID_LEN, out->aud, sizeof out->aud) ||
        !get_str(j, "boot", 2 * ZT_REG_BOOT_LEN, 2 * ZT_REG_BOOT_LEN, hex, sizeof hex) ||
        sodium_hex2bin(out->boot, sizeof out->boot, hex, 2 * ZT_REG_BOOT_LEN, NULL, &got, NULL) != 0 ||
        got != ZT_REG_BOOT_LEN || !get_uint(j, "seq", INT64_MAX, &seq) || !get_uint(j, "ts", INT64_MAX, &ts))
        return ZT_EPARSE;
    out->seq = seq;
    out->ts = (int64_t)ts;
    if (kind == ORCH_REC_HEARTBEAT) {
        uint64_t busy, queue;
        if (!get_uint(j, "busy", ZT_REG_SLOTS_MAX, &busy) || !get_uint(j, "queue", UINT32_MAX, &queue))
            return ZT_EPARSE;
        out->load.busy = (uint32_t)busy;
        out->load.queue = (uint32_t)queue;
    } else if (kind == ORCH_REC_JOIN) {
        json_t *c = json_object_get(j, "caps");
        json_t *d = json_object_get(j, "descriptor");
        struct zt_worker_caps *cp = &out->caps;
        uint64_t slots, ctx;
        /* the caps' keys, and an optional payout "wallet" (a worker of an
         * older build, or one with no chain.wallet_address, sends none) */
        bool has_w = json_object_get(c, "wallet") != NULL;
        if (has_w && (!get_str(c, "wallet", 42, 42, cp->wallet, sizeof cp->wallet) || !wallet_ok(cp->wallet)))
            return ZT_EPARSE;
        /* the two prices (both or neither: a worker of an older build sends
         * price_per_1k alone, which then stands for both) */
        bool has_p = json_object_get(c, "price_prompt_per_1k") != NULL;
        if (has_p && (!get_str(c, "price_prompt_per_1k", 1, ZT_REG_PRICE_MAX, cp->price_prompt,
                               sizeof cp->price_prompt) ||
                      !get_str(c, "price_completion_per_1k", 1, ZT_REG_PRICE_MAX, cp->price_completion,
                               sizeof cp->price_completion) ||
                      !orch_price_ok(cp->price_prompt) || !orch_price_ok(cp->price_completion)))
            return ZT_EPARSE;
        if (!exact_keys_plus(c, CAPS_KEYS, (size_t)has_w + 2u * has_p) || !json_is_string(d) ||
            json_string_length(d) == 0 ||
            json_string_length(d) > ZT_DESCRIPTOR_MAX ||
            !get_str(c, "engine", 1, ZT_REG_STR_MAX, cp->engine, sizeof cp->engine) ||
            !get_str(c, "cpu", 0, ZT_REG_STR_MAX, cp->cpu, sizeof cp->cpu) ||
            !get_str(c, "gpu", 0, ZT_REG_STR_MAX, cp->gpu, sizeof cp->gpu) ||
            !get_uint(c, "mem_mb", INT64_MAX, &cp->mem_mb) || !get_uint(c, "slots", ZT_REG_SLOTS_MAX, &slots) ||
            slots == 0 || !get_uint(c, "ctx_max", UINT32_MAX, &ctx) ||
            !get_uint(c, "price_per_1k", INT64_MAX, &cp->price_per_1k))
            return ZT_EPARSE;
        if (!has_p) {
            snprintf(cp->price_prompt, sizeof cp->price_prompt, "%llu", (unsigned long long)cp->price_per_1k);
            memcpy(cp->price_completion, cp->price_prompt, sizeof cp->price_completion);
        } else if (cp->price_per_1k != price_legacy(cp)) {
            return ZT_EPARSE; /* the two prices and the one older readers see disagree */
        }
        cp->slots = (uint32_t)slots;
        cp->ctx_max = (uint32_t)ctx;
        out->descriptor = json_string_value(d);
    }
    return 0;
}

int orch_rec_check_sig(struct orch_rec *rec, const uint8_t pk[static ZT_ED25519_PK_LEN])
{
    int rc = zt_identity_verify_json(pk, rec->j, ZT_REG_RECORD_MAX);
    return rc == ZT_ENOMEM ? rc : rc ? ZT_ECRYPTO : 0;
}

void orch_rec_deinit(struct orch_rec *rec)
{
    if (!rec) return;
    json_decref(rec->j);
    memset(rec, 0, sizeof *rec);
}

/* ---- building (the worker's side) ----------------------------------------- */

static bool good_caps(const struct zt_worker_caps *c)
{
    size_t ne = strnlen(c->engine, sizeof c->engine), nc = strnlen(c->cpu, sizeof c->cpu),
           ng = strnlen(c->gpu, sizeof c->gpu);
    return ne > 0 && ne <= ZT_REG_STR_MAX && nc <= ZT_REG_STR_MAX && ng <= ZT_REG_STR_MAX &&
           zt_utf8_valid(c->engine, ne) && zt_utf8_valid(c->cpu, nc) && zt_utf8_valid(c->gpu, ng) &&
           c->slots >= 1 && c->slots <= ZT_REG_SLOTS_MAX && c->mem_mb <= INT64_MAX && c->price_per_1k <= INT64_MAX &&
           (!c->price_prompt[0] && !c->price_completion[0]
                ? true
                : orch_price_ok(c->price_prompt) && orch_price_ok(c->price_completion) &&
                      c->price_per_1k == price_legacy(c)) &&
           (!c->wallet[0] || (strnlen(c->wallet, sizeof c->wallet) < sizeof c->wallet && wallet_ok(c->wallet)));
}

static int build(const struct zt_identity *id, enum orch_rec_kind kind, const char *aud,
                 const uint8_t boot[static ZT_REG_BOOT_LEN], uint64_t seq, int64_t ts, json_t *extra, char **out)
{
    char hex[2 * ZT_REG_BOOT_LEN + 1];
    sodium_bin2hex(hex, sizeof hex, boot, ZT_REG_BOOT_LEN);
    int rc = ZT_ENOMEM;
    json_t *j = extra ? extra : json_object();
    if (!j) return ZT_ENOMEM;
    if (json_object_set_new(j, "v", json_integer(1)) == 0 &&
        json_object_set_new(j, "kind", json_string(KIND_NAME[kind])) == 0 &&
        json_object_set_new(j, "node_id", json_string(zt_identity_id(id))) == 0 &&
        json_object_set_new(j, "aud", json_string(aud)) == 0 && json_object_set_new(j, "boot", json_string(hex)) == 0 &&
        json_object_set_new(j, "seq", json_integer((json_int_t)seq)) == 0 &&
        json_object_set_new(j, "ts", json_integer((json_int_t)ts)) == 0)
        rc = zt_identity_sign_json(id, j, ZT_REG_RECORD_MAX, out);
    json_decref(j);
    return rc;
}

static bool good_common(const struct zt_identity *id, const char *aud, const uint8_t *boot, uint64_t seq, int64_t ts,
                        char **out)
{
    return id && boot && out && zt_identity_id_valid(aud) && seq <= INT64_MAX && ts >= 0;
}

int zt_registry_join_record(const struct zt_identity *id, const char *descriptor, const char *aud,
                            const uint8_t boot[static ZT_REG_BOOT_LEN], uint64_t seq, int64_t ts_ms,
                            const struct zt_worker_caps *caps, char **out)
{
    if (!good_common(id, aud, boot, seq, ts_ms, out) || !descriptor || !*descriptor ||
        strlen(descriptor) > ZT_DESCRIPTOR_MAX || !caps || !good_caps(caps))
        return ZT_EINVAL;
    json_t *j = json_object(), *c = json_object();
    if (!j || !c || json_object_set_new(c, "engine", json_string(caps->engine)) != 0 ||
        json_object_set_new(c, "cpu", json_string(caps->cpu)) != 0 ||
        json_object_set_new(c, "gpu", json_string(caps->gpu)) != 0 ||
        json_object_set_new(c, "mem_mb", json_integer((json_int_t)caps->mem_mb)) != 0 ||
        json_object_set_new(c, "slots", json_integer((json_int_t)caps->slots)) != 0 ||
        json_object_set_new(c, "ctx_max", json_integer((json_int_t)caps->ctx_max)) != 0 ||
        json_object_set_new(c, "price_per_1k", json_integer((json_int_t)caps->price_per_1k)) != 0 ||
        (caps->wallet[0] && json_object_set_new(c, "wallet", json_string(caps->wallet)) != 0) ||
        (caps->price_prompt[0] &&
         (json_object_set_new(c, "price_prompt_per_1k", json_string(caps->price_prompt)) != 0 ||
          json_object_set_new(c, "price_completion_per_1k", json_string(caps->price_completion)) != 0)) ||
        json_object_set_new(j, "descriptor", json_string(descriptor)) != 0) {
        json_decref(j);
        json_decref(c);
        return ZT_ENOMEM;
    }
    if (json_object_set_new(j, "caps", c) != 0) {
        json_decref(j);
        return ZT_ENOMEM;
    }
    return build(id, ORCH_REC_JOIN, aud, boot, seq, ts_ms, j, out);
}

int zt_registry_heartbeat_record(const struct zt_identity *id, const char *aud,
                                 const uint8_t boot[static ZT_REG_BOOT_LEN], uint64_t seq, int64_t ts_ms,
                                 const struct zt_worker_load *load, char **out)
{
    if (!good_common(id, aud, boot, seq, ts_ms, out) || !load || load->busy > ZT_REG_SLOTS_MAX) return ZT_EINVAL;
    json_t *j = json_object();
    if (!j || json_object_set_new(j, "busy", json_integer((json_int_t)load->busy)) != 0 ||
        json_object_set_new(j, "queue", json_integer((json_int_t)load->queue)) != 0) {
        json_decref(j);
        return ZT_ENOMEM;
    }
    return build(id, ORCH_REC_HEARTBEAT, aud, boot, seq, ts_ms, j, out);
}

int zt_registry_leave_record(const struct zt_identity *id, const char *aud, const uint8_t boot[static ZT_REG_BOOT_LEN],
                             uint64_t seq, int64_t ts_ms, char **out)
{
    if (!good_common(id, aud, boot, seq, ts_ms, out)) return ZT_EINVAL;
    return build(id, ORCH_REC_LEAVE, aud, boot, seq, ts_ms, NULL, out);
}
