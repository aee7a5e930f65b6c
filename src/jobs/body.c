/* body.c: the job body inside a sealed envelope (zt_jobs.h): the worker's
 * strict decoder and the client's builder, which takes the privacy gate's
 * verdict and nothing else. The envelope's bytes are src/crypto's.
 *
 * The decoder's reasons are static strings and never quote the body: the
 * worker answers a bad body in clear, through relays that must not learn the
 * prompt. */
#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_str.h"

static void say(const char **why, const char *msg)
{
    if (why) *why = msg;
}

const char *zt_job_kind_feature(enum zt_job_kind k)
{
    return k == ZT_JOB_CHAT ? "chat" : "completion";
}

/* ---- job body ---------------------------------------------------------------- */

enum ftype { F_NUMBER, F_INTEGER, F_STRING, F_STOP, F_BIAS };

/* Sampling fields both kinds accept; their ranges are the request builder's. */
static const struct {
    const char *name;
    enum ftype type;
} sampling_fields[] = {
    {"temperature", F_NUMBER},      {"top_p", F_NUMBER},
    {"top_k", F_INTEGER},           {"min_p", F_NUMBER},
    {"seed", F_INTEGER},            {"frequency_penalty", F_NUMBER},
    {"presence_penalty", F_NUMBER}, {"repeat_penalty", F_NUMBER},
    {"stop", F_STOP},               {"logit_bias", F_BIAS},
    {"precision", F_STRING}, /* the precision mode the job must run in (checked by the worker's builder) */
    {"kv_cache", F_STRING},  /* the KV cache type it must run with (the same) */
};
#define N_SAMPLING (sizeof sampling_fields / sizeof sampling_fields[0])

static bool type_ok(json_t *v, enum ftype t)
{
    switch (t) {
    case F_NUMBER: return json_is_number(v);
    case F_INTEGER: return json_is_integer(v);
    case F_STRING: return json_is_string(v);
    case F_STOP: {
        if (json_is_string(v)) return true;
        if (!json_is_array(v)) return false;
        size_t i;
        json_t *s;
        json_array_foreach(v, i, s) if (!json_is_string(s)) return false;
        return true;
    }
    case F_BIAS: {
        if (!json_is_object(v)) return false;
        const char *k;
        json_t *b;
        json_object_foreach(v, k, b) if (!json_is_number(b)) return false;
        return true;
    }
    }
    return false;
}

static bool messages_ok(json_t *m, const char **why)
{
    if (!json_is_array(m) || json_array_size(m) == 0 || json_array_size(m) > ZT_JOB_MAX_MESSAGES) {
        say(why, "messages must be an array of 1 to 1024 messages");
        return false;
    }
    size_t i;
    json_t *e;
    json_array_foreach(m, i, e) {
        if (!json_is_object(e) || json_object_size(e) != 2 || !json_is_string(json_object_get(e, "role")) ||
            !json_is_string(json_object_get(e, "content"))) {
            say(why, "each message must be {\"role\": string, \"content\": string} and nothing else");
            return false;
        }
    }
    return true;
}

/* "ids": an array of at most max integers 0..INT32_MAX. */
static int decode_ids(json_t *a, size_t max, struct zt_job_request *out, const char **why)
{
    if (!json_is_array(a) || json_array_size(a) > max) {
        say(why, "ids must be an array of token ids, within max_tokens");
        return ZT_EPARSE;
    }
    size_t n = json_array_size(a);
    out->ids = zt_malloc((n ? n : 1) * sizeof *out->ids);
    if (!out->ids) {
        say(why, "out of memory");
        return ZT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(a, i);
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > INT32_MAX) {
            say(why, "a token id is not an integer from 0 to 2^31-1");
            return ZT_EPARSE;
        }
        out->ids[i] = (int32_t)json_integer_value(e);
    }
    out->n_ids = n;
    return 0;
}

/* The v2 fields: "subject", "resume", "verify". */
static int decode_v2(json_t *j, uint32_t max_tokens, struct zt_job_request *out, const char **why)
{
    json_t *sub = json_object_get(j, "subject"), *res = json_object_get(j, "resume"),
           *ver = json_object_get(j, "verify");
    if (sub) {
        if (!json_is_string(sub) || json_string_length(sub) != 2 * ZT_ENV_HASH_LEN ||
            zt_hex_decode_str(out->subject, sizeof out->subject, json_string_value(sub), ZT_HEX_LOWER) != 0) {
            say(why, "subject must be 64 hex digits");
            return ZT_EPARSE;
        }
        out->has_subject = true;
    }
    if (res && ver) {
        say(why, "a job body holds \"resume\" or \"verify\", not both");
        return ZT_EPARSE;
    }
    json_t *m = res ? res : ver;
    if (!m) return 0;
    if (!out->has_subject) {
        say(why, "a resume or verify job needs \"subject\"");
        return ZT_EPARSE;
    }
    const char *k;
    json_t *v;
    json_object_foreach(m, k, v) if (strcmp(k, "ids") != 0 && (ver || strcmp(k, "checkpoint") != 0)) {
        say(why, "unknown field in resume or verify");
        return ZT_EPARSE;
    }
    if (!json_is_object(m)) {
        say(why, "resume and verify must be objects");
        return ZT_EPARSE;
    }
    out->mode = res ? ZT_JOB_RESUME : ZT_JOB_VERIFY;
    int rc = decode_ids(json_object_get(m, "ids"), max_tokens, out, why);
    if (rc) return rc;
    json_t *ck = res ? json_object_get(res, "checkpoint") : NULL;
    if (ck && !json_is_null(ck)) {
        struct zt_checkpoint c;
        size_t hl = json_is_string(ck) ? json_string_length(ck) : 0;
        if (hl == 0 || hl % 2 || hl / 2 > sizeof out->prev ||
            zt_hex_decode_str(out->prev, hl / 2, json_string_value(ck), ZT_HEX_LOWER) != 0 ||
            zt_checkpoint_verify(out->prev, hl / 2, NULL, &c) != 0) {
            say(why, "resume.checkpoint must be a signed checkpoint record in hex");
            return ZT_EPARSE;
        }
        if (memcmp(c.subject, out->subject, sizeof c.subject) != 0 || c.n_tokens > out->n_ids) {
            say(why, "resume.checkpoint is for another subject or more ids than given");
            return ZT_EPARSE;
        }
        out->prev_len = hl / 2;
    }
    return 0;
}

int zt_job_body_decode(const uint8_t *body, size_t len, const char *model, uint32_t max_tokens,
                       struct zt_job_request *out, const char **why)
{
    int rc = ZT_EPARSE;
    json_t *j = NULL, *req = NULL;
    struct zt_job_request res;
    memset(&res, 0, sizeof res);
    if (!out || !model || (!body && len)) return ZT_EINVAL;
    if (len > ZT_ENV_MAX_BODY) {
        say(why, "the job body is larger than 16 MiB");
        return ZT_ETOOBIG;
    }
    if (len == 0) {
        say(why, "the job body is empty");
        return ZT_EPARSE;
    }
    if (!zt_utf8_valid((const char *)body, len)) {
        say(why, "the job body is not valid UTF-8");
        return ZT_EPARSE;
    }
    json_error_t jerr;
    j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        /* jansson's text can quote the input ("near '...'"): never pass it on */
        say(why, json_error_code(&jerr) == json_error_out_of_memory
                     ? "out of memory"
                     : "the job body is not JSON (or has duplicate keys)");
        return json_error_code(&jerr) == json_error_out_of_memory ? ZT_ENOMEM : ZT_EPARSE;
    }
    if (!json_is_object(j)) {
        say(why, "the job body must be a JSON object");
        goto out;
    }
    json_t *v = json_object_get(j, "v");
    if (!json_is_integer(v)) {
        say(why, "the job body needs \"v\": 1");
        goto out;
    }
    json_int_t version = json_integer_value(v);
    if (version != ZT_JOB_BODY_V1 && version != ZT_JOB_BODY_VERSION) {
        say(why, "unsupported job body version (this node reads \"v\": 1 and 2)");
        rc = ZT_EUNSUPPORTED;
        goto out;
    }
    res.version = (int)version;
    const char *kind = json_string_value(json_object_get(j, "kind"));
    enum zt_job_kind k;
    if (!kind) {
        say(why, "the job body needs \"kind\": \"completion\" or \"chat\"");
        goto out;
    } else if (strcmp(kind, "completion") == 0) {
        k = ZT_JOB_COMPLETION;
    } else if (strcmp(kind, "chat") == 0) {
        k = ZT_JOB_CHAT;
    } else {
        say(why, "unsupported job kind (this node runs \"completion\" and \"chat\")");
        rc = ZT_EUNSUPPORTED;
        goto out;
    }
    rc = ZT_ENOMEM;
    req = json_object();
    if (!req || json_object_set_new(req, "model", json_string(model)) != 0 ||
        json_object_set_new(req, "max_tokens", json_integer((json_int_t)max_tokens)) != 0) {
        say(why, "out of memory");
        goto out;
    }
    rc = ZT_EPARSE;
    const char *key;
    json_t *val;
    json_object_foreach(j, key, val) {
        if (strcmp(key, "v") == 0 || strcmp(key, "kind") == 0) continue;
        if (version >= 2 && (strcmp(key, "subject") == 0 || strcmp(key, "resume") == 0 || strcmp(key, "verify") == 0))
            continue; /* decode_v2 */
        if (strcmp(key, "model") == 0) {
            if (!json_is_string(val) || strcmp(json_string_value(val), model) != 0) {
                say(why, "the body's model contradicts the envelope header's");
                goto out;
            }
            continue;
        }
        if (strcmp(key, "max_tokens") == 0) {
            if (!json_is_integer(val) || json_integer_value(val) != (json_int_t)max_tokens) {
                say(why, "the body's max_tokens contradicts the envelope header's");
                goto out;
            }
            continue;
        }
        if (strcmp(key, "nonce") == 0) {
            /* client randomness under the input hash, so a receipt cannot be
             * used to test a guessed prompt; the job does not use it */
            if (!json_is_string(val) || json_string_length(val) == 0 ||
                json_string_length(val) > ZT_JOB_NONCE_MAX) {
                say(why, "nonce must be a string of 1 to 256 bytes");
                goto out;
            }
            continue;
        }
        if (strcmp(key, "prompt") == 0) {
            if (k != ZT_JOB_COMPLETION) {
                say(why, "a chat job takes \"messages\", not \"prompt\"");
                goto out;
            }
            if (!json_is_string(val)) {
                say(why, "prompt must be a string");
                goto out;
            }
        } else if (strcmp(key, "messages") == 0) {
            if (k != ZT_JOB_CHAT) {
                say(why, "a completion job takes \"prompt\", not \"messages\"");
                goto out;
            }
            if (!messages_ok(val, why)) goto out;
        } else {
            size_t i = 0;
            while (i < N_SAMPLING && strcmp(key, sampling_fields[i].name) != 0) i++;
            if (i == N_SAMPLING) {
                say(why, "unknown field in the job body");
                goto out;
            }
            if (json_is_null(val)) continue; /* as absent */
            if (!type_ok(val, sampling_fields[i].type)) {
                say(why, sampling_fields[i].type == F_INTEGER  ? "an integer sampling field has another type"
                         : sampling_fields[i].type == F_NUMBER ? "a numeric sampling field has another type"
                         : sampling_fields[i].type == F_STOP
                             ? "stop must be a string or an array of strings"
                             : "logit_bias must be an object of numbers");
                goto out;
            }
        }
        if (json_object_set(req, key, val) != 0) {
            rc = ZT_ENOMEM;
            say(why, "out of memory");
            goto out;
        }
    }
    if (!json_object_get(req, k == ZT_JOB_CHAT ? "messages" : "prompt")) {
        say(why, k == ZT_JOB_CHAT ? "a chat job needs \"messages\"" : "a completion job needs \"prompt\"");
        goto out;
    }
    if (version >= 2 && (rc = decode_v2(j, max_tokens, &res, why)) != 0) goto out;
    res.kind = k;
    res.request = req;
    req = NULL;
    *out = res;
    memset(&res, 0, sizeof res);
    rc = 0;
out:
    zt_job_request_deinit(&res);
    json_decref(req);
    json_decref(j);
    return rc;
}

void zt_job_request_deinit(struct zt_job_request *j)
{
    if (!j) return;
    json_decref(j->request);
    j->request = NULL;
    zt_free(j->ids);
    j->ids = NULL;
    j->n_ids = 0;
}

/* ---- client side: the body of a request ------------------------------------ */

/* Add a fresh "nonce" to j and serialise it. Randomness under the
 * receipt's input hash: a receipt alone cannot confirm a guessed prompt. */
static int dump_with_nonce(json_t *j, char **out, size_t *out_len)
{
    uint8_t rnd[16];
    char nonce[2 * sizeof rnd + 1], *s;
    randombytes_buf(rnd, sizeof rnd);
    zt_hex_encode(nonce, rnd, sizeof rnd);
    if (json_object_set_new(j, "nonce", json_string(nonce)) != 0 || !(s = json_dumps(j, JSON_COMPACT)))
        return ZT_ENOMEM;
    *out = s;
    *out_len = strlen(s);
    return 0;
}

/* The body of req as it is (the verdict checked by zt_job_build). */
static int encode(const json_t *req, enum zt_job_kind kind, char **out, size_t *out_len)
{
    int rc = ZT_EINVAL;
    json_t *src = (json_t *)(uintptr_t)req; /* jansson's getters take non-const */
    json_t *j = json_pack("{s:i,s:s}", "v", ZT_JOB_BODY_VERSION, "kind", kind == ZT_JOB_CHAT ? "chat" : "completion");
    if (!j) return ZT_ENOMEM;
    if (kind == ZT_JOB_CHAT) {
        json_t *m = json_object_get(src, "messages"), *msgs = json_array();
        if (!msgs || json_object_set_new(j, "messages", msgs) != 0) {
            rc = ZT_ENOMEM;
            goto out;
        }
        if (!json_is_array(m) || json_array_size(m) == 0 || json_array_size(m) > ZT_JOB_MAX_MESSAGES) goto out;
        size_t i;
        json_t *e;
        json_array_foreach(m, i, e) {
            json_t *role = json_object_get(e, "role"), *content = json_object_get(e, "content");
            if (!json_is_string(role) || !json_is_string(content)) goto out;
            if (json_array_append_new(msgs, json_pack("{s:O,s:O}", "role", role, "content", content)) != 0) {
                rc = ZT_ENOMEM;
                goto out;
            }
        }
    } else {
        json_t *pr = json_object_get(src, "prompt");
        if (json_is_array(pr) && json_array_size(pr) == 1) pr = json_array_get(pr, 0);
        if (!json_is_string(pr)) goto out;
        if (json_object_set(j, "prompt", pr) != 0) {
            rc = ZT_ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < N_SAMPLING; i++) {
        json_t *v = json_object_get(src, sampling_fields[i].name);
        if (!v || json_is_null(v)) continue;
        if (json_object_set(j, sampling_fields[i].name, v) != 0) {
            rc = ZT_ENOMEM;
            goto out;
        }
    }
    rc = dump_with_nonce(j, out, out_len);
out:
    json_decref(j);
    return rc;
}

int zt_job_body_pin_mode(const char *body, size_t len, const char *engine, char **out, size_t *out_len)
{
    if (!body || !engine || !out || !out_len) return ZT_EINVAL;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!j) return ZT_EINVAL;
    int rc = ZT_EINVAL;
    if (!json_is_object(j) || !json_is_integer(json_object_get(j, "v"))) goto out;
    /* the markers zt_engine_build_id_mode writes */
    bool kv16 = strstr(engine, "+kv-f16") != NULL, bf16 = strstr(engine, "+bf16") != NULL;
    rc = ZT_ENOMEM;
    if (json_object_set_new(j, "kv_cache", json_string(kv16 ? "f16" : "f32")) != 0 ||
        json_object_set_new(j, "precision", json_string(bf16 ? "bf16" : "exact")) != 0)
        goto out;
    rc = dump_with_nonce(j, out, out_len);
out:
    json_decref(j);
    return rc;
}

int zt_job_body_continue(const char *body, size_t len, enum zt_job_mode mode,
                         const uint8_t subject[static ZT_ENV_HASH_LEN], const int32_t *ids, size_t n_ids,
                         const uint8_t *prev, size_t prev_len, char **out, size_t *out_len)
{
    if (!body || !out || !out_len || (!ids && n_ids) || (mode != ZT_JOB_RESUME && mode != ZT_JOB_VERIFY) ||
        prev_len > ZT_CKPT_MAX_LEN)
        return ZT_EINVAL;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!j) return ZT_EINVAL;
    int rc = ZT_EINVAL;
    json_t *ida = NULL, *m = NULL;
    if (!json_is_object(j) || json_integer_value(json_object_get(j, "v")) != ZT_JOB_BODY_VERSION) goto out;
    rc = ZT_ENOMEM;
    char sub[2 * ZT_ENV_HASH_LEN + 1], ck[2 * ZT_CKPT_MAX_LEN + 1];
    zt_hex_encode(sub, subject, ZT_ENV_HASH_LEN);
    if (!(ida = json_array()) || !(m = json_object())) goto out;
    for (size_t i = 0; i < n_ids; i++)
        if (json_array_append_new(ida, json_integer(ids[i])) != 0) goto out;
    if (json_object_set_new(m, "ids", ida) != 0) goto out;
    ida = NULL;
    if (prev && prev_len) {
        zt_hex_encode(ck, prev, prev_len);
        if (json_object_set_new(m, "checkpoint", json_string(ck)) != 0) goto out;
    }
    zt_ignore(json_object_del(j, "resume"));
    zt_ignore(json_object_del(j, "verify"));
    if (json_object_set_new(j, "subject", json_string(sub)) != 0 ||
        json_object_set_new(j, mode == ZT_JOB_RESUME ? "resume" : "verify", m) != 0) {
        m = NULL;
        goto out;
    }
    m = NULL;
    rc = dump_with_nonce(j, out, out_len);
out:
    json_decref(ida);
    json_decref(m);
    json_decref(j);
    return rc;
}

void zt_job_texts(const json_t *req, enum zt_job_kind kind, struct zt_privacy_text *texts, size_t max, size_t *n)
{
    json_t *src = (json_t *)(uintptr_t)req; /* jansson's getters take non-const */
    size_t k = 0;
    *n = 0;
    if (kind != ZT_JOB_CHAT) {
        json_t *p = json_object_get(src, "prompt");
        if (json_is_array(p) && json_array_size(p) == 1) p = json_array_get(p, 0);
        if (json_is_string(p) && max > 0) {
            texts[0] = (struct zt_privacy_text){json_string_value(p), json_string_length(p)};
            *n = 1;
        }
        return;
    }
    json_t *m = json_object_get(src, "messages");
    size_t i;
    json_t *e;
    json_array_foreach(m, i, e) {
        json_t *c = json_object_get(e, "content");
        if (k == max || !json_is_string(c)) return;
        texts[k++] = (struct zt_privacy_text){json_string_value(c), json_string_length(c)};
    }
    *n = k;
}

/* A copy of req with the masked texts of v in place of its texts. */
static int masked_copy(const json_t *req, enum zt_job_kind kind, const struct zt_privacy_verdict *v, json_t **out)
{
    json_t *copy = json_deep_copy(req);
    if (!copy) return ZT_ENOMEM;
    int rc = 0;
    if (kind != ZT_JOB_CHAT) {
        /* the prompt may have been ["..."]: the masked copy holds the string */
        if (json_object_set_new(copy, "prompt", json_stringn(zt_buf_str(&v->masked[0]), v->masked[0].len)) != 0)
            rc = ZT_ENOMEM;
    } else {
        json_t *m = json_object_get(copy, "messages");
        for (size_t i = 0; i < v->n && !rc; i++) {
            json_t *c = json_stringn(zt_buf_str(&v->masked[i]), v->masked[i].len);
            if (!c || json_object_set_new(json_array_get(m, i), "content", c) != 0) rc = ZT_ENOMEM;
        }
    }
    return ZT_HAND_OUT(rc, copy, json_decref, out);
}

int zt_job_build(const json_t *req, enum zt_job_kind kind, const struct zt_privacy_verdict *verdict, char **out,
                 size_t *out_len)
{
    if (!req || !out || !out_len) return ZT_EINVAL;
    /* the policy is not optional: no verdict, no body */
    if (!verdict || (verdict->kind != ZT_PRIVACY_VERDICT_ALLOW && verdict->kind != ZT_PRIVACY_VERDICT_MASKED))
        return ZT_EPERM;
    struct zt_privacy_text texts[ZT_JOB_MAX_MESSAGES];
    size_t n = 0;
    zt_job_texts(req, kind, texts, ZT_JOB_MAX_MESSAGES, &n);
    if (verdict->own_data) {
        if (verdict->kind != ZT_PRIVACY_VERDICT_ALLOW) return ZT_EPERM;
    } else if (strcmp(verdict->feature, zt_job_kind_feature(kind)) != 0 || verdict->n != n ||
               (verdict->kind == ZT_PRIVACY_VERDICT_MASKED && (!verdict->masked || !verdict->restore))) {
        return ZT_EPERM; /* a verdict taken for another feature or other texts */
    }
    if (verdict->kind == ZT_PRIVACY_VERDICT_ALLOW) return encode(req, kind, out, out_len);
    if (n == 0) return ZT_EINVAL;
    json_t *masked = NULL;
    int rc = masked_copy(req, kind, verdict, &masked);
    if (!rc) rc = encode(masked, kind, out, out_len);
    json_decref(masked);
    return rc;
}
