/* cmd_ledger.c: `zentalk ledger audit|balance|deposit|history|prefer|stake|wallet`
 * (cmd_ledger.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_ledger.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"

extern char **environ;

static const char USAGE[] =
    "Usage: zentalk ledger audit [--config DIR] [--data-dir DIR]\n"
    "       zentalk ledger balance ADDRESS [--config DIR] [--data-dir DIR]\n"
    "       zentalk ledger deposit ADDRESS TOKENS --key KEY [--config DIR] [--data-dir DIR]\n"
    "       zentalk ledger history ACCOUNT [--limit N] [--before ENTRY] [--json] [--config DIR] [--data-dir DIR]\n"
    "       zentalk ledger prefer database --chain-version V [--config DIR] [--data-dir DIR]\n"
    "       zentalk ledger prefer chain --yes [--config DIR] [--data-dir DIR]\n"
    "       zentalk ledger stake NODE TOKENS --key KEY [--config DIR] [--data-dir DIR]\n"
    "       zentalk ledger wallet NODE ADDRESS [--config DIR] [--data-dir DIR]\n"
    "The node's CHAIN ledger, in its database (database.yaml of --config DIR, else the\n"
    "node's configuration as the node finds it; SQLite files relative to node.data_dir or\n"
    "--data-dir DIR). audit checks the books (balanced transactions, every account's\n"
    "history, the sum of balances = the total minted) and prints the first discrepancy\n"
    "(exit 1). balance prints a wallet's balance in base units (10^18 per token).\n"
    "deposit mints TOKENS (exact decimal text, e.g. 1.5) into a wallet, once per KEY.\n"
    "history prints an account's entries, newest first, N at a time (default 20; the\n"
    "next page: --before the last ENTRY shown). ACCOUNT is a wallet (0x..), a node id\n"
    "(its earnings), stake:NODE (its stake), fee, treasury, escrow or payouts.\n"
    "stake mints TOKENS into a node's stake, once per KEY (placement gives work only to\n"
    "nodes with chain.min_stake staked). wallet sets the payout wallet of a node.\n"
    "prefer settles a rebuild from the mesh that was refused because the database's\n"
    "ledger and the chain's each hold changes the other lacks, before rebuilding again\n"
    "(zentalk-node --rebuild-from-mesh): database marks the database's ledger newer than\n"
    "the chain's version V (the one the refusal named), so the rebuild keeps it and\n"
    "replays this orchestrator's jobs only; chain empties the ledger (for good: --yes),\n"
    "so the rebuild restores the chain's, and marks it awaiting that rebuild: until the\n"
    "rebuild replays a chain, every ledger write on the database (any orchestrator's)\n"
    "is refused as busy and database sync publishes nothing of the ledger (so the\n"
    "deletes never reach a chain). Run the rebuild at once after it.\n";

int zt__cli_ledger_open(const char *config_dir, const char *data_dir, struct zt_config *cfg, struct zt_store **st,
                        struct zt_ledger **l)
{
    struct zt_buf errs;
    memset(cfg, 0, sizeof *cfg);
    zt_buf_init(&errs, 1 << 16);
    int rc = zt_config_init_defaults(cfg);
    const char *dir = config_dir ? config_dir : zt_config_default_dir();
    if (!dir && access("config", R_OK) == 0) dir = "config";
    if (!rc && dir) rc = zt_config_load_dir(cfg, dir, &errs);
    if (!rc) rc = zt_config_apply_env(cfg, environ, &errs);
    if (!rc && data_dir) rc = zt_config_set(cfg, "node.data_dir", data_dir, "--data-dir", &errs);
    if (!rc && st) rc = zt_store_open_config(cfg, NULL, st, &errs);
    if (!rc && st && (rc = zt_ledger_new(*st, l)) != 0) {
        zt_store_close(*st);
        zt_buf_sayf(&errs, "the ledger: %s", zt_strerror(rc));
    }
    if (rc) {
        fprintf(stderr, "zentalk: %s\n", errs.len ? zt_buf_str(&errs) : zt_strerror(rc));
        zt_config_deinit(cfg);
    }
    zt_buf_deinit(&errs);
    return rc;
}

static int open_books(const char *config_dir, const char *data_dir, struct zt_store **st, struct zt_ledger **l)
{
    struct zt_config cfg;
    int rc = zt__cli_ledger_open(config_dir, data_dir, &cfg, st, l);
    if (!rc) zt_config_deinit(&cfg);
    return rc;
}

/* ACCOUNT of `ledger history` to its (kind, owner) */
static int parse_account(const char *a, enum zt_ledger_kind *kind, const char **owner)
{
    static const enum zt_ledger_kind sys[] = {ZT_LEDGER_FEE, ZT_LEDGER_TREASURY, ZT_LEDGER_ESCROW, ZT_LEDGER_PAYOUT};
    uint8_t a20[20];
    for (size_t i = 0; i < sizeof sys / sizeof sys[0]; i++)
        if (strcmp(a, zt_ledger_kind_name(sys[i])) == 0) {
            *kind = sys[i];
            *owner = a;
            return 0;
        }
    if (strncmp(a, "0x", 2) == 0) {
        *kind = ZT_LEDGER_USER;
        *owner = a;
        return zt_ledger_parse_address(a, a20);
    }
    bool stake = strncmp(a, "stake:", 6) == 0;
    *kind = stake ? ZT_LEDGER_STAKE : ZT_LEDGER_PROVIDER;
    *owner = stake ? a + 6 : a;
    return zt_identity_id_valid(*owner) ? 0 : ZT_EINVAL;
}

int zt__cli_ledger_print_page(json_t *j, int64_t next_before)
{
    if (j && next_before) json_object_set_new(j, "next_before", json_integer((json_int_t)next_before));
    char *t = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (t) puts(t);
    free(t);
    json_decref(j);
    return t ? 0 : ZT_ENOMEM;
}

int zt__cli_ledger_count(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s) return ZT_EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (max - (uint64_t)(*s - '0')) / 10) return ZT_EINVAL;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

int zt__cli_ledger_page(const char *limit_s, const char *before_s, uint64_t *limit, uint64_t *before)
{
    if (limit_s && (zt__cli_ledger_count(limit_s, 1000, limit) || *limit == 0)) return ZT_EINVAL;
    if (before_s && zt__cli_ledger_count(before_s, INT64_MAX, before)) return ZT_EINVAL;
    return 0;
}

static int history(struct zt_ledger *l, enum zt_ledger_kind kind, const char *owner, uint64_t before, uint64_t limit,
                   bool json)
{
    int64_t id;
    size_t n = 0;
    struct zt_ledger_hist *h = zt_calloc((size_t)limit, sizeof *h);
    if (!h) return ZT_ENOMEM;
    int rc = zt_ledger_account(l, kind, owner, NULL, &id);
    if (!rc) rc = zt_ledger_history(l, id, (int64_t)before, h, (size_t)limit, &n);
    if (!rc && json) {
        json_t *a = zt_ledger_history_to_json(h, n);
        json_t *j = a ? json_pack("{s:s,s:s,s:o}", "kind", zt_ledger_kind_name(kind), "owner", owner, "entries", a)
                      : NULL;
        rc = zt__cli_ledger_print_page(j, n == limit ? h[n - 1].entry_id : 0);
    } else if (!rc) {
        for (size_t i = 0; i < n; i++) {
            char amt[ZT_U128_STR_LEN], bal[ZT_U128_STR_LEN + 1];
            zt_u128_format(h[i].amount, amt);
            bal[0] = '-';
            zt_u128_format(h[i].balance_after.mag, bal + 1);
            printf("%-8lld %c%-40s balance %-40s %s\n", (long long)h[i].entry_id, h[i].credit ? '+' : '-', amt,
                   h[i].balance_after.neg && h[i].balance_after.mag ? bal : bal + 1, h[i].key);
        }
        if (n == limit) printf("(more: --before %lld)\n", (long long)h[n - 1].entry_id);
        if (n == 0) printf("(no entries)\n");
    }
    zt_free(h);
    return rc;
}

int zt__cli_ledger(int argc, char **argv)
{
    const char *config_dir = NULL, *data_dir = NULL, *key = NULL, *limit_s = NULL, *before_s = NULL,
               *chain_v_s = NULL;
    bool json = false, yes = false;
    const struct zt__cli_opt opts[] = {
        {"config", 'c', ZT__CLI_STR, &config_dir}, {"data-dir", 'D', ZT__CLI_STR, &data_dir},
        {"key", 'k', ZT__CLI_STR, &key},           {"limit", 'n', ZT__CLI_STR, &limit_s},
        {"before", 0, ZT__CLI_STR, &before_s},     {"json", 0, ZT__CLI_FLAG, &json},
        {"chain-version", 0, ZT__CLI_STR, &chain_v_s}, {"yes", 0, ZT__CLI_FLAG, &yes},
        {"help", 'h', ZT__CLI_HELP, NULL},
    };
    static const struct zt__cli_cmd cmd = {.name = "ledger", .help = USAGE};
    int prc = ZT__CLI_PARSE(argc, argv, 1, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc;
    enum { AUDIT, BALANCE, DEPOSIT, HISTORY, PREFER, STAKE, WALLET };
    static const struct zt__cli_sub subs[] = {[AUDIT] = {"audit", 0},     [BALANCE] = {"balance", 1},
                                              [DEPOSIT] = {"deposit", 2}, [HISTORY] = {"history", 1},
                                              [PREFER] = {"prefer", 1},   [STAKE] = {"stake", 2},
                                              [WALLET] = {"wallet", 2}};
    int sv = ZT__CLI_SUBVERB(argc, argv, subs);
    bool audit = sv == AUDIT, balance = sv == BALANCE, deposit = sv == DEPOSIT, hist = sv == HISTORY,
         prefer = sv == PREFER, stake = sv == STAKE, wallet = sv == WALLET;
    if (sv < 0 || ((deposit || stake) && !key)) {
        fputs(USAGE, stderr);
        return 2;
    }
    char **op = argv + optind;
    const char *sub = op[0];
    bool keep_db = prefer && strcmp(op[1], "database") == 0, take_chain = prefer && strcmp(op[1], "chain") == 0;
    int64_t chain_v = -1;
    if (prefer && !keep_db && !take_chain) {
        fprintf(stderr, "zentalk: ledger prefer takes database or chain\n");
        return 2;
    }
    if (keep_db && (!chain_v_s || zt_str_to_i64(chain_v_s, &chain_v) || chain_v < 0)) {
        fprintf(stderr, "zentalk: ledger prefer database needs --chain-version V, the chain's ledger version the "
                        "refused rebuild named (a number >= 0)\n");
        return 2;
    }
    if (take_chain && !yes) {
        fprintf(stderr, "zentalk: ledger prefer chain deletes the database's ledger for good (a rebuild from the mesh "
                        "restores the chain's); add --yes to confirm\n");
        return 2;
    }
    zt_u128 amount = 0;
    uint8_t a20[20];
    uint64_t limit = 20, before = 0;
    enum zt_ledger_kind kind = ZT_LEDGER_USER;
    const char *owner = NULL;
    if ((balance || deposit) && zt_ledger_parse_address(op[1], a20)) {
        fprintf(stderr, "zentalk: ADDRESS must be 0x and 40 hexadecimal digits\n");
        return 2;
    }
    if ((stake || wallet) && !zt_identity_id_valid(op[1])) {
        fprintf(stderr, "zentalk: NODE must be a node id (zt1...)\n");
        return 2;
    }
    if (wallet && zt_ledger_parse_address(op[2], a20)) {
        fprintf(stderr, "zentalk: ADDRESS must be 0x and 40 hexadecimal digits\n");
        return 2;
    }
    if ((deposit || stake) && (zt_u128_parse_tokens(op[2], strlen(op[2]), &amount) || amount == 0)) {
        fprintf(stderr, "zentalk: TOKENS must be a positive decimal amount (at most 18 decimals)\n");
        return 2;
    }
    if (hist && parse_account(op[1], &kind, &owner)) {
        fprintf(stderr, "zentalk: ACCOUNT is 0x + 40 hex, a node id, stake:NODE, fee, treasury, escrow or payouts\n");
        return 2;
    }
    if (zt__cli_ledger_page(limit_s, before_s, &limit, &before)) {
        fprintf(stderr, "zentalk: --limit is 1..1000, --before an entry number\n");
        return 2;
    }
    struct zt_store *st = NULL;
    struct zt_ledger *l = NULL;
    if (open_books(config_dir, data_dir, &st, &l)) return 1;
    int rc = 0, status = 0;
    int64_t id = 0;
    if (audit) {
        char why[512] = "";
        rc = zt_ledger_audit(l, why, sizeof why);
        if (rc == ZT_ERANGE) {
            printf("ledger audit: FAILED: %s\n", why);
            status = 1;
            rc = 0;
        } else if (!rc) {
            zt_u128 minted = 0;
            char ms[ZT_U128_STR_LEN];
            rc = zt_ledger_minted(l, &minted);
            zt_u128_format(minted, ms);
            if (!rc) printf("ledger audit: ok (minted %s base units; every balance and history checks)\n", ms);
        }
    } else if (hist) {
        rc = history(l, kind, owner, before, limit, json);
    } else if (keep_db) {
        int64_t v = 0;
        rc = zt_ledger_prefer_database(l, chain_v, &v);
        if (!rc)
            printf("ledger version %lld (newer than the chain's %lld): a rebuild keeps the database's ledger and "
                   "replays this orchestrator's jobs only\n",
                   (long long)v, (long long)chain_v);
    } else if (take_chain) {
        rc = zt_ledger_clear(l);
        if (!rc) {
            zt_ledger_free(l);
            l = NULL;
            rc = zt_ledger_new(st, &l); /* its system accounts again: a fresh seed */
        }
        if (!rc)
            printf("ledger emptied and marked awaiting a rebuild (ledger writes refused until then): run "
                   "zentalk-node --rebuild-from-mesh now to restore the chain's ledger\n");
    } else if (wallet) {
        char norm[43];
        rc = zt_ledger_set_wallet(l, op[1], op[2]);
        if (!rc) rc = zt_ledger_payout_address(l, op[1], norm);
        if (!rc) printf("%s pays out to %s\n", op[1], norm);
    } else {
        bool replayed = false;
        char k[ZT_LEDGER_KEY_MAX + 1];
        if (deposit && (size_t)snprintf(k, sizeof k, "deposit:%s", key) >= sizeof k) rc = ZT_EINVAL;
        if (!rc) rc = zt_ledger_account(l, stake ? ZT_LEDGER_STAKE : ZT_LEDGER_USER, op[1], NULL, &id);
        if (!rc && deposit) rc = zt_ledger_mint(l, k, id, amount, NULL, &replayed);
        if (!rc && stake) rc = zt_ledger_stake_deposit(l, key, op[1], amount, &replayed);
        struct zt_ledger_bal b;
        if (!rc) rc = zt_ledger_balance(l, id, &b);
        if (!rc) {
            char bs[ZT_U128_STR_LEN];
            zt_u128_format(b.mag, bs);
            printf("%s%s\n", bs, replayed ? " (deposit already made under this key)" : "");
        }
    }
    if (rc) {
        fprintf(stderr, "zentalk: ledger %s: %s\n", sub, rc == ZT_EEXIST ? "KEY was used for another deposit" : zt_strerror(rc));
        status = 1;
    }
    zt_ledger_free(l);
    zt_store_close(st);
    return status;
}
