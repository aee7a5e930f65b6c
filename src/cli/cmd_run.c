/* cmd_run.c: `zentalk run MODEL PROMPT` and `zentalk chat MODEL`.
 *
 * MODEL is a path to a GGUF file, or an id from models.yaml (read from
 * --config DIR, default ./config, with the same environment overrides as the
 * node; relative paths resolve against node.data_dir). The model runs in
 * this process on the CPU engine; text streams to stdout as it is decoded. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_run.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_chat.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_gguf.h"
#include "zentalk/zt_model.h"
#include "zentalk/zt_sampler.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_tokenizer.h"

extern char **environ;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

struct run_opts {
    const char *model;
    const char *config_dir;
    const char *data_dir;
    const char *system;
    struct zt_sampler_params sp;
    long n_predict;
    unsigned threads;
    uint32_t n_ctx;
    bool stats;
    bool temp_set, seed_set;
};

static int num(const char *opt, const char *v, double lo, double hi, double *out)
{
    double d;
    if (zt_str_to_double(v, &d) != 0 || d < lo || d > hi) {
        fprintf(stderr, "zentalk: %s must be a number in [%g, %g]\n", opt, lo, hi);
        return -1;
    }
    *out = d;
    return 0;
}

/* Resolve MODEL to a file path (path or models.yaml id). */
static int resolve_model(const struct run_opts *o, char *path, size_t n)
{
    struct stat st;
    if (stat(o->model, &st) == 0 && S_ISREG(st.st_mode)) {
        zt_strlcpy(path, o->model, n);
        return 0;
    }
    if (zt_str_ends_with(o->model, ".gguf")) {
        fprintf(stderr, "zentalk: %s: no such file\n", o->model);
        return 1;
    }
    struct zt_config cfg;
    struct zt_buf errs;
    zt_buf_init(&errs, 1 << 16);
    int rc = zt_config_init_defaults(&cfg);
    const char *dir = o->config_dir ? o->config_dir : (access("config", R_OK) == 0 ? "config" : NULL);
    if (!rc && dir) rc = zt_config_load_dir(&cfg, dir, &errs);
    if (!rc) rc = zt_config_apply_env(&cfg, environ, &errs);
    if (!rc && o->data_dir) rc = zt_config_set(&cfg, "node.data_dir", o->data_dir, "--data-dir", &errs);
    if (!rc) rc = zt_config_validate(&cfg, &errs);
    int ret = 1;
    if (rc) {
        fprintf(stderr, "zentalk: configuration: %s%s\n", errs.len ? "\n" : "", errs.len ? zt_buf_str(&errs) : zt_strerror(rc));
        goto out;
    }
    for (size_t i = 0; i < cfg.n_models; i++) {
        const struct zt_cfg_model *e = &cfg.models[i];
        if (!zt_str_eq(e->id, o->model)) continue;
        const char *p = e->path;
        char tmp[512];
        if (!p[0]) {
            const char *slash = strrchr(e->url, '/');
            snprintf(tmp, sizeof tmp, "models/%s", slash ? slash + 1 : e->url);
            p = tmp;
        }
        int w = p[0] == '/' ? snprintf(path, n, "%s", p) : snprintf(path, n, "%s/%s", cfg.node.data_dir, p);
        if (w < 0 || (size_t)w >= n) goto out;
        if (access(path, R_OK) != 0) {
            fprintf(stderr, "zentalk: model '%s' is configured but %s is missing%s%s\n", e->id, path,
                    e->url[0] ? "; download it with: zentalk models pull " : "", e->url);
            goto out;
        }
        ret = 0;
        goto out;
    }
    fprintf(stderr, "zentalk: '%s' is neither a GGUF file nor a model id in %s/models.yaml\n", o->model,
            dir ? dir : "(no config directory)");
out:
    zt_buf_deinit(&errs);
    zt_config_deinit(&cfg);
    return ret;
}

/* Page the weights in, with a progress bar on a terminal: the model is
 * mapped, and this is where the bytes come off the disk. */
static void prefault(const struct zt_model *m)
{
    const struct zt_gguf *g = zt_model_gguf(m);
    bool tty = isatty(STDERR_FILENO);
    uint64_t total = 0, done = 0;
    for (int64_t i = 0; i < zt_gguf_n_tensors(g); i++) total += zt_gguf_tensor(g, i)->size;
    volatile uint8_t sink = 0;
    int last_pct = -1;
    for (int64_t i = 0; i < zt_gguf_n_tensors(g); i++) {
        const struct zt_gguf_tensor *t = zt_gguf_tensor(g, i);
        const uint8_t *p = t->data;
        for (uint64_t off = 0; off < t->size; off += 4096) sink ^= p[off];
        done += t->size;
        int pct = total ? (int)(done * 100 / total) : 100;
        if (tty && pct != last_pct) {
            int bar = pct * 30 / 100;
            fprintf(stderr, "\rloading [%.*s%*s] %3d%%", bar, "==============================", 30 - bar, "", pct);
            last_pct = pct;
        }
    }
    if (tty) fprintf(stderr, "\r%60s\r", "");
    (void)sink;
}

static int load(const struct run_opts *o, struct zt_model **m)
{
    char path[1024];
    int r = resolve_model(o, path, sizeof path);
    if (r) return r;
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    uint64_t t0 = zt_time_mono_ns();
    int rc = zt_model_load(path, m, &err);
    if (rc) {
        fprintf(stderr, "zentalk: %s: %s\n", path, err.len ? zt_buf_str(&err) : zt_strerror(rc));
        zt_buf_deinit(&err);
        return 1;
    }
    zt_buf_deinit(&err);
    prefault(*m);
    unsigned th = o->threads;
    if (!th) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        th = n > 0 ? (unsigned)(n > 256 ? 256 : n) : 1u;
    }
    if (zt_model_set_threads(*m, th) != 0) return 1;
    if (o->stats)
        fprintf(stderr, "loaded %s in %.1f ms (%u threads)\n", path, (double)(zt_time_mono_ns() - t0) / 1e6, th);
    return 0;
}

/* Parse the options shared by run and chat; leaves positionals in pos[]. */
static int parse(int argc, char **argv, struct run_opts *o, const char **pos, int max_pos, int *n_pos)
{
    static const struct option longopts[] = {
        {"temp", required_argument, NULL, 't'},   {"seed", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 'T'}, {"stats", no_argument, NULL, 'S'},
        {"config", required_argument, NULL, 'c'}, {"data-dir", required_argument, NULL, 'd'},
        {"ctx", required_argument, NULL, 'C'},    {"system", required_argument, NULL, 'y'},
        {"top-k", required_argument, NULL, 'k'},  {"top-p", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    zt_sampler_params_default(&o->sp);
    o->n_predict = 256;
    *n_pos = 0;
    optind = 1;
    opterr = 0;
    int c;
    double v;
    while ((c = getopt_long(argc, argv, ":n:h", longopts, NULL)) != -1) {
        switch (c) {
        case 't': if (num("--temp", optarg, 0, 2, &v)) return 2; o->sp.temperature = (float)v; o->temp_set = true; break;
        case 's': if (num("--seed", optarg, 0, 9e15, &v)) return 2; o->sp.seed = (uint64_t)v; o->seed_set = true; break;
        case 'n': if (num("-n", optarg, 1, 1e6, &v)) return 2; o->n_predict = (long)v; break;
        case 'T': if (num("--threads", optarg, 1, 256, &v)) return 2; o->threads = (unsigned)v; break;
        case 'C': if (num("--ctx", optarg, 16, 1 << 20, &v)) return 2; o->n_ctx = (uint32_t)v; break;
        case 'k': if (num("--top-k", optarg, 0, 1e6, &v)) return 2; o->sp.top_k = (int32_t)v; break;
        case 'p': if (num("--top-p", optarg, 0.0001, 1, &v)) return 2; o->sp.top_p = (float)v; break;
        case 'S': o->stats = true; break;
        case 'c': o->config_dir = optarg; break;
        case 'd': o->data_dir = optarg; break;
        case 'y': o->system = optarg; break;
        case 'h': return -1;
        case ':': fprintf(stderr, "zentalk: option %s needs a value\n", argv[optind - 1]); return 2;
        default: fprintf(stderr, "zentalk: unknown option %s\n", argv[optind - 1]); return 2;
        }
    }
    for (int i = optind; i < argc; i++) {
        if (*n_pos >= max_pos) {
            fprintf(stderr, "zentalk: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
        pos[(*n_pos)++] = argv[i];
    }
    return 0;
}

/* Generate into seq after `prompt` (already decoded up to its last token,
 * whose logits are in `logits`), streaming to stdout. Appends the text to
 * `text` when not NULL and the generated ids to `ids`. */
static int generate(struct zt_model *m, struct zt_seq *s, struct zt_sampler *smp, float *logits, long n_predict,
                    struct zt_buf *text, int32_t *ids, size_t *n_ids, size_t ids_cap, double *gen_s, long *n_gen)
{
    const struct zt_hparams *hp = zt_model_hparams(m);
    struct zt_tokenizer *tok = zt_model_tokenizer(m);
    struct zt_tok_stream ts;
    zt_tok_stream_init(&ts, tok, 0);
    float *work = zt_calloc(hp->n_vocab, sizeof(float));
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    if (!work) return 1;
    uint64_t t0 = zt_time_mono_ns();
    int rc = 0;
    long i = 0;
    for (; i < n_predict && !interrupted; i++) {
        memcpy(work, logits, hp->n_vocab * sizeof(float));
        int32_t t = zt_sampler_sample(smp, work);
        if (t < 0 || zt_sampler_accept(smp, t, logits) != 0) {
            rc = 1;
            break;
        }
        if (zt_tok_is_eog(tok, t)) break;
        zt_buf_reset(&out);
        if (zt_tok_stream_push(&ts, t, &out) == 0 && out.len) {
            fwrite(out.data, 1, out.len, stdout);
            fflush(stdout);
            if (text) zt_ignore(zt_buf_append(text, out.data, out.len));
        }
        if (zt_seq_pos(s) >= zt_seq_n_ctx(s)) break;
        if (ids && *n_ids < ids_cap) ids[(*n_ids)++] = t;
        struct zt_batch_item it = {s, t, logits};
        if (zt_model_decode(m, &it, 1) != 0) {
            rc = 1;
            break;
        }
    }
    zt_buf_reset(&out);
    if (zt_tok_stream_flush(&ts, &out) == 0 && out.len) {
        fwrite(out.data, 1, out.len, stdout);
        if (text) zt_ignore(zt_buf_append(text, out.data, out.len));
    }
    *gen_s = (double)(zt_time_mono_ns() - t0) / 1e9;
    *n_gen = i;
    zt_buf_deinit(&out);
    zt_free(work);
    return rc;
}

static void usage_run(FILE *f)
{
    fprintf(f, "Usage: zentalk run MODEL PROMPT [-n N] [--temp T] [--seed S] [--top-k K] [--top-p P]\n"
               "                   [--threads N] [--ctx N] [--stats] [--config DIR] [--data-dir DIR]\n"
               "MODEL is a GGUF file or a model id from models.yaml. Streams the continuation of\n"
               "PROMPT to stdout; --stats prints prompt and generation speed to stderr.\n");
}

int zt__cli_run(int argc, char **argv)
{
    struct run_opts o;
    const char *pos[2];
    int np;
    int prc = parse(argc, argv, &o, pos, 2, &np);
    if (prc < 0) {
        usage_run(stdout);
        return 0;
    }
    if (prc) return prc;
    if (np != 2) {
        usage_run(stderr);
        return 2;
    }
    o.model = pos[0];
    struct zt_model *m = NULL;
    struct zt_seq *s = NULL;
    struct zt_sampler *smp = NULL;
    int32_t *toks = NULL;
    float *logits = NULL;
    struct zt_batch_item *items = NULL;
    int ret = load(&o, &m);
    if (ret) return ret;
    signal(SIGINT, on_sigint);
    const struct zt_hparams *hp = zt_model_hparams(m);
    uint32_t n_ctx = o.n_ctx ? o.n_ctx : (hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096);
    if (n_ctx > hp->n_ctx_train) n_ctx = hp->n_ctx_train;
    ret = 1;
    toks = zt_calloc(n_ctx, sizeof *toks);
    logits = zt_calloc(hp->n_vocab, sizeof *logits);
    items = zt_calloc(n_ctx, sizeof *items);
    if (!toks || !logits || !items || zt_seq_new(m, n_ctx, &s) != 0 ||
        zt_sampler_new(&o.sp, hp->n_vocab, &smp) != 0) {
        fprintf(stderr, "zentalk: out of memory or bad sampling parameters\n");
        goto out;
    }
    size_t n = 0;
    int rc = zt_tok_encode(zt_model_tokenizer(m), pos[1], strlen(pos[1]), true, false, toks, n_ctx, &n);
    if (rc || n == 0 || n >= n_ctx) {
        fprintf(stderr, "zentalk: the prompt is %zu tokens; the context is %u\n", n, n_ctx);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        items[i] = (struct zt_batch_item){s, toks[i], i + 1 == n ? logits : NULL};
        zt_ignore(zt_sampler_accept(smp, toks[i], NULL));
    }
    fputs(pos[1], stdout);
    fflush(stdout);
    uint64_t t0 = zt_time_mono_ns();
    if (zt_model_decode(m, items, n) != 0) {
        fprintf(stderr, "zentalk: inference failed\n");
        goto out;
    }
    double pp_s = (double)(zt_time_mono_ns() - t0) / 1e9, gen_s;
    long n_gen;
    rc = generate(m, s, smp, logits, o.n_predict, NULL, NULL, NULL, 0, &gen_s, &n_gen);
    fputc('\n', stdout);
    if (o.stats)
        fprintf(stderr, "prompt: %zu tokens in %.3f s (%.1f t/s); generation: %ld tokens in %.3f s (%.1f t/s)\n", n,
                pp_s, (double)n / pp_s, n_gen, gen_s, gen_s > 0 ? (double)n_gen / gen_s : 0.0);
    ret = interrupted ? 130 : (rc ? 1 : 0);
out:
    zt_free(items);
    zt_free(logits);
    zt_free(toks);
    zt_sampler_free(smp);
    zt_seq_free(s);
    zt_model_free(m);
    return ret;
}

int zt__cli_chat(int argc, char **argv)
{
    struct run_opts o;
    const char *pos[1];
    int np;
    int prc = parse(argc, argv, &o, pos, 1, &np);
    if (prc < 0 || np != 1) {
        fprintf(prc < 0 ? stdout : stderr,
                "Usage: zentalk chat MODEL [--system TEXT] [-n N] [--temp T] [--seed S] [--threads N] [--ctx N]\n"
                "Interactive chat on stdin/stdout; /reset starts over, /exit or end of input quits.\n");
        return prc < 0 ? 0 : 2;
    }
    o.model = pos[0];
    struct zt_model *m = NULL;
    int ret = load(&o, &m);
    if (ret) return ret;
    signal(SIGINT, on_sigint);
    const struct zt_hparams *hp = zt_model_hparams(m);
    struct zt_tokenizer *tok = zt_model_tokenizer(m);
    uint32_t n_ctx = o.n_ctx ? o.n_ctx : (hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096);
    struct zt_gguf_str ts;
    char *tmpl_text = zt_gguf_get_str(zt_model_gguf(m), "tokenizer.chat_template", &ts) == 0 ? zt_strndup(ts.ptr, ts.len) : NULL;
    bool fell_back;
    enum zt_chat_tmpl tmpl = zt_chat_detect(tmpl_text, &fell_back);
    zt_free(tmpl_text);
    if (fell_back) fprintf(stderr, "zentalk: unknown chat template, using ChatML\n");

    /* the conversation, kept as owned strings */
    size_t n_msgs = 0, cap_msgs = 64;
    struct zt_chat_msg *msgs = zt_calloc(cap_msgs, sizeof *msgs);
    char **owned = zt_calloc(cap_msgs, sizeof *owned);
    int32_t *toks = zt_calloc(n_ctx, sizeof *toks), *cache = zt_calloc(n_ctx, sizeof *cache);
    float *logits = zt_calloc(hp->n_vocab, sizeof *logits);
    struct zt_batch_item *items = zt_calloc(n_ctx, sizeof *items);
    struct zt_seq *s = NULL;
    size_t n_cache = 0;
    char *line = NULL;
    size_t line_cap = 0;
    struct zt_buf prompt, reply;
    zt_buf_init(&prompt, 64u << 20);
    zt_buf_init(&reply, 16u << 20);
    ret = 1;
    if (!msgs || !owned || !toks || !cache || !logits || !items || zt_seq_new(m, n_ctx, &s) != 0) goto out;
    if (o.system) {
        owned[n_msgs] = zt_strdup(o.system);
        msgs[n_msgs] = (struct zt_chat_msg){"system", owned[n_msgs]};
        n_msgs++;
    }
    bool tty = isatty(STDIN_FILENO);
    for (;;) {
        if (tty) fputs("> ", stdout), fflush(stdout);
        ssize_t len = getline(&line, &line_cap, stdin);
        if (len < 0 || interrupted) break;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (strcmp(line, "/exit") == 0) break;
        if (strcmp(line, "/reset") == 0) {
            for (size_t i = o.system ? 1 : 0; i < n_msgs; i++) zt_free(owned[i]);
            n_msgs = o.system ? 1 : 0;
            continue;
        }
        if (len == 0) continue;
        if (n_msgs + 2 > cap_msgs) {
            fprintf(stderr, "zentalk: conversation too long; /reset to start over\n");
            continue;
        }
        owned[n_msgs] = zt_strdup(line);
        msgs[n_msgs] = (struct zt_chat_msg){"user", owned[n_msgs]};
        n_msgs++;
        zt_buf_reset(&prompt);
        size_t n = 0;
        if (zt_chat_format(tmpl, msgs, n_msgs, true, &prompt) != 0 ||
            zt_tok_encode(tok, prompt.data, prompt.len, true, true, toks, n_ctx, &n) != 0 || n + 8 >= n_ctx) {
            fprintf(stderr, "zentalk: the conversation no longer fits the context; /reset to start over\n");
            zt_free(owned[--n_msgs]);
            continue;
        }
        /* reuse the cached prefix of the conversation */
        size_t keep = 0;
        while (keep < n_cache && keep < n - 1 && cache[keep] == toks[keep]) keep++;
        zt_ignore(zt_seq_truncate(s, (uint32_t)keep));
        for (size_t i = keep; i < n; i++) items[i - keep] = (struct zt_batch_item){s, toks[i], i + 1 == n ? logits : NULL};
        struct zt_sampler *smp = NULL;
        if (zt_model_decode(m, items, n - keep) != 0 || zt_sampler_new(&o.sp, hp->n_vocab, &smp) != 0) {
            fprintf(stderr, "zentalk: inference failed\n");
            zt_sampler_free(smp);
            goto out;
        }
        memcpy(cache, toks, n * sizeof *toks);
        n_cache = n;
        for (size_t i = 0; i < n; i++) zt_ignore(zt_sampler_accept(smp, toks[i], NULL));
        zt_buf_reset(&reply);
        double gen_s;
        long n_gen;
        int rc = generate(m, s, smp, logits, o.n_predict, &reply, cache, &n_cache, n_ctx, &gen_s, &n_gen);
        zt_sampler_free(smp);
        fputc('\n', stdout);
        fflush(stdout);
        if (o.stats) fprintf(stderr, "[%ld tokens, %.1f t/s]\n", n_gen, gen_s > 0 ? (double)n_gen / gen_s : 0.0);
        if (rc) goto out;
        owned[n_msgs] = zt_strndup(reply.data ? reply.data : "", reply.len);
        msgs[n_msgs] = (struct zt_chat_msg){"assistant", owned[n_msgs]};
        n_msgs++;
        if (interrupted) break;
    }
    ret = interrupted ? 130 : 0;
out:
    for (size_t i = 0; owned && i < n_msgs; i++) zt_free(owned[i]);
    zt_free(owned);
    zt_free(msgs);
    free(line); /* getline allocates with malloc */
    zt_buf_deinit(&prompt);
    zt_buf_deinit(&reply);
    zt_free(items);
    zt_free(logits);
    zt_free(toks);
    zt_free(cache);
    zt_seq_free(s);
    zt_model_free(m);
    return ret;
}
