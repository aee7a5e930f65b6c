/* cmd_ledger.c: `zentalk ledger audit|balance|deposit` (cmd_ledger.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_ledger.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_store.h"


static const char USAGE[] =
    "Usage: zentalk ledger audit [--config DIR] [--data-dir DIR]\n"
    "       zentalk ledger balance ADDRESS [--config DIR] [--data-dir DIR]\n"
    "       zentalk ledger deposit ADDRESS TOKENS --key KEY [--config DIR] [--data-dir DIR]\n"
    "The node's CHAIN ledger, in its database (database.yaml of --config DIR, else the\n"
    "node's configuration as the node finds it; SQLite files relative to node.data_dir or\n"
    "--data-dir DIR). audit checks the books (balanced transactions, every account's\n"
    "history, the sum of balances = the total minted) and prints the first discrepancy\n"
    "(exit 1). balance prints a wallet's balance in base units (10^18 per token).\n"
    "deposit mints TOKENS (exact decimal text, e.g. 1.5) into a wallet, once per KEY.\n";

static int open_books(const char *config_dir, const char *data_dir, struct zt_store **st, struct zt_ledger **l)
{
    int rc = zt__cli_open_store(config_dir, data_dir, st);
    if (!rc && (rc = zt_ledger_new(*st, l)) != 0) {
        zt_store_close(*st);
        fprintf(stderr, "zentalk: the ledger: %s\n", zt_strerror(rc));
    }
    return rc;
}

int zt__cli_ledger(int argc, char **argv)
{
    const char *config_dir = NULL, *data_dir = NULL, *key = NULL;
    const struct zt__cli_opt opts[] = {
        {"config", 'c', ZT__CLI_STR, &config_dir}, {"data-dir", 'D', ZT__CLI_STR, &data_dir},
        {"key", 'k', ZT__CLI_STR, &key}, {"help", 'h', ZT__CLI_HELP, NULL},
    };
    static const struct zt__cli_cmd cmd = {.name = "ledger", .help = USAGE};
    int prc = ZT__CLI_PARSE(argc, argv, 1, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc;
    int nop = argc - optind;
    char **op = argv + optind;
    const char *sub = nop > 0 ? op[0] : "";
    bool audit = strcmp(sub, "audit") == 0, balance = strcmp(sub, "balance") == 0,
         deposit = strcmp(sub, "deposit") == 0;
    if (!(audit && nop == 1) && !(balance && nop == 2) && !(deposit && nop == 3 && key)) {
        fputs(USAGE, stderr);
        return 2;
    }
    zt_u128 amount = 0;
    uint8_t a20[20];
    if ((balance || deposit) && zt_ledger_parse_address(op[1], a20)) {
        fprintf(stderr, "zentalk: ADDRESS must be 0x and 40 hexadecimal digits\n");
        return 2;
    }
    if (deposit && (zt_u128_parse_tokens(op[2], strlen(op[2]), &amount) || amount == 0)) {
        fprintf(stderr, "zentalk: TOKENS must be a positive decimal amount (at most 18 decimals)\n");
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
    } else {
        bool replayed = false;
        char k[ZT_LEDGER_KEY_MAX + 1];
        if (deposit && (size_t)snprintf(k, sizeof k, "deposit:%s", key) >= sizeof k) rc = ZT_EINVAL;
        if (!rc) rc = zt_ledger_account(l, ZT_LEDGER_USER, op[1], NULL, &id);
        if (!rc && deposit) rc = zt_ledger_mint(l, k, id, amount, NULL, &replayed);
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
