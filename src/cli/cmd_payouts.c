/* cmd_payouts.c: `zentalk payouts list|export|confirm|keygen` (cmd_payouts.h):
 * the payout batches in the node's database, for the operator on its
 * machine (the node's payout loop builds, signs and exports them on its
 * own; these are the manual steps and the views). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cmd_ledger.h"
#include "cmd_payouts.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_store.h"

static const char USAGE[] =
    "Usage: zentalk payouts list [--address ADDRESS] [--limit N] [--before BATCH] [--json] [--config DIR] [--data-dir DIR]\n"
    "       zentalk payouts export BATCH --out FILE [--config DIR] [--data-dir DIR]\n"
    "       zentalk payouts confirm BATCH [--config DIR] [--data-dir DIR]\n"
    "       zentalk payouts keygen --passphrase-env VAR [--out FILE] [--config DIR] [--data-dir DIR]\n"
    "The payout batches in the node's database (as zentalk ledger finds it). list shows\n"
    "them newest first (id, state, leaves, total in base units; with --address only the\n"
    "batches paying it, and its leaf). export writes a signed batch (EIP-712 domain of\n"
    "chain.yaml, root, signature, every leaf with its Merkle proof) to FILE and marks it\n"
    "submitted (again: the same bytes, the state stays). confirm marks a submitted batch\n"
    "confirmed (the chain included it). keygen writes a new payout key (secp256k1, mode\n"
    "0600, encrypted with the passphrase held in the variable VAR) to FILE, default\n"
    "chain.payout_key_file under node.data_dir, and prints its address.\n";

static int list(struct zt_ledger *l, const char *address, uint64_t before, uint64_t limit, bool json)
{
    struct zt_ledger_batch_info *b = zt_calloc((size_t)limit, sizeof *b);
    struct zt_ledger_leaf *lv = zt_calloc((size_t)limit, sizeof *lv);
    size_t n = 0;
    int rc = b && lv ? zt_ledger_batch_list(l, address, (int64_t)before, b, lv, (size_t)limit, &n) : ZT_ENOMEM;
    if (!rc && json) {
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++)
            if (json_array_append_new(a, zt_ledger_batch_to_json(&b[i], address ? &lv[i] : NULL))) {
                json_decref(a);
                a = NULL;
            }
        json_t *j = a ? json_pack("{s:o}", "payouts", a) : NULL;
        rc = zt__cli_ledger_print_page(j, n == limit ? b[n - 1].id : 0);
    } else if (!rc) {
        for (size_t i = 0; i < n; i++) {
            char tot[ZT_U128_STR_LEN], amt[ZT_U128_STR_LEN];
            zt_u128_format(b[i].total, tot);
            zt_u128_format(lv[i].amount, amt);
            printf("batch %-6lld %-9s %6llu leaves  total %s%s%s\n", (long long)b[i].id,
                   zt_ledger_batch_state_name(b[i].state), (unsigned long long)b[i].n_leaves, tot,
                   address ? "  yours " : "", address ? amt : "");
        }
        if (n == limit) printf("(more: --before %lld)\n", (long long)b[n - 1].id);
        if (n == 0) printf("(no payout batches)\n");
    }
    zt_free(b);
    zt_free(lv);
    return rc;
}

static int keygen(const struct zt_config *cfg, const char *out, const char *var)
{
    const char *pass = var ? getenv(var) : NULL;
    if (!pass || !*pass) {
        zt__cli_say("payouts keygen: the variable %s holds no passphrase", var ? var : "(none)");
        return ZT_EINVAL;
    }
    char path[4096];
    const char *kf = out ? out : cfg->chain.payout_key_file;
    const char *dir = cfg->node.data_dir ? cfg->node.data_dir : ".";
    int n = out || kf[0] == '/' ? snprintf(path, sizeof path, "%s", kf) : snprintf(path, sizeof path, "%s/%s", dir, kf);
    if (n < 0 || (size_t)n >= sizeof path) return ZT_ETOOBIG;
    struct zt_payout_key *k = NULL;
    int rc = zt_payout_key_generate(&k);
    if (!rc) rc = zt_payout_key_save(k, path, pass, strlen(pass), NULL);
    if (!rc) {
        uint8_t a[20];
        char hex[41];
        zt_payout_key_address(k, a);
        zt_hex_encode(hex, a, sizeof a);
        printf("0x%s (payout key written to %s)\n", hex, path);
    } else if (rc == ZT_EEXIST) {
        zt__cli_say("payouts keygen: %s exists (a payout key is never overwritten)", path);
    }
    zt_payout_key_free(k);
    return rc;
}

int zt__cli_payouts(int argc, char **argv)
{
    const char *config_dir = NULL, *data_dir = NULL, *address = NULL, *limit_s = NULL, *before_s = NULL,
               *out = NULL, *pass_env = NULL;
    bool json = false;
    const struct zt__cli_opt opts[] = {
        {"config", 'c', ZT__CLI_STR, &config_dir},   {"data-dir", 'D', ZT__CLI_STR, &data_dir},
        {"address", 'a', ZT__CLI_STR, &address},     {"limit", 'n', ZT__CLI_STR, &limit_s},
        {"before", 0, ZT__CLI_STR, &before_s},       {"json", 0, ZT__CLI_FLAG, &json},
        {"out", 'o', ZT__CLI_STR, &out},             {"passphrase-env", 'p', ZT__CLI_STR, &pass_env},
        {"help", 'h', ZT__CLI_HELP, NULL},
    };
    static const struct zt__cli_cmd cmd = {.name = "payouts", .help = USAGE};
    int prc = ZT__CLI_PARSE(argc, argv, 1, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc;
    enum { LIST, EXPORT, CONFIRM, KEYGEN };
    static const struct zt__cli_sub subs[] = {
        [LIST] = {"list", 0}, [EXPORT] = {"export", 1}, [CONFIRM] = {"confirm", 1}, [KEYGEN] = {"keygen", 0}};
    int sv = ZT__CLI_SUBVERB(argc, argv, subs);
    bool ls = sv == LIST, exp = sv == EXPORT, conf = sv == CONFIRM, kg = sv == KEYGEN;
    if (sv < 0 || (exp && !out) || (kg && !pass_env)) {
        fputs(USAGE, stderr);
        return 2;
    }
    char **op = argv + optind;
    const char *sub = op[0];
    uint64_t limit = 20, before = 0, batch = 0;
    uint8_t a20[20];
    if (zt__cli_ledger_page(limit_s, before_s, &limit, &before) ||
        ((exp || conf) && (zt__cli_ledger_count(op[1], INT64_MAX, &batch) || batch == 0)) ||
        (address && zt_ledger_parse_address(address, a20))) {
        fputs("zentalk: --limit is 1..1000, --before and BATCH batch ids, --address 0x + 40 hex\n", stderr);
        return 2;
    }
    struct zt_config cfg;
    struct zt_store *st = NULL;
    struct zt_ledger *l = NULL;
    if (zt__cli_ledger_open(config_dir, data_dir, &cfg, kg ? NULL : &st, &l)) return 1;
    int rc = 0;
    if (ls) {
        rc = list(l, address, before, limit, json);
    } else if (kg) {
        rc = keygen(&cfg, out, pass_env);
    } else if (conf) {
        rc = zt_ledger_batch_confirm(l, (int64_t)batch);
        if (!rc) printf("batch %llu confirmed\n", (unsigned long long)batch);
    } else {
        struct zt_eip712_domain d = {.name = ZT_PAYOUT_DOMAIN_NAME,
                                     .version = ZT_PAYOUT_DOMAIN_VERSION,
                                     .chain_id = (uint64_t)cfg.chain.payout_chain_id};
        const char *ct = cfg.chain.payout_contract ? cfg.chain.payout_contract : "";
        if (ct[0] && zt_ledger_parse_address(ct, d.contract)) rc = ZT_ECONFIG;
        if (!rc) rc = zt_ledger_batch_export(l, (int64_t)batch, &d, out);
        if (!rc) printf("batch %llu written to %s (submitted)\n", (unsigned long long)batch, out);
    }
    if (rc && rc != ZT_EEXIST && !(kg && rc == ZT_EINVAL))
        zt__cli_say("payouts %s: %s", sub,
                    rc == ZT_EPERM     ? (exp ? "the batch is not signed yet (the node signs it with its payout key)"
                                              : "the batch was not submitted yet")
                    : rc == ZT_ENOTFOUND ? "no such batch"
                                         : zt_strerror(rc));
    zt_ledger_free(l);
    zt_store_close(st);
    zt_config_deinit(&cfg);
    return rc ? 1 : 0;
}
