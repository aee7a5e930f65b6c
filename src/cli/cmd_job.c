/* cmd_job.c: `zentalk job run`: seal a job to a worker, stream the sealed
 * result back, verify it. See cmd_job.h, docs/cli.md and
 * docs/privacy/ENCRYPTION.md.
 *
 *   1. GET NODE/v1/node/descriptor (or --descriptor FILE) and verify it:
 *      signature, node id derived from the signing key, expiry, and
 *      optionally --expect-id.
 *   2-4. The sealed-job client of src/jobs (zt_job_call_*), the one the
 *      gateway uses too: a fresh X25519 reply key pair, the job body sealed
 *      to the descriptor's kem_pk; POST to NODE/v1/jobs/sealed (or
 *      RELAY/v1/relay/jobs with Zentalk-Target-Node: the worker's id, with
 *      --via), the result chunks opened and printed as they arrive; at the
 *      end the stream must be complete and the receipt signed by the
 *      descriptor's key for exactly this header, body and output. */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "http.h"
#include "cmd_job.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_privacy.h"
#include "zentalk/zt_sealed.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_version.h"

#define EXIT_UNVERIFIED 3
#define TEXT_MAX ((size_t)64 << 20)

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: zentalk job run (--node URL | --descriptor FILE) MODEL PROMPT [OPTIONS]\n"
            "\n"
            "Seal a job to a worker so that only that worker can read the prompt, stream\n"
            "the sealed result back and verify it: the text comes from the worker whose\n"
            "descriptor was checked, complete and unaltered, and its signed receipt binds\n"
            "this job's header, prompt and output.\n"
            "\n"
            "  --node URL            the worker: its descriptor comes from URL/v1/node/descriptor\n"
            "                        and the job goes to URL/v1/jobs/sealed\n"
            "  --descriptor FILE     use a descriptor saved earlier instead of fetching it\n"
            "                        (the job goes to its endpoint, or to --node / --via)\n"
            "  --expect-id ID        fail unless the worker's node id is ID (zt1...)\n"
            "  --via RELAY_URL       send through a relay: POST RELAY_URL/v1/relay/jobs with\n"
            "                        Zentalk-Target-Node: the worker's id\n"
            "  --chat                a chat job (PROMPT is the user message) instead of a\n"
            "                        text completion\n"
            "  --system TEXT         system message of a chat job\n"
            "  -n N                  most tokens to generate (default 256)\n"
            "  --temp T              temperature, 0 = greedy (default: the model's)\n"
            "  --seed N              sampling seed (same seed, same text)\n"
            "  --top-p P, --top-k K  nucleus and top-k sampling\n"
            "  --ttl S               seconds the sealed job stays valid (default 300)\n"
            "  --max-price N         price ceiling per 1000 tokens, in the ledger's base units,\n"
            "                        sealed in the job's header: a worker priced above it\n"
            "                        refuses the job (default: none)\n"
            "  --no-stream           ask for the whole text at the end instead of as it comes\n"
            "  --timeout S           give up after S seconds (default 600)\n"
            "  --receipt             after the text, print the verified receipt as JSON\n"
            "  --json                print one JSON object (text, finish, usage, receipt)\n"
            "                        at the end instead of streaming the text\n"
            "  -h, --help            show this help\n"
            "\n"
            "$ZENTALK_TOKEN, when set, is sent as \"Authorization: Bearer\".\n"
            "Exit status: 0 verified; 1 the descriptor did not verify, the node could not\n"
            "be reached or refused the job; 2 usage error; 3 the result did not verify\n"
            "(truncated, altered, or a receipt that does not match: discard any text\n"
            "printed); 130 interrupted.\n");
}

#define say zt__cli_say /* cmd.h */

struct job_opts {
    const char *node, *descriptor, *expect_id, *via, *system, *model, *prompt;
    bool chat, receipt, json, no_stream;
    long n;
    uint64_t max_price;
    double temp, top_p, top_k, seed, ttl, timeout;
    bool temp_set, top_p_set, top_k_set, seed_set;
};

static int num(const char *opt, const char *v, double lo, double hi, bool integer, double *out)
{
    double d;
    if (zt_str_to_double(v, &d) != 0 || d < lo || d > hi || (integer && d != (double)(long long)d)) {
        say("%s must be %s in [%g, %g]", opt, integer ? "an integer" : "a number", lo, hi);
        return -1;
    }
    *out = d;
    return 0;
}

static int parse(int argc, char **argv, struct job_opts *o)
{
    enum { O_NODE = 256, O_DESC, O_EXPECT, O_VIA, O_CHAT, O_SYSTEM, O_TEMP, O_SEED, O_TOPP, O_TOPK, O_TTL,
           O_NOSTREAM, O_TIMEOUT, O_RECEIPT, O_JSON, O_MAXPRICE };
    static const struct option longopts[] = {
        {"node", required_argument, NULL, O_NODE},      {"descriptor", required_argument, NULL, O_DESC},
        {"expect-id", required_argument, NULL, O_EXPECT}, {"via", required_argument, NULL, O_VIA},
        {"chat", no_argument, NULL, O_CHAT},            {"system", required_argument, NULL, O_SYSTEM},
        {"temp", required_argument, NULL, O_TEMP},      {"seed", required_argument, NULL, O_SEED},
        {"top-p", required_argument, NULL, O_TOPP},     {"top-k", required_argument, NULL, O_TOPK},
        {"ttl", required_argument, NULL, O_TTL},        {"no-stream", no_argument, NULL, O_NOSTREAM},
        {"timeout", required_argument, NULL, O_TIMEOUT}, {"receipt", no_argument, NULL, O_RECEIPT},
        {"json", no_argument, NULL, O_JSON},            {"help", no_argument, NULL, 'h'},
        {"max-price", required_argument, NULL, O_MAXPRICE},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->n = 256;
    o->ttl = 300;
    o->timeout = 600;
    optind = 1;
    opterr = 0;
    int c;
    double v;
    const char *pos[2];
    int n_pos = 0;
    /* GNU permutation: options may come before or after MODEL and PROMPT */
    while ((c = getopt_long(argc, argv, ":n:h", longopts, NULL)) != -1) {
        switch (c) {
        case O_NODE: o->node = optarg; break;
        case O_DESC: o->descriptor = optarg; break;
        case O_EXPECT: o->expect_id = optarg; break;
        case O_VIA: o->via = optarg; break;
        case O_CHAT: o->chat = true; break;
        case O_SYSTEM: o->system = optarg; break;
        case O_TEMP: if (num("--temp", optarg, 0, 2, false, &o->temp)) return 2; o->temp_set = true; break;
        case O_SEED:
            if (num("--seed", optarg, -9007199254740991.0, 9007199254740991.0, true, &o->seed)) return 2;
            o->seed_set = true;
            break;
        case O_TOPP: if (num("--top-p", optarg, 0.0001, 1, false, &o->top_p)) return 2; o->top_p_set = true; break;
        case O_TOPK: if (num("--top-k", optarg, 0, 100000, true, &o->top_k)) return 2; o->top_k_set = true; break;
        case O_TTL: if (num("--ttl", optarg, 10, 7 * 86400, true, &o->ttl)) return 2; break;
        case O_NOSTREAM: o->no_stream = true; break;
        case O_TIMEOUT: if (num("--timeout", optarg, 1, 86400, false, &o->timeout)) return 2; break;
        case O_RECEIPT: o->receipt = true; break;
        case O_JSON: o->json = true; break;
        case O_MAXPRICE:
            if (zt_str_to_u64(optarg, &o->max_price) != 0) {
                say("--max-price must be a non-negative integer (base units per 1000 tokens)");
                return 2;
            }
            break;
        case 'n': if (num("-n", optarg, 1, ZT_ENV_MAX_TOKENS, true, &v)) return 2; o->n = (long)v; break;
        case 'h': return -1;
        case ':': say("option %s needs a value", argv[optind - 1]); return 2;
        default: say("unknown option %s (see zentalk job run --help)", argv[optind - 1]); return 2;
        }
    }
    while (optind < argc) {
        if (n_pos == 2) {
            say("unexpected argument '%s' (see zentalk job run --help)", argv[optind]);
            return 2;
        }
        pos[n_pos++] = argv[optind++];
    }
    if (n_pos != 2) {
        say("job run needs MODEL and PROMPT (see zentalk job run --help)");
        return 2;
    }
    o->model = pos[0];
    o->prompt = pos[1];
    if (!o->node && !o->descriptor) {
        say("job run needs --node URL or --descriptor FILE");
        return 2;
    }
    size_t ml = strlen(o->model);
    if (ml == 0 || ml > ZT_ENV_MODEL_MAX) {
        say("MODEL must be 1 to %d bytes", ZT_ENV_MODEL_MAX);
        return 2;
    }
    if (o->expect_id && !zt_identity_id_valid(o->expect_id)) {
        say("--expect-id must be a node id (zt1 and 32 characters of a-z, 2-7)");
        return 2;
    }
    const char *urls[] = {o->node, o->via};
    for (int i = 0; i < 2; i++)
        if (urls[i] && !zt_str_starts_with(urls[i], "http://") && !zt_str_starts_with(urls[i], "https://")) {
            say("%s must start with http:// or https:// (got '%s')", i ? "--via" : "--node", urls[i]);
            return 2;
        }
    if (o->system && !o->chat) {
        say("--system needs --chat");
        return 2;
    }
    return 0;
}

static const char *descriptor_reason(int rc)
{
    switch (rc) {
    case ZT_ETOOBIG: return "it is too large";
    case ZT_EPARSE: return "it is malformed";
    case ZT_EUNSUPPORTED: return "its version is not supported";
    case ZT_ECRYPTO: return "its signature is invalid, or its node id does not belong to its signing key";
    case ZT_ETIMEDOUT: return "it has expired";
    case ZT_ENOMEM: return "out of memory";
    default: return zt_strerror(rc);
    }
}

static int read_file(const char *path, struct zt_buf *out)
{
    int rc = zt_file_read_buf(path, out);
    if (rc == ZT_ETOOBIG)
        say("%s is larger than a descriptor can be", path);
    else if (rc)
        say("cannot read %s", path);
    return rc ? 1 : 0;
}

/* Fetch (or read) and verify the worker's descriptor. */
static int get_descriptor(const struct job_opts *o, struct zt_node_descriptor *d)
{
    struct zt_buf body;
    zt_buf_init(&body, ZT_DESCRIPTOR_MAX);
    int rc = 1;
    const char *from = o->descriptor ? o->descriptor : o->node;
    if (o->descriptor) {
        if (read_file(o->descriptor, &body) != 0) goto out;
    } else {
        long status = 0;
        if (zt__cli_http_get(o->node, "/v1/node/descriptor", 15000L, &status, &body) != 0) goto out;
        if (status != 200) {
            zt__cli_print_api_error(status, zt_buf_str(&body));
            goto out;
        }
    }
    int vrc = zt_identity_descriptor_verify(zt_buf_str(&body), body.len, (int64_t)time(NULL), d);
    if (vrc) {
        say("the node descriptor from %s did not verify: %s", from, descriptor_reason(vrc));
        goto out;
    }
    if (o->expect_id && strcmp(o->expect_id, d->node_id) != 0) {
        say("the node at %s is %s, not the expected %s", from, d->node_id, o->expect_id);
        goto out;
    }
    bool worker = false;
    for (size_t i = 0; i < d->n_roles; i++) worker |= strcmp(d->roles[i], "worker") == 0;
    if (!worker) {
        say("node %s does not run the worker role", d->node_id);
        goto out;
    }
    bool has_model = d->n_models == 0;
    for (size_t i = 0; i < d->n_models; i++) has_model |= strcmp(d->models[i], o->model) == 0;
    if (!has_model) {
        struct zt_buf list;
        zt_buf_init(&list, 4096);
        for (size_t i = 0; i < d->n_models; i++)
            zt_ignore(zt_buf_appendf(&list, "%s%s", i ? ", " : "", d->models[i]));
        say("node %s does not serve model '%s' (it serves: %s)", d->node_id, o->model, zt_buf_str(&list));
        zt_buf_deinit(&list);
        goto out;
    }
    rc = 0;
out:
    zt_buf_deinit(&body);
    return rc;
}

/* The OpenAI-shaped request of the options (zt_job_call_new builds the body). */
static json_t *job_request(const struct job_opts *o)
{
    json_t *j = json_object();
    if (!j) return NULL;
    int bad = 0;
    if (o->chat) {
        json_t *msgs = json_array();
        if (o->system) bad |= json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "system", "content", o->system));
        bad |= json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "user", "content", o->prompt));
        bad |= json_object_set_new(j, "messages", msgs);
    } else {
        bad |= json_object_set_new(j, "prompt", json_string(o->prompt));
    }
    if (o->temp_set) bad |= json_object_set_new(j, "temperature", json_real(o->temp));
    if (o->top_p_set) bad |= json_object_set_new(j, "top_p", json_real(o->top_p));
    if (o->top_k_set) bad |= json_object_set_new(j, "top_k", json_integer((json_int_t)o->top_k));
    if (o->seed_set) bad |= json_object_set_new(j, "seed", json_integer((json_int_t)o->seed));
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

struct out {
    bool print, printed, last_nl;
    struct zt_buf text; /* --json: the whole text */
};

static int on_text(void *ud, const char *text, size_t len)
{
    struct out *p = ud;
    if (p->print) {
        fwrite(text, 1, len, stdout);
        fflush(stdout);
        p->printed = true;
        p->last_nl = text[len - 1] == '\n';
        return 0;
    }
    return zt_buf_append(&p->text, text, len) != 0 ? ZT_ETOOBIG : 0;
}

static bool on_cancelled(void *ud)
{
    (void)ud;
    return interrupted != 0;
}

static void hexs(char *out, const uint8_t *p, size_t n)
{
    zt_hex_encode(out, p, n);
}

static json_t *receipt_json(const struct zt_sealed_result *res)
{
    const struct zt_env_receipt *r = &res->receipt;
    char job[2 * ZT_ENV_JOB_ID_LEN + 1], hh[65], ih[65], oh[65], sc[65], pk[65];
    char sig[2 * ZT_ENV_SIG_LEN + 1], node[ZT_IDENTITY_ID_SIZE];
    char *all = zt_malloc(2 * res->receipt_len + 1);
    if (!all) return NULL;
    hexs(job, r->job_id, sizeof r->job_id);
    hexs(hh, r->header_hash, 32);
    hexs(ih, r->input_hash, 32);
    hexs(oh, r->output_hash, 32);
    hexs(sc, r->seq_chain, 32);
    hexs(pk, r->worker_pk, 32);
    hexs(sig, res->receipt_bytes + res->receipt_len - ZT_ENV_SIG_LEN, ZT_ENV_SIG_LEN);
    hexs(all, res->receipt_bytes, res->receipt_len);
    zt_identity_node_id(r->worker_pk, node);
    json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:s,s:i,s:i,s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:b}", "version", r->version,
                          "job_id", job, "header_hash", hh, "input_hash", ih, "output_hash", oh, "prompt_tokens",
                          (int)r->prompt_tokens, "completion_tokens", (int)r->completion_tokens, "seq_chain", sc,
                          "worker_ed25519_pk", pk, "worker_node_id", node, "finished", (json_int_t)r->finished,
                          "build_id", r->build_id, "signature", sig, "bytes", all, "verified", 1);
    zt_free(all);
    return j;
}

static void print_json(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (s) printf("%s\n", s);
    zt_free(s);
    json_decref(j);
}

static int run(const struct job_opts *o)
{
    int rc = 1;
    struct zt_node_descriptor d;
    memset(&d, 0, sizeof d);
    struct zt_job_call *job = NULL;
    json_t *req = NULL;
    struct out p;
    memset(&p, 0, sizeof p);
    zt_buf_init(&p.text, TEXT_MAX);

    if (get_descriptor(o, &d) != 0) goto out;

    /* the job: the body sealed to the worker's KEM key with a fresh reply
     * key. The prompt is the user's own, sent by the user to the worker
     * the user chose: no node's privacy policy stands in between. */
    struct zt_privacy_verdict own;
    zt_privacy_verdict_own_data(&own);
    req = job_request(o);
    struct zt_job_spec spec = {
        .model = o->model,
        .max_tokens = (uint32_t)o->n,
        .max_price = o->max_price,
        .stream = !o->no_stream,
        .ttl_s = (uint64_t)o->ttl,
        .now = (uint64_t)time(NULL),
        .suite = ZT_HPKE_SUITE_CHACHA,
        .worker_id = d.node_id,
        .worker_kem_pk = d.kem_pk,
        .worker_sign_pk = d.ed25519_pk,
    };
    int src = req ? zt_job_call_new(req, o->chat ? ZT_JOB_CHAT : ZT_JOB_COMPLETION, &own, &spec, &job) : ZT_ENOMEM;
    if (src) {
        say("cannot seal the job: %s", src == ZT_EPARSE ? "MODEL must be UTF-8 without control characters"
                                      : src == ZT_ECRYPTO ? "the node's KEM key is not a valid X25519 key"
                                                          : zt_strerror(src));
        goto out;
    }

    /* where to */
    const char *tok = getenv("ZENTALK_TOKEN");
    struct zt_job_target target = {
        .base_url = o->via ? o->via : (o->node ? o->node : d.endpoint),
        .via_relay = o->via != NULL,
        .bearer = tok,
        .connect_timeout_ms = 10000L,
        .total_timeout_ms = (long)(o->timeout * 1000),
        .env_proxy = true,
        .user_agent = "zentalk/" ZT_VERSION,
    };
    int trc = zt_job_call_target(job, &target);
    if (trc) {
        say("%s", trc == ZT_ETOOBIG ? "URL too long" : "cannot set up the HTTP client");
        goto out;
    }
    const char *url = zt_job_call_url(job);
    p.print = !o->json;
    struct zt_job_hooks hooks = {.text = on_text, .cancelled = on_cancelled, .ud = &p};
    struct zt_job_outcome res;
    if (zt_job_call_send(job, &hooks, &res) != 0) {
        say("cannot set up the HTTP client");
        goto out;
    }
    if (interrupted) {
        if (p.printed) fputc('\n', stdout);
        say("interrupted (the worker cancels the job when the connection closes)");
        rc = 130;
        goto out;
    }
    switch (res.status) {
    case ZT_JOB_VERIFIED: break;
    case ZT_JOB_UNVERIFIED:
        if (p.printed && !p.last_nl) fputc('\n', stdout);
        say("the result did NOT verify: %s%s%s; discard any text above",
            res.rc == ZT_ETOOBIG ? "the text is too large" : res.why[0] ? res.why : zt_strerror(res.rc),
            res.transport[0] ? "; transport: " : "", res.transport);
        rc = EXIT_UNVERIFIED;
        goto out;
    case ZT_JOB_REFUSED:
        if (res.http_status == 200) say("%s answered 200 but not with %s", url, ZT_SEALED_MEDIA_RESULT);
        else zt__cli_print_api_error(res.http_status, zt_job_call_answer(job, NULL));
        goto out;
    case ZT_JOB_TIMEOUT:
    case ZT_JOB_UNREACHABLE:
    case ZT_JOB_CANCELLED:
        say("cannot reach %s: %s", url, res.transport[0] ? res.transport : "no answer");
        goto out;
    }
    if (p.printed && !p.last_nl) fputc('\n', stdout);
    if (o->json) {
        json_t *j = json_pack("{s:s,s:s,s:s%,s:s,s:{s:i,s:i,s:i},s:o*}", "node_id", d.node_id, "model", o->model,
                              "text", zt_buf_str(&p.text), p.text.len, "finish_reason", res.result.final.finish_reason,
                              "usage", "prompt_tokens", (int)res.result.final.prompt_tokens, "completion_tokens",
                              (int)res.result.final.completion_tokens, "total_tokens",
                              (int)(res.result.final.prompt_tokens + res.result.final.completion_tokens), "receipt",
                              receipt_json(&res.result));
        print_json(j);
    } else if (o->receipt) {
        print_json(receipt_json(&res.result));
    }
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "zentalk: verified: %s ran %s (%u prompt + %u completion tokens, finish %s); receipt signed by its key\n",
                d.node_id, o->model, (unsigned)res.result.final.prompt_tokens,
                (unsigned)res.result.final.completion_tokens, res.result.final.finish_reason);
    rc = 0;
out:
    zt_job_call_free(job);
    json_decref(req);
    if (p.text.data) sodium_memzero(p.text.data, p.text.len);
    zt_buf_deinit(&p.text);
    zt_node_descriptor_deinit(&d);
    return rc;
}

int zt__cli_job(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "run") != 0) {
        say("unknown job command '%s' (zentalk job run ...)", argv[1]);
        return 2;
    }
    struct job_opts o;
    int prc = parse(argc - 1, argv + 1, &o);
    if (prc == -1) {
        usage(stdout);
        return 0;
    }
    if (prc) return prc;
    if (zt_crypto_init() != 0) {
        say("libsodium failed to initialise");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    return run(&o);
}
