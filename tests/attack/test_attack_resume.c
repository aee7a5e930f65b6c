/* test_attack_resume.c: workers that lie in their sealed result streams, met
 * by the gateway's failover loop (zt_job_call_send_failover, src/jobs/
 * resumable.c; docs/architecture/WIRE.md sections 3-5).
 *
 * The workers are stand-ins in this file (zt_test_tcp around the real
 * sealing code: zt_env_open, zt_job_body_decode, zt_sealed_writer_*,
 * zt_checkpoint_sign), so each can be made to lie in one way:
 *  - an honest worker that dies after 40 ids (checkpoints at 16 and 32, the
 *    connection then drops): the next worker is given the 40 ids and the
 *    dead one's last checkpoint (n_tokens 32, its key, not final), and
 *    its FINAL checkpoint chains to it (prev) under the job's subject: the
 *    job verifies, the text is one piece, each id reported for one worker;
 *  - the resumed worker's FINAL checkpoint with prev zeroed, or naming
 *    another subject: BAD (reported so), UNVERIFIED, and no other worker
 *    gets the job;
 *  - a worker whose checkpoint at 16 ids is signed by another key, one
 *    that streams 20 ids without a checkpoint (one is due every 16,
 *    ZT_SEALED_CHECKPOINT_EVERY), one whose receipt is signed by another
 *    key, one whose receipt is cut short (the HTTP body ends cleanly): each
 *    is caught at once as BAD, and nothing is resumed from its stream (the
 *    picker is never asked for another worker). */
#define _GNU_SOURCE
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zt_test.h"

/* ---- the stand-in workers --------------------------------------------------- */

enum script {
    S_DIE_AT_40,        /* 40 ids, checkpoints at 16 and 32, then the connection drops */
    S_RESUME_HONEST,    /* 8 more ids; FINAL names the subject and chains to the checkpoint given */
    S_RESUME_ZERO_PREV, /* ... with prev zeroed */
    S_RESUME_OTHER_SUBJECT, /* ... naming another subject */
    S_FORGED_CKPT,      /* its checkpoint at 16 ids is signed by another key */
    S_NO_CADENCE,       /* 20 ids and only the FINAL checkpoint */
    S_FORGED_RECEIPT,   /* complete, the receipt signed by another key */
    S_CUT_RECEIPT,      /* complete but for the receipt's last bytes; the body ends cleanly */
};

#define N_SW 3

/* What a stand-in was sent (its last job). */
struct seen {
    int jobs;
    enum zt_job_mode mode;
    size_t n_ids;
    int32_t first_id, last_id;
    size_t prev_len;
    uint8_t prev[ZT_CKPT_MAX_LEN];
    bool has_subject;
    uint8_t subject[ZT_ENV_HASH_LEN];
};

static struct zt_identity *gw, *stranger, *sw[N_SW];
static enum script script[N_SW];
static struct seen seen[N_SW];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER; /* script and seen */
static struct zt_test_tcp *srv;

static void chain_at(uint32_t n, uint8_t out[ZT_ENV_HASH_LEN])
{
    zt_sha256(out, &n, sizeof n);
}

static void put_ckpt(struct zt_sealed_writer *w, struct zt_checkpoint *ck, uint32_t n, bool final,
                     const struct zt_identity *signer, struct zt_buf *out)
{
    uint8_t rec[ZT_CKPT_MAX_LEN];
    size_t len;
    ck->flags = final ? ZT_CKPT_FLAG_FINAL : 0;
    ck->n_tokens = n;
    chain_at(n, ck->chain);
    assert_int_equal(zt_checkpoint_sign(ck, zt_identity_sign_sk(signer), rec, sizeof rec, &len), 0);
    assert_int_equal(zt_sealed_writer_checkpoint(w, rec, len, out), 0);
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = send(fd, c, n, MSG_NOSIGNAL);
        if (k <= 0) return;
        c += k;
        n -= (size_t)k;
    }
}

/* Answer one opened job (body pt) as stand-in i's script says. */
static void serve(int fd, int i, const struct zt_env_header *hdr, const uint8_t *pt, size_t pt_len)
{
    struct zt_job_request job = {0};
    const char *why = NULL;
    assert_int_equal(zt_job_body_decode(pt, pt_len, hdr->model, hdr->max_tokens, &job, &why), 0);
    pthread_mutex_lock(&mu);
    enum script s = script[i];
    struct seen *sn = &seen[i];
    sn->jobs++;
    sn->mode = job.mode;
    sn->n_ids = job.n_ids;
    sn->first_id = job.n_ids ? job.ids[0] : -1;
    sn->last_id = job.n_ids ? job.ids[job.n_ids - 1] : -1;
    sn->prev_len = job.prev_len;
    memcpy(sn->prev, job.prev, job.prev_len);
    sn->has_subject = job.has_subject;
    memcpy(sn->subject, job.subject, sizeof sn->subject);
    pthread_mutex_unlock(&mu);

    uint8_t input_hash[ZT_ENV_HASH_LEN];
    zt_sha256(input_hash, pt, pt_len);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    struct zt_sealed_writer *w = NULL;
    assert_int_equal(zt_sealed_writer_new(hdr, zt_identity_kem_sk(sw[i]), true, &out, &w), 0);
    zt_sealed_writer_v2(w);
    struct zt_checkpoint ck;
    memset(&ck, 0, sizeof ck);
    memcpy(ck.job_id, hdr->job_id, sizeof ck.job_id);
    memcpy(ck.subject, job.has_subject ? job.subject : input_hash, sizeof ck.subject);
    memset(ck.model_sha256, 0x4d, sizeof ck.model_sha256);
    if (job.prev_len) zt_checkpoint_id(job.prev, job.prev_len, ck.prev);
    ck.build_id_len = (uint8_t)zt_strlcpy(ck.build_id, "zt-attack-1", sizeof ck.build_id);

    uint32_t base = (uint32_t)job.n_ids;
    uint32_t n = s == S_DIE_AT_40 ? 40 : s == S_NO_CADENCE ? 20 : s == S_FORGED_CKPT ? 24 : 8;
    for (uint32_t k = 1; k <= n; k++) {
        int32_t id = (int32_t)(base + k);
        char t[16];
        int tl = snprintf(t, sizeof t, "%u ", (unsigned)(base + k));
        assert_int_equal(zt_sealed_writer_tokens(w, &id, 1, t, (size_t)tl, &out), 0);
        if (k % ZT_SEALED_CHECKPOINT_EVERY == 0 && s != S_NO_CADENCE)
            put_ckpt(w, &ck, base + k, false, s == S_FORGED_CKPT ? stranger : sw[i], &out);
    }
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: " ZT_SEALED_MEDIA_RESULT
                               "\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    send_all(fd, head, sizeof head - 1);
    if (s != S_DIE_AT_40) {
        if (s == S_RESUME_ZERO_PREV) memset(ck.prev, 0, sizeof ck.prev);
        if (s == S_RESUME_OTHER_SUBJECT) memset(ck.subject, 0x55, sizeof ck.subject);
        put_ckpt(w, &ck, base + n, true, sw[i], &out);
        struct zt_sealed_final f = {.finish_reason = "length", .prompt_tokens = 4, .completion_tokens = base + n};
        struct zt_env_receipt r;
        memset(&r, 0, sizeof r);
        memcpy(r.input_hash, input_hash, sizeof r.input_hash);
        chain_at(base + n, r.seq_chain);
        r.finished = (uint64_t)(zt_time_real_ms() / 1000);
        r.build_id_len = (uint8_t)zt_strlcpy(r.build_id, ck.build_id, sizeof r.build_id);
        assert_int_equal(
            zt_sealed_writer_finish(w, &f, &r, zt_identity_sign_sk(s == S_FORGED_RECEIPT ? stranger : sw[i]), &out),
            0);
        if (s == S_CUT_RECEIPT) out.len -= 16; /* the end of its signature */
    }
    char size[32];
    int sl = snprintf(size, sizeof size, "%zx\r\n", out.len);
    send_all(fd, size, (size_t)sl);
    send_all(fd, out.data, out.len);
    /* a dead worker's connection drops in the middle of the body */
    if (s != S_DIE_AT_40) send_all(fd, "\r\n0\r\n\r\n", 7);
    zt_sealed_writer_free(w);
    zt_buf_deinit(&out);
    zt_job_request_deinit(&job);
}

static void answer(int fd, void *ud)
{
    (void)ud;
    static char buf[1 << 18];
    size_t hl, want = zt_test_http_read(fd, buf, sizeof buf, &hl);
    if (!want) return;
    uint64_t now = (uint64_t)(zt_time_real_ms() / 1000);
    for (int i = 0; i < N_SW; i++) { /* the stand-in the envelope is sealed to */
        struct zt_env_header hdr;
        uint8_t *pt = NULL;
        size_t pt_len = 0;
        if (zt_env_open(zt_identity_kem_sk(sw[i]), (const uint8_t *)buf + hl, want - hl, now, NULL, &hdr, &pt,
                        &pt_len) != 0)
            continue;
        serve(fd, i, &hdr, pt, pt_len);
        zt_env_body_free(pt, pt_len);
        return;
    }
}

/* ---- the gateway's side ----------------------------------------------------- */

static void worker_of(int i, struct zt_job_worker *out)
{
    memset(out, 0, sizeof *out);
    zt_strlcpy(out->node_id, zt_identity_id(sw[i]), sizeof out->node_id);
    memcpy(out->kem_pk, zt_identity_kem_pk(sw[i]), sizeof out->kem_pk);
    memcpy(out->sign_pk, zt_identity_sign_pk(sw[i]), sizeof out->sign_pk);
    snprintf(out->base_url, sizeof out->base_url, "http://127.0.0.1:%u", (unsigned)zt_test_tcp_port(srv));
    zt_strlcpy(out->recipient_id, out->node_id, sizeof out->recipient_id);
}

static int index_of(const char *node_id)
{
    for (int i = 0; i < N_SW; i++)
        if (strcmp(node_id, zt_identity_id(sw[i])) == 0) return i;
    return -1;
}

/* The picker: offers stand-ins in order; records each attempt's report. */
struct picker {
    int seq[4], next, picks;
    int n_reports;
    int who[4];
    enum zt_job_attempt outcome[4];
    uint32_t tokens[4];
};

static int pick(void *ud, const char *const *exclude, size_t n, struct zt_job_worker *out)
{
    (void)exclude, (void)n;
    struct picker *p = ud;
    p->picks++;
    if (p->next >= 4 || p->seq[p->next] < 0) return ZT_ENOTFOUND;
    worker_of(p->seq[p->next++], out);
    return 0;
}

static void report(void *ud, const struct zt_job_worker *w, enum zt_job_attempt a, uint32_t tokens)
{
    struct picker *p = ud;
    if (p->n_reports >= 4) return;
    p->who[p->n_reports] = index_of(w->node_id);
    p->outcome[p->n_reports] = a;
    p->tokens[p->n_reports++] = tokens;
}

/* Checkpoints the gateway saw (any worker). */
struct gw_seen {
    struct zt_test_text text;
    int n_ckpt;
    uint32_t ckpt_n[8];
    size_t n_ids;
};

static int on_text(void *ud, const char *t, size_t n)
{
    zt_test_on_text(&((struct gw_seen *)ud)->text, t, n);
    return 0;
}

static void on_ids(void *ud, const int32_t *ids, size_t n)
{
    (void)ids;
    ((struct gw_seen *)ud)->n_ids += n;
}

static void on_ckpt(void *ud, const uint8_t *rec, size_t len, const struct zt_checkpoint *c)
{
    (void)rec, (void)len;
    struct gw_seen *g = ud;
    if (g->n_ckpt < 8) g->ckpt_n[g->n_ckpt] = c->n_tokens;
    g->n_ckpt++;
}

/* Run one job: first stand-in `first` with script s0, then the picker's. */
static void run_job(int first, enum script s0, struct picker *p, struct gw_seen *g, struct zt_job_outcome *o,
                    uint8_t subject[ZT_ENV_HASH_LEN])
{
    pthread_mutex_lock(&mu);
    script[first] = s0;
    memset(seen, 0, sizeof seen);
    pthread_mutex_unlock(&mu);
    json_t *req = json_pack("{s:s,s:s,s:i}", "model", "tiny", "prompt", "Once upon a time", "seed", 7);
    struct zt_privacy_verdict own;
    zt_privacy_verdict_own_data(&own);
    struct zt_job_worker w0;
    worker_of(first, &w0);
    struct zt_job_spec spec = {.model = "tiny", .max_tokens = 64, .stream = true, .ttl_s = 300,
                               .now = (uint64_t)(zt_time_real_ms() / 1000), .suite = ZT_HPKE_SUITE_CHACHA,
                               .worker_id = w0.node_id, .worker_kem_pk = w0.kem_pk, .worker_sign_pk = w0.sign_pk};
    struct zt_job_call *job = NULL;
    assert_int_equal(zt_job_call_new(req, ZT_JOB_COMPLETION, &own, &spec, &job), 0);
    zt_job_call_subject(job, subject);
    struct zt_job_target t = {.base_url = w0.base_url, .recipient_id = w0.node_id, .sign_as = gw,
                              .now = zt_time_real_ms() / 1000, .total_timeout_ms = 20000};
    assert_int_equal(zt_job_call_target(job, &t), 0);
    struct zt_job_picker pk = {.pick = pick, .report = report, .ud = p};
    struct zt_job_failover f = {.picker = &pk, .spec = spec, .target = t, .stall_ms = 5000, .max_workers = 4};
    struct zt_job_hooks h = {.text = on_text, .ids = on_ids, .checkpoint = on_ckpt, .ud = g};
    struct zt_job_failover_stats st;
    assert_int_equal(zt_job_call_send_failover(&job, &w0, &f, &h, o, &st), 0);
    zt_job_call_free(job);
    zt_privacy_verdict_deinit(&own);
    json_decref(req);
}

static void test_honest_resume(void **state)
{
    (void)state;
    struct picker p = {.seq = {1, -1}};
    script[1] = S_RESUME_HONEST;
    static struct gw_seen g;
    static struct zt_job_outcome o;
    memset(&g, 0, sizeof g);
    uint8_t subject[ZT_ENV_HASH_LEN];
    run_job(0, S_DIE_AT_40, &p, &g, &o, subject);
    if (o.status != ZT_JOB_VERIFIED) fprintf(stderr, "status %d: %s (%s)\n", o.status, o.why, o.transport);
    assert_int_equal(o.status, ZT_JOB_VERIFIED);
    /* the dead worker's checkpoints came every 16 ids; the next one's FINAL */
    assert_int_equal(g.n_ckpt, 3);
    assert_int_equal(g.ckpt_n[0], 16);
    assert_int_equal(g.ckpt_n[1], 32);
    assert_int_equal(g.ckpt_n[2], 48);
    assert_int_equal(g.n_ids, 48);
    /* the second body: the 40 ids streamed and the dead worker's last checkpoint */
    assert_int_equal(seen[1].jobs, 1);
    assert_int_equal(seen[1].mode, ZT_JOB_RESUME);
    assert_int_equal(seen[1].n_ids, 40);
    assert_int_equal(seen[1].first_id, 1);
    assert_int_equal(seen[1].last_id, 40);
    assert_true(seen[1].has_subject);
    assert_memory_equal(seen[1].subject, subject, sizeof subject);
    struct zt_checkpoint given;
    assert_true(seen[1].prev_len > 0);
    assert_int_equal(zt_checkpoint_verify(seen[1].prev, seen[1].prev_len, zt_identity_sign_pk(sw[0]), &given), 0);
    assert_int_equal(given.n_tokens, 32);
    assert_false(given.flags & ZT_CKPT_FLAG_FINAL);
    /* the result chains to it */
    uint8_t want[ZT_ENV_HASH_LEN];
    zt_checkpoint_id(seen[1].prev, seen[1].prev_len, want);
    assert_memory_equal(o.result.ckpt.prev, want, sizeof want);
    assert_int_equal(o.result.ckpt.n_tokens, 48);
    /* one text, each id reported for one worker */
    char ref[512];
    size_t rl = 0;
    for (int k = 1; k <= 48; k++) rl += (size_t)snprintf(ref + rl, sizeof ref - rl, "%d ", k);
    assert_string_equal(g.text.s, ref);
    assert_int_equal(p.n_reports, 2);
    assert_int_equal(p.who[0], 0);
    assert_int_equal(p.outcome[0], ZT_JOB_ATTEMPT_DIED);
    assert_int_equal(p.tokens[0], 40);
    assert_int_equal(p.who[1], 1);
    assert_int_equal(p.outcome[1], ZT_JOB_ATTEMPT_OK);
    assert_int_equal(p.tokens[1], 8);
}

/* The resumed worker's FINAL checkpoint does not continue the job's. */
static void test_resume_breaks_chain(void **state)
{
    (void)state;
    static const enum script lies[] = {S_RESUME_ZERO_PREV, S_RESUME_OTHER_SUBJECT};
    for (size_t k = 0; k < sizeof lies / sizeof lies[0]; k++) {
        struct picker p = {.seq = {1, 2, -1}};
        script[1] = lies[k];
        script[2] = S_RESUME_HONEST;
        static struct gw_seen g;
        static struct zt_job_outcome o;
        memset(&g, 0, sizeof g);
        uint8_t subject[ZT_ENV_HASH_LEN];
        run_job(0, S_DIE_AT_40, &p, &g, &o, subject);
        assert_int_equal(seen[1].jobs, 1);
        assert_int_equal(seen[1].n_ids, 40);
        /* its stream was well formed; it is the chain that is refused */
        assert_int_equal(o.status, ZT_JOB_UNVERIFIED);
        assert_int_equal(o.rc, ZT_ECRYPTO);
        assert_string_equal(o.why, "the resumed worker's checkpoints do not continue the job's");
        assert_int_equal(p.n_reports, 2);
        assert_int_equal(p.outcome[0], ZT_JOB_ATTEMPT_DIED);
        assert_int_equal(p.who[1], 1);
        assert_int_equal(p.outcome[1], ZT_JOB_ATTEMPT_BAD);
        /* not passed on to a third worker, nor resumed from */
        assert_int_equal(p.picks, 1);
        assert_int_equal(seen[2].jobs, 0);
    }
}

/* A first worker that lies in its stream: caught at once, never resumed from. */
static void test_bad_stream_caught(void **state)
{
    (void)state;
    static const struct {
        enum script s;
        const char *why; /* a part of the reason (NULL: any) */
    } cases[] = {
        {S_FORGED_CKPT, "not signed by this worker's key"},
        {S_NO_CADENCE, "checkpoint"},
        {S_FORGED_RECEIPT, NULL},
        {S_CUT_RECEIPT, NULL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct picker p = {.seq = {1, -1}};
        script[1] = S_RESUME_HONEST;
        static struct gw_seen g;
        static struct zt_job_outcome o;
        memset(&g, 0, sizeof g);
        uint8_t subject[ZT_ENV_HASH_LEN];
        run_job(0, cases[k].s, &p, &g, &o, subject);
        if (o.status != ZT_JOB_UNVERIFIED || p.n_reports != 1 || p.outcome[0] != ZT_JOB_ATTEMPT_BAD)
            fprintf(stderr, "case %zu: status %d, %d reports, outcome %d: %s (%s)\n", k, o.status, p.n_reports,
                    p.outcome[0], o.why, o.transport);
        assert_int_equal(o.status, ZT_JOB_UNVERIFIED);
        assert_int_not_equal(o.rc, 0);
        if (cases[k].why) assert_non_null(strstr(o.why, cases[k].why));
        assert_int_equal(p.n_reports, 1);
        assert_int_equal(p.who[0], 0);
        assert_int_equal(p.outcome[0], ZT_JOB_ATTEMPT_BAD);
        assert_int_equal(p.picks, 0);
        assert_int_equal(seen[1].jobs, 0);
    }
}

int main(void)
{
    zt_log_set_level(ZT_LOG_OFF);
    json_set_alloc_funcs(zt_malloc, zt_free);
    if (zt_crypto_init() != 0) return 1;
    assert_int_equal(zt_identity_generate(&gw), 0);
    assert_int_equal(zt_identity_generate(&stranger), 0);
    for (int i = 0; i < N_SW; i++) assert_int_equal(zt_identity_generate(&sw[i]), 0);
    srv = zt_test_tcp_start(answer, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_honest_resume),
        cmocka_unit_test(test_resume_breaks_chain),
        cmocka_unit_test(test_bad_stream_caught),
    };
    int f = cmocka_run_group_tests(tests, NULL, NULL);
    zt_test_tcp_stop(srv);
    zt_identity_free(gw);
    zt_identity_free(stranger);
    for (int i = 0; i < N_SW; i++) zt_identity_free(sw[i]);
    return zt_test_exit(f);
}
