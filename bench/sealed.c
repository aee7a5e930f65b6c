/* bench/sealed.c: what sealing costs a job, end to end, next to the plain
 * API on the same node in the same run.
 *
 *   bench_sealed ZENTALK_NODE MODEL.gguf [jobs] [tokens]   (default 200, 64)
 *
 * 1. In process, no HTTP, no inference: the cryptography of one sealed job
 *    whose answer is `tokens` text chunks of 4 bytes: the client seals the
 *    body, the worker opens it, writes the stream header, the chunks, the
 *    final chunk and the signed receipt, the client reads and verifies all
 *    of it. Percentiles over the jobs.
 * 2. End to end: starts ZENTALK_NODE on 127.0.0.1 with MODEL (a scratch data
 *    directory), and sends `jobs` requests per mode, the modes interleaved
 *    round by round, one keep-alive connection each, all with the same
 *    prompt, seed and max_tokens (so the same text):
 *      plain        POST /v1/completions (JSON answer)
 *      plain sse    POST /v1/completions with "stream": true
 *      sealed       POST /v1/jobs/sealed, STREAM flag (a chunk per token),
 *                   including the client's sealing, reading and checks
 *      sealed whole the same without the STREAM flag (one text chunk)
 *    Latency per request (p50, p90, mean) and the p50 difference from plain.
 * Figures only: nothing is asserted. The sealed text is checked to equal the
 * plain text once. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

static const char *PROMPT = "Once upon a time";

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct stats {
    double p50, p90, mean; /* microseconds */
};

static struct stats summarize(uint64_t *ns, size_t n)
{
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) total += ns[i];
    qsort(ns, n, sizeof *ns, cmp_u64);
    return (struct stats){(double)ns[n / 2] / 1e3, (double)ns[(n * 9) / 10] / 1e3, (double)total / (double)n / 1e3};
}

static void die(const char *what)
{
    fprintf(stderr, "bench_sealed: %s\n", what);
    exit(1);
}

/* ---- 1. in process ---------------------------------------------------------- */

static void on_text_null(void *ud, const char *t, size_t n)
{
    (void)ud, (void)t, (void)n;
}

static void bench_crypto(size_t jobs, size_t tokens)
{
    uint8_t wsk[32], wpk[32], spk[32], ssk[64];
    if (zt_hpke_keypair(wsk, wpk) != 0) die("keypair");
    crypto_sign_keypair(spk, ssk);
    const char *body = "{\"v\":1,\"kind\":\"completion\",\"prompt\":\"Once upon a time\",\"seed\":1,"
                       "\"nonce\":\"00112233445566778899aabbccddeeff\"}";
    size_t blen = strlen(body);
    uint64_t *t_seal = zt_calloc(jobs, 8), *t_open = zt_calloc(jobs, 8), *t_write = zt_calloc(jobs, 8),
             *t_read = zt_calloc(jobs, 8), *t_all = zt_calloc(jobs, 8);
    if (!t_seal || !t_open || !t_write || !t_read || !t_all) die("oom");
    struct zt_env_replay *rp = NULL;
    if (zt_env_replay_new(jobs + 16, &rp) != 0) die("replay");
    struct zt_buf out;
    zt_buf_init(&out, 1 << 24);
    size_t resp_bytes = 0, env_bytes = 0;
    for (size_t i = 0; i < jobs; i++) {
        uint8_t rsk[32];
        struct zt_env_header t, sent, got;
        memset(&t, 0, sizeof t);
        uint64_t now = (uint64_t)time(NULL), t0 = zt_time_mono_ns();
        if (zt_hpke_keypair(rsk, t.reply_pk) != 0) die("reply key");
        t.flags = ZT_ENV_FLAG_STREAM;
        t.suite = ZT_HPKE_SUITE_CHACHA;
        zt_env_job_id_new(t.job_id);
        t.created = now;
        t.expires = now + 300;
        t.max_tokens = (uint32_t)tokens;
        memcpy(t.model, "stories", 8);
        t.model_len = 7;
        uint8_t *env = NULL, *pt = NULL, ih[32];
        size_t env_len = 0, pt_len = 0;
        zt_sha256(ih, body, blen);
        if (zt_env_seal(&t, wpk, (const uint8_t *)body, blen, &sent, &env, &env_len) != 0) die("seal");
        uint64_t t1 = zt_time_mono_ns();
        if (zt_env_open(wsk, env, env_len, now, rp, &got, &pt, &pt_len) != 0) die("open");
        struct zt_job_request job;
        if (zt_job_body_decode(pt, pt_len, got.model, got.max_tokens, &job, NULL) != 0) die("decode");
        zt_job_request_deinit(&job);
        uint8_t in_hash[32];
        zt_sha256(in_hash, pt, pt_len);
        zt_env_body_free(pt, pt_len);
        uint64_t t2 = zt_time_mono_ns();
        zt_buf_reset(&out);
        struct zt_sealed_writer *w = NULL;
        if (zt_sealed_writer_new(&got, wsk, true, &out, &w) != 0) die("writer");
        for (size_t k = 0; k < tokens; k++)
            if (zt_sealed_writer_text(w, " dog", 4, &out) != 0) die("text");
        struct zt_sealed_final f = {.prompt_tokens = 5, .completion_tokens = (uint32_t)tokens};
        memcpy(f.finish_reason, "length", 7);
        struct zt_env_receipt r;
        memset(&r, 0, sizeof r);
        memcpy(r.input_hash, in_hash, 32);
        r.finished = now;
        r.build_id_len = 5;
        memcpy(r.build_id, "bench", 6);
        if (zt_sealed_writer_finish(w, &f, &r, ssk, &out) != 0) die("finish");
        zt_sealed_writer_free(w);
        uint64_t t3 = zt_time_mono_ns();
        struct zt_sealed_reader *rd = NULL;
        struct zt_sealed_result res;
        if (zt_sealed_reader_new(&sent, rsk, wpk, spk, ih, &rd) != 0 ||
            zt_sealed_reader_feed(rd, (const uint8_t *)out.data, out.len, on_text_null, NULL) != 0 ||
            zt_sealed_reader_finish(rd, &res) != 0)
            die("read");
        zt_sealed_reader_free(rd);
        uint64_t t4 = zt_time_mono_ns();
        t_seal[i] = t1 - t0;
        t_open[i] = t2 - t1;
        t_write[i] = t3 - t2;
        t_read[i] = t4 - t3;
        t_all[i] = t4 - t0;
        resp_bytes = out.len;
        env_bytes = env_len;
        zt_free(env);
    }
    struct stats a = summarize(t_all, jobs), s1 = summarize(t_seal, jobs), s2 = summarize(t_open, jobs),
                 s3 = summarize(t_write, jobs), s4 = summarize(t_read, jobs);
    printf("1. cryptography of one sealed job, in process (%zu jobs, %zu text chunks each; envelope %zu B, "
           "response %zu B)\n",
           jobs, tokens, env_bytes, resp_bytes);
    printf("   %-40s %9s %9s %9s\n", "step", "p50 us", "p90 us", "mean us");
    printf("   %-40s %9.1f %9.1f %9.1f\n", "client: reply key + seal", s1.p50, s1.p90, s1.mean);
    printf("   %-40s %9.1f %9.1f %9.1f\n", "worker: open + decode body", s2.p50, s2.p90, s2.mean);
    printf("   %-40s %9.1f %9.1f %9.1f\n", "worker: seal chunks + final + sign receipt", s3.p50, s3.p90, s3.mean);
    printf("   %-40s %9.1f %9.1f %9.1f\n", "client: open chunks + verify receipt", s4.p50, s4.p90, s4.mean);
    printf("   %-40s %9.1f %9.1f %9.1f\n", "total", a.p50, a.p90, a.mean);
    zt_buf_deinit(&out);
    zt_env_replay_free(rp);
    zt_free(t_seal);
    zt_free(t_open);
    zt_free(t_write);
    zt_free(t_read);
    zt_free(t_all);
}

/* ---- 2. end to end ------------------------------------------------------------ */

static size_t on_buf(char *p, size_t s, size_t n, void *ud)
{
    return zt_buf_append(ud, p, s * n) == 0 ? s * n : 0;
}

struct reader_ctx {
    struct zt_sealed_reader *r;
    struct zt_buf *text;
    int rc;
};

static void on_text(void *ud, const char *t, size_t n)
{
    zt_ignore(zt_buf_append(ud, t, n));
}

static size_t on_sealed(char *p, size_t s, size_t n, void *ud)
{
    struct reader_ctx *c = ud;
    if (!c->rc) c->rc = zt_sealed_reader_feed(c->r, (const uint8_t *)p, s * n, on_text, c->text);
    return c->rc ? 0 : s * n;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static pid_t spawn_node(const char *node, const char *dir, const char *cfg, uint16_t *port)
{
    int out[2];
    if (pipe(out) != 0) die("pipe");
    pid_t pid = fork();
    if (pid < 0) die("fork");
    char data[600];
    snprintf(data, sizeof data, "%s/data", dir);
    if (pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 2); /* the node's log */
        setenv("ZENTALK_LOG_LEVEL", "warn", 1);
        execl(node, node, "--config", cfg, "--listen", "127.0.0.1:0", "--data-dir", data, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char buf[4096];
    size_t len = 0;
    uint64_t deadline = zt_time_mono_ms() + 20000;
    const char *needle = "listening on http://127.0.0.1:";
    while (zt_time_mono_ms() < deadline && len < sizeof buf - 1) {
        struct pollfd pf = {.fd = out[0], .events = POLLIN};
        if (poll(&pf, 1, 100) <= 0) continue;
        ssize_t k = read(out[0], buf + len, sizeof buf - 1 - len);
        if (k <= 0) break;
        len += (size_t)k;
        buf[len] = '\0';
        char *p = strstr(buf, needle);
        if (p && strchr(p, '\n')) {
            *port = (uint16_t)strtoul(p + strlen(needle), NULL, 10);
            close(out[0]);
            return pid;
        }
    }
    die("the node did not start");
    return -1;
}

enum mode { PLAIN, PLAIN_SSE, SEALED, SEALED_WHOLE, N_MODES };
static const char *MODE_NAME[N_MODES] = {"plain /v1/completions", "plain, stream (SSE)", "sealed, streamed",
                                         "sealed, whole"};

struct e2e {
    CURL *c[N_MODES];
    uint16_t port;
    struct zt_node_descriptor d;
    size_t tokens;
    char url_plain[128], url_sealed[128];
};

/* One request in mode m; the text (plain: from the JSON) into text. */
static void one(struct e2e *e, enum mode m, struct zt_buf *text)
{
    CURL *c = e->c[m];
    struct zt_buf body;
    zt_buf_init(&body, 1 << 24);
    struct curl_slist *h = NULL;
    char *payload = NULL;
    uint8_t *env = NULL;
    size_t env_len = 0;
    struct reader_ctx rc = {0};
    uint8_t rsk[32];
    struct zt_env_header sent;
    zt_buf_reset(text);
    if (m == PLAIN || m == PLAIN_SSE) {
        json_t *j = json_pack("{s:s,s:s,s:i,s:f,s:i,s:b}", "model", "stories", "prompt", PROMPT, "seed", 1,
                              "temperature", 0.8, "max_tokens", (int)e->tokens, "stream", m == PLAIN_SSE);
        payload = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_URL, e->url_plain);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_buf);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    } else {
        json_t *j = json_pack("{s:i,s:s,s:s,s:i,s:f}", "v", 1, "kind", "completion", "prompt", PROMPT, "seed", 1,
                              "temperature", 0.8);
        uint8_t rnd[16];
        char nonce[33];
        randombytes_buf(rnd, sizeof rnd);
        zt_hex_encode(nonce, rnd, sizeof rnd);
        json_object_set_new(j, "nonce", json_string(nonce));
        payload = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        struct zt_env_header t;
        memset(&t, 0, sizeof t);
        uint64_t now = (uint64_t)time(NULL);
        if (zt_hpke_keypair(rsk, t.reply_pk) != 0) die("reply key");
        t.flags = (uint8_t)(m == SEALED ? ZT_ENV_FLAG_STREAM : 0u);
        t.suite = ZT_HPKE_SUITE_CHACHA;
        zt_env_job_id_new(t.job_id);
        t.created = now;
        t.expires = now + 300;
        t.max_tokens = (uint32_t)e->tokens;
        memcpy(t.model, "stories", 8);
        t.model_len = 7;
        uint8_t ih[32];
        zt_sha256(ih, payload, strlen(payload));
        if (zt_env_seal(&t, e->d.kem_pk, (const uint8_t *)payload, strlen(payload), &sent, &env, &env_len) != 0)
            die("seal");
        if (zt_sealed_reader_new(&sent, rsk, e->d.kem_pk, e->d.ed25519_pk, ih, &rc.r) != 0) die("reader");
        rc.text = text;
        h = curl_slist_append(h, "Content-Type: " ZT_SEALED_MEDIA_ENVELOPE);
        curl_easy_setopt(c, CURLOPT_URL, e->url_sealed);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, env);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)env_len);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_sealed);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &rc);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (curl_easy_perform(c) != CURLE_OK) die("request failed");
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        fprintf(stderr, "%s: HTTP %ld %s\n", MODE_NAME[m], status, zt_buf_str(&body));
        die("request refused");
    }
    if (m == PLAIN) {
        json_t *j = json_loads(zt_buf_str(&body), 0, NULL);
        const char *t = json_string_value(json_object_get(json_array_get(json_object_get(j, "choices"), 0), "text"));
        zt_ignore(zt_buf_append_str(text, t ? t : ""));
        json_decref(j);
    } else if (m != PLAIN_SSE) {
        struct zt_sealed_result res;
        if (rc.rc || zt_sealed_reader_finish(rc.r, &res) != 0) die("the sealed result did not verify");
    }
    zt_sealed_reader_free(rc.r);
    curl_slist_free_all(h);
    zt_free(env);
    zt_free(payload);
    zt_buf_deinit(&body);
}

static void bench_e2e(const char *node, const char *model, size_t jobs, size_t tokens)
{
    char dir[] = "/tmp/zt-bench-sealed-XXXXXX";
    if (!mkdtemp(dir)) die("mkdtemp");
    char cfg[600], path[700];
    snprintf(cfg, sizeof cfg, "%s/config", dir);
    if (mkdir(cfg, 0700) != 0) die("mkdir");
    snprintf(path, sizeof path, "%s/models.yaml", cfg);
    FILE *f = fopen(path, "w");
    if (!f) die("config");
    fprintf(f,
            "model_cache:\n  default_model: stories\nmodels:\n  - id: stories\n    path: %s\n    context_size: 512\n",
            model);
    fclose(f);
    struct e2e e;
    memset(&e, 0, sizeof e);
    e.tokens = tokens;
    pid_t pid = spawn_node(node, dir, cfg, &e.port);
    snprintf(e.url_plain, sizeof e.url_plain, "http://127.0.0.1:%u/v1/completions", e.port);
    snprintf(e.url_sealed, sizeof e.url_sealed, "http://127.0.0.1:%u/v1/jobs/sealed", e.port);
    /* the descriptor */
    CURL *c = curl_easy_init();
    struct zt_buf d;
    zt_buf_init(&d, ZT_DESCRIPTOR_MAX);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/node/descriptor", e.port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_buf);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
    if (curl_easy_perform(c) != CURLE_OK ||
        zt_identity_descriptor_verify(zt_buf_str(&d), d.len, (int64_t)time(NULL), &e.d) != 0)
        die("descriptor");
    curl_easy_cleanup(c);
    zt_buf_deinit(&d);
    for (int m = 0; m < N_MODES; m++) {
        e.c[m] = curl_easy_init();
        curl_easy_setopt(e.c[m], CURLOPT_POST, 1L);
        curl_easy_setopt(e.c[m], CURLOPT_TIMEOUT_MS, 60000L);
    }
    struct zt_buf text[N_MODES];
    for (int m = 0; m < N_MODES; m++) zt_buf_init(&text[m], 1 << 20);
    for (int w = 0; w < 10; w++) /* warm up: model load, KV cache, connections */
        for (int m = 0; m < N_MODES; m++) one(&e, (enum mode)m, &text[m]);
    bool same = strcmp(zt_buf_str(&text[PLAIN]), zt_buf_str(&text[SEALED])) == 0 &&
                strcmp(zt_buf_str(&text[PLAIN]), zt_buf_str(&text[SEALED_WHOLE])) == 0;
    uint64_t *ns[N_MODES];
    for (int m = 0; m < N_MODES; m++)
        if (!(ns[m] = zt_calloc(jobs, sizeof *ns[m]))) die("oom");
    uint64_t t_begin = zt_time_mono_ns();
    for (size_t i = 0; i < jobs; i++)
        for (int m = 0; m < N_MODES; m++) {
            uint64_t t0 = zt_time_mono_ns();
            one(&e, (enum mode)m, &text[m]);
            ns[m][i] = zt_time_mono_ns() - t0;
        }
    double secs = (double)(zt_time_mono_ns() - t_begin) / 1e9;
    printf("\n2. end to end on %s, %zu jobs per mode (interleaved, %.1f s), max_tokens %zu, "
           "sealed text %s the plain text\n",
           model, jobs, secs, tokens, same ? "equals" : "DIFFERS FROM");
    printf("   %-24s %9s %9s %9s %14s\n", "mode", "p50 ms", "p90 ms", "mean ms", "p50 vs plain");
    struct stats base = {0};
    for (int m = 0; m < N_MODES; m++) {
        struct stats s = summarize(ns[m], jobs);
        if (m == PLAIN) base = s;
        printf("   %-24s %9.3f %9.3f %9.3f %+9.0f us %4.2fx\n", MODE_NAME[m], s.p50 / 1e3, s.p90 / 1e3, s.mean / 1e3,
               s.p50 - base.p50, s.p50 / base.p50);
        zt_free(ns[m]);
        zt_buf_deinit(&text[m]);
        curl_easy_cleanup(e.c[m]);
    }
    zt_node_descriptor_deinit(&e.d);
    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
    int64_t jobs = 200, tokens = 64;
    if (argc < 3 || (argc > 3 && (zt_str_to_i64(argv[3], &jobs) != 0 || jobs < 10 || jobs > 1000000)) ||
        (argc > 4 && (zt_str_to_i64(argv[4], &tokens) != 0 || tokens < 1 || tokens > 400))) {
        fprintf(stderr, "usage: %s ZENTALK_NODE MODEL.gguf [jobs >= 10] [tokens 1..400]\n", argv[0]);
        return 2;
    }
    if (zt_crypto_init() != 0) return 1;
    json_set_alloc_funcs(zt_malloc, zt_free);
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    printf("sealed jobs: libsodium %s, %ld cores\n", sodium_version_string(), sysconf(_SC_NPROCESSORS_ONLN));
    bench_crypto((size_t)jobs, (size_t)tokens);
    bench_e2e(argv[1], argv[2], (size_t)jobs, (size_t)tokens);
    curl_global_cleanup();
    return 0;
}
