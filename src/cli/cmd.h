/* cmd.h: what every zentalk command does the same way (internal to
 * src/cli): the node URL, option parsing from a table with the same
 * messages everywhere, errors on stderr, and a node's JSON answer. */
#ifndef ZT_CLI_CMD_H
#define ZT_CLI_CMD_H

#include <getopt.h> /* optind: the first operand after zt__cli_parse */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "zentalk/zt_buf.h"
#include "zentalk/zt_error.h"

#define ZT__CLI_DEFAULT_URL "http://127.0.0.1:8080"

/* The node a command talks to unless told: $ZENTALK_URL when set and not
 * empty, else ZT__CLI_DEFAULT_URL. */
const char *zt__cli_node_url(void);

/* True when url starts with http:// or https://; else says so. */
bool zt__cli_url_ok(const char *url);

/* "zentalk: " + the message + "\n" on stderr. */
void zt__cli_say(const char *fmt, ...) ZT_PRINTF(1, 2);

/* ---- options ------------------------------------------------------------- */

enum zt__cli_opt_kind {
    ZT__CLI_FLAG, /* dst is a bool *, set to true */
    ZT__CLI_STR,  /* dst is a const char **, set to the value (the last one given wins) */
    ZT__CLI_LIST, /* dst is a struct zt__cli_list: each value is added (a repeatable option) */
    ZT__CLI_HELP, /* prints the command's help on stdout; the command exits 0 */
};

/* The values of a repeatable option, at most max of them ("zentalk: at most
 * MAX NOUN" beyond). */
struct zt__cli_list {
    const char **v;
    size_t n, max;
    const char *noun;
};

struct zt__cli_opt {
    const char *name; /* --name (and --name=VALUE for ZT__CLI_STR) */
    char short_name;  /* -x as well, or 0 for the long form only */
    enum zt__cli_opt_kind kind;
    void *dst;
};

struct zt__cli_cmd {
    const char *name;      /* "attest", "privacy export": messages say "see zentalk NAME --help" */
    void (*usage)(FILE *); /* --help, or help below when NULL */
    const char *help;
    bool stop_at_operand;  /* options end at the first operand (getopt's '+'): TEXT may start with '-' */
};

#define ZT__CLI_OPT_MAX 24
#define ZT__CLI_PARSED (-1)

/* Parse the options in argv[first..argc) against the n entries of opts
 * (getopt_long: operands and options in any order unless stop_at_operand,
 * "--" ends the options). Returns ZT__CLI_PARSED with optind at the first
 * operand (operands are moved behind the options); or the exit status the
 * command returns at once: 0 after --help, 2 after an unknown option or a
 * missing value (the reason printed). */
int zt__cli_parse(int argc, char **argv, int first, const struct zt__cli_cmd *cmd, const struct zt__cli_opt *opts,
                  size_t n);
/* The same for an array opts. */
#define ZT__CLI_PARSE(argc, argv, first, cmd, opts) \
    zt__cli_parse(argc, argv, first, cmd, opts, sizeof(opts) / sizeof((opts)[0]))

/* True when no operand is left after the options; else says "unexpected
 * argument" and the command returns 2. */
bool zt__cli_no_operands(int argc, char **argv, const struct zt__cli_cmd *cmd);

/* A sub-verb (`zentalk ledger balance ADDRESS`) and how many operands
 * follow it. */
struct zt__cli_sub {
    const char *name;
    int operands;
};
/* The index in subs (n entries) of the sub-verb that the first operand
 * after the options names, when exactly its operands follow it; -1
 * otherwise (the caller prints its usage). */
int zt__cli_subverb(int argc, char **argv, const struct zt__cli_sub *subs, size_t n);
/* The same for an array subs. */
#define ZT__CLI_SUBVERB(argc, argv, subs) zt__cli_subverb((argc), (argv), (subs), sizeof(subs) / sizeof((subs)[0]))

/* ---- a node's answer ----------------------------------------------------- */

/* After a request (rc from zt__cli_http_get/_post_json, body and status):
 * 1 when the request failed (already said) or the status is not 200 (the
 * node's error message printed); else 0. */
int zt__cli_check_answer(int rc, long status, const struct zt_buf *body);

/* The JSON of j, indented, and a newline on stdout. */
void zt__cli_print_json(const json_t *j);

#endif
