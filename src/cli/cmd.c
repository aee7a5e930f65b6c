/* cmd.c: what every zentalk command does the same way (cmd.h). */
#include "cmd.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "zentalk/zt_json_num.h"
#include "zentalk/zt_str.h"

const char *zt__cli_node_url(void)
{
    const char *u = getenv("ZENTALK_URL");
    return u && *u ? u : ZT__CLI_DEFAULT_URL;
}

void zt__cli_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("zentalk: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int zt__cli_parse(int argc, char **argv, int first, const struct zt__cli_cmd *cmd, const struct zt__cli_opt *opts,
                  size_t n)
{
    if (n > ZT__CLI_OPT_MAX) abort(); /* a table in this program, not input */
    struct option lo[ZT__CLI_OPT_MAX + 1];
    char shortopts[3 + 2 * ZT__CLI_OPT_MAX + 1];
    size_t sl = 0;
    if (cmd->stop_at_operand) shortopts[sl++] = '+';
    shortopts[sl++] = ':'; /* a missing value is ':', not '?' */
    for (size_t i = 0; i < n; i++) {
        bool arg = opts[i].kind == ZT__CLI_STR || opts[i].kind == ZT__CLI_LIST;
        /* A long-only option answers with a value no short option has. */
        int val = opts[i].short_name ? (unsigned char)opts[i].short_name : 256 + (int)i;
        lo[i] = (struct option){opts[i].name, arg ? required_argument : no_argument, NULL, val};
        if (opts[i].short_name) {
            shortopts[sl++] = opts[i].short_name;
            if (arg) shortopts[sl++] = ':';
        }
    }
    lo[n] = (struct option){NULL, 0, NULL, 0};
    shortopts[sl] = '\0';

    optind = first;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
        const struct zt__cli_opt *o = NULL;
        for (size_t i = 0; i < n && !o; i++)
            if (lo[i].val == c) o = &opts[i];
        if (c == ':') {
            zt__cli_say("option %s needs a value", argv[optind - 1]);
            return 2;
        }
        if (!o) {
            zt__cli_say("unknown option %s (see zentalk %s --help)", argv[optind - 1], cmd->name);
            return 2;
        }
        switch (o->kind) {
        case ZT__CLI_FLAG: *(bool *)o->dst = true; break;
        case ZT__CLI_STR: *(const char **)o->dst = optarg; break;
        case ZT__CLI_LIST: {
            struct zt__cli_list *l = o->dst;
            if (l->n == l->max) {
                zt__cli_say("at most %zu %s", l->max, l->noun);
                return 2;
            }
            l->v[l->n++] = optarg;
            break;
        }
        case ZT__CLI_HELP:
            if (cmd->usage)
                cmd->usage(stdout);
            else
                fputs(cmd->help, stdout);
            return 0;
        }
    }
    return ZT__CLI_PARSED;
}

bool zt__cli_no_operands(int argc, char **argv, const struct zt__cli_cmd *cmd)
{
    if (optind >= argc) return true;
    zt__cli_say("unexpected argument '%s' (see zentalk %s --help)", argv[optind], cmd->name);
    return false;
}

int zt__cli_subverb(int argc, char **argv, const struct zt__cli_sub *subs, size_t n)
{
    if (optind >= argc) return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(argv[optind], subs[i].name) == 0) return argc - optind - 1 == subs[i].operands ? (int)i : -1;
    return -1;
}

int zt__cli_check_answer(int rc, long status, const struct zt_buf *body)
{
    if (rc) return 1;
    if (status != 200) {
        zt__cli_print_api_error(status, zt_buf_str(body));
        return 1;
    }
    return 0;
}

void zt__cli_print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2));
    struct zt_buf b;
    zt_buf_init(&b, 64u << 20);
    /* reals in their shortest round-trip form (0.8, not 0.80000000000000004) */
    if (s && zt_json_shorten_reals(s, strlen(s), &b) == 0) printf("%s\n", zt_buf_str(&b));
    else if (s) printf("%s\n", s);
    zt_buf_deinit(&b);
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree); /* whichever allocator jansson was given */
    jfree(s);
}

bool zt__cli_url_ok(const char *url)
{
    if (zt_str_starts_with(url, "http://") || zt_str_starts_with(url, "https://")) return true;
    zt__cli_say("--url must start with http:// or https:// (got '%s')", url);
    return false;
}
