/* cmd_ledger.h: `zentalk ledger audit|balance|deposit` (internal to the
 * CLI): the node's ledger, read and written in its database directly
 * (database.yaml of --config, node.data_dir or --data-dir), for the
 * operator on the node's machine. docs/cli.md, docs/internals/ledger.md. */
#ifndef ZT_CLI_LEDGER_H
#define ZT_CLI_LEDGER_H

#include <stdint.h>

struct zt_config;
struct zt_store;
struct zt_ledger;
/* The node's books as the CLI finds them (--config DIR, else the node's
 * configuration; --data-dir DIR over node.data_dir): *cfg loaded (the
 * caller deinits it), the store and the ledger open (st NULL: the
 * configuration only). Says why on stderr
 * and returns the error otherwise (cfg then needs no deinit). */
int zt__cli_ledger_open(const char *config_dir, const char *data_dir, struct zt_config *cfg, struct zt_store **st,
                        struct zt_ledger **l);

/* Print a page's JSON (j, taken; NULL: out of memory) on stdout, with
 * "next_before" when next_before is not 0: 0 or ZT_ENOMEM. */
struct json_t;
int zt__cli_ledger_print_page(struct json_t *j, int64_t next_before);
/* A decimal count or id at most max (digits only): 0 or ZT_EINVAL. */
int zt__cli_ledger_count(const char *s, uint64_t max, uint64_t *out);
/* A listing's page options, each when given: --limit (1..1000) into
 * *limit, --before (an entry or batch id) into *before. 0 or ZT_EINVAL. */
int zt__cli_ledger_page(const char *limit_s, const char *before_s, uint64_t *limit, uint64_t *before);

/* argv[0] is "ledger". Returns the exit status: 0, 1 error (audit: a
 * discrepancy), 2 usage. */
int zt__cli_ledger(int argc, char **argv);

#endif
