/* infer_task.c: running jobs on the runners (zt_infer_start, zt_infer_run,
 * zt_infer_chat_run, zt_infer_chat_wait, zt_infer_embed_openai). See zt_infer.h.
 *
 * A task joins two sides: the runner (its events, on the runner thread)
 * and the owner (who closes it, e.g. when the client's connection ends).
 * Each holds one reference; the model and the owner's data are released
 * when both are done. Closing cancels a job that is not over: after
 * zt_runner_cancel() returns, the runner will not call back, so the
 * runner side's reference is dropped by the closer.
 * Lock order: runner lock -> t->mu (events); the owner never holds t->mu
 * while calling into the runner, except around submit, before the job
 * exists (and before any event can take t->mu). */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>

#include "infer_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_model.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_tokenizer.h"

struct zt_infer_task {
    pthread_mutex_t mu;
    int refs;                /* the runner side + the owner */
    bool finished;           /* the last event came (or the job was cancelled) */
    bool cancelling;         /* zt_infer_task_close is cancelling: it uses runner */
    bool released;           /* the model's use was given back (zt__infer_release) */
    struct zt_infer *inf;
    struct zt_runner *runner; /* held until the task is freed */
    uint64_t job_id;
    const struct zt_infer_sink *sink;
    void *ud;
    /* embeddings: one runner job per input */
    const struct zt_infer_embed_sink *esink;
    uint64_t *job_ids;
    size_t n_jobs;           /* entries of job_ids that were queued */
    size_t n_expected, n_done; /* inputs that will report (+1 while submitting) / reported */
    size_t n_got;            /* vectors received */
    size_t n_cap;            /* vectors vecs holds (the inputs) */
    float *vecs;
    uint32_t n_embd, embed_tokens;
    int err;
    /* a reported job (zt_infer_job_report_end): its end, told when t is freed */
    bool report_end;
    const char *outcome;     /* NULL: no last event came (the owner closed it first) */
    uint32_t prompt_tokens, completion_tokens;
    uint64_t start_ms;
    const char *model;       /* the job's entry's id (entries are never moved) */
    char report_id[ZT_INFER_JOB_ID_HEX];
    char user[ZT_INFER_USER_MAX];
};

static void task_unref(struct zt_infer_task *t)
{
    pthread_mutex_lock(&t->mu);
    int left = --t->refs;
    pthread_mutex_unlock(&t->mu);
    if (left) return;
    if (t->report_end) {
        struct zt_infer_job_end e = {.job_id = t->report_id,
                                     .user = t->user,
                                     .model = t->model,
                                     .outcome = t->outcome ? t->outcome : "client_gone",
                                     .prompt_tokens = t->prompt_tokens,
                                     .completion_tokens = t->completion_tokens,
                                     .duration_ms = zt_time_mono_ms() - t->start_ms};
        zt__infer_job_ended(t->inf, &e);
    }
    if (t->sink && t->sink->free) t->sink->free(t->ud);
    if (t->esink && t->esink->free) t->esink->free(t->ud);
    if (!t->released) zt__infer_release(t->inf, t->runner);
    zt_free(t->job_ids);
    zt_free(t->vecs);
    pthread_mutex_destroy(&t->mu);
    zt_free(t);
}

static struct zt_infer_task *task_new(struct zt_infer *inf, struct zt_runner *r)
{
    struct zt_infer_task *t = zt_calloc(1, sizeof *t);
    if (!t) return NULL;
    pthread_mutex_init(&t->mu, NULL);
    t->refs = 2;
    t->inf = inf;
    t->runner = r;
    return t;
}

void zt_infer_task_close(struct zt_infer_task *t)
{
    if (!t) return;
    pthread_mutex_lock(&t->mu);
    bool fin = t->finished;
    if (!fin) t->cancelling = true; /* on_event keeps the model in use meanwhile */
    pthread_mutex_unlock(&t->mu);
    if (!fin) {
        if (t->job_ids)
            for (size_t i = 0; i < t->n_jobs; i++) zt_runner_cancel(t->runner, t->job_ids[i]);
        else
            zt_runner_cancel(t->runner, t->job_id);
        pthread_mutex_lock(&t->mu);
        bool drop = !t->finished;
        t->finished = true;
        t->cancelling = false;
        pthread_mutex_unlock(&t->mu);
        if (drop) task_unref(t); /* the runner will not call back any more */
    }
    task_unref(t);
}

static void on_event(void *ud, const struct zt_job_event *ev)
{
    struct zt_infer_task *t = ud;
    bool last = ev->kind != ZT_JOB_TEXT, rel = false;
    if (last) {
        pthread_mutex_lock(&t->mu);
        t->finished = true;
        /* how a reported job ended: a close racing its end counts as the client's */
        t->outcome = t->cancelling ? "client_gone" : ev->kind == ZT_JOB_DONE ? "ok" : "failed";
        t->prompt_tokens = ev->prompt_tokens;
        t->completion_tokens = ev->completion_tokens;
        /* the job is over: give the model back now rather than when the
         * connection closes (an HTTP thread), so a load waiting for room
         * (zt__infer_acquire) is not held up by it. Not while a close is
         * cancelling: it still uses the runner. */
        rel = !t->cancelling && !t->released;
        t->released = t->released || rel;
        pthread_mutex_unlock(&t->mu);
    }
    t->sink->event(t->ud, ev);
    if (rel) zt__infer_release(t->inf, t->runner); /* t->runner is not used after this */
    if (last) task_unref(t); /* the runner's reference */
}

static int submit_failed(struct zt_infer_err *err, int rc)
{
    if (rc == ZT_EBUSY)
        return zt__infer_fail(err, rc, "overloaded", "too many requests are waiting for this model; retry shortly");
    if (rc == ZT_EINVAL) return zt__infer_fail(err, rc, "invalid_request", "invalid sampling parameters");
    return zt__infer_fail(err, rc, "unavailable", "%s", zt_strerror(rc));
}

int zt_infer_start(struct zt_infer_job *job, const struct zt_infer_sink *sink, void *ud, struct zt_infer_task **out,
                   struct zt_infer_err *err)
{
    struct zt_infer_task *t = task_new(job->inf, job->runner);
    if (!t) return zt__infer_fail(err, ZT_ENOMEM, "overloaded", "out of memory");
    t->sink = sink;
    t->ud = ud;
    if (job->report_end) {
        t->report_end = true;
        t->model = job->entry->id;
        t->start_ms = zt_time_mono_ms();
        memcpy(t->report_id, job->job_id, sizeof t->report_id);
        memcpy(t->user, job->user, sizeof t->user);
    }
    /* Submitted without holding t->mu (as zt_infer_embed does): the
     * runner calls on_event, which takes t->mu, with its own lock held, and
     * submitting takes the runner's lock (a lock-order inversion that make
     * tsan reports). Nothing needs t->mu here: the runner writes t->job_id
     * under its lock before any event, events may come before *out is set
     * (text events always could), and the owner closes the task only after
     * this returns; refs (2) keep t alive until both sides are done. */
    int rc = zt_runner_submit(job->runner, job->toks, job->n_toks, &job->params, on_event, t, &t->job_id);
    if (rc) {
        t->runner = NULL; /* stays the job's */
        t->sink = NULL;   /* ud stays the caller's */
        t->report_end = false; /* refused: no job ran */
        t->refs = 1;
        task_unref(t);
        return submit_failed(err, rc);
    }
    job->runner = NULL; /* the task holds the model now */
    zt_infer_job_free(job);
    *out = t;
    return 0;
}

/* ---- synchronous ------------------------------------------------------------- */

struct sync_run {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    uint64_t t0;
    void (*text)(void *ud, const char *t, size_t len);
    void *ud;
    struct zt_infer_result *res;
};

static void on_sync_event(void *ud, const struct zt_job_event *ev)
{
    struct sync_run *s = ud;
    struct zt_infer_result *res = s->res;
    if (!res->first_event_ns) res->first_event_ns = zt_time_mono_ns() - s->t0;
    if (ev->kind == ZT_JOB_TEXT) {
        if (s->text) s->text(s->ud, ev->text, ev->len);
        return;
    }
    if (ev->kind == ZT_JOB_DONE) {
        zt_strlcpy(res->finish_reason, ev->finish_reason ? ev->finish_reason : "stop", sizeof res->finish_reason);
        res->prompt_tokens = ev->prompt_tokens;
        res->completion_tokens = ev->completion_tokens;
        res->cached_tokens = ev->cached_tokens;
        memcpy(res->hash, ev->hash, sizeof res->hash);
    } else {
        res->err = ev->err ? ev->err : ZT_EINVAL;
    }
    res->total_ns = zt_time_mono_ns() - s->t0;
    zt_set_and_wake(&s->mu, &s->cv, &s->done);
}

static const struct zt_infer_sink SYNC_SINK = {on_sync_event, NULL};

int zt_infer_run(struct zt_infer_job *job, void (*text)(void *ud, const char *t, size_t len),
                 bool (*should_stop)(void *ud), void *ud, struct zt_infer_result *res)
{
    memset(res, 0, sizeof *res);
    struct sync_run s = {.t0 = zt_time_mono_ns(), .text = text, .ud = ud, .res = res};
    pthread_mutex_init(&s.mu, NULL);
    zt_cond_init_mono(&s.cv);
    struct zt_infer_task *t = NULL;
    struct zt_infer_err err;
    int rc = zt_infer_start(job, &SYNC_SINK, &s, &t, &err);
    if (rc) {
        zt_infer_job_free(job);
        res->err = rc;
        goto out;
    }
    bool stopped = false;
    pthread_mutex_lock(&s.mu);
    while (!s.done && !stopped) {
        struct timespec ts = zt_time_after_ms(CLOCK_MONOTONIC, 20);
        pthread_cond_timedwait(&s.cv, &s.mu, &ts);
        if (!s.done && should_stop) {
            pthread_mutex_unlock(&s.mu);
            stopped = should_stop(ud);
            pthread_mutex_lock(&s.mu);
        }
    }
    pthread_mutex_unlock(&s.mu);
    zt_infer_task_close(t); /* cancels when stopped; no event after this */
    if (stopped && !s.done) {
        res->err = ZT_ECLOSED;
        res->total_ns = zt_time_mono_ns() - s.t0;
    }
    rc = res->err;
out:
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.cv);
    return rc;
}

/* ---- chat for server-side features -------------------------------------------- */

struct feat_job {
    struct zt_buf text;
    int err;
    zt_infer_done_fn cb;
    void *ud;
};

static void on_feat_event(void *ud, const struct zt_job_event *ev)
{
    struct feat_job *j = ud;
    if (ev->kind == ZT_JOB_TEXT) {
        if (!j->err && zt_buf_append(&j->text, ev->text, ev->len) != 0) j->err = ZT_ETOOBIG;
        return;
    }
    int err = ev->kind == ZT_JOB_DONE ? j->err : (ev->err ? ev->err : ZT_EINVAL);
    j->cb(j->ud, err, zt_buf_str(&j->text), j->text.len);
}

static void feat_free(void *ud)
{
    struct feat_job *j = ud;
    zt_buf_deinit(&j->text);
    zt_free(j);
}

static const struct zt_infer_sink FEAT_SINK = {on_feat_event, feat_free};

int zt_infer_chat_run(struct zt_infer *inf, const char *model_id, json_t *messages, uint32_t max_tokens,
                      zt_infer_done_fn cb, void *ud, struct zt_buf *why)
{
    struct zt_infer_job *job = NULL;
    struct zt_infer_task *t = NULL;
    struct feat_job *fj = NULL;
    struct zt_infer_err err;
    memset(&err, 0, sizeof err);
    json_t *body = json_pack("{s:s*,s:O,s:i,s:i,s:i}", "model", model_id && model_id[0] ? model_id : NULL, "messages",
                             messages, "temperature", 0, "seed", 0, "max_tokens", (int)(max_tokens ? max_tokens : 1));
    int rc = body ? 0 : ZT_ENOMEM;
    /* the same chat template, tokenizer and checks as POST /v1/chat/completions */
    if (!rc) rc = zt_infer_job_openai(inf, body, true, &job, &err);
    if (rc == ZT_ERANGE) rc = ZT_ETOOBIG;
    if (!rc) {
        /* greedy: the same conversation gives the same answer */
        zt_sampler_params_default(&job->params.sampler);
        job->params.sampler.temperature = 0;
        job->params.sampler.seed = 0;
        job->params.max_tokens = max_tokens;
        job->params.n_stop = 0;
        fj = zt_calloc(1, sizeof *fj);
        rc = fj ? 0 : ZT_ENOMEM;
    }
    if (!rc) {
        fj->cb = cb;
        fj->ud = ud;
        zt_buf_init(&fj->text, ZT__INFER_TEXT_MAX);
        rc = zt_infer_start(job, &FEAT_SINK, fj, &t, &err);
        if (!rc) {
            job = NULL;
            fj = NULL;
            task_unref(t); /* the owner's reference: nobody cancels it, the job runs to its end */
        }
    }
    if (rc && why && !why->len) zt_ignore(zt_buf_append_str(why, err.message[0] ? err.message : zt_strerror(rc)));
    if (fj) feat_free(fj);
    zt_infer_job_free(job);
    json_decref(body);
    return rc;
}

/* ---- a chat answer waited for ---------------------------------------------------- */

/* One wait for a model's answer: the caller waits (bounded by the
 * timeout), the runner thread answers; whoever is last frees it. */
struct chat_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    bool done;
    int err;
    char *text;
    size_t len;
};

static void chat_wait_unref(struct chat_wait *w)
{
    pthread_mutex_lock(&w->mu);
    bool last = --w->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (!last) return;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    zt_free(w->text);
    zt_free(w);
}

static void chat_wait_answer(void *ud, int err, const char *text, size_t len)
{
    struct chat_wait *w = ud;
    pthread_mutex_lock(&w->mu);
    w->err = err;
    if (!err) {
        w->text = zt_malloc(len + 1);
        if (w->text) {
            memcpy(w->text, text, len);
            w->text[len] = '\0';
            w->len = len;
        } else {
            w->err = ZT_ENOMEM;
        }
    }
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    chat_wait_unref(w);
}

int zt_infer_chat_wait(struct zt_infer *inf, const char *model_id, json_t *messages, uint32_t max_tokens,
                       unsigned timeout_ms, char **text, size_t *len, enum zt_infer_wait_end *end, struct zt_buf *why)
{
    *text = NULL;
    *len = 0;
    *end = ZT_INFER_NOT_STARTED;
    struct chat_wait *w = zt_calloc(1, sizeof *w);
    if (!w) return ZT_ENOMEM;
    pthread_mutex_init(&w->mu, NULL);
    zt_cond_init_mono(&w->cv); /* a wall-clock step neither cuts nor stretches the wait */
    w->refs = 2; /* ours and the callback's */
    int rc = zt_infer_chat_run(inf, model_id, messages, max_tokens, chat_wait_answer, w, why);
    if (rc) {
        w->refs = 1;
        chat_wait_unref(w);
        return rc;
    }
    struct timespec ts = zt_time_after_ms(CLOCK_MONOTONIC, (uint64_t)timeout_ms);
    pthread_mutex_lock(&w->mu);
    int wr = 0;
    while (!w->done && wr != ETIMEDOUT) wr = pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    bool done = w->done;
    rc = w->err;
    if (done && !rc) { /* the answer is ours now */
        *text = w->text;
        *len = w->len;
        w->text = NULL;
    }
    pthread_mutex_unlock(&w->mu);
    chat_wait_unref(w);
    if (!done) {
        *end = ZT_INFER_TIMED_OUT;
        return ZT_ETIMEDOUT;
    }
    *end = rc ? ZT_INFER_FAILED : ZT_INFER_ANSWERED;
    return rc;
}

/* ---- embeddings ---------------------------------------------------------------- */

/* One input reported (or the submitting side finished, which counts as one
 * more so that the answer cannot go out before every job was queued). The
 * last one calls done. */
static void embed_done(struct zt_infer_task *t)
{
    pthread_mutex_lock(&t->mu);
    bool last = ++t->n_done == t->n_expected, closed = last && t->finished;
    if (last) t->finished = true;
    pthread_mutex_unlock(&t->mu);
    if (!last) return;
    if (!closed) {
        struct zt_infer_embeddings e = {.n = t->n_jobs, .n_embd = t->n_embd, .v = t->vecs,
                                        .prompt_tokens = t->embed_tokens};
        t->esink->done(t->ud, t->err, t->err ? NULL : &e);
    }
    task_unref(t); /* the runner side's reference */
}

static void on_embed_event(void *ud, const struct zt_job_event *ev)
{
    struct zt_infer_task *t = ud;
    pthread_mutex_lock(&t->mu);
    if (ev->kind == ZT_JOB_EMBEDDING && !t->err) {
        /* the runner runs embedding jobs first in, first out: results come
         * in input order */
        size_t idx = t->n_got++;
        if (ev->n_embd == t->n_embd && idx < t->n_cap)
            memcpy(t->vecs + idx * t->n_embd, ev->embedding, (size_t)t->n_embd * sizeof(float));
        else
            t->err = ZT_EINVAL;
        t->embed_tokens += ev->prompt_tokens;
    } else if (ev->kind != ZT_JOB_EMBEDDING && !t->err) {
        t->err = ev->err ? ev->err : ZT_EINVAL;
    }
    pthread_mutex_unlock(&t->mu);
    embed_done(t);
}

int zt_infer_embed_openai(struct zt_infer *inf, json_t *body, const struct zt_infer_embed_sink *sink, void *ud,
                          struct zt_infer_task **out, struct zt_infer_err *err)
{
    json_t *input = json_object_get(body, "input");
    size_t n_in = json_is_string(input) ? 1 : (json_is_array(input) ? json_array_size(input) : 0);
    if (n_in == 0 || n_in > ZT_INFER_MAX_EMBED_INPUTS)
        return zt__infer_fail(err, ZT_EINVAL, "invalid_request", "input must be a string or an array of 1 to 64 strings");
    for (size_t i = 0; json_is_array(input) && i < n_in; i++)
        if (!json_is_string(json_array_get(input, i)) || json_string_length(json_array_get(input, i)) == 0)
            return zt__infer_fail(err, ZT_EINVAL, "invalid_request", "every input must be a non-empty string");
    if (json_is_string(input) && json_string_length(input) == 0)
        return zt__infer_fail(err, ZT_EINVAL, "invalid_request", "input must not be empty");
    json_t *fmt = json_object_get(body, "encoding_format");
    if (fmt && !json_is_null(fmt) &&
        !(json_is_string(fmt) &&
          (strcmp(json_string_value(fmt), "float") == 0 || strcmp(json_string_value(fmt), "base64") == 0)))
        return zt__infer_fail(err, ZT_EINVAL, "invalid_request", "encoding_format must be \"float\" or \"base64\"");
    json_t *jm = json_object_get(body, "model");
    if (jm && !json_is_string(jm)) return zt__infer_fail(err, ZT_EINVAL, "invalid_request", "model must be a string");
    struct zt_runner *r = NULL;
    const struct zt_cfg_model *e = NULL;
    int rc = zt__infer_acquire(inf, jm ? json_string_value(jm) : NULL, &r, &e, err);
    if (rc) return rc;
    uint32_t n_ctx = zt_runner_n_ctx(r);
    struct zt_tokenizer *tok = zt_model_tokenizer(zt_runner_model(r));
    int32_t *toks = zt_calloc((size_t)n_ctx + 1, sizeof *toks);
    struct zt_infer_task *t = toks ? task_new(inf, r) : NULL;
    if (t) {
        t->esink = sink;
        t->ud = ud;
        t->n_embd = zt_model_hparams(zt_runner_model(r))->n_embd;
        t->job_ids = zt_calloc(n_in, sizeof *t->job_ids);
        t->vecs = zt_calloc(n_in * t->n_embd, sizeof *t->vecs);
        t->n_cap = n_in;
    }
    if (!t || !t->job_ids || !t->vecs) {
        if (t) {
            t->esink = NULL;
            t->refs = 1;
            task_unref(t); /* releases r */
        } else {
            zt__infer_release(inf, r);
        }
        zt_free(toks);
        return zt__infer_fail(err, ZT_ENOMEM, "overloaded", "out of memory");
    }
    /* Jobs are submitted without holding t->mu: a finished job's callback
     * takes t->mu while the runner's lock is held, and submitting takes the
     * runner's lock. The submitting side's own "input" keeps done back
     * until everything is queued. */
    t->n_expected = n_in + 1;
    for (size_t i = 0; !rc && i < n_in; i++) {
        json_t *s = json_is_string(input) ? input : json_array_get(input, i);
        size_t n = 0;
        rc = zt_tok_encode(tok, json_string_value(s), json_string_length(s), true, false, toks, (size_t)n_ctx + 1, &n);
        if (rc == ZT_ETOOBIG || n > n_ctx) rc = ZT_ERANGE;
        if (!rc) rc = zt_runner_embed(r, toks, n, on_embed_event, t, &t->job_ids[t->n_jobs]);
        if (!rc) t->n_jobs++;
    }
    zt_free(toks);
    if (rc && t->n_jobs == 0) {
        /* nothing queued, so no callback can come */
        t->esink = NULL;
        t->refs = 1;
        task_unref(t);
        if (rc == ZT_ERANGE)
            return zt__infer_fail(err, rc, "context_length_exceeded", "an input is longer than the model's context");
        return zt__infer_fail(err, rc, "unavailable", "%s", zt_strerror(rc));
    }
    if (rc) {
        pthread_mutex_lock(&t->mu);
        t->n_expected -= n_in - t->n_jobs; /* those will never report */
        t->err = rc;
        pthread_mutex_unlock(&t->mu);
    }
    embed_done(t);
    *out = t;
    return 0;
}
