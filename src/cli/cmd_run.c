/* cmd_run.c: `zentalk run MODEL PROMPT` and `zentalk chat MODEL`.
 *
 * MODEL is a path to a GGUF file, or an id from models.yaml (read from
 * --config DIR, default ./config, with the same environment overrides as the
 * node; relative paths resolve against node.data_dir). The model runs in
 * this process through the inference service (zt_infer.h: the registry,
 * request builder and runner the node uses, with one slot); text streams
 * to stdout as it is decoded. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_run.h"
#include "progress.h"
#include "cmd.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_chat.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_infer.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_model.h"
#include "zentalk/zt_quant.h"
#include "zentalk/zt_sampler.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

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
    const char *backend; /* --backend: cpu, vulkan (NULL: gpu_pool.backend / cpu) */
    bool fast;           /* --fast: a GPU backend's fast mode */
    const char *precision; /* --precision: exact, bf16 (NULL: gpu_pool.precision / exact) */
    bool stats;
    bool json; /* run: one JSON object at the end instead of the stream */
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

/* The model of a run: MODEL's registry (a GGUF file, or models.yaml with
 * MODEL one of its ids) and the id to ask it for. */
struct model {
    struct zt_config cfg; /* must outlive inf */
    bool have_cfg;
    struct zt_infer *inf;
    const char *id;
};

static void close_model(struct model *md)
{
    zt_infer_shutdown(md->inf);
    zt_infer_free(md->inf);
    if (md->have_cfg) zt_config_deinit(&md->cfg);
}

/* A bar for the weights being read in, on a terminal. */
static void on_progress(void *ud, uint64_t done, uint64_t total)
{
    zt__cli_bar_update(ud, done, total);
}

static void no_progress(void *ud, uint64_t done, uint64_t total)
{
    (void)ud, (void)done, (void)total;
}

/* Resolve MODEL (a path to a GGUF file or a models.yaml id) into md and
 * load it now (the weights read in, with a bar on a terminal). */
static int open_model(const struct run_opts *o, struct model *md)
{
    memset(md, 0, sizeof *md);
    zt_log_set_level(ZT_LOG_OFF); /* the CLI reports for itself */
    static struct zt__cli_bar bar; /* the loader's callback outlives no call of this function */
    zt__cli_bar_init(&bar, "loading", NULL);
    bool tty = bar.tty;
    unsigned th = o->threads;
    if (!th) th = zt_model_default_threads(); /* the CPUs in the affinity mask */
    struct zt_infer_opts io = {.n_threads = th, .n_slots = 1, .n_ctx = o->n_ctx ? o->n_ctx : 4096,
                               .progress = tty ? on_progress : no_progress, .progress_ud = &bar,
                               .detail_in_errors = true, .backend = o->backend, .fast = o->fast,
                               .precision = o->precision};
    char why[256];
    if (o->backend && zt_engine_backend_built(o->backend, why, sizeof why) != 0) {
        fprintf(stderr, "zentalk: --backend %s: %s\n", o->backend, why);
        return 1;
    }
    char path[1024];
    struct stat st;
    int rc;
    if (stat(o->model, &st) == 0 && S_ISREG(st.st_mode)) {
        zt_strlcpy(path, o->model, sizeof path);
        rc = zt_infer_new_file(o->model, &io, &md->inf);
        if (rc == ZT_ENOTFOUND) {
            fprintf(stderr, "zentalk: --backend %s: found no device on this machine (zentalk gpus lists what the "
                            "drivers see)\n", o->backend);
            return 1;
        }
        if (rc) goto oom;
        md->id = o->model;
    } else if (zt_str_ends_with(o->model, ".gguf")) {
        fprintf(stderr, "zentalk: %s: no such file\n", o->model);
        return 1;
    } else {
        struct zt_buf errs;
        zt_buf_init(&errs, 1 << 16);
        rc = zt_config_init_defaults(&md->cfg);
        md->have_cfg = rc == 0;
        /* the node's configuration, found as the node finds it (--config,
         * $ZENTALK_CONFIG, $ZENTALK_CONFIG_DIR), else ./config (make run's) */
        const char *dir = o->config_dir ? o->config_dir : zt_config_default_dir();
        if (!dir && access("config", R_OK) == 0) dir = "config";
        if (!rc && dir) rc = zt_config_load_dir(&md->cfg, dir, &errs);
        if (!rc) rc = zt_config_apply_env(&md->cfg, environ, &errs);
        if (!rc && o->data_dir) rc = zt_config_set(&md->cfg, "node.data_dir", o->data_dir, "--data-dir", &errs);
        if (!rc) rc = zt_config_validate(&md->cfg, &errs);
        if (rc) {
            fprintf(stderr, "zentalk: configuration: %s%s\n", errs.len ? "\n" : "", errs.len ? zt_buf_str(&errs) : zt_strerror(rc));
            zt_buf_deinit(&errs);
            goto fail;
        }
        zt_buf_deinit(&errs);
        rc = zt_infer_new(&md->cfg, &io, &md->inf);
        if (rc == ZT_EUNSUPPORTED) {
            zt_ignore(zt_engine_backend_built(md->cfg.gpu_pool.backend, why, sizeof why));
            fprintf(stderr, "zentalk: gpu_pool.backend %s: %s\n", md->cfg.gpu_pool.backend, why);
            goto fail;
        }
        if (rc == ZT_ENOTFOUND) {
            const char *b = o->backend ? o->backend : md->cfg.gpu_pool.backend;
            fprintf(stderr, "zentalk: %s %s: found no device on this machine (zentalk gpus lists what the drivers "
                            "see)\n", o->backend ? "--backend" : "gpu_pool.backend", b);
            goto fail;
        }
        if (rc) goto oom;
        int i = zt_infer_serves(md->inf, o->model) ? zt_infer_model_find(md->inf, o->model) : -1;
        if (i < 0) {
            fprintf(stderr, "zentalk: '%s' is neither a GGUF file nor a model id in %s/models.yaml\n", o->model,
                    dir ? dir : "(no config directory)");
            goto fail;
        }
        bool loaded;
        const struct zt_cfg_model *e = zt_infer_model(md->inf, (size_t)i, &loaded);
        if (zt_infer_model_file(md->inf, (size_t)i, path, sizeof path) != 0) goto fail;
        if (access(path, R_OK) != 0) {
            fprintf(stderr, "zentalk: model '%s' is configured but %s is missing%s%s\n", e->id, path,
                    e->url[0] ? "; download it with: zentalk models pull " : "", e->url);
            goto fail;
        }
        md->id = e->id;
    }
    uint64_t t0 = zt_time_mono_ns();
    struct zt_infer_err err;
    rc = zt_infer_load(md->inf, md->id, &err);
    if (bar.drawn) fprintf(stderr, "\r%60s\r", ""); /* the bar goes: the answer follows on a clean line */
    if (rc) {
        /* the loader's message names the file already: say it once */
        if (err.message[0] && strstr(err.message, path))
            fprintf(stderr, "zentalk: %s\n", err.message);
        else
            fprintf(stderr, "zentalk: %s: %s\n", path, err.message[0] ? err.message : zt_strerror(rc));
        goto fail;
    }
    if (o->stats) {
        char paths[512];
        zt_quant_paths(paths, sizeof paths); /* which kernel path runs each weight type */
        fprintf(stderr, "loaded %s in %.1f ms (%u threads; kernels %s)\n", path,
                (double)(zt_time_mono_ns() - t0) / 1e6, th, paths);
    }
    return 0;
oom:
    fprintf(stderr, "zentalk: out of memory\n");
fail:
    close_model(md);
    memset(md, 0, sizeof *md);
    return 1;
}

static bool should_stop(void *ud)
{
    (void)ud;
    return interrupted != 0;
}

/* Text as it is decoded: to stdout, and into the reply when one is kept. */
static void on_text(void *ud, const char *text, size_t len)
{
    struct zt_buf *reply = ud;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    if (reply) zt_ignore(zt_buf_append(reply, text, len));
}

/* Text as it is decoded, kept for run --json. */
static void keep_text(void *ud, const char *text, size_t len)
{
    zt_ignore(zt_buf_append(ud, text, len));
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
        {"json", no_argument, NULL, 'J'},         {"help", no_argument, NULL, 'h'},
        {"backend", required_argument, NULL, 'B'}, {"fast", no_argument, NULL, 'F'},
        {"precision", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
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
        case 'B': o->backend = optarg; break;
        case 'F': o->fast = true; break;
        case 'P': {
            enum zt_precision pr;
            if (zt_precision_parse(optarg, &pr) != 0) {
                fprintf(stderr, "zentalk: --precision must be exact or bf16\n");
                return 2;
            }
            o->precision = optarg;
            break;
        }
        case 'J': o->json = true; break;
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

static void usage_run(FILE *f)
{
    fprintf(f, "Usage: zentalk run MODEL PROMPT [-n N] [--temp T] [--seed S] [--top-k K] [--top-p P]\n"
               "                   [--threads N] [--ctx N] [--stats] [--json] [--config DIR] [--data-dir DIR]\n"
               "                   [--backend cpu|vulkan|cuda] [--fast] [--precision exact|bf16]\n"
               "MODEL is a GGUF file or a model id from models.yaml (--config DIR, else $ZENTALK_CONFIG,\n"
               "else ./config). Streams the continuation of PROMPT to stdout; --stats prints prompt and\n"
               "generation speed to stderr; --json prints one object at the end instead (model, text,\n"
               "finish_reason, prompt_tokens, completion_tokens, interrupted).\n"
               "--backend runs the model on a compute backend (default: gpu_pool.backend, else cpu);\n"
               "a GPU backend computes the CPU's bits unless --fast (its own faster math).\n"
               "--precision bf16 runs F32/F16/BF16 weight matrices in the declared BF16 mode (bf16 inputs,\n"
               "AVX512-BF16 where the CPU has it: faster, deterministic, not exact's bits; default:\n"
               "gpu_pool.precision, else exact).\n");
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
    struct model md;
    int ret = open_model(&o, &md);
    if (ret) return ret;
    signal(SIGINT, on_sigint);
    struct zt_infer_request rq = {.model = md.id, .prompt = pos[1], .prompt_len = strlen(pos[1]), .sampler = o.sp,
                                  .max_tokens = (uint32_t)o.n_predict};
    struct zt_infer_job *job = NULL;
    struct zt_infer_err err;
    ret = 1;
    if (zt_infer_job_new(md.inf, &rq, &job, &err) != 0) {
        fprintf(stderr, "zentalk: %s\n", err.message);
        goto out;
    }
    size_t n = zt_infer_job_prompt_tokens(job);
    if (!o.json) {
        fputs(pos[1], stdout);
        fflush(stdout);
    }
    struct zt_infer_result res;
    struct zt_buf text;
    zt_buf_init(&text, 64u << 20);
    int rc = zt_infer_run(job, o.json ? keep_text : on_text, should_stop, o.json ? &text : NULL, &res);
    if (rc && !(rc == ZT_ECLOSED && interrupted)) fprintf(stderr, "zentalk: inference failed\n");
    if (o.json && (!rc || interrupted)) {
        json_t *j = json_pack("{s:s,s:s%,s:s,s:i,s:i,s:b}", "model", md.id, "text", text.data ? text.data : "",
                              text.len, "finish_reason", interrupted ? "interrupted" : res.finish_reason,
                              "prompt_tokens", (json_int_t)res.prompt_tokens, "completion_tokens",
                              (json_int_t)res.completion_tokens, "interrupted", interrupted != 0);
        if (j) zt__cli_print_json(j);
        else fprintf(stderr, "zentalk: the generated text is not valid UTF-8\n");
        json_decref(j);
    } else if (!o.json) {
        fputc('\n', stdout);
    }
    zt_buf_deinit(&text);
    double pp_s = (double)res.first_event_ns / 1e9, gen_s = (double)(res.total_ns - res.first_event_ns) / 1e9;
    long n_gen = (long)res.completion_tokens;
    if (o.stats)
        fprintf(stderr, "prompt: %zu tokens in %.3f s (%.1f t/s); generation: %ld tokens in %.3f s (%.1f t/s)\n", n,
                pp_s, pp_s > 0 ? (double)n / pp_s : 0.0, n_gen, gen_s, gen_s > 0 ? (double)n_gen / gen_s : 0.0);
    ret = interrupted ? 130 : (rc ? 1 : 0);
out:
    close_model(&md);
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
                "                    [--backend cpu|vulkan|cuda] [--fast] [--precision exact|bf16]\n"
                "Interactive chat on stdin/stdout; /reset starts over, /exit or end of input quits.\n"
                "Ctrl-C stops the answer being written; at the prompt it quits.\n");
        return prc < 0 ? 0 : 2;
    }
    if (o.json) {
        fprintf(stderr, "zentalk: chat is interactive and has no --json (zentalk run MODEL PROMPT --json)\n");
        return 2;
    }
    o.model = pos[0];
    struct model md;
    int ret = open_model(&o, &md);
    if (ret) return ret;
    /* Ctrl-C during an answer stops that answer (the stop check reads the
     * flag); at the prompt it quits. No SA_RESTART: getline() returns. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);

    /* the conversation, kept as owned strings */
    size_t n_msgs = 0, cap_msgs = 64;
    struct zt_chat_msg *msgs = zt_calloc(cap_msgs, sizeof *msgs);
    char **owned = zt_calloc(cap_msgs, sizeof *owned);
    char *line = NULL;
    size_t line_cap = 0;
    struct zt_buf reply;
    zt_buf_init(&reply, 16u << 20);
    bool warned = false;
    ret = 1;
    if (!msgs || !owned) goto out;
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
        /* the model's runner keeps the conversation's KV cache: the prefix
         * shared with the last turn is not computed again */
        struct zt_infer_request rq = {.model = md.id, .msgs = msgs, .n_msgs = n_msgs, .sampler = o.sp,
                                      .max_tokens = (uint32_t)o.n_predict};
        struct zt_infer_job *job = NULL;
        struct zt_infer_err err;
        int jrc = zt_infer_job_new(md.inf, &rq, &job, &err);
        if (!jrc && zt_infer_job_prompt_tokens(job) + 8 >= zt_infer_job_n_ctx(job)) jrc = ZT_ERANGE;
        if (jrc) {
            zt_infer_job_free(job);
            if (jrc == ZT_ENOMEM) {
                fprintf(stderr, "zentalk: inference failed\n");
                goto out;
            }
            fprintf(stderr, "zentalk: the conversation no longer fits the context; /reset to start over\n");
            zt_free(owned[--n_msgs]);
            continue;
        }
        if (!warned && zt_infer_job_template_fell_back(job)) fprintf(stderr, "zentalk: unknown chat template, using ChatML\n");
        warned = true;
        zt_buf_reset(&reply);
        struct zt_infer_result res;
        int rc = zt_infer_run(job, on_text, should_stop, &reply, &res);
        if (rc == ZT_ECLOSED && interrupted) rc = 0;
        bool stopped = interrupted != 0;
        interrupted = 0; /* this answer stopped; the chat goes on */
        if (stopped) fputs(" [stopped]", stdout);
        fputc('\n', stdout);
        fflush(stdout);
        double gen_s = (double)(res.total_ns - res.first_event_ns) / 1e9;
        long n_gen = (long)res.completion_tokens;
        if (o.stats) fprintf(stderr, "[%ld tokens, %.1f t/s]\n", n_gen, gen_s > 0 ? (double)n_gen / gen_s : 0.0);
        if (rc) {
            fprintf(stderr, "zentalk: inference failed\n");
            goto out;
        }
        owned[n_msgs] = zt_strndup(reply.data ? reply.data : "", reply.len);
        msgs[n_msgs] = (struct zt_chat_msg){"assistant", owned[n_msgs]};
        n_msgs++;
    }
    ret = interrupted ? 130 : 0;
out:
    for (size_t i = 0; owned && i < n_msgs; i++) zt_free(owned[i]);
    zt_free(owned);
    zt_free(msgs);
    free(line); /* getline allocates with malloc */
    zt_buf_deinit(&reply);
    close_model(&md);
    return ret;
}
