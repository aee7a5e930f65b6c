/* cmd_webhooks.c: `zentalk webhooks list` (cmd_webhooks.h): the webhook
 * outbox of the node's API bridge (zt_bridge.h), read from its database
 * like `zentalk ledger`. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "cmd_ledger.h"
#include "cmd_webhooks.h"
#include "zentalk/zt_bridge.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"

static const char USAGE[] =
    "Usage: zentalk webhooks list [--all] [--json] [--config DIR] [--data-dir DIR]\n"
    "The webhooks this node sends to its API server (integration.api_url: job completions,\n"
    "payouts), from the outbox in its database (database.yaml of --config DIR, else the\n"
    "node's configuration as the node finds it; SQLite files relative to node.data_dir or\n"
    "--data-dir DIR). list shows those pending (with their attempts, next attempt and last\n"
    "error) and those that failed for good; --all adds the delivered ones.\n";

static int open_outbox(const char *config_dir, const char *data_dir, struct zt_store **st)
{
    struct zt_config cfg; /* the node's configuration, as `zentalk ledger` reads it */
    int rc = zt__cli_ledger_open(config_dir, data_dir, &cfg, NULL, NULL);
    if (rc) return rc;
    struct zt_buf errs;
    zt_buf_init(&errs, 1 << 16);
    rc = zt_store_open_config(&cfg, NULL, st, &errs);
    if (!rc && (rc = zt_bridge_migrate(*st)) != 0) {
        zt_store_close(*st);
        zt_buf_sayf(&errs, "the webhook outbox: %s", zt_strerror(rc));
    }
    if (rc) fprintf(stderr, "zentalk: %s\n", errs.len ? zt_buf_str(&errs) : zt_strerror(rc));
    zt_buf_deinit(&errs);
    zt_config_deinit(&cfg);
    return rc;
}

struct printer {
    bool json;
    json_t *arr;
};

static void utc(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm)) zt_strlcpy(out, "-", cap);
}

static int print_row(void *ud, const struct zt_bridge_row *r)
{
    struct printer *p = ud;
    char created[32], next[32];
    utc(r->created_ms, created, sizeof created);
    utc(r->next_ms, next, sizeof next);
    if (p->json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:I,s:s}", "key", r->key, "type", r->type, "state",
                              zt_bridge_state_name(r->state), "attempts", (json_int_t)r->attempts, "created", created,
                              "next_attempt", r->state == ZT_BRIDGE_PENDING ? next : "", "last_status",
                              (json_int_t)r->last_status, "last_error", r->last_error);
        return o && json_array_append_new(p->arr, o) == 0 ? 0 : ZT_ENOMEM;
    }
    printf("%-9s %-15s %3lld  %-20s  %-20s  %s  %s\n", zt_bridge_state_name(r->state), r->type,
           (long long)r->attempts, created, r->state == ZT_BRIDGE_PENDING ? next : "-", r->key,
           r->last_error[0] ? r->last_error : "");
    return 0;
}

int zt__cli_webhooks(int argc, char **argv)
{
    const char *config_dir = NULL, *data_dir = NULL;
    bool all = false, json = false;
    const struct zt__cli_opt opts[] = {
        {"config", 'c', ZT__CLI_STR, &config_dir}, {"data-dir", 'D', ZT__CLI_STR, &data_dir},
        {"all", 'a', ZT__CLI_FLAG, &all},          {"json", 'j', ZT__CLI_FLAG, &json},
        {"help", 'h', ZT__CLI_HELP, NULL},
    };
    static const struct zt__cli_cmd cmd = {.name = "webhooks", .help = USAGE};
    int prc = ZT__CLI_PARSE(argc, argv, 1, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc;
    if (argc - optind != 1 || strcmp(argv[optind], "list") != 0) {
        fputs(USAGE, stderr);
        return 2;
    }
    struct zt_store *st = NULL;
    if (open_outbox(config_dir, data_dir, &st)) return 1;
    struct printer p = {.json = json, .arr = json ? json_array() : NULL};
    int64_t c[3] = {0, 0, 0};
    int rc = json && !p.arr ? ZT_ENOMEM : zt_bridge_counts(st, c);
    if (!rc && !json)
        printf("webhooks: %lld pending, %lld failed, %lld delivered\n%-9s %-15s %3s  %-20s  %-20s  %s  %s\n",
               (long long)c[0], (long long)c[2], (long long)c[1], "STATE", "TYPE", "TRY", "CREATED", "NEXT ATTEMPT",
               "KEY", "LAST ERROR");
    if (!rc) rc = zt_bridge_list(st, ZT_BRIDGE_PENDING, 1000, print_row, &p);
    if (!rc) rc = zt_bridge_list(st, ZT_BRIDGE_FAILED, 1000, print_row, &p);
    if (!rc && all) rc = zt_bridge_list(st, ZT_BRIDGE_DELIVERED, 1000, print_row, &p);
    if (!rc && json) zt__cli_print_json(p.arr);
    json_decref(p.arr);
    zt_store_close(st);
    if (rc) fprintf(stderr, "zentalk: webhooks list: %s\n", zt_strerror(rc));
    return rc ? 1 : 0;
}
