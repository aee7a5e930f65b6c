/* runner.c: continuous batching over slots. See zt_runner.h.
 *
 * Locking: r->mu guards the queues, the slots' job pointers and every
 * callback (callbacks run with r->mu held, so zt_runner_cancel() returning
 * means the callback is not running and will not run). The forward pass
 * runs without the lock: only the loop thread touches sequences, samplers
 * and logits, and a job cancelled meanwhile is detected when the lock is
 * taken again. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_model.h"
#include "zentalk/zt_quant.h"
#include "zentalk/zt_runner.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_tokenizer.h"
#include "stopscan.h"

#define PROMPT_CHUNK 64          /* prompt tokens per slot per step */
#define TEXT_MAX (1u << 20)      /* held-back text per job */

enum job_kind { JOB_GEN, JOB_EMBED };

struct job {
    uint64_t id;
    enum job_kind kind;
    int32_t *prompt;         /* the prompt, then the ids given (RESUME/VERIFY) */
    size_t n_prompt;         /* of which prompt */
    size_t n_in;             /* n_prompt + the ids given */
    size_t n_fed;            /* input tokens in the KV cache */
    float *flog;             /* PROMPT_CHUNK rows of logits for the positions of ids given */
    size_t flog_first, flog_n; /* input index of this step's first such row, rows */
    bool quiet;              /* replaying ids given (RESUME): their text was streamed already */
    int32_t first_mismatch;  /* VERIFY */
    uint32_t cached;         /* of which reused from the slot's previous job */
    struct zt_job_params p;
    char *stop[ZT_RUNNER_MAX_STOP];
    zt_job_cb cb;
    void *ud;
    struct zt_sampler *sampler;
    struct zt_tok_stream ts;
    struct zt_buf text;      /* decoded, not yet emitted (may hold a stop-string prefix) */
    const char *engine;      /* zt_engine_build_id_kv of its slot's cache (set when admitted) */
    uint32_t n_gen;
    bool stopped;            /* a stop string matched */
    int32_t next_token;      /* sampled, to be fed next step (-1: none yet) */
    struct job *next;
};

struct slot {
    struct zt_seq *seq;
    struct job *job;         /* NULL: free */
    int32_t *tokens;         /* tokens in the KV cache, for prefix reuse (n_ctx) */
    uint32_t n_tokens;
    float *raw, *work;       /* logits (n_vocab) */
    bool want;               /* asked for logits this step */
};

struct zt_runner {
    struct zt_model *m;
    struct zt_tokenizer *tok;
    uint32_t n_vocab, n_ctx;
    struct zt_runner_opts o;
    struct slot *slots;
    pthread_t thread;
    bool thread_started;
    atomic_bool device_failed; /* a decode answered ZT_EIO (zt_runner_device_failed; read without mu) */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    struct job *queue, *queue_tail, *embed_queue;
    unsigned n_queued;
    uint64_t next_id;
    struct zt_runner_stats stats;
    struct zt_batch_item *items;
    size_t items_cap;
};

/* ---- jobs --------------------------------------------------------------- */

static void job_free(struct job *j)
{
    if (!j) return;
    zt_free(j->prompt);
    zt_free(j->flog);
    for (size_t i = 0; i < ZT_RUNNER_MAX_STOP; i++) zt_free(j->stop[i]);
    zt_sampler_free(j->sampler);
    zt_buf_deinit(&j->text);
    zt_free(j);
}

static void emit_error(struct job *j, int err)
{
    struct zt_job_event ev = {.kind = ZT_JOB_ERROR, .err = err};
    j->cb(j->ud, &ev);
}

/* ---- output text: stop strings ------------------------------------------ */

/* A TEXT event: text, and with want_ids the token just accepted (or -1)
 * with the chain so far. */
static void emit_event(struct job *j, const char *t, size_t len, int32_t token)
{
    struct zt_job_event ev = {.kind = ZT_JOB_TEXT, .text = t, .len = len, .token = -1, .engine = j->engine};
    if (j->p.want_ids) {
        ev.token = token;
        ev.n_tokens = (uint32_t)zt_sampler_n_generated(j->sampler);
        zt_sampler_hash(j->sampler, ev.hash);
    }
    j->cb(j->ud, &ev);
}

/* Emit what is certainly output: everything except a tail that might still
 * grow into a stop string. Returns true when a stop string matched (the text
 * before it is emitted, the rest dropped). token: the id just accepted (-1:
 * none), which a want_ids job gets an event for even with no text. While
 * replaying ids given (quiet) nothing is emitted: the state moves the same. */
static bool emit_text(struct job *j, bool final, int32_t token)
{
    const char *t = zt_buf_str(&j->text);
    size_t len = j->text.len, keep_from = len;
    bool stopped = zt__stop_scan(t, len, (const char *const *)j->stop, j->p.n_stop, final, &keep_from);
    if (!j->quiet && (keep_from > 0 || (j->p.want_ids && token >= 0))) emit_event(j, t, keep_from, token);
    if (stopped) {
        zt_buf_reset(&j->text);
    } else if (keep_from > 0) {
        /* keep the held-back tail; nothing to move when nothing was
         * emitted (the buffer may still be unallocated: a token whose
         * text is empty, issue 17 item 4) */
        memmove(j->text.data, t + keep_from, len - keep_from);
        j->text.len = len - keep_from;
        j->text.data[j->text.len] = '\0';
    }
    return stopped;
}

/* The slot's job is done: last text, the DONE event, free the job. */
static void finish(struct zt_runner *r, struct slot *s, const char *reason)
{
    struct job *j = s->job;
    /* after a stop string nothing more is output; otherwise flush what the
     * UTF-8 decoder and the stop-string matcher still hold */
    if (!j->stopped && j->p.force != ZT_JOB_FORCE_VERIFY && zt_tok_stream_flush(&j->ts, &j->text) == 0)
        (void)emit_text(j, true, -1);
    struct zt_job_event ev = {.kind = ZT_JOB_DONE, .finish_reason = reason,
                              .prompt_tokens = (uint32_t)j->n_prompt, .completion_tokens = j->n_gen,
                              .cached_tokens = j->cached, .token = -1,
                              .n_tokens = (uint32_t)zt_sampler_n_generated(j->sampler),
                              .first_mismatch = j->first_mismatch, .engine = j->engine};
    zt_sampler_hash(j->sampler, ev.hash);
    j->cb(j->ud, &ev);
    r->stats.jobs_done++;
    job_free(j);
    s->job = NULL;
}

/* ---- the loop ----------------------------------------------------------- */

static uint32_t common_prefix(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    size_t i = 0;
    while (i < na && i < nb && a[i] == b[i]) i++;
    return (uint32_t)i;
}

/* Put queued jobs into free slots (with r->mu held). Prefers the free slot
 * whose cache shares the longest prefix with the prompt. */
static void admit(struct zt_runner *r)
{
    while (r->queue) {
        struct slot *best = NULL;
        uint32_t best_len = 0;
        for (unsigned i = 0; i < r->o.n_slots; i++) {
            struct slot *s = &r->slots[i];
            if (s->job) continue;
            uint32_t c = common_prefix(s->tokens, s->n_tokens, r->queue->prompt, r->queue->n_in);
            if (!best || c > best_len) {
                best = s;
                best_len = c;
            }
        }
        if (!best) return;
        struct job *j = r->queue;
        r->queue = j->next;
        if (!r->queue) r->queue_tail = NULL;
        r->n_queued--;
        /* at least the last prompt token is computed again: its logits start
         * generation (or score the first id given) */
        uint32_t keep = best_len < j->n_prompt ? best_len : (uint32_t)j->n_prompt - 1;
        zt_ignore(zt_seq_truncate(best->seq, keep));
        best->n_tokens = keep;
        j->n_fed = keep;
        j->cached = keep;
        /* the prompt enters the hash chain and the penalty history */
        for (size_t i = 0; i < j->n_prompt; i++) zt_ignore(zt_sampler_accept(j->sampler, j->prompt[i], NULL));
        j->engine = zt_engine_build_id_mode((int)zt_seq_kv_type(best->seq), zt_model_precision(r->m));
        best->job = j;
    }
}

static void run_embeddings(struct zt_runner *r)
{
    while (r->embed_queue) {
        struct job *j = r->embed_queue;
        r->embed_queue = j->next;
        uint32_t d = zt_model_hparams(r->m)->n_embd;
        float *v = zt_calloc(d, sizeof(float));
        int rc = v ? zt_model_embed(r->m, j->prompt, j->n_prompt, v) : ZT_ENOMEM;
        if (rc) {
            emit_error(j, rc);
        } else {
            struct zt_job_event ev = {.kind = ZT_JOB_EMBEDDING, .embedding = v, .n_embd = d,
                                      .prompt_tokens = (uint32_t)j->n_prompt};
            j->cb(j->ud, &ev);
        }
        r->stats.prompt_tokens += j->n_prompt;
        zt_free(v);
        job_free(j);
    }
}

/* Build this step's batch from the active slots (r->mu held). */
static size_t build_batch(struct zt_runner *r)
{
    size_t n = 0;
    for (unsigned i = 0; i < r->o.n_slots; i++) {
        struct slot *s = &r->slots[i];
        s->want = false;
        struct job *j = s->job;
        if (!j) continue;
        j->flog_n = 0;
        if (j->n_fed < j->n_in) {
            size_t take = j->n_in - j->n_fed;
            if (take > PROMPT_CHUNK) take = PROMPT_CHUNK;
            for (size_t k = 0; k < take; k++) {
                size_t idx = j->n_fed + k;
                float *lg = NULL;
                if (idx + 1 == j->n_in) {
                    /* the last input's logits start generation (a VERIFY job
                     * has nothing left to score) */
                    if (j->p.force != ZT_JOB_FORCE_VERIFY) lg = s->raw;
                } else if (idx + 1 >= j->n_prompt) {
                    /* scores the id given at idx + 1 */
                    if (!j->flog_n) j->flog_first = idx;
                    lg = j->flog + j->flog_n++ * r->n_vocab;
                }
                r->items[n++] = (struct zt_batch_item){s->seq, j->prompt[idx], lg};
                s->tokens[s->n_tokens++] = j->prompt[idx];
            }
            j->n_fed += take;
            r->stats.prompt_tokens += take;
            s->want = j->n_fed == j->n_in;
        } else if (j->next_token >= 0) {
            r->items[n++] = (struct zt_batch_item){s->seq, j->next_token, s->raw};
            s->tokens[s->n_tokens++] = j->next_token;
            j->next_token = -1;
            s->want = true;
        }
    }
    return n;
}

/* The ids given whose logits this step computed, in order: each enters the
 * chain with its logits (VERIFY: the token this sampler picks there).
 * Returns true when the job ended (a stop string in ids given). */
static bool replay_given(struct zt_runner *r, struct slot *s, struct job *j)
{
    for (size_t q = 0; q < j->flog_n; q++) {
        size_t idx = j->flog_first + q;
        int32_t given = j->prompt[idx + 1], tok = given;
        const float *row = j->flog + q * r->n_vocab;
        if (j->p.force == ZT_JOB_FORCE_VERIFY) {
            memcpy(s->work, row, r->n_vocab * sizeof(float));
            int32_t pick = zt_sampler_sample(j->sampler, s->work);
            if (pick != given && j->first_mismatch < 0) j->first_mismatch = (int32_t)(idx + 1 - j->n_prompt);
            if (pick >= 0) tok = pick;
        }
        zt_ignore(zt_sampler_accept(j->sampler, tok, row));
        if (!j->p.ignore_eos && zt_tok_is_eog(r->tok, given)) {
            if (j->p.force != ZT_JOB_FORCE_RESUME) continue;
            /* the stream had ended: the worker died before its final
             * chunk; end it here (the held-back text comes out) */
            finish(r, s, "stop");
            return true;
        }
        j->n_gen++;
        if (j->p.force != ZT_JOB_FORCE_RESUME) continue;
        j->quiet = true;
        if (zt_tok_stream_push(&j->ts, given, &j->text) != 0 || (j->stopped = emit_text(j, false, given))) {
            j->quiet = false;
            finish(r, s, "stop");
            return true;
        }
        j->quiet = false;
    }
    j->flog_n = 0;
    return false;
}

/* After the forward pass: sample and stream for every slot that got logits
 * (r->mu held). */
static void after_step(struct zt_runner *r)
{
    for (unsigned i = 0; i < r->o.n_slots; i++) {
        struct slot *s = &r->slots[i];
        struct job *j = s->job;
        if (!j) continue;
        if (j->flog_n && replay_given(r, s, j)) continue;
        if (!s->want) continue;
        if (j->p.force == ZT_JOB_FORCE_VERIFY) {
            finish(r, s, "verified");
            continue;
        }
        if (j->p.force == ZT_JOB_FORCE_RESUME && j->p.max_tokens && j->n_gen >= j->p.max_tokens) {
            finish(r, s, "length"); /* all the ids had been made: only the end was lost */
            continue;
        }
        memcpy(s->work, s->raw, r->n_vocab * sizeof(float));
        int32_t tok = zt_sampler_sample(j->sampler, s->work);
        if (tok < 0) {
            emit_error(j, ZT_EINVAL);
            job_free(j);
            s->job = NULL;
            continue;
        }
        zt_ignore(zt_sampler_accept(j->sampler, tok, s->raw));
        if (!j->p.ignore_eos && zt_tok_is_eog(r->tok, tok)) {
            if (j->p.want_ids) emit_event(j, "", 0, tok);
            finish(r, s, "stop");
            continue;
        }
        j->n_gen++;
        r->stats.generated_tokens++;
        if (zt_tok_stream_push(&j->ts, tok, &j->text) != 0 || (j->stopped = emit_text(j, false, tok))) {
            finish(r, s, "stop");
            continue;
        }
        if ((j->p.max_tokens && j->n_gen >= j->p.max_tokens) || zt_seq_pos(s->seq) >= zt_seq_n_ctx(s->seq)) {
            finish(r, s, "length");
            continue;
        }
        j->next_token = tok;
    }
}

static bool has_work(const struct zt_runner *r)
{
    if (r->queue || r->embed_queue) return true;
    for (unsigned i = 0; i < r->o.n_slots; i++)
        if (r->slots[i].job) return true;
    return false;
}

static void *loop_main(void *arg)
{
    struct zt_runner *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->stopping && !has_work(r)) pthread_cond_wait(&r->cv, &r->mu);
        if (r->stopping) break;
        run_embeddings(r);
        admit(r);
        size_t n = build_batch(r);
        if (n == 0) continue;
        r->stats.steps++;
        pthread_mutex_unlock(&r->mu);
        int rc = zt_model_decode(r->m, r->items, n);
        pthread_mutex_lock(&r->mu);
        if (rc == ZT_EIO) atomic_store(&r->device_failed, true); /* the GPU pool takes the device out */
        if (rc) {
            for (unsigned i = 0; i < r->o.n_slots; i++) {
                struct slot *s = &r->slots[i];
                if (!s->job) continue;
                emit_error(s->job, rc);
                job_free(s->job);
                s->job = NULL;
                zt_ignore(zt_seq_truncate(s->seq, 0));
                s->n_tokens = 0;
            }
            continue;
        }
        after_step(r);
    }
    /* shutting down: fail whatever is left */
    for (unsigned i = 0; i < r->o.n_slots; i++)
        if (r->slots[i].job) {
            emit_error(r->slots[i].job, ZT_ECLOSED);
            job_free(r->slots[i].job);
            r->slots[i].job = NULL;
        }
    struct job *queues[2] = {r->queue, r->embed_queue};
    for (int q = 0; q < 2; q++)
        while (queues[q]) {
            struct job *j = queues[q];
            queues[q] = j->next;
            emit_error(j, ZT_ECLOSED);
            job_free(j);
        }
    r->queue = r->queue_tail = r->embed_queue = NULL;
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- public API --------------------------------------------------------- */

int zt_runner_new(struct zt_model *m, const struct zt_runner_opts *o, struct zt_runner **out)
{
    if (o->n_slots < 1 || o->n_slots > 64 || o->n_threads < 1 || o->n_threads > 256) return ZT_EINVAL;
    const struct zt_hparams *hp = zt_model_hparams(m);
    uint32_t n_ctx = o->n_ctx ? o->n_ctx : hp->n_ctx_train;
    if (n_ctx > hp->n_ctx_train) n_ctx = hp->n_ctx_train;
    struct zt_runner *r = zt_calloc(1, sizeof *r);
    if (!r) return ZT_ENOMEM;
    r->m = m;
    r->tok = zt_model_tokenizer(m);
    r->n_vocab = hp->n_vocab;
    r->n_ctx = n_ctx;
    r->o = *o;
    r->next_id = 1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    int rc = zt_model_set_threads(m, o->n_threads);
    r->slots = rc ? NULL : zt_calloc(o->n_slots, sizeof *r->slots);
    r->items_cap = (size_t)o->n_slots * PROMPT_CHUNK;
    r->items = rc ? NULL : zt_calloc(r->items_cap, sizeof *r->items);
    if (!rc && (!r->slots || !r->items)) rc = ZT_ENOMEM;
    for (unsigned i = 0; !rc && i < o->n_slots; i++) {
        struct slot *s = &r->slots[i];
        rc = zt_seq_new(m, n_ctx, &s->seq);
        if (rc) break;
        s->tokens = zt_calloc(n_ctx, sizeof *s->tokens);
        s->raw = zt_calloc(hp->n_vocab, sizeof(float));
        s->work = zt_calloc(hp->n_vocab, sizeof(float));
        if (!s->tokens || !s->raw || !s->work) rc = ZT_ENOMEM;
    }
    if (!rc) {
        if (pthread_create(&r->thread, NULL, loop_main, r) != 0) rc = ZT_ENOMEM;
        else r->thread_started = true;
    }
    if (rc) {
        r->m = NULL; /* the caller keeps the model on failure */
        zt_runner_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void zt_runner_shutdown(struct zt_runner *r)
{
    if (r) zt_thread_stop(&r->mu, &r->cv, &r->stopping, &r->thread, &r->thread_started);
}

void zt_runner_free(struct zt_runner *r)
{
    if (!r) return;
    zt_runner_shutdown(r);
    for (unsigned i = 0; r->slots && i < r->o.n_slots; i++) {
        struct slot *s = &r->slots[i];
        job_free(s->job);
        zt_seq_free(s->seq);
        zt_free(s->tokens);
        zt_free(s->raw);
        zt_free(s->work);
    }
    zt_free(r->slots);
    zt_free(r->items);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    zt_model_free(r->m);
    zt_free(r);
}

struct zt_model *zt_runner_model(const struct zt_runner *r) { return r->m; }
uint32_t zt_runner_n_ctx(const struct zt_runner *r) { return r->n_ctx; }

static bool ids_valid(const struct zt_runner *r, const int32_t *toks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (toks[i] < 0 || (uint32_t)toks[i] >= r->n_vocab) return false;
    return true;
}

/* A job over toks (n) followed by the ids given (extra, n_extra). */
static int job_new(struct zt_runner *r, enum job_kind kind, const int32_t *toks, size_t n, const int32_t *extra,
                   size_t n_extra, zt_job_cb cb, void *ud, struct job **out)
{
    if (n == 0 || !cb) return ZT_EINVAL;
    if (n > r->n_ctx || n_extra > r->n_ctx - n) return ZT_ERANGE;
    if (!ids_valid(r, toks, n) || !ids_valid(r, extra, n_extra)) return ZT_EINVAL;
    struct job *j = zt_calloc(1, sizeof *j);
    if (!j) return ZT_ENOMEM;
    j->kind = kind;
    j->cb = cb;
    j->ud = ud;
    j->next_token = -1;
    j->first_mismatch = -1;
    zt_buf_init(&j->text, TEXT_MAX);
    j->prompt = zt_calloc(n + n_extra, sizeof *j->prompt);
    if (n_extra) j->flog = zt_calloc((size_t)PROMPT_CHUNK * r->n_vocab, sizeof(float));
    if (!j->prompt || (n_extra && !j->flog)) {
        job_free(j);
        return ZT_ENOMEM;
    }
    memcpy(j->prompt, toks, n * sizeof *toks);
    if (n_extra) memcpy(j->prompt + n, extra, n_extra * sizeof *extra);
    j->n_prompt = n;
    j->n_in = n + n_extra;
    *out = j;
    return 0;
}

int zt_runner_submit(struct zt_runner *r, const int32_t *prompt, size_t n, const struct zt_job_params *p,
                     zt_job_cb cb, void *ud, uint64_t *job_id)
{
    if (p->n_stop > ZT_RUNNER_MAX_STOP) return ZT_EINVAL;
    for (size_t i = 0; i < p->n_stop; i++)
        if (!p->stop[i] || !p->stop[i][0] || strlen(p->stop[i]) > ZT_RUNNER_MAX_STOP_LEN) return ZT_EINVAL;
    size_t n_given = p->force != ZT_JOB_FORCE_NONE ? p->n_forced : 0;
    if (p->force > ZT_JOB_FORCE_VERIFY || (n_given && !p->forced) ||
        (p->max_tokens && n_given > p->max_tokens) || p->kv > ZT_JOB_KV_F16 || p->precision > ZT_JOB_PRECISION_BF16)
        return ZT_EINVAL;
    /* a job asking for the other precision mode is refused, never run in
     * this one (the model's mode is fixed at load) */
    if (p->precision != ZT_JOB_PRECISION_ANY &&
        (p->precision == ZT_JOB_PRECISION_BF16) != (zt_model_precision(r->m) == ZT_PRECISION_BF16))
        return ZT_EUNSUPPORTED;
    /* the slots' caches were made together, with one type */
    if (p->kv != ZT_JOB_KV_ANY && r->o.n_slots > 0 &&
        (p->kv == ZT_JOB_KV_F16) != (zt_seq_kv_type(r->slots[0].seq) == ZT_GGML_F16))
        return ZT_EUNSUPPORTED;
    struct job *j;
    int rc = job_new(r, JOB_GEN, prompt, n, p->forced, n_given, cb, ud, &j);
    if (rc) return rc;
    j->p = *p;
    j->p.forced = NULL; /* the copy is in j->prompt */
    for (size_t i = 0; i < p->n_stop; i++) {
        j->stop[i] = zt_strdup(p->stop[i]);
        if (!j->stop[i]) rc = ZT_ENOMEM;
        j->p.stop[i] = j->stop[i];
    }
    if (!rc) rc = zt_sampler_new(&p->sampler, r->n_vocab, &j->sampler);
    if (rc) {
        job_free(j);
        return rc;
    }
    zt_tok_stream_init(&j->ts, r->tok, 0);
    pthread_mutex_lock(&r->mu);
    if (r->stopping) rc = ZT_ECLOSED;
    else if (r->n_queued >= (r->o.max_queue ? r->o.max_queue : 64)) rc = ZT_EBUSY;
    if (!rc) {
        j->id = r->next_id++;
        if (r->queue_tail) r->queue_tail->next = j;
        else r->queue = j;
        r->queue_tail = j;
        r->n_queued++;
        *job_id = j->id;
        pthread_cond_signal(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    if (rc) job_free(j);
    return rc;
}

int zt_runner_embed(struct zt_runner *r, const int32_t *tokens, size_t n, zt_job_cb cb, void *ud,
                    uint64_t *job_id)
{
    struct job *j;
    int rc = job_new(r, JOB_EMBED, tokens, n, NULL, 0, cb, ud, &j);
    if (rc) return rc;
    pthread_mutex_lock(&r->mu);
    if (r->stopping) {
        rc = ZT_ECLOSED;
    } else {
        j->id = r->next_id++;
        /* first in, first out: callers may rely on completion order */
        struct job **tail = &r->embed_queue;
        while (*tail) tail = &(*tail)->next;
        *tail = j;
        *job_id = j->id;
        pthread_cond_signal(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    if (rc) job_free(j);
    return rc;
}

void zt_runner_cancel(struct zt_runner *r, uint64_t id)
{
    pthread_mutex_lock(&r->mu);
    struct job **queues[2] = {&r->queue, &r->embed_queue};
    for (int q = 0; q < 2; q++) {
        struct job *prev = NULL;
        for (struct job *j = *queues[q]; j; prev = j, j = j->next) {
            if (j->id != id) continue;
            if (prev) prev->next = j->next;
            else *queues[q] = j->next;
            if (q == 0) {
                if (r->queue_tail == j) r->queue_tail = prev;
                r->n_queued--;
            }
            job_free(j);
            goto out;
        }
    }
    for (unsigned i = 0; i < r->o.n_slots; i++) {
        struct slot *s = &r->slots[i];
        if (s->job && s->job->id == id) {
            /* tokens already decoded stay valid for prefix reuse */
            job_free(s->job);
            s->job = NULL;
            break;
        }
    }
out:
    pthread_mutex_unlock(&r->mu);
}

bool zt_runner_device_failed(struct zt_runner *r)
{
    return atomic_load(&r->device_failed);
}

void zt_runner_stats(struct zt_runner *r, struct zt_runner_stats *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->stats;
    out->queued = r->n_queued;
    out->active_slots = 0;
    for (unsigned i = 0; i < r->o.n_slots; i++) out->active_slots += r->slots[i].job != NULL;
    pthread_mutex_unlock(&r->mu);
}
