/* infer_job.c: request -> job, the one builder behind /v1/completions,
 * /v1/chat/completions, sealed jobs, server features and the CLI (moved
 * from src/server/llm.c). See zt_infer.h.
 *
 * Order of the checks (a request with several faults gets the first one's
 * answer): the model field's type, the model (resolved, loaded), the
 * sampling fields in a fixed order, stop, logit_bias, the prompt or the
 * messages, the chat template, the tokens within the context. */
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "infer_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_gguf.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_model.h"
#include "zentalk/zt_quant.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_tokenizer.h"

#define MAX_PROMPT_BYTES (4u << 20)
#define MAX_MESSAGES 1024

static int bad(struct zt_infer_err *err, const char *msg)
{
    return zt__infer_fail(err, ZT_EINVAL, "invalid_request", "%s", msg);
}

/* Optional number field in [lo, hi]; writes *out when present. */
static int get_num(json_t *body, const char *key, double lo, double hi, double *out, struct zt_infer_err *err)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < lo || json_number_value(v) > hi)
        return zt__infer_fail(err, ZT_EINVAL, "invalid_request", "%s must be a number between %g and %g", key, lo, hi);
    *out = json_number_value(v);
    return 0;
}

static int get_int(json_t *body, const char *key, double lo, double hi, double *out, struct zt_infer_err *err)
{
    json_t *v = json_object_get(body, key);
    if (v && !json_is_null(v) && !json_is_integer(v))
        return zt__infer_fail(err, ZT_EINVAL, "invalid_request", "%s must be an integer", key);
    return get_num(body, key, lo, hi, out, err);
}

/* stop: a string or an array of up to 4 non-empty strings (copied into
 * the job) */
static int parse_stop(json_t *body, struct zt_infer_job *j, struct zt_infer_err *err)
{
    struct zt_job_params *p = &j->params;
    const char *s[ZT_RUNNER_MAX_STOP + 1];
    size_t n = 0;
    json_t *v = json_object_get(body, "stop");
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v)) {
        s[n++] = json_string_value(v);
    } else if (json_is_array(v) && json_array_size(v) <= 4) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (!json_is_string(e)) break;
            s[n++] = json_string_value(e);
        }
        if (n != json_array_size(v)) n = ZT_RUNNER_MAX_STOP + 1;
    } else {
        n = ZT_RUNNER_MAX_STOP + 1;
    }
    for (size_t i = 0; i < n && n <= ZT_RUNNER_MAX_STOP; i++)
        if (!s[i][0] || strlen(s[i]) > ZT_RUNNER_MAX_STOP_LEN) n = ZT_RUNNER_MAX_STOP + 1;
    if (n > ZT_RUNNER_MAX_STOP)
        return bad(err, "stop must be a string or an array of at most 4 non-empty strings of at most 256 bytes");
    for (size_t i = 0; i < n; i++) {
        zt_strlcpy(j->stop_buf[i], s[i], sizeof j->stop_buf[i]);
        p->stop[i] = j->stop_buf[i];
    }
    p->n_stop = n;
    return 0;
}

/* logit_bias: {"token id": bias in [-100, 100]} */
static int parse_bias(json_t *body, uint32_t n_vocab, struct zt_infer_job *j, struct zt_infer_err *err)
{
    json_t *v = json_object_get(body, "logit_bias");
    size_t *n = &j->params.sampler.n_logit_bias;
    *n = 0;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_object(v) || json_object_size(v) > ZT__INFER_MAX_BIAS)
        return bad(err, "logit_bias must be an object of at most 300 token ids");
    const char *key;
    json_t *b;
    json_object_foreach(v, key, b) {
        int64_t id;
        if (zt_str_to_i64(key, &id) != 0 || id < 0 || id >= (int64_t)n_vocab || !json_is_number(b) ||
            json_number_value(b) < -100 || json_number_value(b) > 100)
            return bad(err, "logit_bias keys must be token ids of this model and values numbers in [-100, 100]");
        double bv = json_number_value(b);
        j->bias[(*n)++] = (struct zt_logit_bias){(int32_t)id, bv <= -100 ? -INFINITY : (float)bv};
    }
    return 0;
}

/* Format msgs with the model's chat template into out. */
static int format_chat(struct zt_infer_job *j, const struct zt_chat_msg *msgs, size_t n, struct zt_buf *out,
                       struct zt_infer_err *err)
{
    struct zt_gguf_str ts;
    char *tmpl = NULL;
    if (zt_gguf_get_str(zt_model_gguf(zt_runner_model(j->runner)), "tokenizer.chat_template", &ts) == 0)
        tmpl = zt_strndup(ts.ptr, ts.len);
    enum zt_chat_tmpl t = zt_chat_detect(tmpl, &j->fell_back);
    zt_free(tmpl);
    if (j->fell_back) zt_log_rl(ZT_LOG_WARN, 1, "chat_template_fallback", "detail=\"unknown chat template, using ChatML\"");
    int rc = zt_chat_format(t, msgs, n, true, out);
    if (rc == ZT_EINVAL) return bad(err, "message roles must be system, user or assistant");
    if (rc) return zt__infer_fail(err, ZT_ETOOBIG, "prompt_too_large", "the conversation is too large");
    return 0;
}

/* The prompt text of an OpenAI body: the completion prompt, or the chat
 * formatted with the model's template. */
static int body_prompt(struct zt_infer_job *j, json_t *body, bool chat, struct zt_buf *out, struct zt_infer_err *err)
{
    if (!chat) {
        json_t *p = json_object_get(body, "prompt");
        if (json_is_array(p) && json_array_size(p) == 1) p = json_array_get(p, 0);
        if (!json_is_string(p)) return bad(err, "prompt must be a string (or an array holding one string)");
        if (zt_buf_append(out, json_string_value(p), json_string_length(p)) != 0)
            return zt__infer_fail(err, ZT_ETOOBIG, "prompt_too_large", "prompt is too large");
        return 0;
    }
    json_t *msgs = json_object_get(body, "messages");
    if (!json_is_array(msgs) || json_array_size(msgs) == 0 || json_array_size(msgs) > MAX_MESSAGES)
        return bad(err, "messages must be a non-empty array (at most 1024 messages)");
    struct zt_chat_msg *cm = zt_calloc(json_array_size(msgs), sizeof *cm);
    if (!cm) return zt__infer_fail(err, ZT_ENOMEM, "overloaded", "out of memory");
    size_t i;
    json_t *m;
    int rc = 0;
    json_array_foreach(msgs, i, m) {
        json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
        if (!json_is_string(role) || !json_is_string(content)) {
            rc = bad(err, "each message needs a string role and a string content");
            break;
        }
        cm[i] = (struct zt_chat_msg){json_string_value(role), json_string_value(content)};
    }
    if (!rc) rc = format_chat(j, cm, json_array_size(msgs), out, err);
    zt_free(cm);
    return rc;
}

/* Tokenize the prompt into j->toks (n_ctx + 1 entries). */
static int encode(struct zt_infer_job *j, const struct zt_buf *prompt, bool chat, struct zt_infer_err *err)
{
    uint32_t n_ctx = zt_runner_n_ctx(j->runner);
    int32_t *t = zt_calloc((size_t)n_ctx + 1, sizeof *t);
    if (!t) return zt__infer_fail(err, ZT_ENOMEM, "overloaded", "out of memory");
    size_t n = 0;
    int rc = zt_tok_encode(zt_model_tokenizer(zt_runner_model(j->runner)), zt_buf_str(prompt), prompt->len, true, chat,
                           t, (size_t)n_ctx + 1, &n);
    if (rc == ZT_ETOOBIG || n >= n_ctx) {
        zt_free(t);
        return zt__infer_fail(err, ZT_ERANGE, "context_length_exceeded",
                              "the prompt is %zu tokens; this model's context is %u tokens", n, n_ctx);
    }
    if (rc || n == 0) {
        zt_free(t);
        return bad(err, rc ? "the prompt cannot be tokenized" : "the prompt is empty");
    }
    j->toks = t;
    j->n_toks = n;
    return 0;
}

static int job_acquire(struct zt_infer *inf, const char *model, struct zt_infer_job **out, struct zt_infer_err *err)
{
    struct zt_infer_job *j = zt_calloc(1, sizeof *j);
    if (!j) return zt__infer_fail(err, ZT_ENOMEM, "overloaded", "out of memory");
    j->inf = inf;
    int rc = zt__infer_acquire(inf, model, &j->runner, &j->entry, err);
    return ZT_HAND_OUT(rc, j, zt_free, out);
}

/* The builders' last step: tokenize the prompt (when rc is 0) and hand
 * the job out, or free it; the prompt text is wiped either way. */
static int finish(struct zt_infer_job *j, struct zt_buf *prompt, bool chat, int rc, struct zt_infer_job **out,
                  struct zt_infer_err *err)
{
    if (!rc) rc = encode(j, prompt, chat, err);
    if (!rc) *out = j;
    else zt_infer_job_free(j);
    if (prompt->data) sodium_memzero(prompt->data, prompt->len);
    zt_buf_deinit(prompt);
    return rc;
}

/* "precision": "exact" or "bf16" (absent or null: the model's mode). The
 * declared BF16 mode gives other bits than exact, so a request names the
 * mode it accepts and a node whose model runs in the other one refuses it
 * (gpu_pool.precision), never substitutes one for the other. */
static int parse_precision(json_t *body, struct zt_infer_job *j, struct zt_infer_err *err)
{
    json_t *v = json_object_get(body, "precision");
    if (!v || json_is_null(v)) return 0;
    enum zt_precision want;
    if (!json_is_string(v) || zt_precision_parse(json_string_value(v), &want) != 0)
        return bad(err, "precision must be \"exact\" or \"bf16\"");
    int have = zt_model_precision(zt_runner_model(j->runner));
    if ((int)want != have)
        return zt__infer_fail(err, ZT_EUNSUPPORTED, "precision_unavailable",
                              "model '%s' runs in %s precision on this node (gpu_pool.precision), not %s",
                              j->entry->id, zt_precision_name((enum zt_precision)have), zt_precision_name(want));
    j->params.precision = want == ZT_PRECISION_BF16 ? ZT_JOB_PRECISION_BF16 : ZT_JOB_PRECISION_EXACT;
    return 0;
}

/* "kv_cache": "f32" or "f16" (absent or null: the node's), the same way:
 * a check runs in the checked worker's KV type (zt_job_body_pin_mode). */
static int parse_kv_cache(json_t *body, struct zt_infer_job *j, struct zt_infer_err *err)
{
    json_t *v = json_object_get(body, "kv_cache");
    if (!v || json_is_null(v)) return 0;
    const char *s = json_is_string(v) ? json_string_value(v) : "";
    if (strcmp(s, "f32") != 0 && strcmp(s, "f16") != 0) return bad(err, "kv_cache must be \"f32\" or \"f16\"");
    bool want16 = strcmp(s, "f16") == 0;
    bool have16 = zt_model_kv_type(zt_runner_model(j->runner)) == ZT_GGML_F16;
    if (want16 != have16)
        return zt__infer_fail(err, ZT_EUNSUPPORTED, "kv_cache_unavailable",
                              "model '%s' runs with an %s KV cache on this node (gpu_pool.kv_cache_type), not %s",
                              j->entry->id, have16 ? "f16" : "f32", s);
    j->params.kv = want16 ? ZT_JOB_KV_F16 : ZT_JOB_KV_F32;
    return 0;
}

int zt_infer_job_openai(struct zt_infer *inf, json_t *body, bool chat, struct zt_infer_job **out,
                        struct zt_infer_err *err)
{
    struct zt_infer_job *j = NULL;
    struct zt_buf prompt;
    zt_buf_init(&prompt, MAX_PROMPT_BYTES);
    json_t *jm = json_object_get(body, "model");
    int rc = 0;
    if (jm && !json_is_string(jm)) {
        rc = bad(err, "model must be a string");
        goto out;
    }
    rc = job_acquire(inf, jm ? json_string_value(jm) : NULL, &j, err);
    if (rc) goto out;
    const struct zt_cfg_model *e = j->entry;
    struct zt_job_params *p = &j->params;
    zt_sampler_params_default(&p->sampler);
    double temperature = e->temperature, top_p = e->top_p, top_k = (double)e->top_k, min_p = 0.05, seed = 0,
           max_tokens = (double)e->max_tokens, fp = 0, pp = 0, rp = 1.0;
    if ((rc = get_num(body, "temperature", 0, 2, &temperature, err)) || (rc = get_num(body, "top_p", 0.0001, 1, &top_p, err)) ||
        (rc = get_int(body, "top_k", 0, 100000, &top_k, err)) || (rc = get_num(body, "min_p", 0, 1, &min_p, err)) ||
        (rc = get_int(body, "seed", -9007199254740991.0, 9007199254740991.0, &seed, err)) ||
        (rc = get_int(body, "max_tokens", 1, 1e9, &max_tokens, err)) ||
        (rc = get_int(body, "max_completion_tokens", 1, 1e9, &max_tokens, err)) ||
        (rc = get_num(body, "frequency_penalty", -2, 2, &fp, err)) || (rc = get_num(body, "presence_penalty", -2, 2, &pp, err)) ||
        (rc = get_num(body, "repeat_penalty", 0.01, 10, &rp, err)))
        goto out;
    p->sampler.temperature = (float)temperature;
    p->sampler.top_p = (float)top_p;
    p->sampler.top_k = (int32_t)top_k;
    p->sampler.min_p = (float)min_p;
    p->sampler.seed = (uint64_t)(int64_t)seed;
    p->sampler.frequency_penalty = (float)fp;
    p->sampler.presence_penalty = (float)pp;
    p->sampler.repeat_penalty = (float)rp;
    p->max_tokens = (uint32_t)max_tokens;
    if ((rc = parse_precision(body, j, err)) || (rc = parse_kv_cache(body, j, err)) || (rc = parse_stop(body, j, err)) ||
        (rc = parse_bias(body, zt_model_hparams(zt_runner_model(j->runner))->n_vocab, j, err)))
        goto out;
    p->sampler.logit_bias = j->bias;
    rc = body_prompt(j, body, chat, &prompt, err);
out:
    return finish(j, &prompt, chat, rc, out, err);
}

int zt_infer_job_new(struct zt_infer *inf, const struct zt_infer_request *rq, struct zt_infer_job **out,
                     struct zt_infer_err *err)
{
    struct zt_infer_job *j = NULL;
    struct zt_buf prompt;
    zt_buf_init(&prompt, MAX_PROMPT_BYTES);
    bool chat = rq->msgs != NULL;
    int rc = 0;
    if (rq->sampler.n_logit_bias > ZT__INFER_MAX_BIAS) {
        rc = bad(err, "too many logit biases");
        goto out;
    }
    if ((rc = job_acquire(inf, rq->model, &j, err))) goto out;
    j->params.sampler = rq->sampler;
    if (rq->sampler.n_logit_bias) memcpy(j->bias, rq->sampler.logit_bias, rq->sampler.n_logit_bias * sizeof *j->bias);
    j->params.sampler.logit_bias = j->bias;
    j->params.max_tokens = rq->max_tokens;
    if (chat) {
        if (rq->n_msgs == 0 || rq->n_msgs > MAX_MESSAGES) {
            rc = bad(err, "messages must be a non-empty array (at most 1024 messages)");
            goto out;
        }
        rc = format_chat(j, rq->msgs, rq->n_msgs, &prompt, err);
    } else if (!rq->prompt) {
        rc = bad(err, "the prompt is empty");
    } else if (zt_buf_append(&prompt, rq->prompt, rq->prompt_len) != 0) {
        rc = zt__infer_fail(err, ZT_ETOOBIG, "prompt_too_large", "prompt is too large");
    }
out:
    return finish(j, &prompt, chat, rc, out, err);
}

const char *zt_infer_job_model(const struct zt_infer_job *j)
{
    return j->entry->id;
}

size_t zt_infer_job_prompt_tokens(const struct zt_infer_job *j)
{
    return j->n_toks;
}

uint32_t zt_infer_job_n_ctx(const struct zt_infer_job *j)
{
    return zt_runner_n_ctx(j->runner);
}

bool zt_infer_job_template_fell_back(const struct zt_infer_job *j)
{
    return j->fell_back;
}

void zt_infer_job_report_end(struct zt_infer_job *j, const char *user)
{
    uint8_t id[(ZT_INFER_JOB_ID_HEX - 1) / 2];
    randombytes_buf(id, sizeof id);
    zt_hex_encode(j->job_id, id, sizeof id);
    zt_strlcpy(j->user, user ? user : "", sizeof j->user);
    j->report_end = true;
}

void zt_infer_job_free(struct zt_infer_job *j)
{
    if (!j) return;
    if (j->runner) zt__infer_release(j->inf, j->runner);
    if (j->toks) sodium_memzero(j->toks, j->n_toks * sizeof *j->toks); /* the prompt, as tokens */
    zt_free(j->toks);
    zt_free(j->given);
    zt_free(j);
}

int zt_infer_job_give(struct zt_infer_job *j, enum zt_job_force f, const int32_t *ids, size_t n)
{
    if (!j || (!ids && n) || f == ZT_JOB_FORCE_NONE || f > ZT_JOB_FORCE_VERIFY) return ZT_EINVAL;
    uint32_t max = j->params.max_tokens;
    if (max && n > max) return ZT_EINVAL;
    int32_t *c = zt_malloc((n ? n : 1) * sizeof *c);
    if (!c) return ZT_ENOMEM;
    if (n) memcpy(c, ids, n * sizeof *c);
    zt_free(j->given);
    j->given = c;
    j->params.force = f;
    j->params.forced = c;
    j->params.n_forced = n;
    return 0;
}

void zt_infer_job_want_ids(struct zt_infer_job *j)
{
    if (j) j->params.want_ids = true;
}

int zt_infer_job_model_sha256(struct zt_infer_job *j, uint8_t out[static 32])
{
    if (!j || !j->runner) return ZT_EINVAL;
    return zt__infer_model_sha256(j->inf, j->entry, j->runner, out);
}
