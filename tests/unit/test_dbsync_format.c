#define _GNU_SOURCE /* nftw, memmem */
/* test_dbsync_format.c: the database-sync formats and publisher (zt_dbsync.h,
 * src/mesh/segment.c, dbsync.c): the segment test vector of
 * docs/architecture/MESH_INTEGRATION.md, every malformed segment refused
 * (layout, signature, signer, chain start, rows that are not canonical rows
 * of a known table), head records (forged, tampered, expired), and the
 * publisher on a real SQLite store: a ledger's rows in a first segment,
 * nothing when nothing changed, only the changed rows next, chained to
 * the first and readable back from the mesh; the rebuild's heads collected
 * for a bounded time, newest first; a job changed after the wall clock
 * stepped back still published, and one whose `updated` is older than
 * anything published (a writer's slow clock, a long transaction) too: the
 * change log names it. Deletes (format 3): a clawback's deleted earning
 * published as a tombstone and not brought back by a rebuild (the ledger
 * audits), insert / delete / insert again of one key replayed in order,
 * a two-column key's tombstone, a TRUNCATE (PostgreSQL) and a delete no
 * trigger logged (a read whole); a job taken over by another
 * orchestrator is not a delete, and a rebuild leaves that one's newer row
 * (review10 F3); an old binary's trigger leaves deletes logged
 * (PostgreSQL, review10 F4). The publisher's tests run again on a real
 * PostgreSQL (tests/common/zt_test_servers.h), with one of its own: a
 * long transaction whose lower counter commits after a round. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/mesh/dbsync_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_dbsync.h"
#include "zentalk/zt_dht.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_mesh.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_time.h"
#include "zt_test.h"
#include "zt_test_servers.h"

static char dir[256];
static char pg_db[1024]; /* the PostgreSQL group: this test's database, else "" (SQLite) */

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/zt-dbsync-unit-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

static int teardown(void **state)
{
    (void)state;
    return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The PostgreSQL group, per test: a fresh database and directory. */
static int setup_pg(void **state)
{
    if (!zt_test_pg_new_db(pg_db, sizeof pg_db)) {
        printf("cannot make a PostgreSQL database: %s\n", pg_db);
        return -1;
    }
    return setup(state);
}

static int teardown_pg(void **state)
{
    pg_db[0] = '\0';
    return teardown(state);
}

/* The identity of the test vector: Ed25519 seed 00 01 .. 1f, X25519 key 20 .. 3f. */
static struct zt_identity *vector_id(void)
{
    uint8_t seed[32], x[32];
    for (int i = 0; i < 32; i++) seed[i] = (uint8_t)i, x[i] = (uint8_t)(32 + i);
    struct zt_identity *id = NULL;
    assert_int_equal(zt_identity_from_secret(seed, x, &id), 0);
    return id;
}

static const char VECTOR_BODY[] = "[\"ledger_totals\",\"minted\",\"15\"]\n"
                                  "[\"ledger_batch_items\",7,1]\n";
/* seq 1, created 1767225600, prev zero, ledger version 42: the SHA-256 of
 * the whole segment (format version 2) */
static const char VECTOR_SHA[] = "8d113bb0656b1d85a2317f7c249411c8b8f8ed903b64747417ab5a6ad0fb1c3a";
#define VECTOR_LVER 42u
/* the same segment in format version 1 (no ledger version), as nodes made
 * it before: the vector of that version */
static const char VECTOR_SHA_V1[] = "ce259815e9318b9c248c032708a665776f6eb86c716cfe74dc51291440a81e23";
/* format version 3 (what the encoder writes now): the same two rows and a
 * tombstone (the earning of id 5 deleted, a clawback), ledger version 42 */
static const char VECTOR_BODY_V3[] = "[\"ledger_totals\",\"minted\",\"15\"]\n"
                                     "[\"ledger_batch_items\",7,1]\n"
                                     "[\"-ledger_earnings\",5]\n";
static const char VECTOR_SHA_V3[] = "2554f1c4593770e311563e5d8af6593b37991025b71dbebf8bbf230080da34f9";
/* the same with flag ZT_DBSYNC_F_DELS (header byte 5 = 01: the chain
 * carries every delete, review10 F10); recomputed apart with Python's
 * cryptography (Ed25519 of the same seed) */
static const char VECTOR_SHA_V3_DELS[] = "211a76e0d0a1ddd44f45ca35913d25df6dbd0a994094adaf2fd871dc000ee197";

static void encode_vector(uint8_t **seg, size_t *len, const struct zt_identity *id, unsigned flags)
{
    static const uint8_t zero[32];
    assert_int_equal(zt_dbsync_segment_encode(id, 1, 1767225600, zero, VECTOR_BODY_V3, strlen(VECTOR_BODY_V3), 3,
                                              VECTOR_LVER, flags, seg, len),
                     0);
}

/* A segment in an older format version (1 or 2) of body (n rows), seq 1,
 * created 1767225600, written byte by byte (its header, the body, the
 * signature of both) as that version's encoder did; version 2 with ledger
 * version VECTOR_LVER. */
static uint8_t *encode_old(uint8_t version, const char *body, uint32_t n, size_t *len, const struct zt_identity *id)
{
    size_t bl = strlen(body), hl = version == 1 ? ZT_DBSYNC_HEADER_V1 : ZT_DBSYNC_HEADER;
    *len = hl + bl + ZT_DBSYNC_SIG;
    uint8_t *b = zt_calloc(1, *len);
    memcpy(b, "ZTSG", 4);
    b[4] = version;
    zt_put_le64(b + 8, 1);
    zt_put_le64(b + 16, 1767225600);
    zt_put_le32(b + 56, n);
    zt_put_le32(b + 60, (uint32_t)bl);
    memcpy(b + 64, zt_identity_sign_pk(id), 32);
    if (version == 2) zt_put_le64(b + 96, VECTOR_LVER);
    memcpy(b + hl, body, bl);
    assert_int_equal(zt_identity_sign(id, b, hl + bl, b + hl + bl), 0);
    return b;
}

static uint8_t *encode_vector_v1(size_t *len, const struct zt_identity *id)
{
    return encode_old(1, VECTOR_BODY, 2, len, id);
}

/* the SHA-256 of seg in hex; the bytes printed when it is not want */
static void sha_hex(const uint8_t *seg, size_t len, const char *want, char hex[65])
{
    uint8_t h[32];
    zt_sha256(h, seg, len);
    zt_hex_encode(hex, h, 32);
    if (strcmp(want, hex) != 0) {
        char *all = zt_malloc(2 * len + 1);
        zt_hex_encode(all, seg, len);
        printf("# vector sha256 %s\n# bytes %s\n", hex, all);
        zt_free(all);
    }
}

static int decode_flipped(const uint8_t *seg, size_t len, size_t i, uint8_t x, const uint8_t *signer);

static void test_vector(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    uint8_t *seg = NULL;
    size_t len = 0;
    char hex[65];
    uint8_t h[32];
    struct zt_dbsync_segment s;
    /* format 3, what the encoder writes: two rows and a tombstone */
    encode_vector(&seg, &len, id, 0);
    assert_int_equal(len, ZT_DBSYNC_HEADER + strlen(VECTOR_BODY_V3) + ZT_DBSYNC_SIG);
    assert_memory_equal(seg, "ZTSG\x03\0\0\0", 8);
    assert_int_equal(zt_get_le64(seg + 96), VECTOR_LVER);
    sha_hex(seg, len, VECTOR_SHA_V3, hex);
    assert_string_equal(hex, VECTOR_SHA_V3);
    zt_sha256(h, seg, len);
    assert_int_equal(zt_dbsync_segment_decode(seg, len, zt_identity_sign_pk(id), &s), 0);
    assert_int_equal(s.version, 3);
    assert_int_equal(s.seq, 1);
    assert_int_equal(s.created, 1767225600);
    assert_int_equal(s.n_rows, 3);
    assert_int_equal(s.ledger_version, VECTOR_LVER);
    assert_int_equal(s.body_len, strlen(VECTOR_BODY_V3));
    assert_memory_equal(s.body, VECTOR_BODY_V3, s.body_len);
    assert_memory_equal(s.sha256, h, 32);
    assert_memory_equal(s.signer, zt_identity_sign_pk(id), 32);
    /* the tombstone is signed: made a row of another key, the signature fails */
    size_t at = ZT_DBSYNC_HEADER + strlen(VECTOR_BODY_V3) - 3;
    assert_int_equal(seg[at], '5');
    assert_int_equal(decode_flipped(seg, len, at, '5' ^ '6', NULL), ZT_ECRYPTO);
    assert_int_equal(s.flags, 0);
    /* the flag is signed: set on an unflagged segment, the signature fails */
    assert_int_equal(decode_flipped(seg, len, 5, ZT_DBSYNC_F_DELS, NULL), ZT_ECRYPTO);
    zt_free(seg);
    /* format 3 with the flag "the chain carries every delete" */
    encode_vector(&seg, &len, id, ZT_DBSYNC_F_DELS);
    assert_memory_equal(seg, "ZTSG\x03\x01\0\0", 8);
    sha_hex(seg, len, VECTOR_SHA_V3_DELS, hex);
    assert_string_equal(hex, VECTOR_SHA_V3_DELS);
    assert_int_equal(zt_dbsync_segment_decode(seg, len, zt_identity_sign_pk(id), &s), 0);
    assert_int_equal(s.flags, ZT_DBSYNC_F_DELS);
    assert_int_equal(s.n_rows, 3);
    /* cleared, the signature fails too; another bit of byte 5 is not a flag */
    assert_int_equal(decode_flipped(seg, len, 5, ZT_DBSYNC_F_DELS, NULL), ZT_ECRYPTO);
    zt_free(seg);
    uint8_t *bad = NULL;
    static const uint8_t zero32[32];
    assert_int_equal(zt_dbsync_segment_encode(id, 1, 1767225600, zero32, VECTOR_BODY_V3, strlen(VECTOR_BODY_V3), 3,
                                              VECTOR_LVER, 0x02, &bad, &len),
                     ZT_EINVAL);
    assert_null(bad);
    /* format 2 (the vector of session 9), still read byte for byte: the
     * same rows, no tombstone */
    seg = encode_old(2, VECTOR_BODY, 2, &len, id);
    assert_int_equal(len, ZT_DBSYNC_HEADER + strlen(VECTOR_BODY) + ZT_DBSYNC_SIG);
    sha_hex(seg, len, VECTOR_SHA, hex);
    assert_string_equal(hex, VECTOR_SHA);
    zt_sha256(h, seg, len);
    assert_int_equal(zt_dbsync_segment_decode(seg, len, zt_identity_sign_pk(id), &s), 0);
    assert_int_equal(s.seq, 1);
    assert_int_equal(s.created, 1767225600);
    assert_int_equal(s.n_rows, 2);
    assert_int_equal(s.body_len, strlen(VECTOR_BODY));
    assert_memory_equal(s.body, VECTOR_BODY, s.body_len);
    assert_memory_equal(s.sha256, h, 32);
    assert_memory_equal(s.signer, zt_identity_sign_pk(id), 32);
    assert_int_equal(s.version, 2);
    assert_int_equal(s.ledger_version, VECTOR_LVER);
    zt_free(seg);
    /* a segment of format version 1 still reads: the same rows, ledger version 0 */
    seg = encode_vector_v1(&len, id);
    sha_hex(seg, len, VECTOR_SHA_V1, hex);
    assert_string_equal(hex, VECTOR_SHA_V1);
    zt_sha256(h, seg, len);
    assert_int_equal(zt_dbsync_segment_decode(seg, len, zt_identity_sign_pk(id), &s), 0);
    assert_int_equal(s.version, 1);
    assert_int_equal(s.ledger_version, 0);
    assert_int_equal(s.n_rows, 2);
    assert_int_equal(s.body_len, strlen(VECTOR_BODY));
    assert_memory_equal(s.body, VECTOR_BODY, s.body_len);
    assert_memory_equal(s.sha256, h, 32);
    /* its version byte made 2: the body is read 8 bytes later, the layout no longer adds up */
    assert_int_equal(decode_flipped(seg, len, 4, 3, NULL), ZT_EPARSE);
    zt_free(seg);
    /* a tombstone in a format 1 or 2 segment (signed as such): refused;
     * so is a flag there (byte 5 is reserved before format 3) */
    for (uint8_t v = 1; v <= 2; v++) {
        seg = encode_old(v, VECTOR_BODY_V3, 3, &len, id);
        assert_int_equal(zt_dbsync_segment_decode(seg, len, zt_identity_sign_pk(id), &s), ZT_EPARSE);
        zt_free(seg);
        seg = encode_old(v, VECTOR_BODY, 2, &len, id);
        assert_int_equal(decode_flipped(seg, len, 5, ZT_DBSYNC_F_DELS, NULL), ZT_EPARSE);
        zt_free(seg);
    }
    zt_identity_free(id);
}

/* decode a copy of seg with byte i xor'ed by x: the result */
static int decode_flipped(const uint8_t *seg, size_t len, size_t i, uint8_t x, const uint8_t *signer)
{
    uint8_t *c = zt_malloc(len);
    memcpy(c, seg, len);
    c[i] ^= x;
    struct zt_dbsync_segment s;
    int rc = zt_dbsync_segment_decode(c, len, signer, &s);
    zt_free(c);
    return rc;
}

static void test_malformed(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id(), *other = NULL;
    assert_int_equal(zt_identity_generate(&other), 0);
    uint8_t *seg = NULL;
    size_t len = 0;
    encode_vector(&seg, &len, id, 0);
    const uint8_t *pk = zt_identity_sign_pk(id);
    struct zt_dbsync_segment s;
    /* layout */
    assert_int_equal(zt_dbsync_segment_decode(seg, 0, NULL, &s), ZT_EPARSE);
    assert_int_equal(zt_dbsync_segment_decode(seg, ZT_DBSYNC_HEADER + ZT_DBSYNC_SIG - 1, NULL, &s), ZT_EPARSE);
    assert_int_equal(zt_dbsync_segment_decode(seg, len - 1, NULL, &s), ZT_EPARSE);
    assert_int_equal(zt_dbsync_segment_decode(seg, ZT_DBSYNC_SEGMENT_MAX + 1, NULL, &s), ZT_ETOOBIG);
    assert_int_equal(decode_flipped(seg, len, 0, 1, pk), ZT_EPARSE);       /* magic */
    assert_int_equal(decode_flipped(seg, len, 4, 7, pk), ZT_EUNSUPPORTED); /* version 4 */
    assert_int_equal(decode_flipped(seg, len, 4, 3, pk), ZT_EUNSUPPORTED); /* version 0 */
    assert_int_equal(decode_flipped(seg, len, 4, 1, pk), ZT_ECRYPTO);      /* version 2: signed as 3 */
    assert_int_equal(decode_flipped(seg, len, 6, 1, pk), ZT_EPARSE);       /* reserved */
    assert_int_equal(decode_flipped(seg, len, 5, 2, pk), ZT_EPARSE);       /* not a flag */
    assert_int_equal(decode_flipped(seg, len, 5, 0x80, pk), ZT_EPARSE);
    assert_int_equal(decode_flipped(seg, len, 5, 1, pk), ZT_ECRYPTO);      /* the flag: signed */
    assert_int_equal(decode_flipped(seg, len, 60, 1, pk), ZT_EPARSE);      /* body length */
    assert_int_equal(decode_flipped(seg, len, 30, 1, pk), ZT_EPARSE);      /* seq 1 with a previous segment */
    assert_int_equal(decode_flipped(seg, len, 8, 2, pk), ZT_EPARSE);       /* seq 3 with no previous segment */
    /* the signature covers everything: the time, a row, the signature itself */
    assert_int_equal(decode_flipped(seg, len, 16, 1, pk), ZT_ECRYPTO);
    assert_int_equal(decode_flipped(seg, len, 56, 0, pk), 0);
    assert_int_equal(decode_flipped(seg, len, 96, 1, pk), ZT_ECRYPTO);   /* the ledger version is signed */
    assert_int_equal(decode_flipped(seg, len, 103, 0x80, pk), ZT_EPARSE); /* over INT64_MAX */
    assert_int_equal(decode_flipped(seg, len, ZT_DBSYNC_HEADER + 20, 1, pk), ZT_ECRYPTO);
    assert_int_equal(decode_flipped(seg, len, len - 1, 1, pk), ZT_ECRYPTO);
    /* another signer: refused when ours is asked for, its own key in the header does not help */
    assert_int_equal(zt_dbsync_segment_decode(seg, len, zt_identity_sign_pk(other), &s), ZT_ECRYPTO);
    assert_int_equal(decode_flipped(seg, len, 64, 1, NULL), ZT_ECRYPTO);
    zt_free(seg);
    seg = NULL;
    /* rows: refused at encode (and so never signed) */
    static const uint8_t zero[32];
    static const char *const bad[] = {
        "[\"ledger_totals\", \"minted\",\"15\"]\n",       /* not canonical */
        "[\"ledger_totals\",\"minted\"]\n",               /* a column short */
        "[\"ledger_totals\",\"minted\",15]\n",            /* a number where text goes */
        "[\"users\",\"alice\",\"x\"]\n",                   /* not a published table */
        "[\"ledger_batches\",1,\"AB\",1,\"1\",1,1,null,null]\n", /* upper-case hex blob */
        "[\"ledger_batches\",1,\"abc\",1,\"1\",1,1,null,null]\n", /* odd hex */
        "[\"ledger_totals\",\"minted\",null]\n",          /* null where not nullable */
        "[\"ledger_totals\",\"minted\",\"15\"]",          /* no end of line */
        "{\"t\":\"ledger_totals\"}\n",                     /* not an array */
        "[\"ledger_batch_items\",7,1.5]\n",               /* a real */
        "[\"ledger_batch_items\",-0,1]\n",                /* -0 is not canonical */
        "\n",
        "[\"-ledger_earnings\"]\n",                      /* a tombstone without its key */
        "[\"-ledger_earnings\",5,1]\n",                  /* a column more than the key */
        "[\"-ledger_earnings\",\"5\"]\n",                /* text where the key is an integer */
        "[\"-ledger_earnings\",null]\n",                 /* a null key */
        "[\"-ledger_batches\",1,\"ab\",1,\"1\",1,1,null,null]\n", /* a whole row as a tombstone */
        "[\"-ledger_batch_leaves\",1]\n",                /* half of a two-column key */
        "[\"-users\",1]\n",                              /* not a published table */
        "[\"-\",1]\n",                                   /* no table */
        "[\"--ledger_earnings\",5]\n",                   /* one mark only */
        "[\"-ledger_totals\", \"minted\"]\n",            /* not canonical */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = zt_dbsync_segment_encode(id, 1, 1, zero, bad[i], strlen(bad[i]), 1, 0, 0, &seg, &len);
        if (rc != ZT_EINVAL) fail_msg("row %zu: %d", i, rc);
        uint32_t n = 0;
        assert_int_not_equal(zt__dbs_check_body((const uint8_t *)bad[i], strlen(bad[i]), true, &n), 0);
    }
    /* a count that is not the body's, seq 0, a ledger version over INT64_MAX */
    assert_int_equal(zt_dbsync_segment_encode(id, 1, 1, zero, VECTOR_BODY, strlen(VECTOR_BODY), 3, 0, 0, &seg, &len),
                     ZT_EINVAL);
    assert_int_equal(zt_dbsync_segment_encode(id, 0, 1, zero, VECTOR_BODY, strlen(VECTOR_BODY), 2, 0, 0, &seg, &len),
                     ZT_EINVAL);
    assert_int_equal(zt_dbsync_segment_encode(id, 1, 1, zero, VECTOR_BODY, strlen(VECTOR_BODY), 2,
                                              (uint64_t)INT64_MAX + 1, 0, &seg, &len),
                     ZT_EINVAL);
    /* nullable columns, blobs in lower-case hex, an empty body (a segment of no rows) */
    static const char ok[] = "[\"ledger_batches\",1,\"ab01\",1,\"1\",1,1,null,null]\n";
    assert_int_equal(zt_dbsync_segment_encode(id, 1, 1, zero, ok, strlen(ok), 1, 0, 0, &seg, &len), 0);
    zt_free(seg);
    /* tombstones of every key shape: an integer, a text, two columns */
    static const char tombs[] = "[\"-ledger_earnings\",5]\n[\"-ledger_totals\",\"minted\"]\n"
                                "[\"-ledger_batch_leaves\",1,0]\n[\"-sched_jobs\",\"job-1\"]\n";
    assert_int_equal(zt_dbsync_segment_encode(id, 1, 1, zero, tombs, strlen(tombs), 4, 0, 0, &seg, &len), 0);
    assert_int_equal(zt_dbsync_segment_decode(seg, len, pk, &s), 0);
    assert_int_equal(s.n_rows, 4);
    zt_free(seg);
    uint32_t nt = 0;
    assert_int_equal(zt__dbs_check_body((const uint8_t *)tombs, strlen(tombs), false, &nt), ZT_EPARSE); /* formats 1, 2 */
    assert_int_equal(zt_dbsync_segment_encode(id, 1, 1, zero, NULL, 0, 0, 0, 0, &seg, &len), 0);
    assert_int_equal(zt_dbsync_segment_decode(seg, len, pk, &s), 0);
    assert_int_equal(s.n_rows, 0);
    zt_free(seg);
    zt_identity_free(other);
    zt_identity_free(id);
}

static void test_head(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    struct zt_dbsync_head h = {.seq = 7, .exp = 2000};
    memset(h.sha256, 0xab, 32);
    char *rec = NULL;
    assert_int_equal(zt_dbsync_head_sign(id, &h, &rec), 0);
    struct zt_dbsync_head got;
    assert_int_equal(zt_dbsync_head_verify(rec, strlen(rec), 1000, &got), 0);
    assert_int_equal(got.seq, 7);
    assert_string_equal(got.node_id, zt_identity_id(id));
    assert_memory_equal(got.sha256, h.sha256, 32);
    assert_int_equal(zt_dbsync_head_verify(rec, strlen(rec), 2000, &got), ZT_ETIMEDOUT); /* expired */
    assert_int_equal(zt_dbsync_head_verify(rec, strlen(rec), 2000 - 86400 - 1, &got), ZT_ETIMEDOUT); /* too far ahead */
    char *t = strstr(rec, "\"seq\":7");
    assert_non_null(t);
    t[6] = '8'; /* a later seq, not signed */
    assert_int_equal(zt_dbsync_head_verify(rec, strlen(rec), 1000, &got), ZT_ECRYPTO);
    assert_int_equal(zt_dbsync_head_verify("[]", 2, 1000, &got), ZT_EPARSE);
    assert_int_equal(zt_dbsync_head_verify(rec, ZT_DBSYNC_HEAD_MAX + 1, 1000, &got), ZT_ETOOBIG);
    zt_free(rec);
    zt_identity_free(id);
}

/* A DHT stand-in for zt__dbs_collect_heads: round i gives the records of rounds[i]. */
struct rounds {
    char *rec[4][3];
    int n, at;
};

static int fake_get(void *ud, bool (*fn)(void *ud, const void *data, size_t len), void *fn_ud)
{
    struct rounds *r = ud;
    int i = r->at < r->n ? r->at : r->n - 1;
    r->at++;
    for (int k = 0; k < 3 && r->rec[i][k]; k++) fn(fn_ud, r->rec[i][k], strlen(r->rec[i][k]));
    return 0;
}

static char *signed_head(const struct zt_identity *id, uint64_t seq, uint8_t fill, int64_t exp)
{
    struct zt_dbsync_head h = {.seq = seq, .exp = exp};
    memset(h.sha256, fill, 32);
    char *rec = NULL;
    assert_int_equal(zt_dbsync_head_sign(id, &h, &rec), 0);
    return rec;
}

/* The rebuild's heads: collected for a bounded time after the first, so a
 * newer head on a slower holder is not missed; newest first; another
 * signer's, expired ones and duplicates left out; at most 16 kept. */
static void test_heads(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id(), *other = NULL;
    assert_int_equal(zt_identity_generate(&other), 0);
    struct rounds r = {.n = 3};
    r.rec[0][0] = signed_head(id, 3, 0x33, 5000);        /* the first answer: an older head */
    r.rec[1][0] = signed_head(other, 9, 0x99, 5000);     /* another signer's: never */
    r.rec[1][1] = signed_head(id, 5, 0x55, 5000);        /* the newest, from a slower holder */
    r.rec[1][2] = signed_head(id, 7, 0x77, 900);         /* expired at now = 1000 */
    r.rec[2][0] = signed_head(id, 3, 0x33, 6000);        /* the first again, renewed */
    struct zt__dbs_heads hs;
    /* no settling: whatever came first (the old behaviour) */
    assert_int_equal(zt__dbs_collect_heads(fake_get, &r, zt_identity_sign_pk(id), 1000, 0, 0, 10000, &hs), 0);
    assert_int_equal(hs.n, 1);
    assert_int_equal(hs.h[0].seq, 3);
    /* settling: the newest, then the older; each once */
    r.at = 0;
    assert_int_equal(zt__dbs_collect_heads(fake_get, &r, zt_identity_sign_pk(id), 1000, 600, 0, 10000, &hs), 0);
    assert_int_equal(hs.n, 2);
    assert_int_equal(hs.h[0].seq, 5);
    assert_int_equal(hs.h[0].sha256[0], 0x55);
    assert_int_equal(hs.h[1].seq, 3);
    assert_int_equal(hs.h[1].exp, 6000);
    /* enough: a head as new as the caller knows of ends the wait (the audit's case) */
    r.at = 0;
    uint64_t t1 = zt_time_mono_ms();
    assert_int_equal(zt__dbs_collect_heads(fake_get, &r, zt_identity_sign_pk(id), 1000, 60000, 5, 10000, &hs), 0);
    assert_int_equal(hs.h[0].seq, 5);
    assert_true(zt_time_mono_ms() - t1 < 30000);
    /* nobody has one: ZT_ENOTFOUND once the timeout has passed */
    struct rounds none = {.n = 1};
    uint64_t t0 = zt_time_mono_ms();
    assert_int_equal(zt__dbs_collect_heads(fake_get, &none, zt_identity_sign_pk(id), 1000, 600, 0, 300, &hs),
                     ZT_ENOTFOUND);
    assert_true(zt_time_mono_ms() - t0 >= 300);
    /* two heads of one seq that differ (a fork): both kept; at most 16, the newest */
    memset(&hs, 0, sizeof hs);
    for (uint64_t seq = 1; seq <= 20; seq++) {
        struct zt_dbsync_head h = {.seq = (seq * 7) % 20 + 1, .exp = 1};
        memset(h.sha256, (int)seq, 32);
        zt__dbs_heads_add(&hs, &h);
    }
    struct zt_dbsync_head fork = {.seq = 20, .exp = 1};
    memset(fork.sha256, 0xee, 32);
    zt__dbs_heads_add(&hs, &fork);
    assert_int_equal(hs.n, ZT__DBS_HEADS_MAX);
    assert_int_equal(hs.h[0].seq, 20);
    assert_int_equal(hs.h[1].seq, 20);
    for (size_t i = 1; i < hs.n; i++) assert_true(hs.h[i].seq <= hs.h[i - 1].seq);
    assert_int_equal(hs.h[hs.n - 1].seq, 6);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++) zt_free(r.rec[i][k]);
    zt_identity_free(other);
    zt_identity_free(id);
}

/* The segment the publisher made last, read back from the mesh. */
static void last_segment(struct zt_dbsync *s, struct zt_mesh *m, const struct zt_identity *id, struct zt_buf *b,
                         struct zt_dbsync_segment *seg)
{
    char *st = NULL;
    assert_int_equal(zt_dbsync_status_json(s, &st), 0);
    json_t *j = json_loads(st, 0, NULL);
    zt_free(st);
    const char *sha = json_string_value(json_object_get(j, "sha256"));
    assert_non_null(sha);
    assert_int_equal(zt_mesh_read_blob(m, sha, ZT_DBSYNC_SEGMENT_MAX, b), 0);
    json_decref(j);
    assert_int_equal(zt_dbsync_segment_decode(b->data, b->len, zt_identity_sign_pk(id), seg), 0);
}

/* Two handles on dir/NAME.db, or on the PostgreSQL group's database (the
 * node's and the publisher's), and a publisher on the second with its
 * mesh in dir/mesh-NAME. */
struct pub {
    struct zt_store *st, *st2;
    struct zt_mesh *m;
    struct zt_dbsync *s;
    char mdir[400], tdir[420];
};

static void pub_open_stores(const char *name, struct pub *p)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s.db", dir, name);
    snprintf(p->mdir, sizeof p->mdir, "%s/mesh-%s", dir, name);
    snprintf(p->tdir, sizeof p->tdir, "%s/dbsync", p->mdir);
    struct zt_store_opts so = {.path = pg_db[0] ? pg_db : path, .busy_timeout_ms = 5000};
    const char *driver = pg_db[0] ? "postgres" : "sqlite";
    assert_int_equal(zt_store_open(driver, &so, &p->st), 0);
    assert_int_equal(zt_store_open(driver, &so, &p->st2), 0);
}

static void pub_start(struct pub *p, struct zt_identity *id)
{
    struct zt_mesh_opts mo = {.dir = p->mdir, .id = id};
    assert_int_equal(zt_mesh_new(&mo, &p->m), 0);
    struct zt_dbsync_opts o = {.st = p->st2, .mesh = p->m, .id = id, .tmp_dir = p->tdir, .interval_s = 1};
    assert_int_equal(zt_dbsync_new(&o, &p->s), 0);
}

static void pub_close(struct pub *p)
{
    zt_dbsync_free(p->s);
    zt_mesh_free(p->m);
    zt_store_close(p->st);
    zt_store_close(p->st2);
}

static void test_publisher(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    struct pub p = {0};
    pub_open_stores("zentalk", &p);
    struct zt_store *st = p.st;
    struct zt_ledger *l = NULL;
    assert_int_equal(zt_ledger_new(st, &l), 0);
    int64_t acct = 0;
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_USER, "0x00000000000000000000000000000000000000b1", NULL, &acct), 0);
    assert_int_equal(zt_ledger_mint(l, "dep-1", acct, 5, NULL, NULL), 0);
    pub_start(&p, id);
    struct zt_mesh *m = p.m;
    struct zt_dbsync *s = p.s;
    unsigned made = 0;
    assert_int_equal(zt_dbsync_publish(s, &made), 0);
    assert_int_equal(made, 1);
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    last_segment(s, m, id, &b, &seg);
    assert_int_equal(seg.seq, 1);
    uint8_t first[32];
    memcpy(first, seg.sha256, 32);
    /* the accounts, the mint, its entry, the total; no job table in this store (no scheduler) */
    assert_true(seg.n_rows >= 4);
    assert_non_null(memmem(seg.body, seg.body_len, "[\"ledger_txs\",", 14));
    assert_non_null(memmem(seg.body, seg.body_len, "[\"ledger_totals\",\"minted\",\"5\"]\n", 31));
    assert_null(memmem(seg.body, seg.body_len, "sched_jobs", 10));
    /* the user's wallet address is sealed: an account number goes out, not whose it is */
    assert_null(memmem(seg.body, seg.body_len, "00000000b1", 10));
    assert_non_null(memmem(seg.body, seg.body_len, ",1,\"enc1:", 9));
    /* nothing changed: no segment */
    assert_int_equal(zt_dbsync_publish(s, &made), 0);
    assert_int_equal(made, 0);
    /* a second mint: its transaction, entry, the balance and the total, chained to the first */
    assert_int_equal(zt_ledger_mint(l, "dep-2", acct, 7, NULL, NULL), 0);
    assert_int_equal(zt_dbsync_publish(s, &made), 0);
    assert_int_equal(made, 1);
    last_segment(s, m, id, &b, &seg);
    assert_int_equal(seg.seq, 2);
    assert_memory_equal(seg.prev, first, 32);
    assert_int_equal(seg.n_rows, 4);
    assert_non_null(memmem(seg.body, seg.body_len, "\"12\"]\n", 6));
    assert_null(memmem(seg.body, seg.body_len, "dep-1", 5)); /* the first mint is not published again */
    /* a published transaction altered in the store is not published again */
    assert_int_equal(zt_store_exec(st, "UPDATE ledger_txs SET memo = 'forged' WHERE idem_key LIKE '%dep-1'"), 0);
    assert_int_equal(zt_dbsync_publish(s, &made), 0);
    assert_int_equal(made, 0);
    /* a new publisher on the same store goes on from segment 2 */
    zt_dbsync_free(s);
    struct zt_dbsync_opts o = {.st = p.st2, .mesh = m, .id = id, .tmp_dir = p.tdir, .interval_s = 1};
    assert_int_equal(zt_dbsync_new(&o, &s), 0);
    p.s = s;
    assert_int_equal(zt_ledger_mint(l, "dep-3", acct, 1, NULL, NULL), 0);
    assert_int_equal(zt_dbsync_publish(s, &made), 0);
    uint8_t second[32];
    memcpy(second, seg.sha256, 32);
    last_segment(s, m, id, &b, &seg);
    assert_int_equal(seg.seq, 3);
    assert_memory_equal(seg.prev, second, 32);
    zt_buf_deinit(&b);
    zt_ledger_free(l); /* before its store closes */
    pub_close(&p);
    zt_identity_free(id);
}

/* The scheduler's table as src/orchestrator/sched.c makes it (owner
 * "sched", versions 1 and 2), without the scheduler. */
static const struct zt_store_step SCHED_STEPS[] = {
    {.sql = "CREATE TABLE sched_jobs(job_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, client TEXT NOT NULL,"
            " model TEXT NOT NULL, ctx INTEGER NOT NULL, max_tokens INTEGER NOT NULL,"
            " price_ceiling INTEGER NOT NULL, deadline INTEGER NOT NULL, state INTEGER NOT NULL, worker TEXT,"
            " attempts INTEGER NOT NULL, tokens INTEGER NOT NULL, created INTEGER NOT NULL,"
            " updated INTEGER NOT NULL, assigned INTEGER NOT NULL, started INTEGER NOT NULL,"
            " finished INTEGER NOT NULL, reason TEXT NOT NULL);",
     .sql_pg = "CREATE TABLE sched_jobs(job_id TEXT PRIMARY KEY, seq BIGINT NOT NULL, client TEXT NOT NULL,"
               " model TEXT NOT NULL, ctx BIGINT NOT NULL, max_tokens BIGINT NOT NULL,"
               " price_ceiling BIGINT NOT NULL, deadline BIGINT NOT NULL, state BIGINT NOT NULL, worker TEXT,"
               " attempts BIGINT NOT NULL, tokens BIGINT NOT NULL, created BIGINT NOT NULL,"
               " updated BIGINT NOT NULL, assigned BIGINT NOT NULL, started BIGINT NOT NULL,"
               " finished BIGINT NOT NULL, reason TEXT NOT NULL);"},
    {.sql = "ALTER TABLE sched_jobs ADD COLUMN orch TEXT NOT NULL DEFAULT '';"},
};

/* The INSERT of a job into sched_jobs: state, created and updated t,
 * finished, the orchestrator orch. */
static void job_sql(char *out, size_t cap, const char *job, int seq, int state, int64_t t, int64_t finished,
                    const char *orch)
{
    snprintf(out, cap,
             "INSERT INTO sched_jobs VALUES('%s', %d, 'c', 'm', 256, 8, 0, 0, %d, NULL, 0, 0, %lld, %lld, 0, 0, %lld, '',"
             " '%s')",
             job, seq, state, (long long)t, (long long)t, (long long)finished, orch);
}

static void put_job(struct zt_store *st, const char *job, int seq, int state, int64_t t, int64_t finished,
                    const char *orch)
{
    char sql[600];
    job_sql(sql, sizeof sql, job, seq, state, t, finished, orch);
    assert_int_equal(zt_store_exec(st, sql), 0);
}

/* pub_open_stores with the scheduler's table made on the first handle. */
static void jobs_open(const char *name, struct pub *p)
{
    pub_open_stores(name, p);
    struct zt_store_schema sc = {.owner = "sched", .steps = SCHED_STEPS, .n_steps = 2};
    assert_int_equal(zt_store_migrate(p->st, &sc), 0);
}

/* A round of p's publisher that makes want segments; the last one (when
 * one was made) into seg, its bytes in b. */
static void publish_want(struct pub *p, const struct zt_identity *id, unsigned want, struct zt_buf *b,
                         struct zt_dbsync_segment *seg)
{
    unsigned made = 0;
    assert_int_equal(zt_dbsync_publish(p->s, &made), 0);
    assert_int_equal(made, want);
    if (want) last_segment(p->s, p->m, id, b, seg);
}

static bool in_body(const struct zt_dbsync_segment *seg, const char *text)
{
    return memmem(seg->body, seg->body_len, text, strlen(text)) != NULL;
}

/* A job's `updated` is the wall clock. The clock was ten minutes ahead
 * when the last segment was made and has been set right since: the job's
 * next state carries an `updated` far under anything published and is
 * published all the same; another orchestrator's job is not. */
static void test_jobs_clock_stepped_back(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    struct pub p = {0};
    jobs_open("jobs", &p);
    int64_t now = zt_time_real_ms(), ahead = now + 600000;
    put_job(p.st, "job-0", 1, 2, ahead, 0, zt_identity_id(id));
    put_job(p.st, "job-1", 2, 2, ahead, 0, "zt1someoneelse");
    pub_start(&p, id);
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    publish_want(&p, id, 1, &b, &seg); /* the clock ten minutes ahead */
    assert_int_equal(seg.n_rows, 1);  /* our job only */
    assert_true(in_body(&seg, "[\"sched_jobs\",\"job-0\","));
    /* the clock set right: the job ends with `updated` ten minutes under what was published */
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE sched_jobs SET state = 3, finished = %lld, updated = %lld", (long long)now,
             (long long)now);
    assert_int_equal(zt_store_exec(p.st, sql), 0);
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(seg.seq, 2);
    assert_int_equal(seg.n_rows, 1);
    assert_true(in_body(&seg, "[\"sched_jobs\",\"job-0\",1,\"c\",\"m\",256,8,0,0,3,"));
    publish_want(&p, id, 0, &b, &seg); /* nothing changed: nothing made */
    zt_buf_deinit(&b);
    pub_close(&p);
    zt_identity_free(id);
}

/* A job whose next state carries an `updated` an hour older than
 * anything published, the clock never stepped: a writer whose clock is
 * behind, or a transaction that took its time from before the last
 * segment. The old publisher read only jobs updated in a window under the
 * newest `updated` published and missed it; the change log names it. A
 * row inserted with such a value is published too. */
static void test_jobs_old_updated(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    struct pub p = {0};
    jobs_open("old", &p);
    int64_t now = zt_time_real_ms(), old = now - 3600000;
    put_job(p.st, "job-a", 1, 2, now, 0, zt_identity_id(id));
    pub_start(&p, id);
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(seg.n_rows, 1);
    /* the job ends, stamped an hour ago; another job comes in stamped an hour ago */
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE sched_jobs SET state = 3, finished = %lld, updated = %lld WHERE job_id = 'job-a'",
             (long long)old, (long long)old);
    assert_int_equal(zt_store_exec(p.st, sql), 0);
    put_job(p.st, "job-b", 2, 3, old, old, zt_identity_id(id));
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(seg.seq, 2);
    assert_int_equal(seg.n_rows, 2);
    assert_true(in_body(&seg, "[\"sched_jobs\",\"job-a\",1,\"c\",\"m\",256,8,0,0,3,"));
    assert_true(in_body(&seg, "[\"sched_jobs\",\"job-b\","));
    publish_want(&p, id, 0, &b, &seg); /* the entries read are gone: nothing changed, nothing made */
    zt_buf_deinit(&b);
    pub_close(&p);
    zt_identity_free(id);
}

/* PostgreSQL hands out counters before commit: a long transaction's row
 * carries a lower counter than one committed after it began, and commits
 * last. The round in between publishes the other row and deletes only
 * the entry it read; the late one's entry is read, and its row published,
 * at the next round (a "counter > last published" mark would skip it). */
static void test_long_transaction(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    struct pub p = {0};
    jobs_open("long", &p);
    pub_start(&p, id);
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    publish_want(&p, id, 0, &b, &seg); /* the triggers; nothing yet */
    struct zt_store *other = NULL;
    struct zt_store_opts so = {.path = pg_db, .busy_timeout_ms = 5000};
    assert_int_equal(zt_store_open("postgres", &so, &other), 0);
    int64_t now = zt_time_real_ms();
    /* the long transaction: its entry's counter first, not committed */
    char ins[600], sql[700];
    job_sql(ins, sizeof ins, "job-late", 1, 2, now, 0, zt_identity_id(id));
    snprintf(sql, sizeof sql, "BEGIN; %s", ins);
    assert_int_equal(zt_store_exec(p.st, sql), 0);
    put_job(other, "job-early", 2, 2, now, 0, zt_identity_id(id));
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(seg.n_rows, 1);
    assert_true(in_body(&seg, "\"job-early\""));
    assert_int_equal(zt_store_exec(p.st, "COMMIT"), 0);
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(seg.seq, 2);
    assert_int_equal(seg.n_rows, 1);
    assert_true(in_body(&seg, "\"job-late\""));
    zt_buf_deinit(&b);
    zt_store_close(other);
    pub_close(&p);
    zt_identity_free(id);
}

/* Review7 F15: a SERIALIZABLE writer whose snapshot was taken before the
 * publisher subscribed (and made the triggers) writes after it: its
 * trigger reads dbsync_subs with that snapshot and logs nothing for the
 * publisher. The publisher's first whole read runs before the writer
 * commits, so it cannot see the row either; it must not mark the log
 * complete until that writer has ended, and the next round reads whole
 * again and publishes the row (before: marked complete at once, the row
 * never published). */
static int64_t count_sql(struct zt_store *st, const char *sql, const char *pub);
static int64_t log_entries(struct zt_store *st);

static void test_sub_race(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    struct pub p = {0};
    jobs_open("race", &p);
    int64_t now = zt_time_real_ms();
    put_job(p.st, "job-0", 1, 2, now, 0, zt_identity_id(id));
    pub_start(&p, id);
    struct zt_store *w = NULL;
    struct zt_store_opts so = {.path = pg_db, .busy_timeout_ms = 5000};
    assert_int_equal(zt_store_open("postgres", &so, &w), 0);
    /* the writer: its snapshot now, before the subscription */
    assert_int_equal(zt_store_exec(w, "BEGIN ISOLATION LEVEL SERIALIZABLE"), 0);
    assert_int_equal(count_sql(w, "SELECT COUNT(*) FROM sched_jobs WHERE job_id <> ?", "x"), 1);
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    publish_want(&p, id, 1, &b, &seg); /* subscribes, reads whole: job-0 */
    assert_true(in_body(&seg, "\"job-0\""));
    put_job(w, "job-w", 2, 2, now, 0, zt_identity_id(id)); /* its trigger: W's snapshot, no subscriber */
    publish_want(&p, id, 0, &b, &seg); /* the writer still runs: not committed, nothing new */
    assert_int_equal(zt_store_exec(w, "COMMIT"), 0);
    assert_int_equal(log_entries(p.st), 0); /* nothing was logged for the publisher */
    publish_want(&p, id, 1, &b, &seg); /* the writer ended: read whole once more */
    assert_int_equal(seg.seq, 2);
    assert_int_equal(seg.n_rows, 1);
    assert_true(in_body(&seg, "\"job-w\""));
    publish_want(&p, id, 0, &b, &seg); /* complete now: the log alone */
    assert_int_equal(zt_store_exec(p.st, "UPDATE sched_jobs SET tokens = 4 WHERE job_id = 'job-w'"), 0);
    assert_int_equal(log_entries(p.st), 1);
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(seg.n_rows, 1);
    zt_buf_deinit(&b);
    zt_store_close(w);
    pub_close(&p);
    zt_identity_free(id);
}

static int64_t log_entries(struct zt_store *st)
{
    struct zt_store_stmt *q = NULL;
    int64_t n = -1;
    assert_int_equal(zt_store_prepare(st, "SELECT COUNT(*) FROM dbsync_changes", &q), 0);
    assert_int_equal(zt_store_step(q), ZT_STORE_ROW);
    assert_int_equal(zt_store_column_i64(q, 0, &n), 0);
    zt_store_stmt_free(q);
    return n;
}

/* Publishing turned off (zt_dbsync_unlog, what the node does when it
 * builds no publisher): writes no longer feed the log; turned on again,
 * the tables are read whole once and what changed meanwhile goes out. */
static void test_unlog(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    struct pub p = {0};
    jobs_open("unlog", &p);
    struct zt_store *st = p.st;
    assert_int_equal(zt_dbsync_unlog(st, zt_identity_id(id)), 0); /* never published here: nothing to do */
    put_job(st, "job-u", 1, 2, zt_time_real_ms(), 0, zt_identity_id(id));
    pub_start(&p, id);
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(zt_store_exec(st, "UPDATE sched_jobs SET tokens = 1"), 0);
    assert_int_equal(log_entries(st), 1);
    zt_dbsync_free(p.s);
    p.s = NULL;
    assert_int_equal(zt_dbsync_unlog(st, zt_identity_id(id)), 0);
    assert_int_equal(log_entries(st), 0);
    assert_int_equal(zt_store_exec(st, "UPDATE sched_jobs SET state = 3, tokens = 8"), 0);
    assert_int_equal(log_entries(st), 0); /* no trigger left */
    struct zt_dbsync_opts o = {.st = p.st2, .mesh = p.m, .id = id, .tmp_dir = p.tdir, .interval_s = 1};
    assert_int_equal(zt_dbsync_new(&o, &p.s), 0);
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(seg.seq, 2);
    assert_int_equal(seg.n_rows, 1);
    assert_true(in_body(&seg, "[\"sched_jobs\",\"job-u\",1,\"c\",\"m\",256,8,0,0,3,"));
    assert_int_equal(zt_store_exec(st, "UPDATE sched_jobs SET tokens = 9"), 0); /* logged again */
    assert_int_equal(log_entries(st), 1);
    zt_buf_deinit(&b);
    pub_close(&p);
    zt_identity_free(id);
}

/* Review F4: zt_dbsync_unlog by another process while a publisher runs
 * (a second node on the same data dir with the mesh off): the publisher's
 * next round finds no log mark, reads the tables whole, and makes the
 * triggers again, so later writes are logged (before: never again until
 * a restart). */
static void test_unlog_running(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    struct pub p = {0};
    jobs_open("unlog-run", &p);
    struct zt_store *st = p.st;
    put_job(st, "job-r", 1, 2, zt_time_real_ms(), 0, zt_identity_id(id));
    pub_start(&p, id);
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(zt_dbsync_unlog(st, zt_identity_id(id)), 0); /* the publisher p.s still runs */
    assert_int_equal(zt_store_exec(st, "UPDATE sched_jobs SET state = 3, tokens = 8"), 0);
    assert_int_equal(log_entries(st), 0);
    publish_want(&p, id, 1, &b, &seg); /* read whole: the change goes out */
    assert_int_equal(seg.seq, 2);
    assert_true(in_body(&seg, "[\"sched_jobs\",\"job-r\",1,\"c\",\"m\",256,8,0,0,3,"));
    assert_int_equal(zt_store_exec(st, "UPDATE sched_jobs SET tokens = 9"), 0);
    assert_int_equal(log_entries(st), 1); /* the triggers are back */
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(seg.seq, 3);
    assert_int_equal(seg.n_rows, 1);
    zt_buf_deinit(&b);
    pub_close(&p);
    zt_identity_free(id);
}

/* Two publishers on one store NAME: A (vector_id) on pa, whose handle
 * holds the jobs tables, and B (a fresh identity, its mesh in
 * dir/mesh-NAME-b), with a running job each (job-a, job-b). two_open
 * opens them, two_start starts both publishers. */
struct two {
    struct zt_identity *a, *b;
    struct pub pa, pb;
    struct zt_buf buf;
    struct zt_dbsync_segment seg;
};

static void two_open(struct two *t, const char *name)
{
    memset(t, 0, sizeof *t);
    t->a = vector_id();
    assert_int_equal(zt_identity_generate(&t->b), 0);
    jobs_open(name, &t->pa);
    pub_open_stores(name, &t->pb);
    snprintf(t->pb.mdir, sizeof t->pb.mdir, "%s/mesh-%s-b", dir, name);
    snprintf(t->pb.tdir, sizeof t->pb.tdir, "%s/dbsync", t->pb.mdir);
    int64_t now = zt_time_real_ms();
    put_job(t->pa.st, "job-a", 1, 2, now, 0, zt_identity_id(t->a));
    put_job(t->pa.st, "job-b", 2, 2, now, 0, zt_identity_id(t->b));
}

static void two_start(struct two *t)
{
    pub_start(&t->pa, t->a);
    pub_start(&t->pb, t->b);
    zt_buf_init(&t->buf, ZT_DBSYNC_SEGMENT_MAX);
}

static void two_close(struct two *t)
{
    zt_buf_deinit(&t->buf);
    pub_close(&t->pb);
    pub_close(&t->pa);
    zt_identity_free(t->b);
    zt_identity_free(t->a);
}

/* Two orchestrators on one store (a shared PostgreSQL): each publishes
 * its own jobs and the shared ledger in its own chain, from its own
 * change log (one's round does not take the other's entries); one turned
 * off (zt_dbsync_unlog) leaves the other's triggers and log. */
static void test_two_publishers(void **state)
{
    (void)state;
    struct two t;
    two_open(&t, "two");
    struct zt_identity *a = t.a, *b = t.b;
    struct pub *pa = &t.pa, *pb = &t.pb;
    struct zt_buf *buf = &t.buf;
    struct zt_dbsync_segment *seg = &t.seg;
    struct zt_ledger *l = NULL;
    assert_int_equal(zt_ledger_new(pa->st, &l), 0);
    int64_t acct = 0;
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_USER, "0x00000000000000000000000000000000000000b2", NULL, &acct), 0);
    assert_int_equal(zt_ledger_mint(l, "dep-1", acct, 5, NULL, NULL), 0);
    two_start(&t);
    publish_want(pa, a, 1, buf, seg);
    assert_true(in_body(seg, "[\"sched_jobs\",\"job-a\","));
    assert_false(in_body(seg, "job-b"));
    assert_true(in_body(seg, "dep-1"));
    publish_want(pb, b, 1, buf, seg);
    assert_int_equal(seg->seq, 1);
    assert_true(in_body(seg, "[\"sched_jobs\",\"job-b\","));
    assert_false(in_body(seg, "job-a"));
    assert_true(in_body(seg, "dep-1"));
    /* B's job changes and a mint: A's round reads (and deletes) only its own entries */
    assert_int_equal(zt_store_exec(pa->st, "UPDATE sched_jobs SET tokens = 5 WHERE job_id = 'job-b'"), 0);
    assert_int_equal(zt_ledger_mint(l, "dep-2", acct, 7, NULL, NULL), 0);
    publish_want(pa, a, 1, buf, seg);
    assert_int_equal(seg->seq, 2);
    assert_true(in_body(seg, "dep-2"));
    assert_false(in_body(seg, "job-b"));
    publish_want(pb, b, 1, buf, seg);
    assert_int_equal(seg->seq, 2);
    assert_true(in_body(seg, "dep-2"));
    assert_true(in_body(seg, "[\"sched_jobs\",\"job-b\",2,\"c\",\"m\",256,8,0,0,2,null,0,5,"));
    publish_want(pa, a, 0, buf, seg);
    publish_want(pb, b, 0, buf, seg);
    /* A turned off: B's log goes on */
    zt_dbsync_free(pa->s);
    pa->s = NULL;
    assert_int_equal(zt_dbsync_unlog(pa->st, zt_identity_id(a)), 0);
    assert_int_equal(zt_store_exec(pa->st, "UPDATE sched_jobs SET state = 3 WHERE job_id = 'job-b'"), 0);
    assert_int_equal(log_entries(pa->st), 1); /* B's entry only */
    publish_want(pb, b, 1, buf, seg);
    assert_int_equal(seg->seq, 3);
    assert_int_equal(seg->n_rows, 1);
    /* the last one off: no trigger is left */
    zt_dbsync_free(pb->s);
    pb->s = NULL;
    assert_int_equal(zt_dbsync_unlog(pb->st, zt_identity_id(b)), 0);
    assert_int_equal(zt_store_exec(pa->st, "UPDATE sched_jobs SET tokens = 6"), 0);
    assert_int_equal(log_entries(pa->st), 0);
    zt_ledger_free(l);
    two_close(&t);
}

static int64_t count_sql(struct zt_store *st, const char *sql, const char *pub)
{
    struct zt_store_stmt *q = NULL;
    int64_t n = -1;
    assert_int_equal(zt_store_prepare(st, sql, &q), 0);
    assert_int_equal(zt_store_bind_text(q, 1, pub, strlen(pub)), 0);
    assert_int_equal(zt_store_step(q), ZT_STORE_ROW);
    assert_int_equal(zt_store_column_i64(q, 0, &n), 0);
    zt_store_stmt_free(q);
    return n;
}

/* Review7 F6: a publisher gone without zt_dbsync_unlog (its subscription
 * not seen for 7 days) is expired by another's round: its subscription,
 * change-log entries and log marks go, so the log stops growing for it.
 * Back again, its next round reads whole, publishes what changed and
 * subscribes again. */
static void test_sub_expired(void **state)
{
    (void)state;
    struct two t;
    two_open(&t, "expire");
    two_start(&t);
    struct zt_identity *a = t.a, *b = t.b;
    const char *ib = zt_identity_id(b);
    struct pub *pa = &t.pa, *pb = &t.pb;
    struct zt_buf *buf = &t.buf;
    struct zt_dbsync_segment *seg = &t.seg;
    publish_want(pa, a, 1, buf, seg);
    publish_want(pb, b, 1, buf, seg);
    assert_int_equal(seg->seq, 1);
    /* B idle 8 days (gone), its entries pile up */
    char sql[300];
    snprintf(sql, sizeof sql, "UPDATE dbsync_subs SET seen = seen - %d WHERE pub = '%s'", 8 * 86400, ib);
    assert_int_equal(zt_store_exec(pa->st, sql), 0);
    assert_int_equal(zt_store_exec(pa->st, "UPDATE sched_jobs SET tokens = 5"), 0);
    assert_int_equal(count_sql(pa->st, "SELECT COUNT(*) FROM dbsync_changes WHERE pub = ?", ib), 2);
    /* A's round expires B: B's subscription, entries and log marks are gone */
    publish_want(pa, a, 1, buf, seg);
    assert_int_equal(seg->seq, 2);
    assert_int_equal(count_sql(pa->st, "SELECT COUNT(*) FROM dbsync_subs WHERE pub = ?", ib), 0);
    assert_int_equal(count_sql(pa->st, "SELECT COUNT(*) FROM dbsync_changes WHERE pub = ?", ib), 0);
    assert_int_equal(count_sql(pa->st, "SELECT COUNT(*) FROM dbsync_marks WHERE pub = ? AND tbl LIKE 'log:%'", ib), 0);
    assert_int_equal(count_sql(pa->st, "SELECT COUNT(*) FROM dbsync_subs WHERE pub = ?", zt_identity_id(a)), 1);
    assert_int_equal(zt_store_exec(pa->st, "UPDATE sched_jobs SET state = 3 WHERE job_id = 'job-b'"), 0);
    assert_int_equal(log_entries(pa->st), 1); /* A's entry only: nothing more is logged for B */
    /* B back: its round reads whole, publishes job-b as it is now, and B is subscribed again */
    publish_want(pb, b, 1, buf, seg);
    assert_int_equal(seg->seq, 2);
    assert_int_equal(seg->n_rows, 1);
    assert_true(in_body(seg, "[\"sched_jobs\",\"job-b\",2,\"c\",\"m\",256,8,0,0,3,null,0,5,"));
    assert_false(in_body(seg, "job-a"));
    assert_int_equal(count_sql(pa->st, "SELECT COUNT(*) FROM dbsync_subs WHERE pub = ?", ib), 1);
    assert_int_equal(zt_store_exec(pa->st, "UPDATE sched_jobs SET tokens = 6 WHERE job_id = 'job-b'"), 0);
    assert_int_equal(count_sql(pa->st, "SELECT COUNT(*) FROM dbsync_changes WHERE pub = ?", ib), 1);
    publish_want(pb, b, 1, buf, seg);
    assert_int_equal(seg->seq, 3);
    assert_int_equal(seg->n_rows, 1);
    assert_true(in_body(seg, "[\"sched_jobs\",\"job-b\",2,\"c\",\"m\",256,8,0,0,3,null,0,6,"));
    /* A's rounds keep B (seen by its own rounds); B's jobs are not A's */
    publish_want(pa, a, 0, buf, seg);
    assert_int_equal(count_sql(pa->st, "SELECT COUNT(*) FROM dbsync_subs WHERE pub = ?", ib), 1);
    two_close(&t);
}

/* dbsync schema 2 as the last release made it (one publisher per store). */
static const struct zt_store_step DBSYNC_V2[] = {
    {.sql = "CREATE TABLE dbsync_segments(seq INTEGER PRIMARY KEY, sha BLOB NOT NULL, data BLOB,"
            " n_rows INTEGER NOT NULL, created INTEGER NOT NULL, published INTEGER NOT NULL);"
            "CREATE TABLE dbsync_rows(tbl TEXT NOT NULL, k TEXT NOT NULL, h BLOB NOT NULL, PRIMARY KEY(tbl, k));"
            "CREATE TABLE dbsync_marks(tbl TEXT PRIMARY KEY, hi INTEGER NOT NULL);",
     .sql_pg = "CREATE TABLE dbsync_segments(seq BIGINT PRIMARY KEY, sha BYTEA NOT NULL, data BYTEA,"
               " n_rows BIGINT NOT NULL, created BIGINT NOT NULL, published BIGINT NOT NULL);"
               "CREATE TABLE dbsync_rows(tbl TEXT NOT NULL, k TEXT NOT NULL, h BYTEA NOT NULL, PRIMARY KEY(tbl, k));"
               "CREATE TABLE dbsync_marks(tbl TEXT PRIMARY KEY, hi BIGINT NOT NULL);"},
    {.sql = "CREATE TABLE dbsync_changes(n INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, ki INTEGER, kt TEXT);"
            "CREATE TRIGGER dbsync_chg_sched_jobs_i AFTER INSERT ON sched_jobs BEGIN"
            " INSERT INTO dbsync_changes(tbl, kt) VALUES('sched_jobs', NEW.job_id); END;",
     .sql_pg = "CREATE TABLE dbsync_changes(n BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tbl TEXT NOT NULL,"
               " ki BIGINT, kt TEXT);"
               "CREATE FUNCTION dbsync_chg_sched_jobs() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
               " INSERT INTO dbsync_changes(tbl, kt) VALUES('sched_jobs', NEW.job_id); RETURN NULL; END $f$;"
               "CREATE TRIGGER dbsync_chg_sched_jobs AFTER INSERT OR UPDATE ON sched_jobs FOR EACH ROW"
               " EXECUTE FUNCTION dbsync_chg_sched_jobs();"},
};

/* A dbsync schema-2 store (one publisher, pub "") with one published
 * segment signed by id: its bytes in id's mesh store (p->mdir), as the
 * publisher left it; its SHA-256 into sha. */
static void v2_store(struct pub *p, const struct zt_identity *id, uint8_t sha[32])
{
    struct zt_store_schema v2 = {.owner = "dbsync", .steps = DBSYNC_V2, .n_steps = 2};
    assert_int_equal(zt_store_migrate(p->st, &v2), 0);
    uint8_t *seg = NULL;
    size_t len = 0;
    encode_vector(&seg, &len, id, 0);
    zt_sha256(sha, seg, len);
    char path[400], hex[65], got[65];
    snprintf(path, sizeof path, "%s/v2-%s.seg", dir, zt_identity_id(id) + 3);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(seg, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    zt_free(seg);
    struct zt_mesh_opts mo = {.dir = p->mdir, .id = id};
    struct zt_mesh *m = NULL;
    assert_int_equal(zt_mesh_new(&mo, &m), 0);
    assert_int_equal(zt_mesh_add_file(m, path, "dbsync-v2.seg", 1, got), 0);
    zt_mesh_free(m);
    unlink(path);
    zt_hex_encode(hex, sha, 32);
    assert_string_equal(got, hex);
    char sql[400];
    snprintf(sql, sizeof sql,
             pg_db[0] ? "INSERT INTO dbsync_segments VALUES(1, decode('%s', 'hex'), NULL, 2, 1767225600, 1)"
                      : "INSERT INTO dbsync_segments VALUES(1, x'%s', NULL, 2, 1767225600, 1)",
             hex);
    assert_int_equal(zt_store_exec(p->st, sql), 0);
    assert_int_equal(zt_store_exec(p->st, "INSERT INTO dbsync_marks VALUES('log:sched_jobs', 1)"), 0);
}

/* A store a version-2 publisher used: migrated (schemas 3, 4), its segment
 * and row images are the publisher's (the chain goes on from them), its
 * single-publisher trigger is gone and the next round reads the tables
 * whole. */
static void test_migrate_v2(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    struct pub p = {0};
    jobs_open("v2", &p);
    uint8_t first[32];
    v2_store(&p, id, first);
    put_job(p.st, "job-1", 1, 2, zt_time_real_ms(), 0, zt_identity_id(id));
    assert_int_equal(log_entries(p.st), 1); /* the old trigger */
    pub_start(&p, id);
    int v = 0;
    assert_int_equal(zt_store_owner_version(p.st, "dbsync", &v), 0);
    assert_int_equal(v, 7);
    put_job(p.st, "job-2", 2, 2, zt_time_real_ms(), 0, zt_identity_id(id));
    assert_int_equal(log_entries(p.st), 1); /* the old trigger is gone (the entry is job-1's, now ours) */
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(seg.seq, 2);
    assert_memory_equal(seg.prev, first, 32);
    assert_true(in_body(&seg, "\"job-1\"")); /* read whole: the log mark went with the old trigger */
    assert_true(in_body(&seg, "\"job-2\""));
    assert_int_equal(zt_store_exec(p.st, "UPDATE sched_jobs SET tokens = 3 WHERE job_id = 'job-2'"), 0);
    assert_int_equal(log_entries(p.st), 1); /* our trigger */
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(seg.seq, 3);
    assert_int_equal(seg.n_rows, 1);
    zt_buf_deinit(&b);
    pub_close(&p);
    zt_identity_free(id);
}

/* Review7 F7 (PostgreSQL; on SQLite the claim of review8 F5): a schema-2 store shared by two orchestrators (A made the
 * schema-2 chain), B upgraded and opened first. B does not take A's
 * chain (its segments are not signed by B's key): it starts its own at
 * seq 1 and the schema-2 rows stay unclaimed; A, opened next, claims
 * them and goes on from its own head (before: B continued A's chain
 * under its key, A started over). */
static void test_v2_not_claimed(void **state)
{
    (void)state;
    struct zt_identity *a = vector_id(), *b = NULL;
    assert_int_equal(zt_identity_generate(&b), 0);
    struct pub pa = {0}, pb = {0};
    jobs_open("v2two", &pa);
    pub_open_stores("v2two", &pb);
    snprintf(pb.mdir, sizeof pb.mdir, "%s/mesh-v2two-b", dir);
    snprintf(pb.tdir, sizeof pb.tdir, "%s/dbsync", pb.mdir);
    uint8_t first[32];
    v2_store(&pa, a, first);
    put_job(pa.st, "job-b", 1, 2, zt_time_real_ms(), 0, zt_identity_id(b));
    pub_start(&pb, b); /* the non-owner first */
    if (!pg_db[0]) {
        /* SQLite: a store is one node's own, so a schema-2 chain whose
         * newest segment it cannot read (here: another mesh directory, as
         * for an owner whose mesh directory was lost) is claimed
         * (review8 F5); only a shared PostgreSQL leaves it */
        assert_int_equal(count_sql(pb.st, "SELECT COUNT(*) FROM dbsync_segments WHERE pub = ?", ""), 0);
        assert_int_equal(count_sql(pb.st, "SELECT COUNT(*) FROM dbsync_segments WHERE pub = ?", zt_identity_id(b)), 1);
        pub_close(&pb);
        pub_close(&pa);
        zt_identity_free(b);
        zt_identity_free(a);
        return;
    }
    assert_int_equal(count_sql(pb.st, "SELECT COUNT(*) FROM dbsync_segments WHERE pub = ?", ""), 1);
    assert_int_equal(count_sql(pb.st, "SELECT COUNT(*) FROM dbsync_segments WHERE pub = ?", zt_identity_id(b)), 0);
    struct zt_buf buf;
    zt_buf_init(&buf, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    publish_want(&pb, b, 1, &buf, &seg);
    assert_int_equal(seg.seq, 1); /* a chain of its own */
    assert_true(in_body(&seg, "\"job-b\""));
    assert_int_equal(count_sql(pb.st, "SELECT COUNT(*) FROM dbsync_segments WHERE pub = ?", ""), 1);
    pub_start(&pa, a); /* the owner: its chain goes on */
    assert_int_equal(count_sql(pa.st, "SELECT COUNT(*) FROM dbsync_segments WHERE pub = ?", ""), 0);
    assert_int_equal(count_sql(pa.st, "SELECT COUNT(*) FROM dbsync_segments WHERE pub = ?", zt_identity_id(a)), 1);
    put_job(pa.st, "job-a", 2, 2, zt_time_real_ms(), 0, zt_identity_id(a));
    publish_want(&pa, a, 1, &buf, &seg);
    assert_int_equal(seg.seq, 2);
    assert_memory_equal(seg.prev, first, 32);
    assert_true(in_body(&seg, "\"job-a\""));
    zt_buf_deinit(&buf);
    pub_close(&pb);
    pub_close(&pa);
    zt_identity_free(b);
    zt_identity_free(a);
}

/* ---- the ledger version ------------------------------------------------------------------ */

/* The one integer sql selects (no parameter). */
static int64_t num(struct zt_store *st, const char *sql)
{
    struct zt_store_stmt *q = NULL;
    int64_t n = -2;
    assert_int_equal(zt_store_prepare(st, sql, &q), 0);
    assert_int_equal(zt_store_step(q), ZT_STORE_ROW);
    assert_int_equal(zt_store_column_i64(q, 0, &n), 0);
    zt_store_stmt_free(q);
    return n;
}

#define LVER "SELECT v FROM ledger_version"
#define LREST "SELECT COALESCE(restored, -1) FROM ledger_version"

/* Every row inserted, changed or deleted in any ledger table bumps the
 * ledger version in the writer's transaction, whoever writes: the
 * ledger's own calls (an account, a mint, a payout address changed), and
 * plain SQL on each of its nine tables (a batch confirmed, a clawback's
 * delete of an earning); a rolled-back write leaves it. On PostgreSQL an
 * update that changes nothing does not count (SQLite counts it). */
static void test_ledger_version(void **state)
{
    (void)state;
    struct pub p = {0};
    pub_open_stores("lver", &p);
    struct zt_store *st = p.st;
    struct zt_ledger *l = NULL;
    assert_int_equal(zt_ledger_new(st, &l), 0);
    int v = 0;
    assert_int_equal(zt_store_owner_version(st, "ledger", &v), 0);
    assert_int_equal(v, 4);
    assert_int_equal(num(st, LREST), -1); /* never restored */
    int64_t v0 = num(st, LVER), acct = 0, prov = 0;
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_USER, "0x00000000000000000000000000000000000000b1", NULL, &acct), 0);
    assert_true(num(st, LVER) > v0);
    v0 = num(st, LVER);
    assert_int_equal(zt_ledger_mint(l, "lv-dep-1", acct, 5, NULL, NULL), 0);
    assert_true(num(st, LVER) > v0);
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_PROVIDER, "zt1provider", "0x00000000000000000000000000000000000000c1",
                                       &prov),
                     0);
    v0 = num(st, LVER);
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_PROVIDER, "zt1provider", "0x00000000000000000000000000000000000000c2",
                                       &prov),
                     0); /* the payout address changed: no new row anywhere */
    assert_int_equal(num(st, LVER), v0 + 1);
    bool pg = zt_store_dialect(st) == ZT_STORE_DIALECT_POSTGRES;
    /* each statement writes one row: one more each */
    const char *const w[] = {
        "INSERT INTO ledger_accounts(kind, owner, payout, balance) VALUES(2, 'lv-test', NULL, '0')",
        pg ? "INSERT INTO ledger_txs(idem_key, body, mint, memo) VALUES('lv-tx', decode('00', 'hex'), 0, '')"
           : "INSERT INTO ledger_txs(idem_key, body, mint, memo) VALUES('lv-tx', X'00', 0, '')",
        "INSERT INTO ledger_entries(tx_id, account_id, credit, amount, balance_after) SELECT t.id, a.id, 1, '1', '1'"
        " FROM ledger_txs t, ledger_accounts a WHERE t.idem_key = 'lv-tx' AND a.owner = 'lv-test'",
        "INSERT INTO ledger_totals(k, v) VALUES('lv', '0')",
        "INSERT INTO ledger_escrows(job_id, user_id, amount, state) VALUES('lv-job', 1, '1', 1)",
        "INSERT INTO ledger_earnings(provider_id, job_id, amount, ts) VALUES(1, 'lv-job', '1', 1)",
        pg ? "INSERT INTO ledger_batches(root, n_leaves, total, state, created) VALUES(decode('ab', 'hex'), 1, '1', 0, 77)"
           : "INSERT INTO ledger_batches(root, n_leaves, total, state, created) VALUES(X'ab', 1, '1', 0, 77)",
        "INSERT INTO ledger_batch_items(earning_id, batch_id) SELECT e.id, b.id FROM ledger_earnings e, ledger_batches b"
        " WHERE e.job_id = 'lv-job' AND b.created = 77",
        "INSERT INTO ledger_batch_leaves(batch_id, idx, address, amount) SELECT id, 0, '0xab', '1' FROM ledger_batches"
        " WHERE created = 77",
        "UPDATE ledger_accounts SET payout = '0x01' WHERE owner = 'lv-test'",
        "UPDATE ledger_txs SET memo = 'm' WHERE idem_key = 'lv-tx'",
        "UPDATE ledger_entries SET credit = 0 WHERE tx_id = (SELECT id FROM ledger_txs WHERE idem_key = 'lv-tx')",
        "UPDATE ledger_totals SET v = '1' WHERE k = 'lv'",
        "UPDATE ledger_escrows SET state = 2 WHERE job_id = 'lv-job'",
        "UPDATE ledger_earnings SET ts = 2 WHERE job_id = 'lv-job'",
        "UPDATE ledger_batches SET state = 1 WHERE created = 77", /* a batch confirmed */
        "UPDATE ledger_batch_leaves SET amount = '2' WHERE address = '0xab'",
        "DELETE FROM ledger_batch_leaves WHERE address = '0xab'",
        "DELETE FROM ledger_batch_items WHERE batch_id = (SELECT id FROM ledger_batches WHERE created = 77)",
        "DELETE FROM ledger_batches WHERE created = 77",
        "DELETE FROM ledger_earnings WHERE job_id = 'lv-job'", /* a clawback */
        "DELETE FROM ledger_escrows WHERE job_id = 'lv-job'",
        "DELETE FROM ledger_totals WHERE k = 'lv'",
        "DELETE FROM ledger_entries WHERE tx_id = (SELECT id FROM ledger_txs WHERE idem_key = 'lv-tx')",
        "DELETE FROM ledger_txs WHERE idem_key = 'lv-tx'",
        "DELETE FROM ledger_accounts WHERE owner = 'lv-test'",
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        int64_t before = num(st, LVER);
        assert_int_equal(zt_store_exec(st, w[i]), 0);
        if (num(st, LVER) != before + 1) fail_msg("%s: version %lld -> %lld", w[i], (long long)before, (long long)num(st, LVER));
    }
    /* a write rolled back counts nothing */
    v0 = num(st, LVER);
    assert_int_equal(zt_store_exec(st, "BEGIN; UPDATE ledger_totals SET v = '99' WHERE k = 'minted'; ROLLBACK"), 0);
    assert_int_equal(num(st, LVER), v0);
    /* an update that changes nothing */
    assert_int_equal(zt_store_exec(st, "UPDATE ledger_totals SET v = v WHERE k = 'minted'"), 0);
    assert_int_equal(num(st, LVER), v0 + (pg ? 0 : 1));
    zt_ledger_free(l);
    pub_close(&p);
}

/* A ledger change committed by another connection after a round read the
 * ledger version and before it read the change log and the rows (the
 * hook between those reads commits it). The round reads all three in one
 * snapshot (review9 F5): its segment is labelled with the version before
 * the change and holds none of its rows; the next round's segment has
 * them, under the version after it. Read in separate statements, the
 * first segment held the new minted total under the old version. */
static struct {
    struct zt_ledger *l;
    int64_t acct;
    int calls, rc;
} hk;

static void mint_between(void *ud)
{
    (void)ud;
    if (hk.calls++ == 0) hk.rc = zt_ledger_mint(hk.l, "f5-2", hk.acct, 7, NULL, NULL);
}

static void test_round_snapshot(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    struct pub p = {0};
    pub_open_stores("snap", &p);
    memset(&hk, 0, sizeof hk);
    assert_int_equal(zt_ledger_new(p.st, &hk.l), 0);
    assert_int_equal(
        zt_ledger_account(hk.l, ZT_LEDGER_USER, "0x00000000000000000000000000000000000000b5", NULL, &hk.acct), 0);
    assert_int_equal(zt_ledger_mint(hk.l, "f5-1", hk.acct, 5, NULL, NULL), 0);
    int64_t v1 = num(p.st, LVER);
    pub_start(&p, id);
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    zt__dbs_round_hook = mint_between;
    publish_want(&p, id, 1, &b, &seg);
    zt__dbs_round_hook = NULL;
    assert_int_equal(hk.calls, 1);
    assert_int_equal(hk.rc, 0);
    int64_t v2 = num(p.st, LVER);
    assert_true(v2 > v1);
    assert_int_equal(seg.ledger_version, (uint64_t)v1);
    assert_true(in_body(&seg, "[\"ledger_totals\",\"minted\",\"5\"]\n"));
    assert_false(in_body(&seg, "[\"ledger_totals\",\"minted\",\"12\"]\n"));
    /* the change goes out in the next round, under its own version */
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(seg.ledger_version, (uint64_t)v2);
    assert_true(in_body(&seg, "[\"ledger_totals\",\"minted\",\"12\"]\n"));
    publish_want(&p, id, 0, &b, &seg);
    zt_buf_deinit(&b);
    zt_ledger_free(hk.l);
    pub_close(&p);
    zt_identity_free(id);
}

/* Two orchestrators' chains of one ledger: A published at the first
 * state (version va), B at that and again after one more mint (vb > va). */
struct chains {
    struct zt_identity *a, *b;
    struct pub pa, pb;
    char *head_a, *head_b;  /* their signed head records */
    int64_t va, vb;
    char db[1024];          /* PostgreSQL: the rebuilds' database (a fresh one each) */
    int n_db;
};

static char *head_of(struct zt_dbsync *s, const struct zt_identity *id)
{
    char *st = NULL;
    assert_int_equal(zt_dbsync_status_json(s, &st), 0);
    json_t *j = json_loads(st, 0, NULL);
    zt_free(st);
    struct zt_dbsync_head h = {.seq = (uint64_t)json_integer_value(json_object_get(j, "seq")),
                               .exp = zt_time_real_ms() / 1000 + 3600};
    assert_int_equal(zt_hex_decode_str(h.sha256, 32, json_string_value(json_object_get(j, "sha256")), ZT_HEX_LOWER), 0);
    json_decref(j);
    char *rec = NULL;
    assert_int_equal(zt_dbsync_head_sign(id, &h, &rec), 0);
    return rec;
}

static void chains_make(struct chains *c)
{
    memset(c, 0, sizeof *c);
    c->a = vector_id();
    assert_int_equal(zt_identity_generate(&c->b), 0);
    jobs_open("orig", &c->pa);
    pub_open_stores("orig", &c->pb);
    snprintf(c->pb.mdir, sizeof c->pb.mdir, "%s/mesh-orig-b", dir);
    snprintf(c->pb.tdir, sizeof c->pb.tdir, "%s/dbsync", c->pb.mdir);
    struct zt_ledger *l = NULL;
    assert_int_equal(zt_ledger_new(c->pa.st, &l), 0);
    int64_t acct = 0, prov = 0;
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_USER, "0x00000000000000000000000000000000000000b1", NULL, &acct), 0);
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_PROVIDER, "zt1provider", "0x00000000000000000000000000000000000000c1",
                                       &prov),
                     0);
    assert_int_equal(zt_ledger_mint(l, "dep-1", acct, 5, NULL, NULL), 0);
    /* an earning and a pending batch (what a clawback and a confirmation change later) */
    bool pg = zt_store_dialect(c->pa.st) == ZT_STORE_DIALECT_POSTGRES;
    assert_int_equal(zt_store_exec(c->pa.st, "INSERT INTO ledger_earnings(provider_id, job_id, amount, ts)"
                                             " VALUES(1, 'job-e', '1', 1)"),
                     0);
    assert_int_equal(zt_store_exec(c->pa.st, pg ? "INSERT INTO ledger_batches(root, n_leaves, total, state, created)"
                                                  " VALUES(decode('ab', 'hex'), 1, '1', 0, 77)"
                                                : "INSERT INTO ledger_batches(root, n_leaves, total, state, created)"
                                                  " VALUES(X'ab', 1, '1', 0, 77)"),
                     0);
    /* 1,100 more rows: the tie check reads a table of more than one of
     * its PostgreSQL cursor's pages (review9 F6) */
    assert_int_equal(zt_store_exec(c->pa.st, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1100)"
                                             " INSERT INTO ledger_totals(k, v) SELECT 'n' || i, '0' FROM n"),
                     0);
    pub_start(&c->pa, c->a);
    pub_start(&c->pb, c->b);
    unsigned made = 0;
    assert_int_equal(zt_dbsync_publish(c->pa.s, &made), 0);
    assert_int_equal(made, 1);
    assert_int_equal(zt_dbsync_publish(c->pb.s, &made), 0);
    assert_int_equal(made, 1);
    c->va = num(c->pa.st, LVER);
    assert_int_equal(zt_ledger_mint(l, "dep-2", acct, 7, NULL, NULL), 0);
    assert_int_equal(zt_dbsync_publish(c->pb.s, &made), 0);
    assert_int_equal(made, 1);
    c->vb = num(c->pa.st, LVER);
    assert_true(c->vb > c->va);
    /* what each chain's head segment says */
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    last_segment(c->pa.s, c->pa.m, c->a, &b, &seg);
    assert_int_equal(seg.ledger_version, (uint64_t)c->va);
    last_segment(c->pb.s, c->pb.m, c->b, &b, &seg);
    assert_int_equal(seg.ledger_version, (uint64_t)c->vb);
    zt_buf_deinit(&b);
    c->head_a = head_of(c->pa.s, c->a);
    c->head_b = head_of(c->pb.s, c->b);
    zt_ledger_free(l);
}

static void chains_free(struct chains *c)
{
    zt_free(c->head_a);
    zt_free(c->head_b);
    pub_close(&c->pb);
    pub_close(&c->pa);
    zt_identity_free(c->b);
    zt_identity_free(c->a);
}

/* An empty store as an orchestrator that lost it opens it again: a fresh
 * ledger (its seed) and the scheduler's table. */
static struct zt_store *fresh_store(struct chains *c, const char *name)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s.db", dir, name);
    if (pg_db[0] && !zt_test_pg_new_db(c->db, sizeof c->db)) fail_msg("a PostgreSQL database: %s", c->db);
    struct zt_store_opts so = {.path = pg_db[0] ? c->db : path, .busy_timeout_ms = 5000};
    struct zt_store *st = NULL;
    assert_int_equal(zt_store_open(pg_db[0] ? "postgres" : "sqlite", &so, &st), 0);
    struct zt_ledger *l = NULL;
    assert_int_equal(zt_ledger_new(st, &l), 0);
    zt_ledger_free(l);
    struct zt_store_schema sc = {.owner = "sched", .steps = SCHED_STEPS, .n_steps = 2};
    assert_int_equal(zt_store_migrate(st, &sc), 0);
    return st;
}

/* zt_dbsync_rebuild of who (A or B of c) into st, its head from a
 * stand-in DHT: the result, why says more. */
static int rebuild_as(struct chains *c, bool b, struct zt_store *st, char *why, size_t cap)
{
    struct pub *p = b ? &c->pb : &c->pa;
    struct zt_dbsync_opts o = {.st = st, .mesh = p->m, .id = b ? c->b : c->a, .tmp_dir = p->tdir, .interval_s = 1};
    struct zt_dbsync *s = NULL;
    assert_int_equal(zt_dbsync_new(&o, &s), 0);
    struct rounds r = {.rec = {{b ? c->head_b : c->head_a}}, .n = 1};
    int rc = zt__dbs_rebuild(s, fake_get, &r, 10000, why, cap);
    printf("# rebuild as %s: %s (%s)\n", b ? "B" : "A", why, zt_strerror(rc));
    zt_dbsync_free(s);
    /* the copies of the chain taken for the replay (review8 F13) are gone */
    for (int seq = 1; seq <= 3; seq++) {
        char path[600];
        snprintf(path, sizeof path, "%s/rebuild-%d.seg", p->tdir, seq);
        assert_int_not_equal(access(path, F_OK), 0);
    }
    return rc;
}

/* `zentalk ARGS --config DIR` (ZT_CLI_BIN) on the PostgreSQL database db
 * (its conninfo in the environment, as an operator's would be): its exit
 * status; its stdout and stderr must hold want. */
static int cli(const char *db, const char *const *args, const char *want)
{
    char out[420], cfg[420];
    snprintf(out, sizeof out, "%s/cli.out", dir);
    snprintf(cfg, sizeof cfg, "%s/cli-config", dir);
    mkdir(cfg, 0700);
    static char a[16][1100];
    char *argv[16];
    size_t n = 0;
    snprintf(a[n++], sizeof a[0], "%s", ZT_CLI_BIN);
    for (size_t i = 0; args[i] && n < 12; i++) snprintf(a[n++], sizeof a[0], "%s", args[i]);
    snprintf(a[n++], sizeof a[0], "--config");
    snprintf(a[n++], sizeof a[0], "%s", cfg);
    for (size_t i = 0; i < n; i++) argv[i] = a[i];
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(126);
        setenv("ZENTALK_DATABASE_DRIVER", "postgres", 1);
        setenv("ZENTALK_DATABASE_POSTGRES_URL", db, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    int wst = 0;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(zt_file_read(out, 1 << 20, &text, &len), 0);
    printf("# zentalk %s %s: %.*s", args[0], args[1], (int)len, text);
    if (!memmem(text, len, want, strlen(want))) fail_msg("zentalk %s %s: no \"%s\" in its output", args[0], args[1], want);
    zt_free(text);
    unlink(out);
    return WIFEXITED(wst) ? WEXITSTATUS(wst) : -1;
}

/* the store's ledger: 2 mints (B's chain) or 1 (A's) */
#define MINTS "SELECT COUNT(*) FROM ledger_txs WHERE mint = 1"
#define PAYOUT_C3 "SELECT COUNT(*) FROM ledger_accounts WHERE payout = '0x00000000000000000000000000000000000000c3'"

/* A rebuild restores the chain's ledger version into the store (SQLite:
 * a store of one node's own, rebuilt only while empty), and the segments
 * carry the version of what they hold. */
static void test_rebuild_version(void **state)
{
    (void)state;
    struct chains c;
    chains_make(&c);
    char why[1536];
    struct zt_store *st = fresh_store(&c, "restored");
    assert_int_equal(rebuild_as(&c, false, st, why, sizeof why), 0);
    assert_int_equal(num(st, MINTS), 1);
    assert_int_equal(num(st, LVER), c.va);
    assert_int_equal(num(st, LREST), c.va);
    assert_non_null(strstr(why, "rebuilt from 1 segment(s)"));
    zt_store_close(st);
    st = fresh_store(&c, "restored-b");
    assert_int_equal(rebuild_as(&c, true, st, why, sizeof why), 0);
    assert_int_equal(num(st, MINTS), 2);
    assert_int_equal(num(st, LVER), c.vb);
    assert_int_equal(num(st, LREST), c.vb);
    /* a change after it moves the version on from there */
    assert_int_equal(zt_store_exec(st, "UPDATE ledger_batches SET state = 1 WHERE created = 77"), 0);
    assert_int_equal(num(st, LVER), c.vb + 1);
    assert_int_equal(num(st, LREST), c.vb);
    zt_store_close(st);
    chains_free(&c);
}

/* A shared PostgreSQL emptied, both orchestrators rebuild: the ledger is
 * B's (the newer) whichever rebuilds first. Before, the first replayed
 * restored its ledger and the second only its jobs: A first left A's
 * older ledger (1 mint, not 2). */
static void test_rebuild_order(void **state)
{
    (void)state;
    struct chains c;
    chains_make(&c);
    char why[1536];
    for (int order = 0; order < 2; order++) {
        struct zt_store *st = fresh_store(&c, order ? "ba" : "ab");
        assert_int_equal(rebuild_as(&c, order == 1, st, why, sizeof why), 0);
        assert_int_equal(rebuild_as(&c, order == 0, st, why, sizeof why), 0);
        assert_int_equal(num(st, MINTS), 2);
        assert_int_equal(num(st, LVER), c.vb);
        assert_int_equal(num(st, LREST), c.vb);
        if (order == 0) assert_non_null(strstr(why, "replaced by this chain's, the newer")); /* B second */
        if (order == 1) assert_non_null(strstr(why, "is older than the database's")); /* A second: kept */
        zt_store_close(st);
    }
    chains_free(&c);
}

/* B (the newer) rebuilt first, then the ledger changes in ways that add
 * no transaction (a payout address, a batch confirmed, an earning clawed
 * back): A's older chain does not overwrite them.
 * test_rebuild_both_changed: A (the older) rebuilt first, then a payout
 * address changes, then B: each side holds changes the other lacks:
 * refused, naming both versions, the database left as it was (the
 * attempt of session 8 that compared append-only keys replaced it and
 * lost the change: review8 F1); marked the newest by the operator, B
 * rebuilds its jobs only. */
static void test_rebuild_changed(void **state)
{
    (void)state;
    struct chains c;
    chains_make(&c);
    char why[1536];
    struct zt_store *st = fresh_store(&c, "changed");
    assert_int_equal(rebuild_as(&c, true, st, why, sizeof why), 0);
    struct zt_ledger *l = NULL;
    assert_int_equal(zt_ledger_new(st, &l), 0);
    int64_t prov = 0;
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_PROVIDER, "zt1provider", "0x00000000000000000000000000000000000000c3",
                                       &prov),
                     0);
    zt_ledger_free(l);
    assert_int_equal(zt_store_exec(st, "UPDATE ledger_batches SET state = 1 WHERE created = 77"), 0);
    assert_int_equal(zt_store_exec(st, "DELETE FROM ledger_earnings WHERE job_id = 'job-e'"), 0);
    int64_t v = num(st, LVER);
    assert_true(v > c.vb);
    assert_int_equal(rebuild_as(&c, false, st, why, sizeof why), 0); /* A's jobs only */
    assert_int_equal(num(st, PAYOUT_C3), 1);
    assert_int_equal(num(st, "SELECT state FROM ledger_batches WHERE created = 77"), 1);
    assert_int_equal(num(st, "SELECT COUNT(*) FROM ledger_earnings WHERE job_id = 'job-e'"), 0);
    assert_int_equal(num(st, MINTS), 2);
    assert_int_equal(num(st, LVER), v);
    assert_non_null(strstr(why, "is older than the database's"));
    zt_store_close(st);
    chains_free(&c);
}

static void test_rebuild_both_changed(void **state)
{
    (void)state;
    struct chains c;
    chains_make(&c);
    char why[1536];
    struct zt_ledger *l = NULL;
    int64_t prov = 0, v;
    struct zt_store *st = fresh_store(&c, "both");
    assert_int_equal(rebuild_as(&c, false, st, why, sizeof why), 0);
    assert_int_equal(zt_ledger_new(st, &l), 0);
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_PROVIDER, "zt1provider", "0x00000000000000000000000000000000000000c3",
                                       &prov),
                     0);
    zt_ledger_free(l);
    v = num(st, LVER);
    assert_int_equal(rebuild_as(&c, true, st, why, sizeof why), ZT_EEXIST);
    char want[128];
    snprintf(want, sizeof want, "restored version %lld (it is at version %lld now)", (long long)c.va, (long long)v);
    assert_non_null(strstr(why, want));
    snprintf(want, sizeof want, "at version %lld, newer than %lld", (long long)c.vb, (long long)c.va);
    assert_non_null(strstr(why, want));
    assert_non_null(strstr(why, "Nothing was rebuilt"));
    assert_int_equal(num(st, PAYOUT_C3), 1);
    assert_int_equal(num(st, MINTS), 1);
    assert_int_equal(num(st, LVER), v);
    assert_int_equal(count_sql(st, "SELECT COUNT(*) FROM dbsync_segments WHERE pub = ?", zt_identity_id(c.b)), 0);
    /* the operator keeps the database's with the command the message
     * names (marked the newest): B rebuilds its jobs only */
    char cv[32];
    snprintf(want, sizeof want, "zentalk ledger prefer database --chain-version %lld", (long long)c.vb);
    assert_non_null(strstr(why, want));
    snprintf(cv, sizeof cv, "%lld", (long long)c.vb);
    const char *const keep[] = {"ledger", "prefer", "database", "--chain-version", cv, NULL};
    assert_int_equal(cli(c.db, keep, "newer than the chain's"), 0);
    assert_true(num(st, LVER) > c.vb);
    assert_int_equal(num(st, LREST), -1);
    assert_int_equal(rebuild_as(&c, true, st, why, sizeof why), 0);
    assert_non_null(strstr(why, "jobs only"));
    assert_int_equal(num(st, PAYOUT_C3), 1);
    assert_int_equal(num(st, MINTS), 1);
    zt_store_close(st);
    chains_free(&c);
}

/* The other way out of that refusal: the operator takes the chain's
 * (`zentalk ledger prefer chain --yes` empties the ledger), and the
 * rebuild restores B's ledger (2 mints, the payout change gone). Without
 * --yes the command changes nothing; a bad verb or version is a usage
 * error. */
static void test_rebuild_take_chain(void **state)
{
    (void)state;
    struct chains c;
    chains_make(&c);
    char why[1536];
    struct zt_ledger *l = NULL;
    int64_t prov = 0;
    struct zt_store *st = fresh_store(&c, "take");
    assert_int_equal(rebuild_as(&c, false, st, why, sizeof why), 0);
    assert_int_equal(zt_ledger_new(st, &l), 0);
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_PROVIDER, "zt1provider", "0x00000000000000000000000000000000000000c3",
                                       &prov),
                     0);
    zt_ledger_free(l);
    assert_int_equal(rebuild_as(&c, true, st, why, sizeof why), ZT_EEXIST);
    assert_non_null(strstr(why, "zentalk ledger prefer chain --yes"));
    const char *const no_yes[] = {"ledger", "prefer", "chain", NULL};
    assert_int_equal(cli(c.db, no_yes, "add --yes to confirm"), 2);
    const char *const bad[] = {"ledger", "prefer", "both", NULL};
    assert_int_equal(cli(c.db, bad, "takes database or chain"), 2);
    const char *const bad_v[] = {"ledger", "prefer", "database", "--chain-version", "-3", NULL};
    assert_int_equal(cli(c.db, bad_v, "--chain-version V"), 2);
    assert_int_equal(num(st, PAYOUT_C3), 1);
    assert_int_equal(num(st, MINTS), 1);
    const char *const take[] = {"ledger", "prefer", "chain", "--yes", NULL};
    assert_int_equal(cli(c.db, take, "ledger emptied"), 0);
    assert_int_equal(num(st, MINTS), 0);
    /* awaiting the rebuild: a write on another handle is refused */
    int64_t user = 0;
    assert_int_equal(zt_ledger_new(st, &l), 0);
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_USER, "0x00000000000000000000000000000000000000b9", NULL, &user),
                     ZT_EBUSY);
    assert_int_equal(zt_ledger_mint(l, "take-1", 1, 5, NULL, NULL), ZT_EBUSY);
    zt_ledger_free(l);
    assert_int_equal(rebuild_as(&c, true, st, why, sizeof why), 0);
    assert_int_equal(num(st, MINTS), 2);
    assert_int_equal(num(st, PAYOUT_C3), 0);
    assert_int_equal(num(st, LVER), c.vb);
    assert_int_equal(num(st, LREST), c.vb);
    /* the rebuild cleared the mark: writes go in again */
    assert_int_equal(zt_ledger_new(st, &l), 0);
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_USER, "0x00000000000000000000000000000000000000b9", NULL, &user), 0);
    assert_int_equal(zt_ledger_mint(l, "take-1", user, 5, NULL, NULL), 0);
    zt_ledger_free(l);
    assert_int_equal(num(st, MINTS), 3);
    zt_store_close(st);
    chains_free(&c);
}

/* pub's segments and published rows removed from st (as if it had never rebuilt there) */
static void forget_pub(struct zt_store *st, const char *pub)
{
    const char *const forget[] = {"DELETE FROM dbsync_segments WHERE pub = ?", "DELETE FROM dbsync_rows WHERE pub = ?"};
    for (size_t i = 0; i < 2; i++) {
        struct zt_store_stmt *q = NULL;
        assert_int_equal(zt_store_prepare(st, forget[i], &q), 0);
        assert_int_equal(zt_store_bind_text(q, 1, pub, strlen(pub)), 0);
        assert_int_equal(zt_store_step(q), ZT_STORE_DONE);
        zt_store_stmt_free(q);
    }
}

/* Both at one version: the same ledger is kept (B rebuilding again into
 * the database B restored, its own bookkeeping there removed by hand);
 * a row the database lacks and the chain holds (an earning the database
 * clawed back, the chain carrying deletes, format 3) is a difference
 * (before format 3 it was not counted), and with the earning back as it
 * was the ledger is the same again;
 * the same version with a row that differs (two ledgers that parted at a
 * rebuild, made here by changing a payout address and setting the
 * version back by hand) is refused, naming the version. */
static void test_rebuild_tie(void **state)
{
    (void)state;
    struct chains c;
    chains_make(&c);
    char why[1536];
    struct zt_store *st = fresh_store(&c, "tie");
    assert_int_equal(rebuild_as(&c, true, st, why, sizeof why), 0);
    forget_pub(st, zt_identity_id(c.b));
    assert_int_equal(rebuild_as(&c, true, st, why, sizeof why), 0);
    assert_non_null(strstr(why, "this chain's ledger is the database's"));
    assert_int_equal(num(st, MINTS), 2);
    /* a row only the chain holds (an earning the database clawed back
     * and the chain, carrying deletes (format 3), did not) now makes a
     * difference: refused, the database left as it was (before format 3
     * such a row did not count: no segment could say it was deleted) */
    forget_pub(st, zt_identity_id(c.b));
    int64_t eid = num(st, "SELECT id FROM ledger_earnings WHERE job_id = 'job-e'");
    assert_int_equal(zt_store_exec(st, "DELETE FROM ledger_earnings WHERE job_id = 'job-e'"), 0);
    char back[96];
    snprintf(back, sizeof back, "UPDATE ledger_version SET v = %lld", (long long)c.vb);
    assert_int_equal(zt_store_exec(st, back), 0);
    assert_int_equal(rebuild_as(&c, true, st, why, sizeof why), ZT_EEXIST);
    char want[128];
    snprintf(want, sizeof want, "both at version %lld but 1 of their rows differ", (long long)c.vb);
    assert_non_null(strstr(why, want));
    assert_int_equal(num(st, "SELECT COUNT(*) FROM ledger_earnings WHERE job_id = 'job-e'"), 0);
    /* the earning back as it was: the same ledger again */
    char again[256];
    snprintf(again, sizeof again,
             "INSERT INTO ledger_earnings(id, provider_id, job_id, amount, ts)%s VALUES(%lld, 1, 'job-e', '1', 1)",
             pg_db[0] ? " OVERRIDING SYSTEM VALUE" : "", (long long)eid);
    assert_int_equal(zt_store_exec(st, again), 0);
    forget_pub(st, zt_identity_id(c.b));
    assert_int_equal(zt_store_exec(st, back), 0);
    assert_int_equal(rebuild_as(&c, true, st, why, sizeof why), 0);
    assert_non_null(strstr(why, "this chain's ledger is the database's"));
    /* parted: a row differs at the same version */
    forget_pub(st, zt_identity_id(c.b));
    assert_int_equal(zt_store_exec(st, "UPDATE ledger_accounts SET payout = '0x00000000000000000000000000000000000000c3'"
                                       " WHERE owner = 'zt1provider'"),
                     0);
    assert_int_equal(zt_store_exec(st, back), 0);
    assert_int_equal(rebuild_as(&c, true, st, why, sizeof why), ZT_EEXIST);
    snprintf(want, sizeof want, "both at version %lld but 1 of their rows differ", (long long)c.vb);
    assert_non_null(strstr(why, want));
    assert_int_equal(num(st, PAYOUT_C3), 1);
    zt_store_close(st);
    chains_free(&c);
}

/* ---- deletes (segment format 3) ------------------------------------------------------- */

/* A store rebuilt from id's chain (head rec) with p's mesh: a fresh one
 * (the data directory lost, the keys restored). The result; why says more. */
static int rebuild_into(struct pub *p, struct zt_identity *id, char *head, const char *name, struct zt_store *st,
                        char *why, size_t cap)
{
    struct zt_dbsync_opts o = {.st = st, .mesh = p->m, .id = id, .tmp_dir = p->tdir, .interval_s = 1};
    struct zt_dbsync *s = NULL;
    assert_int_equal(zt_dbsync_new(&o, &s), 0);
    struct rounds r = {.rec = {{head}}, .n = 1};
    int rc = zt__dbs_rebuild(s, fake_get, &r, 10000, why, cap);
    printf("# rebuild %s: %s (%s)\n", name, why, zt_strerror(rc));
    zt_dbsync_free(s);
    return rc;
}

static int rebuild_fresh(struct pub *p, struct zt_identity *id, char *head, const char *name, struct zt_store **out,
                         char *why, size_t cap)
{
    struct chains c;
    memset(&c, 0, sizeof c);
    *out = fresh_store(&c, name);
    return rebuild_into(p, id, head, name, *out, why, cap);
}

static bool tomb_in(const struct zt_dbsync_segment *seg, const char *tbl, long long key)
{
    char t[96];
    snprintf(t, sizeof t, "[\"-%s\",%lld]\n", tbl, key);
    return in_body(seg, t);
}

#define EARNING(job) "SELECT COUNT(*) FROM ledger_earnings WHERE job_id = '" job "'"

/* the database's ledger version and its last rebuild's set to v by hand
 * (the tie check's "both at version v"), our bookkeeping there forgotten */
static void tie_at(struct zt_store *st, const char *pub, int64_t v)
{
    forget_pub(st, pub);
    char sql[128];
    snprintf(sql, sizeof sql, "UPDATE ledger_version SET v = %lld, restored = %lld", (long long)v, (long long)v);
    assert_int_equal(zt_store_exec(st, sql), 0);
}

/* 20,000 ledger_totals rows (one full segment of a round) into st */
#define TOTALS_20K                                                                                                 \
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)"                             \
    " INSERT INTO ledger_totals(k, v) SELECT 'cut' || i, '0' FROM n"

/* Segment seq in st (one publisher's): its SHA-256 in out; whether it is
 * in the mesh (published). */
static bool segment_sha(struct zt_store *st, uint64_t seq, uint8_t out[32])
{
    struct zt_store_stmt *q = NULL;
    assert_int_equal(zt_store_prepare(st, "SELECT sha, published FROM dbsync_segments WHERE seq = ?", &q), 0);
    assert_int_equal(zt_store_bind_i64(q, 1, (int64_t)seq), 0);
    assert_int_equal(zt_store_step(q), ZT_STORE_ROW);
    const void *p = NULL;
    size_t n = 0;
    int64_t published = 0;
    assert_int_equal(zt_store_column_blob(q, 0, &p, &n), 0);
    assert_int_equal(n, 32);
    memcpy(out, p, 32);
    assert_int_equal(zt_store_column_i64(q, 1, &published), 0);
    zt_store_stmt_free(q);
    return published != 0;
}

struct head_get {
    struct zt_dht *dht;
    const char *id;
};

static int head_get(void *ud, bool (*fn)(void *ud, const void *data, size_t len), void *fn_ud)
{
    const struct head_get *g = ud;
    return zt_dht_get_values(g->dht, "dbsync", g->id, 2000, fn, fn_ud);
}

/* The newest head of id another DHT node sees (collected for settle_ms;
 * enough: stop at a head that new). */
static struct zt_dbsync_head newest_head(struct zt_dht *dht, const struct zt_identity *id, unsigned settle_ms,
                                         uint64_t enough)
{
    struct head_get g = {.dht = dht, .id = zt_identity_id(id)};
    struct zt__dbs_heads hs;
    assert_int_equal(zt__dbs_collect_heads(head_get, &g, zt_identity_sign_pk(id), zt_time_real_ms() / 1000, settle_ms,
                                           enough, 20000, &hs),
                     0);
    return hs.h[0];
}

/* The head record names the last segment in the mesh, never one only made
 * here: a segment whose push failed (its temporary file could not be
 * written) is left out of the head until it is pushed, and a publisher
 * restarted over such a store announces the pushed one. Before, the head
 * named s->seq, the last made, and a peer walking the chain asked for a
 * segment nobody served. */
static void test_head_pushed(void **state)
{
    (void)state;
    if (!zt_dht_available()) zt_skip("the DHT is not built (no OpenDHT)");
    struct zt_dht_opts dopt = {.port = 0};
    struct zt_dht *da = NULL, *db = NULL;
    if (zt_dht_new(&dopt, &da) != 0) zt_skip("cannot start a DHT node here (UDP bind)");
    assert_int_equal(zt_dht_new(&dopt, &db), 0);
    char bs[64];
    snprintf(bs, sizeof bs, "127.0.0.1:%u", (unsigned)zt_dht_port(da));
    assert_int_equal(zt_dht_bootstrap(db, bs), 0);
    struct zt_identity *id = NULL;
    assert_int_equal(zt_identity_generate(&id), 0);
    struct pub p = {0};
    pub_open_stores("headpush", &p);
    struct zt_ledger *l = NULL;
    assert_int_equal(zt_ledger_new(p.st, &l), 0);
    int64_t acct = 0;
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_USER, "0x00000000000000000000000000000000000000c1", NULL, &acct), 0);
    assert_int_equal(zt_ledger_mint(l, "hp-1", acct, 5, NULL, NULL), 0);
    pub_start(&p, id);
    unsigned made = 0;
    assert_int_equal(zt_dbsync_publish(p.s, &made), 0); /* segment 1, in the mesh */
    assert_true(made >= 1);
    uint64_t pushed = 0;
    uint8_t sha[32], sha2[32];
    for (uint64_t q = 1;; q++) { /* the round's last part */
        struct zt_store_stmt *c = NULL;
        assert_int_equal(zt_store_prepare(p.st, "SELECT count(*) FROM dbsync_segments WHERE seq = ?", &c), 0);
        assert_int_equal(zt_store_bind_i64(c, 1, (int64_t)q), 0);
        assert_int_equal(zt_store_step(c), ZT_STORE_ROW);
        int64_t k = 0;
        assert_int_equal(zt_store_column_i64(c, 0, &k), 0);
        zt_store_stmt_free(c);
        if (!k) break;
        pushed = q;
    }
    assert_true(segment_sha(p.st, pushed, sha));
    /* the next segment cannot be pushed: its temporary file has nowhere to go */
    assert_int_equal(rmdir(p.tdir), 0);
    int fd = open(p.tdir, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(zt_ledger_mint(l, "hp-2", acct, 7, NULL, NULL), 0);
    assert_int_not_equal(zt_dbsync_publish(p.s, &made), 0);
    assert_false(segment_sha(p.st, pushed + 1, sha2)); /* made, not in the mesh */
    /* a publisher started over this store announces at once: the pushed one */
    zt_dbsync_free(p.s);
    struct zt_dbsync_opts o = {.st = p.st2, .mesh = p.m, .id = id, .tmp_dir = p.tdir, .interval_s = 1, .head_ttl_s = 3};
    assert_int_equal(zt_dbsync_new(&o, &p.s), 0);
    assert_int_equal(zt_dbsync_start(p.s, da), 0);
    struct zt_dbsync_head h = newest_head(db, id, 4000, 0); /* rounds (1 s) and renewals (1 s) on the way */
    printf("# a segment made and not pushed: the head names %llu (pushed %llu, made %llu)\n", (unsigned long long)h.seq,
           (unsigned long long)pushed, (unsigned long long)pushed + 1);
    assert_int_equal(h.seq, pushed);
    assert_memory_equal(h.sha256, sha, 32);
    /* the way cleared: the next round pushes it, and the head follows */
    assert_int_equal(unlink(p.tdir), 0);
    assert_int_equal(mkdir(p.tdir, 0700), 0);
    uint64_t until = zt_time_mono_ms() + 20000;
    while ((h = newest_head(db, id, 1000, pushed + 1)).seq != pushed + 1) {
        assert_true(zt_time_mono_ms() < until);
        zt_time_sleep_ms(200);
    }
    assert_true(segment_sha(p.st, pushed + 1, sha2));
    assert_memory_equal(h.sha256, sha2, 32);
    zt_ledger_free(l);
    pub_close(&p);
    zt_identity_free(id);
    zt_dht_free(db);
    zt_dht_free(da);
}

/* From now on storing segment seq of this publisher fails (a round cut
 * before it); cut_uncut() ends that. */
static void cut_at(struct zt_store *st, bool pg, int seq)
{
    char sql[512];
    if (pg)
        snprintf(sql, sizeof sql,
                 "CREATE OR REPLACE FUNCTION cut_seg() RETURNS trigger AS $$ BEGIN"
                 " IF NEW.seq = %d THEN RAISE EXCEPTION 'cut'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;"
                 "CREATE TRIGGER cut_seg BEFORE INSERT ON dbsync_segments FOR EACH ROW EXECUTE FUNCTION cut_seg()",
                 seq);
    else
        snprintf(sql, sizeof sql,
                 "CREATE TRIGGER cut_seg BEFORE INSERT ON dbsync_segments WHEN NEW.seq = %d"
                 " BEGIN SELECT RAISE(ABORT, 'cut'); END",
                 seq);
    assert_int_equal(zt_store_exec(st, sql), 0);
}

static void cut_uncut(struct zt_store *st, bool pg)
{
    assert_int_equal(zt_store_exec(st, pg ? "DROP TRIGGER cut_seg ON dbsync_segments" : "DROP TRIGGER cut_seg"), 0);
}

/* review10 F10: the first whole round after dbsync step 6 seals a full
 * part and fails before its tombstones (which come last); the part
 * reaches the mesh and a rebuild reads that chain, its head the part, in
 * format 3. An earning deleted before the upgrade (no trigger logged it)
 * is still in that chain: the part does not say the chain carries every
 * delete (no ZT_DBSYNC_F_DELS), so the tie check does not count it as a
 * difference. The old code trusted the head's format and refused ("both
 * at version V but 1 of their rows differ"). Once the round completes
 * (its last segment has the tombstone and the flag) a row only the chain
 * holds counts again. */
static void test_first_round_cut(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    const char *me = zt_identity_id(id);
    struct pub p = {0};
    jobs_open("cut", &p);
    bool pg = zt_store_dialect(p.st) == ZT_STORE_DIALECT_POSTGRES;
    struct zt_ledger *l = NULL;
    assert_int_equal(zt_ledger_new(p.st, &l), 0);
    zt_ledger_free(l);
    assert_int_equal(zt_store_exec(p.st, "INSERT INTO ledger_earnings(provider_id, job_id, amount, ts) VALUES(1, 'job-e', '1', 1);"
                                         "INSERT INTO ledger_earnings(provider_id, job_id, amount, ts) VALUES(1, 'job-f', '2', 2);"
                                         "INSERT INTO ledger_earnings(provider_id, job_id, amount, ts) VALUES(1, 'job-g', '3', 3)"),
                     0);
    pub_start(&p, id);
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(seg.flags, ZT_DBSYNC_F_DELS); /* a first round reads every table whole */
    int64_t v1 = (int64_t)seg.ledger_version;
    char *head1 = head_of(p.s, id);
    char why[1536];
    struct zt_store *st = NULL;
    /* the tie check is PostgreSQL's (SQLite is rebuilt only while empty) */
    if (pg) assert_int_equal(rebuild_fresh(&p, id, head1, "cut-db", &st, why, sizeof why), 0);
    /* an earning deleted before the upgrade (no delete logged), then step
     * 6 (the log marks gone: the next round reads every table whole) */
    assert_int_equal(zt_store_exec(p.st, "DELETE FROM ledger_earnings WHERE job_id = 'job-e';"
                                         "DELETE FROM dbsync_changes WHERE del > 0;"
                                         "DELETE FROM dbsync_marks WHERE tbl LIKE 'log:%'"),
                     0);
    assert_int_equal(zt_store_exec(p.st, TOTALS_20K), 0);
    zt_dbsync_free(p.s);
    struct zt_dbsync_opts o = {.st = p.st2, .mesh = p.m, .id = id, .tmp_dir = p.tdir, .interval_s = 1};
    assert_int_equal(zt_dbsync_new(&o, &p.s), 0);
    /* the round's last segment (seq 3: the tombstone) cannot be stored */
    cut_at(p.st, pg, 3);
    unsigned made = 0;
    assert_int_not_equal(zt_dbsync_publish(p.s, &made), 0);
    /* the part (seq 2: the 20,000 new rows) is sealed; into the mesh as
     * its push would put it, and a head naming it */
    struct zt_store_stmt *q = NULL;
    assert_int_equal(zt_store_prepare(p.st, "SELECT data FROM dbsync_segments WHERE pub = ? AND seq = 2", &q), 0);
    assert_int_equal(zt_store_bind_text(q, 1, me, strlen(me)), 0);
    assert_int_equal(zt_store_step(q), ZT_STORE_ROW);
    const void *data = NULL;
    size_t n = 0;
    assert_int_equal(zt_store_column_blob(q, 0, &data, &n), 0);
    struct zt_dbsync_segment part;
    assert_int_equal(zt_dbsync_segment_decode(data, n, zt_identity_sign_pk(id), &part), 0);
    assert_int_equal(part.version, 3);
    assert_int_equal(part.n_rows, ZT_DBSYNC_ROWS_MAX);
    assert_int_equal(part.flags, 0); /* not yet every delete */
    assert_int_equal(part.ledger_version, (uint64_t)v1);
    char path[600], sha[65];
    snprintf(path, sizeof path, "%s/cut-part.seg", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(zt_fd_write_full(fd, data, n), 0);
    close(fd);
    zt_store_stmt_free(q);
    assert_int_equal(zt_mesh_add_file(p.m, path, "cut-part.seg", 1, sha), 0);
    unlink(path);
    char *head2 = head_of(p.s, id);
    /* the database: as the chain was at seq 1, less the same earning,
     * plus the same rows, at the chain's version */
    if (pg) {
        assert_int_equal(zt_store_exec(st, "DELETE FROM ledger_earnings WHERE job_id = 'job-e'"), 0);
        assert_int_equal(zt_store_exec(st, TOTALS_20K), 0);
        tie_at(st, me, v1);
        assert_int_equal(rebuild_into(&p, id, head2, "cut-db", st, why, sizeof why), 0); /* the old code: ZT_EEXIST */
        assert_non_null(strstr(why, "this chain's ledger is the database's"));
    }
    /* the round completes: the tombstone, and the flag */
    cut_uncut(p.st, pg);
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(seg.seq, 3);
    assert_true(in_body(&seg, "[\"-ledger_earnings\","));
    assert_int_equal(seg.flags, ZT_DBSYNC_F_DELS);
    int64_t v3 = (int64_t)seg.ledger_version;
    char *head3 = head_of(p.s, id);
    /* nothing changed since: no segment (the head already says it) */
    publish_want(&p, id, 0, &b, &seg);
    if (pg) {
        tie_at(st, me, v3);
        assert_int_equal(rebuild_into(&p, id, head3, "cut-db", st, why, sizeof why), 0);
        assert_non_null(strstr(why, "this chain's ledger is the database's"));
        /* with the flag a row only the chain holds is a difference again */
        assert_int_equal(zt_store_exec(st, "DELETE FROM ledger_earnings WHERE job_id = 'job-f'"), 0);
        tie_at(st, me, v3);
        assert_int_equal(rebuild_into(&p, id, head3, "cut-db", st, why, sizeof why), ZT_EEXIST);
        char want[128];
        snprintf(want, sizeof want, "both at version %lld but 1 of their rows differ", (long long)v3);
        assert_non_null(strstr(why, want));
        zt_store_close(st);
    } else {
        /* SQLite: the chain rebuilds into an empty store, job-e gone */
        assert_int_equal(rebuild_fresh(&p, id, head3, "cut-sqlite", &st, why, sizeof why), 0);
        assert_int_equal(num(st, EARNING("job-e")), 0);
        assert_int_equal(num(st, EARNING("job-f")), 1);
        zt_store_close(st);
    }
    zt_free(head1);
    zt_free(head2);
    zt_free(head3);
    zt_buf_deinit(&b);
    pub_close(&p);
    zt_identity_free(id);
}

/* A part of the segment at seq in p's own store, decoded (its bytes in b). */
static void stored_part(struct pub *p, const struct zt_identity *id, int seq, struct zt_buf *b,
                        struct zt_dbsync_segment *part)
{
    const char *me = zt_identity_id(id);
    struct zt_store_stmt *q = NULL;
    assert_int_equal(zt_store_prepare(p->st, "SELECT data FROM dbsync_segments WHERE pub = ? AND seq = ?", &q), 0);
    assert_int_equal(zt_store_bind_text(q, 1, me, strlen(me)), 0);
    assert_int_equal(zt_store_bind_i64(q, 2, seq), 0);
    assert_int_equal(zt_store_step(q), ZT_STORE_ROW);
    const void *data = NULL;
    size_t n = 0;
    assert_int_equal(zt_store_column_blob(q, 0, &data, &n), 0);
    zt_buf_reset(b);
    assert_int_equal(zt_buf_append(b, data, n), 0);
    zt_store_stmt_free(q);
    assert_int_equal(zt_dbsync_segment_decode(zt_buf_str(b), b->len, zt_identity_sign_pk(id), part), 0);
}

/* review11 F8: every change log complete (the chain carried every delete
 * before the round), and a round of 20,000 new rows plus one logged
 * delete: its full part (seq 2) is sealed, then the round fails before
 * its last segment, which holds the tombstone (the tombstones come after
 * every row). The part must not say the chain carries every delete: the
 * delete is not in it. The old code flagged every mid-round part of such
 * a round. A round with no tombstone still flags its parts (they do
 * carry every delete). */
static void test_complete_round_cut(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    struct pub p = {0};
    jobs_open("cut2", &p);
    bool pg = zt_store_dialect(p.st) == ZT_STORE_DIALECT_POSTGRES;
    struct zt_ledger *l = NULL;
    assert_int_equal(zt_ledger_new(p.st, &l), 0);
    zt_ledger_free(l);
    assert_int_equal(zt_store_exec(p.st, "INSERT INTO ledger_earnings(provider_id, job_id, amount, ts) VALUES(1, 'job-e', '1', 1);"
                                         "INSERT INTO ledger_earnings(provider_id, job_id, amount, ts) VALUES(1, 'job-f', '2', 2)"),
                     0);
    pub_start(&p, id);
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(seg.flags, ZT_DBSYNC_F_DELS); /* every log complete from here on */
    /* a logged delete and 20,000 new rows */
    assert_int_equal(zt_store_exec(p.st, "DELETE FROM ledger_earnings WHERE job_id = 'job-e'"), 0);
    assert_int_equal(zt_store_exec(p.st, TOTALS_20K), 0);
    cut_at(p.st, pg, 3);
    unsigned made = 0;
    assert_int_not_equal(zt_dbsync_publish(p.s, &made), 0);
    struct zt_buf pb;
    zt_buf_init(&pb, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment part;
    stored_part(&p, id, 2, &pb, &part);
    assert_int_equal(part.n_rows, ZT_DBSYNC_ROWS_MAX);
    assert_false(memmem(part.body, part.body_len, "[\"-ledger_earnings\",", 20)); /* the tombstone is not in it */
    assert_int_equal(part.flags, 0); /* the old code: ZT_DBSYNC_F_DELS */
    /* the round completes: the tombstone, and the flag */
    cut_uncut(p.st, pg);
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(seg.seq, 3);
    assert_true(in_body(&seg, "[\"-ledger_earnings\","));
    assert_int_equal(seg.flags, ZT_DBSYNC_F_DELS);
    /* a round of 20,000 more rows and no delete: its part carries every delete */
    assert_int_equal(zt_store_exec(p.st, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)"
                                         " INSERT INTO ledger_totals(k, v) SELECT 'more' || i, '0' FROM n"),
                     0);
    assert_int_equal(zt_store_exec(p.st, "INSERT INTO ledger_earnings(provider_id, job_id, amount, ts) VALUES(1, 'job-h', '4', 4)"),
                     0);
    /* (its last segment, seq 5, cut again: the part stays in the store) */
    cut_at(p.st, pg, 5);
    assert_int_not_equal(zt_dbsync_publish(p.s, &made), 0);
    stored_part(&p, id, 4, &pb, &part);
    assert_int_equal(part.n_rows, ZT_DBSYNC_ROWS_MAX);
    assert_int_equal(part.flags, ZT_DBSYNC_F_DELS);
    cut_uncut(p.st, pg);
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(seg.seq, 5);
    assert_int_equal(seg.flags, ZT_DBSYNC_F_DELS);
    zt_buf_deinit(&pb);
    zt_buf_deinit(&b);
    pub_close(&p);
    zt_identity_free(id);
}

/* The issue's case: an earning clawed back (zt_ledger_penalize deletes
 * it) after it was published; the next round says so (a tombstone); the
 * data directory deleted, the store rebuilt from the mesh: the earning
 * stays gone, the other stays, the balances are the original's and the
 * ledger audits (zentalk ledger audit: zt_ledger_audit). Before format 3
 * no segment said the earning was deleted and the rebuild brought it
 * back (a payout of money taken back). */
static void test_rebuild_clawback(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    struct pub p = {0};
    jobs_open("claw", &p);
    struct zt_ledger *l = NULL;
    assert_int_equal(zt_ledger_new(p.st, &l), 0);
    int64_t user = 0, prov = 0;
    bool rep = false;
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_USER, "0x00000000000000000000000000000000000000b1", NULL, &user), 0);
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_PROVIDER, "p-1", NULL, &prov), 0);
    assert_int_equal(zt_ledger_mint(l, "m-1", user, 10000, NULL, NULL), 0);
    assert_int_equal(zt_ledger_stake_deposit(l, "sk", "p-1", 50, &rep), 0);
    assert_int_equal(zt_ledger_reserve(l, "job-c", user, 1000), 0);
    assert_int_equal(zt_ledger_settle(l, "job-c", prov, 400, 10, 5), 0);
    assert_int_equal(zt_ledger_reserve(l, "job-k", user, 1000), 0);
    assert_int_equal(zt_ledger_settle(l, "job-k", prov, 300, 10, 6), 0);
    pub_start(&p, id);
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    publish_want(&p, id, 1, &b, &seg);
    assert_true(in_body(&seg, "\"job-c\""));
    int64_t eid = num(p.st, "SELECT id FROM ledger_earnings WHERE job_id = 'job-c'");
    struct zt_ledger_slash_result r;
    assert_int_equal(zt_ledger_penalize(l, "job-c", "p-1", 30, NULL, 0, &r), 0);
    assert_true(r.clawed_back == 400);
    assert_int_equal(num(p.st, EARNING("job-c")), 0);
    publish_want(&p, id, 1, &b, &seg);
    assert_int_equal(seg.version, 3);
    assert_true(tomb_in(&seg, "ledger_earnings", eid));
    assert_false(in_body(&seg, "\"job-k\"")); /* unchanged: not sent again */
    assert_int_equal(count_sql(p.st, "SELECT COUNT(*) FROM dbsync_rows WHERE pub = ? AND tbl = 'ledger_earnings'",
                               zt_identity_id(id)),
                     1); /* its image no longer published */
    publish_want(&p, id, 0, &b, &seg); /* nothing changed since */
    char why[1536];
    assert_int_equal(zt_ledger_audit(l, why, sizeof why), 0);
    char user_bal[128], prov_bal[128];
    snprintf(user_bal, sizeof user_bal, "SELECT CAST(balance AS BIGINT) FROM ledger_accounts WHERE id = %lld", (long long)user);
    snprintf(prov_bal, sizeof prov_bal, "SELECT CAST(balance AS BIGINT) FROM ledger_accounts WHERE id = %lld", (long long)prov);
    int64_t ub = num(p.st, user_bal), pb = num(p.st, prov_bal);
    zt_ledger_free(l);
    char *head = head_of(p.s, id);
    struct zt_store *st = NULL;
    assert_int_equal(rebuild_fresh(&p, id, head, "claw-rebuilt", &st, why, sizeof why), 0);
    assert_int_equal(num(st, EARNING("job-c")), 0); /* the old code: 1 */
    assert_int_equal(num(st, EARNING("job-k")), 1);
    assert_int_equal(num(st, user_bal), ub);
    assert_int_equal(num(st, prov_bal), pb);
    assert_int_equal(zt_ledger_new(st, &l), 0);
    assert_int_equal(zt_ledger_audit(l, why, sizeof why), 0);
    zt_ledger_free(l);
    zt_store_close(st);
    zt_free(head);
    zt_buf_deinit(&b);
    pub_close(&p);
    zt_identity_free(id);
}

/* review10 F1: `zentalk ledger prefer chain --yes` (zt_ledger_clear, then
 * zt_ledger_new) on a ledger already published, then a round before the
 * rebuild (another orchestrator on the database, or this node started
 * after a failed rebuild). The clear marks the ledger awaiting its
 * rebuild: a ledger write is refused (ZT_EBUSY); the round publishes the
 * job changed meanwhile and nothing of the ledger (no row, no tombstone),
 * its segment at the chain's ledger version as it was; the ledger tables'
 * log entries stay. A rebuild from that head into a database emptied the
 * same way takes the chain's ledger (its transactions and earnings), the
 * chain's version restored, which clears the mark: a write succeeds. The
 * old code published a tombstone for every ledger row at a higher ledger
 * version, and the rebuild restored an empty ledger. */
static void test_clear_round(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    struct pub p = {0};
    jobs_open("clr", &p);
    struct zt_ledger *l = NULL;
    assert_int_equal(zt_ledger_new(p.st, &l), 0);
    int64_t user = 0, prov = 0;
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_USER, "0x00000000000000000000000000000000000000b1", NULL, &user), 0);
    assert_int_equal(zt_ledger_account(l, ZT_LEDGER_PROVIDER, "p-1", NULL, &prov), 0);
    assert_int_equal(zt_ledger_mint(l, "m-1", user, 10000, NULL, NULL), 0);
    assert_int_equal(zt_ledger_reserve(l, "job-c", user, 1000), 0);
    assert_int_equal(zt_ledger_settle(l, "job-c", prov, 400, 10, 5), 0);
    int64_t txs = num(p.st, "SELECT COUNT(*) FROM ledger_txs");
    assert_true(txs >= 2);
    pub_start(&p, id);
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    publish_want(&p, id, 1, &b, &seg);
    assert_true(in_body(&seg, "\"job-c\""));
    uint64_t v1 = seg.ledger_version;
    assert_true(v1 > 0);
    /* what the CLI does */
    assert_int_equal(zt_ledger_clear(l), 0);
    zt_ledger_free(l);
    l = NULL;
    assert_int_equal(zt_ledger_new(p.st, &l), 0);
    assert_int_equal(num(p.st, LREST), -1);
    assert_int_equal(num(p.st, "SELECT COUNT(*) FROM ledger_txs"), 0);
    int64_t v_clear = num(p.st, LVER);
    assert_int_equal(zt_ledger_mint(l, "m-2", 1, 5, NULL, NULL), ZT_EBUSY);
    assert_int_equal(zt_ledger_reserve(l, "job-d", 1, 5), ZT_EBUSY);
    assert_int_equal(num(p.st, LVER), v_clear);
    int64_t logged = log_entries(p.st);
    assert_true(logged > 0);
    /* the round: the job only */
    put_job(p.st, "job-clr", 1, 1, 1767225600000, 0, zt_identity_id(id));
    publish_want(&p, id, 1, &b, &seg);
    assert_true(in_body(&seg, "\"job-clr\""));
    assert_false(in_body(&seg, "\"-ledger_"));
    assert_false(in_body(&seg, "[\"ledger_"));
    assert_true(seg.ledger_version == v1);
    assert_int_equal(log_entries(p.st), logged); /* the ledger's entries stay, the job's went */
    publish_want(&p, id, 0, &b, &seg);
    char *head = head_of(p.s, id);
    zt_ledger_free(l);
    /* the rebuild into a database emptied the same way: the mark goes */
    struct chains c;
    memset(&c, 0, sizeof c);
    struct zt_store *st = fresh_store(&c, "clr-rebuilt");
    assert_int_equal(zt_ledger_new(st, &l), 0);
    assert_int_equal(zt_ledger_clear(l), 0);
    zt_ledger_free(l);
    assert_int_equal(zt_ledger_new(st, &l), 0);
    assert_int_equal(zt_ledger_mint(l, "m-3", 1, 5, NULL, NULL), ZT_EBUSY);
    zt_ledger_free(l);
    struct zt_dbsync_opts o = {.st = st, .mesh = p.m, .id = id, .tmp_dir = p.tdir, .interval_s = 1};
    struct zt_dbsync *s = NULL;
    assert_int_equal(zt_dbsync_new(&o, &s), 0);
    struct rounds r = {.rec = {{head}}, .n = 1};
    char why[1536];
    int rc = zt__dbs_rebuild(s, fake_get, &r, 10000, why, sizeof why);
    printf("# rebuild clr-rebuilt: %s (%s)\n", why, zt_strerror(rc));
    zt_dbsync_free(s);
    assert_int_equal(rc, 0);
    assert_int_equal(num(st, "SELECT COUNT(*) FROM ledger_txs"), txs); /* the old code: 0 */
    assert_int_equal(num(st, EARNING("job-c")), 1);
    assert_int_equal(num(st, "SELECT COUNT(*) FROM sched_jobs WHERE job_id = 'job-clr'"), 1);
    assert_int_equal(num(st, LREST), (int64_t)v1);
    assert_int_equal(num(st, LVER), (int64_t)v1);
    assert_int_equal(zt_ledger_new(st, &l), 0);
    assert_int_equal(zt_ledger_audit(l, why, sizeof why), 0);
    assert_int_equal(zt_ledger_mint(l, "m-3", user, 5, NULL, NULL), 0);
    assert_true(num(st, LVER) > (int64_t)v1); /* writes count again */
    zt_ledger_free(l);
    zt_store_close(st);
    zt_free(head);
    zt_buf_deinit(&b);
    pub_close(&p);
    zt_identity_free(id);
}

/* Deletes replayed in order: a row inserted, deleted, inserted again
 * (three rounds) ends as the last insert; one deleted and inserted again
 * within one round goes out as the row (no tombstone); one of a
 * two-column key (a batch leaf) deleted: the tombstone names both
 * columns and its sibling stays. */
static void test_tombstone_order(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    struct pub p = {0};
    jobs_open("order", &p);
    struct zt_ledger *l = NULL;
    assert_int_equal(zt_ledger_new(p.st, &l), 0);
    zt_ledger_free(l);
    bool pg = pg_db[0] != '\0';
    assert_int_equal(zt_store_exec(p.st, "INSERT INTO ledger_totals(k, v) VALUES('t1', '1');"
                                         "INSERT INTO ledger_totals(k, v) VALUES('t2', '1')"),
                     0);
    assert_int_equal(zt_store_exec(p.st, pg ? "INSERT INTO ledger_batches(root, n_leaves, total, state, created)"
                                              " VALUES(decode('ab', 'hex'), 2, '2', 0, 77)"
                                            : "INSERT INTO ledger_batches(root, n_leaves, total, state, created)"
                                              " VALUES(X'ab', 2, '2', 0, 77)"),
                     0);
    assert_int_equal(zt_store_exec(p.st, "INSERT INTO ledger_batch_leaves(batch_id, idx, address, amount)"
                                         " SELECT id, 0, '0xa0', '1' FROM ledger_batches WHERE created = 77;"
                                         "INSERT INTO ledger_batch_leaves(batch_id, idx, address, amount)"
                                         " SELECT id, 1, '0xa1', '1' FROM ledger_batches WHERE created = 77"),
                     0);
    int64_t bid = num(p.st, "SELECT id FROM ledger_batches WHERE created = 77");
    pub_start(&p, id);
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    publish_want(&p, id, 1, &b, &seg);
    assert_true(in_body(&seg, "[\"ledger_totals\",\"t1\",\"1\"]"));
    /* t1 deleted; t2 deleted and inserted again; leaf 0 deleted */
    assert_int_equal(zt_store_exec(p.st, "DELETE FROM ledger_totals WHERE k = 't1';"
                                         "DELETE FROM ledger_totals WHERE k = 't2';"
                                         "INSERT INTO ledger_totals(k, v) VALUES('t2', '2');"
                                         "DELETE FROM ledger_batch_leaves WHERE idx = 0"),
                     0);
    publish_want(&p, id, 1, &b, &seg);
    assert_true(in_body(&seg, "[\"-ledger_totals\",\"t1\"]\n"));
    assert_false(in_body(&seg, "[\"-ledger_totals\",\"t2\"]"));
    assert_true(in_body(&seg, "[\"ledger_totals\",\"t2\",\"2\"]\n"));
    char leaf[96];
    snprintf(leaf, sizeof leaf, "[\"-ledger_batch_leaves\",%lld,0]\n", (long long)bid);
    assert_true(in_body(&seg, leaf));
    snprintf(leaf, sizeof leaf, "[\"-ledger_batch_leaves\",%lld,1]", (long long)bid);
    assert_false(in_body(&seg, leaf));
    assert_int_equal(seg.n_rows, 3);
    /* t1 back with another value */
    assert_int_equal(zt_store_exec(p.st, "INSERT INTO ledger_totals(k, v) VALUES('t1', '3')"), 0);
    publish_want(&p, id, 1, &b, &seg);
    assert_true(in_body(&seg, "[\"ledger_totals\",\"t1\",\"3\"]\n"));
    char *head = head_of(p.s, id);
    struct zt_store *st = NULL;
    char why[1536];
    assert_int_equal(rebuild_fresh(&p, id, head, "order-rebuilt", &st, why, sizeof why), 0);
    assert_int_equal(num(st, "SELECT CAST(v AS BIGINT) FROM ledger_totals WHERE k = 't1'"), 3);
    assert_int_equal(num(st, "SELECT CAST(v AS BIGINT) FROM ledger_totals WHERE k = 't2'"), 2);
    assert_int_equal(num(st, "SELECT COUNT(*) FROM ledger_batch_leaves"), 1);
    assert_int_equal(num(st, "SELECT idx FROM ledger_batch_leaves"), 1);
    zt_store_close(st);
    zt_free(head);
    zt_buf_deinit(&b);
    pub_close(&p);
    zt_identity_free(id);
}

/* Every earning removed at once (PostgreSQL: TRUNCATE, with the batch
 * items that reference them; SQLite has none: a DELETE without WHERE):
 * the ledger version moves (once per table truncated), the next round
 * sends a tombstone for every published earning, and a rebuild does not
 * bring them back. And a delete the log never saw (made before dbsync
 * step 6 added the DELETE triggers; here its entry removed by hand): the
 * log marks gone (as step 6 does), the next round reads whole and sends
 * its tombstone. */
static void test_truncate(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    struct pub p = {0};
    jobs_open("trunc", &p);
    struct zt_ledger *l = NULL;
    assert_int_equal(zt_ledger_new(p.st, &l), 0);
    zt_ledger_free(l);
    bool pg = pg_db[0] != '\0';
    for (int i = 0; i < 3; i++) {
        char sql[160];
        snprintf(sql, sizeof sql, "INSERT INTO ledger_earnings(provider_id, job_id, amount, ts) VALUES(1, 'job-%d', '1', 1)", i);
        assert_int_equal(zt_store_exec(p.st, sql), 0);
    }
    pub_start(&p, id);
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    publish_want(&p, id, 1, &b, &seg);
    int64_t lo = num(p.st, "SELECT MIN(id) FROM ledger_earnings"), v0 = num(p.st, LVER);
    assert_int_equal(zt_store_exec(p.st, pg ? "TRUNCATE ledger_batch_items, ledger_earnings"
                                            : "DELETE FROM ledger_earnings"),
                     0);
    assert_int_equal(num(p.st, LVER), v0 + (pg ? 2 : 3)); /* PostgreSQL: once per table; SQLite: per row */
    publish_want(&p, id, 1, &b, &seg);
    for (int64_t e = lo; e < lo + 3; e++) assert_true(tomb_in(&seg, "ledger_earnings", e));
    assert_int_equal(seg.n_rows, 3);
    assert_int_equal(seg.ledger_version, (uint64_t)v0 + (pg ? 2 : 3));
    /* a delete nobody logged */
    assert_int_equal(zt_store_exec(p.st, "INSERT INTO ledger_earnings(provider_id, job_id, amount, ts)"
                                         " VALUES(1, 'job-u', '1', 1)"),
                     0);
    publish_want(&p, id, 1, &b, &seg);
    int64_t u = num(p.st, "SELECT id FROM ledger_earnings WHERE job_id = 'job-u'");
    assert_int_equal(zt_store_exec(p.st, "DELETE FROM ledger_earnings WHERE job_id = 'job-u';"
                                         "DELETE FROM dbsync_changes"),
                     0);
    publish_want(&p, id, 0, &b, &seg); /* unseen */
    assert_int_equal(zt_store_exec(p.st, "DELETE FROM dbsync_marks WHERE tbl LIKE 'log:%'"), 0);
    zt_dbsync_free(p.s);
    struct zt_dbsync_opts o = {.st = p.st2, .mesh = p.m, .id = id, .tmp_dir = p.tdir, .interval_s = 1};
    assert_int_equal(zt_dbsync_new(&o, &p.s), 0);
    publish_want(&p, id, 1, &b, &seg);
    assert_true(tomb_in(&seg, "ledger_earnings", u));
    assert_int_equal(seg.n_rows, 1); /* read whole: nothing else differs */
    char *head = head_of(p.s, id);
    struct zt_store *st = NULL;
    char why[1536];
    assert_int_equal(rebuild_fresh(&p, id, head, "trunc-rebuilt", &st, why, sizeof why), 0);
    assert_int_equal(num(st, "SELECT COUNT(*) FROM ledger_earnings"), 0);
    zt_store_close(st);
    zt_free(head);
    zt_buf_deinit(&b);
    pub_close(&p);
    zt_identity_free(id);
}

/* Review10 F3: a job of ours (job-t) taken over by another orchestrator
 * (sched.c SQL_TAKE / SQL_ADOPT set orch and `updated`) is not a delete:
 * the next round read whole (the log marks gone, as dbsync step 6 does)
 * sends no tombstone for it, while job-d, deleted, gets one. Rebuilt from
 * our chain into a database where the other orchestrator holds both (its
 * rows newer than our images): neither is taken back (the upsert) nor
 * deleted (job-d's tombstone: our rows only); job-k, ours, comes back.
 * Into one where the other's job-t is an older image (that orchestrator
 * rebuilt first from an older chain): ours replaces it. Before: a
 * tombstone for job-t, and the replay overwrote or deleted the other's
 * rows. */
static void test_takeover_tomb(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    const char *me = zt_identity_id(id);
    struct pub p = {0};
    jobs_open("takeover", &p);
    struct zt_ledger *l = NULL;
    assert_int_equal(zt_ledger_new(p.st, &l), 0);
    zt_ledger_free(l);
    int64_t now = zt_time_real_ms();
    put_job(p.st, "job-t", 1, 2, now - 5000, 0, me);
    put_job(p.st, "job-d", 2, 3, now - 5000, now - 5000, me);
    put_job(p.st, "job-k", 3, 3, now - 5000, now - 5000, me);
    pub_start(&p, id);
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    publish_want(&p, id, 1, &b, &seg);
    assert_true(in_body(&seg, "[\"sched_jobs\",\"job-t\","));
    char sql[300];
    snprintf(sql, sizeof sql, "UPDATE sched_jobs SET orch = 'zt1other', updated = %lld WHERE job_id = 'job-t';"
             "DELETE FROM sched_jobs WHERE job_id = 'job-d'", (long long)(now - 1000));
    assert_int_equal(zt_store_exec(p.st, sql), 0);
    /* an incremental round: job-d's delete entry, job-t not ours any more */
    publish_want(&p, id, 1, &b, &seg);
    assert_true(in_body(&seg, "[\"-sched_jobs\",\"job-d\"]\n"));
    assert_false(in_body(&seg, "job-t"));
    assert_int_equal(seg.n_rows, 1);
    /* a round read whole (the marks gone, as step 6 does): job-t still not a delete */
    assert_int_equal(zt_store_exec(p.st, "DELETE FROM dbsync_marks WHERE tbl LIKE 'log:%'"), 0);
    assert_int_equal(zt_store_exec(p.st, "UPDATE sched_jobs SET tokens = 1 WHERE job_id = 'job-k'"), 0);
    zt_dbsync_free(p.s);
    struct zt_dbsync_opts o = {.st = p.st2, .mesh = p.m, .id = id, .tmp_dir = p.tdir, .interval_s = 1};
    assert_int_equal(zt_dbsync_new(&o, &p.s), 0);
    publish_want(&p, id, 1, &b, &seg);
    assert_false(in_body(&seg, "job-t")); /* the old code: ["-sched_jobs","job-t"] */
    assert_true(in_body(&seg, "[\"sched_jobs\",\"job-k\","));
    assert_int_equal(seg.n_rows, 1);
    char *head = head_of(p.s, id);
    char why[1536];
    struct chains c;
    memset(&c, 0, sizeof c);
    struct zt_store *st = NULL;
    if (!pg_db[0]) { /* SQLite: a store of our own, rebuilt only when empty: our rows come back, job-d stays deleted */
        assert_int_equal(rebuild_fresh(&p, id, head, "takeover-rebuilt", &st, why, sizeof why), 0);
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM sched_jobs WHERE orch = '%s' AND (job_id = 'job-t' AND state = 2"
                 " OR job_id = 'job-k' AND tokens = 1)", me);
        assert_int_equal(num(st, sql), 2);
        assert_int_equal(num(st, "SELECT COUNT(*) FROM sched_jobs"), 2);
        zt_store_close(st);
        goto out;
    }
    /* a shared PostgreSQL: the other orchestrator's newer rows stay */
    st = fresh_store(&c, "takeover-other");
    snprintf(sql, sizeof sql, "UPDATE sched_jobs SET state = 3, tokens = 7, updated = %lld", (long long)now);
    put_job(st, "job-t", 1, 2, now - 1000, 0, "zt1other");
    put_job(st, "job-d", 2, 2, now - 1000, 0, "zt1other");
    assert_int_equal(zt_store_exec(st, sql), 0);
    assert_int_equal(rebuild_into(&p, id, head, "takeover-other", st, why, sizeof why), 0);
    assert_int_equal(num(st, "SELECT COUNT(*) FROM sched_jobs WHERE job_id = 'job-t' AND orch = 'zt1other' AND tokens = 7"),
                     1); /* the old code: ours (orch, tokens 0) */
    assert_int_equal(num(st, "SELECT COUNT(*) FROM sched_jobs WHERE job_id = 'job-d' AND orch = 'zt1other'"),
                     1); /* the old code: deleted */
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM sched_jobs WHERE job_id = 'job-k' AND orch = '%s' AND tokens = 1", me);
    assert_int_equal(num(st, sql), 1);
    zt_store_close(st);
    /* an older image of the other's job-t: ours is newer and replaces it */
    memset(&c, 0, sizeof c);
    st = fresh_store(&c, "takeover-stale");
    put_job(st, "job-t", 1, 1, now - 9000, 0, "zt1other");
    assert_int_equal(rebuild_into(&p, id, head, "takeover-stale", st, why, sizeof why), 0);
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM sched_jobs WHERE job_id = 'job-t' AND orch = '%s' AND state = 2", me);
    assert_int_equal(num(st, sql), 1);
    assert_int_equal(num(st, "SELECT COUNT(*) FROM sched_jobs WHERE job_id = 'job-d'"), 0);
    zt_store_close(st);
out:
    zt_free(head);
    zt_buf_deinit(&b);
    pub_close(&p);
    zt_identity_free(id);
}

/* Review10 F4 (PostgreSQL): a binary from before dbsync step 6 on the
 * same database (a rolling upgrade) makes its trigger again, as it does
 * when its log mark is gone: CREATE OR REPLACE of dbsync_log_<t>, AFTER
 * INSERT OR UPDATE, its function reading NEW only. Deletes are still
 * logged (their own trigger, dbsync_log_<t>_d) and go out as tombstones;
 * zt_dbsync_unlog of the last publisher drops every trigger. Before: one
 * trigger for the three, replaced, and no delete logged any more. */
#define TRIGS                                                                                              \
    "SELECT COUNT(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"                             \
    " WHERE c.relnamespace = current_schema()::regnamespace AND t.tgname LIKE 'dbsync\\_log\\_%'"

static void test_old_trigger(void **state)
{
    (void)state;
    struct zt_identity *id = vector_id();
    struct pub p = {0};
    jobs_open("oldtrig", &p);
    struct zt_ledger *l = NULL;
    assert_int_equal(zt_ledger_new(p.st, &l), 0);
    zt_ledger_free(l);
    assert_int_equal(zt_store_exec(p.st, "INSERT INTO ledger_totals(k, v) VALUES('o1', '1');"
                                         "INSERT INTO ledger_totals(k, v) VALUES('o2', '1')"),
                     0);
    put_job(p.st, "job-o", 1, 3, zt_time_real_ms(), 0, zt_identity_id(id));
    pub_start(&p, id);
    struct zt_buf b;
    zt_buf_init(&b, ZT_DBSYNC_SEGMENT_MAX);
    struct zt_dbsync_segment seg;
    publish_want(&p, id, 1, &b, &seg);
    assert_true(in_body(&seg, "[\"ledger_totals\",\"o1\",\"1\"]"));
    /* the old binary's SQL (src/mesh/dbsync.c before segment format 3) */
    static const char *const old[][3] = {{"ledger_totals", "kt", "k"}, {"sched_jobs", "kt", "job_id"}};
    for (size_t i = 0; i < 2; i++) {
        char sql[1024];
        snprintf(sql, sizeof sql,
                 "CREATE OR REPLACE FUNCTION dbsync_log_%s() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
                 " INSERT INTO dbsync_changes(pub, tbl, %s) SELECT pub, '%s', NEW.%s FROM dbsync_subs;"
                 " RETURN NULL; END $f$;"
                 "CREATE OR REPLACE TRIGGER dbsync_log_%s AFTER INSERT OR UPDATE ON %s FOR EACH ROW"
                 " EXECUTE FUNCTION dbsync_log_%s();",
                 old[i][0], old[i][1], old[i][0], old[i][2], old[i][0], old[i][0], old[i][0]);
        assert_int_equal(zt_store_exec(p.st, sql), 0);
    }
    assert_int_equal(zt_store_exec(p.st, "DELETE FROM ledger_totals WHERE k = 'o1';"
                                         "UPDATE ledger_totals SET v = '2' WHERE k = 'o2';"
                                         "DELETE FROM sched_jobs WHERE job_id = 'job-o'"),
                     0);
    publish_want(&p, id, 1, &b, &seg);
    assert_true(in_body(&seg, "[\"-ledger_totals\",\"o1\"]\n")); /* the old code: no segment */
    assert_true(in_body(&seg, "[\"-sched_jobs\",\"job-o\"]\n"));
    assert_true(in_body(&seg, "[\"ledger_totals\",\"o2\",\"2\"]\n"));
    assert_int_equal(seg.n_rows, 3);
    /* TRUNCATE still logged */
    assert_int_equal(zt_store_exec(p.st, "TRUNCATE ledger_totals"), 0);
    publish_want(&p, id, 1, &b, &seg);
    assert_true(in_body(&seg, "[\"-ledger_totals\",\"o2\"]\n"));
    /* the last publisher leaves: no trigger or function of the log is left (in this test's schema) */
    assert_int_equal(num(p.st, TRIGS " AND tgname = 'dbsync_log_ledger_totals_d'"), 1);
    zt_dbsync_free(p.s);
    p.s = NULL;
    assert_int_equal(zt_dbsync_unlog(p.st, zt_identity_id(id)), 0);
    assert_int_equal(num(p.st, TRIGS), 0);
    assert_int_equal(num(p.st, "SELECT COUNT(*) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace"
                               " AND proname LIKE 'dbsync\\_log\\_%'"),
                     0);
    zt_buf_deinit(&b);
    pub_close(&p);
    zt_identity_free(id);
}

int main(void)
{
    if (zt_hash_init() != 0) return 1;
    json_set_alloc_funcs(zt_malloc, zt_free);
    int64_t live = zt_alloc_live();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_heads),
        cmocka_unit_test(test_publisher),
        cmocka_unit_test(test_jobs_clock_stepped_back),
        cmocka_unit_test(test_jobs_old_updated),
        cmocka_unit_test(test_unlog),
        cmocka_unit_test(test_unlog_running),
        cmocka_unit_test(test_two_publishers),
        cmocka_unit_test(test_sub_expired),
        cmocka_unit_test(test_migrate_v2),
        cmocka_unit_test(test_v2_not_claimed),
        cmocka_unit_test(test_ledger_version),
        cmocka_unit_test(test_round_snapshot),
        cmocka_unit_test(test_rebuild_version),
        cmocka_unit_test(test_rebuild_clawback),
        cmocka_unit_test(test_clear_round),
        cmocka_unit_test(test_tombstone_order),
        cmocka_unit_test(test_truncate),
        cmocka_unit_test(test_takeover_tomb),
        cmocka_unit_test(test_first_round_cut),
        cmocka_unit_test(test_complete_round_cut),
        cmocka_unit_test(test_head_pushed),
    };
    int failures = cmocka_run_group_tests_name("dbsync", tests, setup, teardown);
    /* the publisher on a real PostgreSQL: the change log's triggers in its dialect */
#define P(f) cmocka_unit_test_setup_teardown(f, setup_pg, teardown_pg)
    const struct CMUnitTest pg_tests[] = {P(test_publisher), P(test_jobs_clock_stepped_back), P(test_jobs_old_updated),
                                        P(test_unlog), P(test_unlog_running),
                                        P(test_long_transaction), P(test_sub_race), P(test_two_publishers), P(test_sub_expired),
                                        P(test_migrate_v2), P(test_v2_not_claimed), P(test_ledger_version), P(test_round_snapshot),
                                        P(test_rebuild_version), P(test_rebuild_order), P(test_rebuild_changed),
                                        P(test_rebuild_both_changed), P(test_rebuild_take_chain), P(test_rebuild_tie),
                                        P(test_rebuild_clawback), P(test_clear_round), P(test_tombstone_order), P(test_truncate),
                                        P(test_takeover_tomb), P(test_old_trigger), P(test_first_round_cut),
                                        P(test_complete_round_cut)};
    failures += zt_test_pg_run("dbsync_postgres", pg_tests);
#undef P
    if (zt_alloc_live() != live) {
        fprintf(stderr, "leak: %lld allocations live\n", (long long)(zt_alloc_live() - live));
        failures++;
    }
    return zt_test_exit(failures);
}
