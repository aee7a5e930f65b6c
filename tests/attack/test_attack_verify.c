/* test_attack_verify.c: what a stranger (or a dishonest checker) can do to
 * verification by the network (zt_job_chain_compare, zt_job_check_run;
 * docs/internals/orchestrator.md "Verification").
 *
 *  - forge a verifier's result: a FINAL checkpoint with the worker's
 *    fields, signed by another key, or carrying the verifier's key with a
 *    signature of another: refused (ZT_ECRYPTO), never a match;
 *  - replay a result: the verifier's genuine FINAL checkpoint of another
 *    job (another subject) is INCOMPARABLE; a non-final checkpoint too;
 *    the worker's own checkpoint passed off as the verifier's does not
 *    verify under the verifier's key (and a verify body never carries it);
 *  - a checker that answers garbage (200 with bytes that are no sealed
 *    result) is charged as failed (BAD) and not counted as an answer;
 *    with no other checker the job is "unavailable", not verified; the
 *    checker is still listed (the body was sent: it saw the text);
 *  - a checker that lies that the worker's ids are invalid (400) cannot
 *    get an honest worker charged as wrong on its own: with no arbiter
 *    that answers, the verdict is UNDECIDED (two colluding liars drawn as
 *    verifier and arbiter do outvote it: the limit of a majority, and why
 *    the draw is keyed with a secret the workers do not know);
 *  - the pick is never offered a worker that ran the job or an earlier
 *    checker (they are in its exclude list).
 * The rude checker is a few lines in this file on zt_test_tcp (zt_test.h). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zt_test.h"

/* ---- the rude checker ------------------------------------------------------- */

enum rude { RUDE_GARBAGE, RUDE_REFUSE_IDS };
static atomic_int mode;
static atomic_int served;
static struct zt_test_tcp *srv;

static void answer(int fd, void *ud)
{
    (void)ud;
    char buf[65536];
    size_t hl;
    if (!zt_test_http_read(fd, buf, sizeof buf, &hl)) return;
    atomic_fetch_add(&served, 1);
    char out[512];
    if (atomic_load(&mode) == RUDE_GARBAGE) {
        static const char junk[] = "ZTR\x01 this is not a sealed result at all, just bytes";
        snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.zentalk.result\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n", sizeof junk - 1);
        send(fd, out, strlen(out), MSG_NOSIGNAL);
        send(fd, junk, sizeof junk - 1, MSG_NOSIGNAL);
    } else {
        static const char body[] = "{\"error\":{\"code\":\"invalid_request\",\"message\":\"token id out of range\"}}";
        snprintf(out, sizeof out, "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", sizeof body - 1, body);
        send(fd, out, strlen(out), MSG_NOSIGNAL);
    }
}

/* ---- a job and its worker's FINAL checkpoint ------------------------------------ */

static struct zt_identity *gw, *worker, *verifier, *stranger, *rude1, *rude2;

static void ckpt_for(const struct zt_identity *who, const uint8_t subject[32], uint8_t flags, uint8_t chain_byte,
                     uint8_t *out, size_t *len)
{
    struct zt_checkpoint c;
    memset(&c, 0, sizeof c);
    c.flags = flags;
    memcpy(c.subject, subject, 32);
    memset(c.model_sha256, 0x4d, sizeof c.model_sha256);
    memset(c.chain, chain_byte, sizeof c.chain);
    c.n_tokens = 8;
    c.build_id_len = (uint8_t)zt_strlcpy(c.build_id, "zt-attack-1", sizeof c.build_id);
    assert_int_equal(zt_checkpoint_sign(&c, zt_identity_sign_sk(who), out, ZT_CKPT_MAX_LEN, len), 0);
}

static struct zt_job_spec spec_to(const struct zt_identity *w)
{
    return (struct zt_job_spec){.model = "tiny", .max_tokens = 16, .stream = true, .ttl_s = 300,
                                .now = (uint64_t)(zt_time_real_ms() / 1000), .suite = ZT_HPKE_SUITE_CHACHA,
                                .worker_id = zt_identity_id(w), .worker_kem_pk = zt_identity_kem_pk(w),
                                .worker_sign_pk = zt_identity_sign_pk(w)};
}

static void test_forged_and_replayed(void **state)
{
    (void)state;
    uint8_t subj_a[32], subj_b[32];
    memset(subj_a, 0xa1, 32);
    memset(subj_b, 0xb2, 32);
    uint8_t w[ZT_CKPT_MAX_LEN], f[ZT_CKPT_MAX_LEN], v[ZT_CKPT_MAX_LEN];
    size_t wl, fl, vl;
    enum zt_chain_verdict vd = ZT_CHAIN_MATCH;
    const char *why = NULL;
    ckpt_for(worker, subj_a, ZT_CKPT_FLAG_FINAL, 7, w, &wl);
    /* the honest verifier agrees */
    ckpt_for(verifier, subj_a, ZT_CKPT_FLAG_FINAL, 7, v, &vl);
    assert_int_equal(zt_job_chain_compare(w, wl, zt_identity_sign_pk(worker), v, vl, zt_identity_sign_pk(verifier), &vd,
                                          &why),
                     0);
    assert_int_equal(vd, ZT_CHAIN_MATCH);
    /* forged: the same fields signed by a stranger, checked under the verifier's key */
    ckpt_for(stranger, subj_a, ZT_CKPT_FLAG_FINAL, 7, f, &fl);
    assert_int_equal(zt_job_chain_compare(w, wl, zt_identity_sign_pk(worker), f, fl, zt_identity_sign_pk(verifier), &vd,
                                          &why),
                     ZT_ECRYPTO);
    /* forged: the verifier's key bytes put in, the stranger's signature */
    memcpy(f + 153, zt_identity_sign_pk(verifier), 32);
    assert_int_not_equal(zt_job_chain_compare(w, wl, zt_identity_sign_pk(worker), f, fl, zt_identity_sign_pk(verifier),
                                              &vd, &why),
                         0);
    /* one bit of a genuine one flipped */
    memcpy(f, v, vl);
    f[130] ^= 1;
    assert_int_equal(zt_job_chain_compare(w, wl, zt_identity_sign_pk(worker), f, vl, zt_identity_sign_pk(verifier), &vd,
                                          &why),
                     ZT_ECRYPTO);
    /* replayed: the verifier's genuine answer for another job */
    ckpt_for(verifier, subj_b, ZT_CKPT_FLAG_FINAL, 7, f, &fl);
    assert_int_equal(zt_job_chain_compare(w, wl, zt_identity_sign_pk(worker), f, fl, zt_identity_sign_pk(verifier), &vd,
                                          &why),
                     0);
    assert_int_equal(vd, ZT_CHAIN_INCOMPARABLE);
    /* replayed: a checkpoint from the middle of a stream */
    ckpt_for(verifier, subj_a, 0, 7, f, &fl);
    assert_int_equal(zt_job_chain_compare(w, wl, zt_identity_sign_pk(worker), f, fl, zt_identity_sign_pk(verifier), &vd,
                                          &why),
                     0);
    assert_int_equal(vd, ZT_CHAIN_INCOMPARABLE);
    /* the worker's own checkpoint passed off as the verifier's */
    assert_int_equal(zt_job_chain_compare(w, wl, zt_identity_sign_pk(worker), w, wl, zt_identity_sign_pk(verifier), &vd,
                                          &why),
                     ZT_ECRYPTO);
}

/* ---- zt_job_check_run against rude checkers --------------------------------------- */

struct picker {
    const struct zt_identity *seq[4]; /* the checkers it offers, in order (NULL: none left) */
    size_t next;
    int failed, failed_bad;
    bool exclude_ok;
};

static int pick(void *ud, unsigned round, const char *const *exclude, size_t n, struct zt_job_worker *out)
{
    (void)round;
    struct picker *p = ud;
    /* the worker that ran the job, and every checker offered before */
    bool has_worker = false;
    for (size_t i = 0; i < n; i++) has_worker |= strcmp(exclude[i], zt_identity_id(worker)) == 0;
    if (!has_worker || n != 1 + p->next) p->exclude_ok = false;
    const struct zt_identity *w = p->next < 4 ? p->seq[p->next] : NULL;
    if (!w) return ZT_ENOTFOUND;
    p->next++;
    memset(out, 0, sizeof *out);
    zt_strlcpy(out->node_id, zt_identity_id(w), sizeof out->node_id);
    memcpy(out->kem_pk, zt_identity_kem_pk(w), sizeof out->kem_pk);
    memcpy(out->sign_pk, zt_identity_sign_pk(w), sizeof out->sign_pk);
    snprintf(out->base_url, sizeof out->base_url, "http://127.0.0.1:%u", (unsigned)zt_test_tcp_port(srv));
    zt_strlcpy(out->recipient_id, out->node_id, sizeof out->recipient_id);
    return 0;
}

static void on_failed(void *ud, const struct zt_job_worker *w, enum zt_job_attempt a)
{
    (void)w;
    struct picker *p = ud;
    p->failed++;
    p->failed_bad += a == ZT_JOB_ATTEMPT_BAD;
}

static void check_against(struct picker *p, struct zt_job_check_result *res)
{
    json_t *req = json_pack("{s:s,s:s}", "model", "tiny", "prompt", "a prompt the checker sees");
    struct zt_privacy_verdict own;
    zt_privacy_verdict_own_data(&own);
    struct zt_job_spec spec = spec_to(worker);
    struct zt_job_call *job = NULL;
    assert_int_equal(zt_job_call_new(req, ZT_JOB_COMPLETION, &own, &spec, &job), 0);
    uint8_t subject[32], ck[ZT_CKPT_MAX_LEN];
    size_t ckl;
    zt_job_call_subject(job, subject);
    ckpt_for(worker, subject, ZT_CKPT_FLAG_FINAL, 7, ck, &ckl);
    const int32_t ids[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const char *ran[1] = {zt_identity_id(worker)};
    struct zt_job_check_req r = {
        .job = job, .ckpt = ck, .ckpt_len = ckl, .worker_pk = zt_identity_sign_pk(worker), .ids = ids, .n_ids = 8,
        .ran = ran, .n_ran = 1, .mode = ZT_JOB_CHECK_TEACHER_FORCED, .spec = spec, .max_tries = 2,
        .target = {.sign_as = gw, .now = zt_time_real_ms() / 1000, .total_timeout_ms = 10000},
    };
    p->exclude_ok = true;
    struct zt_job_checker c = {.pick = pick, .failed = on_failed, .ud = p};
    assert_int_equal(zt_job_check_run(&r, &c, res), 0);
    zt_job_call_free(job);
    zt_privacy_verdict_deinit(&own);
    json_decref(req);
}

static void test_rude_checkers(void **state)
{
    (void)state;
    static struct zt_job_check_result res;
    /* garbage, then nobody: unavailable, the garbage checker charged BAD and listed */
    atomic_store(&mode, RUDE_GARBAGE);
    struct picker p = {.seq = {rude1, NULL}};
    check_against(&p, &res);
    assert_int_equal(res.verdict, ZT_CHECK_UNAVAILABLE);
    assert_int_equal(res.n, 1);
    assert_false(res.c[0].answered);
    assert_string_equal(res.c[0].node_id, zt_identity_id(rude1));
    assert_int_equal(p.failed, 1);
    assert_int_equal(p.failed_bad, 1);
    assert_true(p.exclude_ok);
    /* two lying checkers (the verifier and the arbiter both say the ids are
     * "invalid") outvote one worker: the limit of a majority, and why the
     * checkers are drawn under a key the workers do not know */
    int before = atomic_load(&served);
    atomic_store(&mode, RUDE_REFUSE_IDS);
    struct picker q = {.seq = {rude1, rude2, NULL}};
    check_against(&q, &res);
    assert_int_equal(res.verdict, ZT_CHECK_WORKER_WRONG); /* two "refused ids" answers agree */
    assert_true(q.exclude_ok);
    /* one liar and no arbiter: not the worker's fault */
    struct picker q2 = {.seq = {rude1, NULL}};
    check_against(&q2, &res);
    assert_int_equal(res.verdict, ZT_CHECK_UNDECIDED); /* one liar, no arbiter: not the worker's fault */
    assert_int_equal(res.n, 1);
    assert_true(res.c[0].refused_ids);
    assert_true(atomic_load(&served) > before);
}

int main(void)
{
    zt_log_set_level(ZT_LOG_OFF);
    json_set_alloc_funcs(zt_malloc, zt_free);
    if (zt_crypto_init() != 0) return 1;
    assert_int_equal(zt_identity_generate(&gw), 0);
    assert_int_equal(zt_identity_generate(&worker), 0);
    assert_int_equal(zt_identity_generate(&verifier), 0);
    assert_int_equal(zt_identity_generate(&stranger), 0);
    assert_int_equal(zt_identity_generate(&rude1), 0);
    assert_int_equal(zt_identity_generate(&rude2), 0);
    srv = zt_test_tcp_start(answer, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_and_replayed),
        cmocka_unit_test(test_rude_checkers),
    };
    int f = cmocka_run_group_tests(tests, NULL, NULL);
    zt_test_tcp_stop(srv);
    zt_identity_free(gw);
    zt_identity_free(worker);
    zt_identity_free(verifier);
    zt_identity_free(stranger);
    zt_identity_free(rude1);
    zt_identity_free(rude2);
    return zt_test_exit(f);
}
