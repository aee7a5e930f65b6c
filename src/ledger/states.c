/* states.c: a payout batch's life after it is built (zt_ledger.h;
 * docs/internals/ledger.md "Signed batches"): pending -> signed (the
 * EIP-712 signature stored with it) -> submitted (an export file or a
 * submit hook, its reference stored) -> confirmed. Each step is a compare
 * and set on the state in one zt_store_tx, so a crash or a second
 * orchestrator at any moment neither repeats nor skips one; what goes to
 * the chain (the JSON) is a pure function of the stored batch. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_file.h"

const char *zt_ledger_batch_state_name(int state)
{
    switch (state) {
    case ZT_BATCH_PENDING: return "pending";
    case ZT_BATCH_SIGNED: return "signed";
    case ZT_BATCH_SUBMITTED: return "submitted";
    case ZT_BATCH_CONFIRMED: return "confirmed";
    default: return "unknown";
    }
}

int zt__ledger_write_file(const char *path, const void *p, size_t n, unsigned mode)
{
    char tmp[4096], dir[4096];
    int k = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (k < 0 || (size_t)k >= sizeof tmp) return ZT_ETOOBIG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (fd < 0) return ZT_EIO;
    int rc = zt_fd_write_full(fd, p, n);
    if (!rc && fsync(fd) != 0) rc = ZT_EIO;
    if (close(fd) != 0 && !rc) rc = ZT_EIO;
    if (!rc && rename(tmp, path) != 0) rc = ZT_EIO;
    if (rc) {
        unlink(tmp);
        return rc;
    }
    const char *slash = strrchr(path, '/');
    size_t dn = slash ? (size_t)(slash - path) : 1;
    if (slash && dn == 0) dn = 1;
    memcpy(dir, slash ? path : ".", dn);
    dir[dn] = '\0';
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0) rc = ZT_EIO;
        close(dfd);
    }
    return rc;
}

/* ---- reading a batch ---------------------------------------------------------------- */

int zt__ledger_batch_read(struct zt_store *st, int64_t id, struct zt_ledger_batch_info *o)
{
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(st, "SELECT root, n_leaves, total, state, created, sig, tx_ref FROM ledger_batches"
                                  " WHERE id = ?",
                              &q);
    if (rc) return rc;
    if ((rc = zt_store_bind_i64(q, 1, id)) || (rc = zt__ledger_row(q))) goto out;
    const void *r, *sig;
    const char *tot, *ref;
    size_t rn, tn, sn, refn;
    int64_t nl, state, created;
    *o = (struct zt_ledger_batch_info){.id = id};
    if ((rc = zt_store_column_blob(q, 0, &r, &rn)) || (rc = zt_store_column_i64(q, 1, &nl)) ||
        (rc = zt_store_column_text(q, 2, &tot, &tn)) || (rc = zt_store_column_i64(q, 3, &state)) ||
        (rc = zt_store_column_i64(q, 4, &created)))
        goto out;
    if (rn != ZT_MERKLE_HASH || nl <= 0 || state < 0 || state > ZT_BATCH_CONFIRMED || zt_u128_parse(tot, tn, &o->total)) {
        rc = ZT_EIO;
        goto out;
    }
    memcpy(o->root, r, ZT_MERKLE_HASH);
    o->n_leaves = (uint64_t)nl;
    o->state = (int)state;
    o->created_ms = created;
    if (zt_store_column_type(q, 5) != ZT_STORE_NULL) {
        if ((rc = zt_store_column_blob(q, 5, &sig, &sn))) goto out;
        if (sn != ZT_EIP712_SIG_LEN) {
            rc = ZT_EIO;
            goto out;
        }
        memcpy(o->sig, sig, sn);
        o->has_sig = true;
    }
    if (zt_store_column_type(q, 6) != ZT_STORE_NULL) {
        if ((rc = zt_store_column_text(q, 6, &ref, &refn))) goto out;
        if (refn >= sizeof o->tx_ref) refn = sizeof o->tx_ref - 1;
        memcpy(o->tx_ref, ref, refn);
        o->tx_ref[refn] = '\0';
    }
out:
    zt_store_stmt_free(q);
    return rc;
}

struct info_args {
    int64_t id;
    struct zt_ledger_batch_info *o;
};

static int info_body(struct zt_store *st, void *ud)
{
    struct info_args *a = ud;
    return zt__ledger_batch_read(st, a->id, a->o);
}

int zt_ledger_batch_info(struct zt_ledger *l, int64_t batch_id, struct zt_ledger_batch_info *out)
{
    if (!l || !out) return ZT_EINVAL;
    struct zt_ledger_batch_info o;
    struct info_args a = {.id = batch_id, .o = &o};
    int rc = zt_store_tx(l->st, info_body, &a);
    if (!rc) *out = o;
    return rc;
}

/* ---- pending -> signed ------------------------------------------------------------------ */

struct sign_args {
    int64_t id;
    const struct zt_eip712_domain *d;
    const struct zt_payout_key *key;
    uint8_t sig[ZT_EIP712_SIG_LEN];
};

static int sign_body(struct zt_store *st, void *ud)
{
    struct sign_args *a = ud;
    struct zt_ledger_batch_info o;
    int rc = zt__ledger_batch_read(st, a->id, &o);
    if (rc) return rc;
    if (o.state != ZT_BATCH_PENDING) {
        if (!o.has_sig) return ZT_EIO;
        memcpy(a->sig, o.sig, sizeof a->sig);
        return 0;
    }
    uint8_t dom[32], sh[32], dg[32];
    zt_eip712_domain_separator(a->d, dom);
    zt_payout_batch_hash((uint64_t)a->id, o.root, o.total, o.n_leaves, sh);
    zt_eip712_digest(dom, sh, dg);
    if ((rc = zt_payout_key_sign(a->key, dg, a->sig))) return rc;
    struct zt_store_stmt *q = NULL;
    if ((rc = zt_store_prepare(st, "UPDATE ledger_batches SET sig = ?, state = 1 WHERE id = ? AND state = 0", &q)))
        return rc;
    if (!(rc = zt_store_bind_blob(q, 1, a->sig, sizeof a->sig)) && !(rc = zt_store_bind_i64(q, 2, a->id)))
        rc = zt__ledger_run(q);
    zt_store_stmt_free(q);
    return rc;
}

int zt_ledger_batch_sign(struct zt_ledger *l, int64_t batch_id, const struct zt_eip712_domain *d,
                         const struct zt_payout_key *key, uint8_t *sig)
{
    if (!l || !d || !d->name || !d->version || !key) return ZT_EINVAL;
    struct sign_args a = {.id = batch_id, .d = d, .key = key};
    int rc = zt__ledger_write_tx(l, sign_body, &a);
    if (!rc && sig) memcpy(sig, a.sig, sizeof a.sig);
    return rc;
}

/* ---- the batch as JSON ------------------------------------------------------------------- */

static void hex0x(char *out, const uint8_t *p, size_t n)
{
    out[0] = '0';
    out[1] = 'x';
    zt_hex_encode(out + 2, p, n);
}

struct json_args {
    int64_t id;
    const struct zt_eip712_domain *d;
    char *text;
    size_t len;
};

/* The leaves in index order with their proofs, into arr. */
static int leaves_json(struct zt_store *st, int64_t id, uint64_t nl, const uint8_t root[static 32], json_t *arr)
{
    struct zt_store_stmt *q = NULL;
    struct zt_ledger_leaf *lv = zt_calloc((size_t)nl, sizeof *lv);
    uint8_t (*h)[ZT_MERKLE_HASH] = zt_calloc((size_t)nl, sizeof *h);
    struct zt_merkle *m = NULL;
    int rc = ZT_ENOMEM;
    if (!lv || !h) goto out;
    if ((rc = zt_store_prepare(st, "SELECT idx, address, amount FROM ledger_batch_leaves WHERE batch_id = ? ORDER BY idx",
                               &q)) ||
        (rc = zt_store_bind_i64(q, 1, id)))
        goto out;
    uint64_t i = 0;
    while ((rc = zt_store_step(q)) == ZT_STORE_ROW) {
        int64_t idx;
        const char *ad, *am;
        size_t adn, amn;
        if ((rc = zt_store_column_i64(q, 0, &idx)) || (rc = zt_store_column_text(q, 1, &ad, &adn)) ||
            (rc = zt_store_column_text(q, 2, &am, &amn)))
            goto out;
        if (i >= nl || idx != (int64_t)i || zt_ledger_parse_address(ad, lv[i].address) ||
            zt_u128_parse(am, amn, &lv[i].amount)) {
            rc = ZT_EIO;
            goto out;
        }
        lv[i].index = i;
        zt_merkle_leaf(i, lv[i].address, lv[i].amount, h[i]);
        i++;
    }
    if (rc != ZT_STORE_DONE) goto out;
    if (i != nl) {
        rc = ZT_EIO;
        goto out;
    }
    if ((rc = zt_merkle_build((const uint8_t(*)[ZT_MERKLE_HASH])h, (size_t)nl, &m))) goto out;
    uint8_t r2[32];
    zt_merkle_root(m, r2);
    if (memcmp(r2, root, 32) != 0) {
        rc = ZT_EIO;
        goto out;
    }
    for (i = 0; i < nl; i++) {
        uint8_t proof[ZT_MERKLE_MAX_DEPTH][ZT_MERKLE_HASH];
        size_t pn;
        if ((rc = zt_merkle_proof(m, (size_t)i, proof, ZT_MERKLE_MAX_DEPTH, &pn))) goto out;
        char addr[43], amt[ZT_U128_STR_LEN], hx[67];
        hex0x(addr, lv[i].address, 20);
        zt_u128_format(lv[i].amount, amt);
        json_t *pj = json_array(), *leaf = NULL;
        for (size_t j = 0; pj && j < pn; j++) {
            hex0x(hx, proof[j], 32);
            if (json_array_append_new(pj, json_string(hx))) goto nomem;
        }
        hex0x(hx, h[i], 32);
        leaf = json_pack("{s:I,s:s,s:s,s:s,s:o}", "index", (json_int_t)i, "address", addr, "amount", amt, "leaf", hx,
                         "proof", pj);
        pj = NULL;
        if (!leaf || json_array_append_new(arr, leaf)) goto nomem;
        continue;
    nomem:
        json_decref(pj);
        rc = ZT_ENOMEM;
        goto out;
    }
    rc = 0;
out:
    zt_store_stmt_free(q);
    zt_merkle_free(m);
    zt_free(lv);
    zt_free(h);
    return rc;
}

static int json_body(struct zt_store *st, void *ud)
{
    struct json_args *a = ud;
    struct zt_ledger_batch_info o;
    int rc = zt__ledger_batch_read(st, a->id, &o);
    if (rc) return rc;
    if (!o.has_sig) return ZT_EPERM; /* pending: sign it first */
    char root[67], sig[2 * ZT_EIP712_SIG_LEN + 3], contract[43], total[ZT_U128_STR_LEN], sep[67], sh[67], dg[67];
    uint8_t dom[32], sth[32], dig[32];
    zt_eip712_domain_separator(a->d, dom);
    zt_payout_batch_hash((uint64_t)a->id, o.root, o.total, o.n_leaves, sth);
    zt_eip712_digest(dom, sth, dig);
    hex0x(root, o.root, 32);
    hex0x(sig, o.sig, ZT_EIP712_SIG_LEN);
    hex0x(contract, a->d->contract, 20);
    hex0x(sep, dom, 32);
    hex0x(sh, sth, 32);
    hex0x(dg, dig, 32);
    zt_u128_format(o.total, total);
    json_t *leaves = json_array();
    json_t *doc = json_pack("{s:I,s:{s:s,s:s,s:I,s:s},s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:o}", "batchId",
                            (json_int_t)a->id, "domain", "name", a->d->name, "version", a->d->version, "chainId",
                            (json_int_t)a->d->chain_id, "verifyingContract", contract, "type", ZT_PAYOUT_BATCH_TYPE,
                            "domainSeparator", sep, "structHash", sh, "digest", dg, "root", root, "total", total,
                            "leafCount", (json_int_t)o.n_leaves, "signature", sig, "leaves", leaves);
    if (!doc) return ZT_ENOMEM;
    if (!(rc = leaves_json(st, a->id, o.n_leaves, o.root, leaves))) {
        char *s = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        if (!s) {
            rc = ZT_ENOMEM;
        } else {
            size_t n = strlen(s);
            a->text = zt_malloc(n + 2);
            if (!a->text) {
                rc = ZT_ENOMEM;
            } else {
                memcpy(a->text, s, n);
                a->text[n] = '\n';
                a->text[n + 1] = '\0';
                a->len = n + 1;
            }
            free(s);
        }
    }
    json_decref(doc);
    return rc;
}

int zt_ledger_batch_json(struct zt_ledger *l, int64_t batch_id, const struct zt_eip712_domain *d, char **out,
                         size_t *len)
{
    if (!l || !d || !d->name || !d->version || !out || !len) return ZT_EINVAL;
    struct json_args a = {.id = batch_id, .d = d};
    int rc = zt_store_tx(l->st, json_body, &a);
    if (rc) {
        zt_free(a.text);
        return rc;
    }
    *out = a.text;
    *len = a.len;
    return 0;
}

/* ---- signed -> submitted -> confirmed ---------------------------------------------------- */

struct move_args {
    int64_t id;
    int from, to;
    const char *ref; /* NULL: keep */
};

/* from -> to when the batch is in from; 0 when it is already at or past to */
static int move_body(struct zt_store *st, void *ud)
{
    struct move_args *a = ud;
    struct zt_ledger_batch_info o;
    int rc = zt__ledger_batch_read(st, a->id, &o);
    if (rc) return rc;
    if (o.state >= a->to) return 0;
    if (o.state != a->from) return ZT_EPERM;
    struct zt_store_stmt *q = NULL;
    if ((rc = zt_store_prepare(st, "UPDATE ledger_batches SET state = ?, tx_ref = COALESCE(?, tx_ref)"
                                   " WHERE id = ? AND state = ?",
                               &q)))
        return rc;
    if (!(rc = zt_store_bind_i64(q, 1, a->to)) &&
        !(rc = a->ref ? zt_store_bind_text(q, 2, a->ref, strlen(a->ref)) : zt_store_bind_null(q, 2)) &&
        !(rc = zt_store_bind_i64(q, 3, a->id)) && !(rc = zt_store_bind_i64(q, 4, a->from)))
        rc = zt__ledger_run(q);
    zt_store_stmt_free(q);
    return rc;
}

int zt_ledger_batch_export(struct zt_ledger *l, int64_t batch_id, const struct zt_eip712_domain *d, const char *path)
{
    if (!l || !path || !*path) return ZT_EINVAL;
    char *text = NULL;
    size_t len = 0;
    int rc = zt_ledger_batch_json(l, batch_id, d, &text, &len);
    if (rc) return rc;
    rc = zt__ledger_write_file(path, text, len, 0644);
    zt_free(text);
    if (rc) return rc;
    char ref[256];
    int n = snprintf(ref, sizeof ref, "file:%s", path);
    if (n < 0 || (size_t)n >= sizeof ref) return ZT_ETOOBIG;
    struct move_args a = {.id = batch_id, .from = ZT_BATCH_SIGNED, .to = ZT_BATCH_SUBMITTED, .ref = ref};
    return zt__ledger_write_tx(l, move_body, &a);
}

int zt_ledger_batch_submit(struct zt_ledger *l, int64_t batch_id, const struct zt_eip712_domain *d,
                           zt_ledger_submit_fn hook, void *ud)
{
    if (!l || !hook) return ZT_EINVAL;
    struct zt_ledger_batch_info o;
    int rc = zt_ledger_batch_info(l, batch_id, &o);
    if (rc) return rc;
    if (o.state >= ZT_BATCH_SUBMITTED) return 0;
    if (o.state != ZT_BATCH_SIGNED) return ZT_EPERM;
    char *text = NULL, ref[256] = "";
    size_t len = 0;
    if ((rc = zt_ledger_batch_json(l, batch_id, d, &text, &len))) return rc;
    rc = hook(text, len, ud, ref, sizeof ref);
    zt_free(text);
    if (rc) return rc;
    ref[sizeof ref - 1] = '\0';
    struct move_args a = {.id = batch_id, .from = ZT_BATCH_SIGNED, .to = ZT_BATCH_SUBMITTED, .ref = ref};
    return zt__ledger_write_tx(l, move_body, &a);
}

int zt_ledger_batch_confirm(struct zt_ledger *l, int64_t batch_id)
{
    if (!l) return ZT_EINVAL;
    struct move_args a = {.id = batch_id, .from = ZT_BATCH_SUBMITTED, .to = ZT_BATCH_CONFIRMED};
    return zt__ledger_write_tx(l, move_body, &a);
}
