#define _XOPEN_SOURCE 700 /* nftw */
/* test_mesh_format.c: the mesh's formats and store (src/mesh): manifests (round
 * trip, Merkle root, every malformed input refused, a bomb's count refused
 * before any allocation), chunk frames, holder records (forged, tampered,
 * expired), the chunk store (atomic files, a corrupted chunk never served),
 * a node's mesh without peers (add, serve, unpin), allocation failures;
 * peers' scores kept in the store across a restart, bounded (SQLite and
 * a real PostgreSQL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../src/mesh/mesh_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_dht.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_mesh.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_time.h"
#include "zt_test.h"
#include "zt_test_servers.h"

static char dir[256];
static char pg_db[800]; /* the PostgreSQL group: this test's database, else "" (SQLite) */

static void write_file(const char *path, size_t size, uint8_t seed)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (size_t i = 0; i < size; i++) fputc((int)((i * 131u + seed) & 0xff), f);
    assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/zt-mesh-unit-XXXXXX");
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

/* A manifest of a 2.5 MiB file: 3 chunks, the root as the header says. */
static void test_manifest_round_trip(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/f", dir);
    write_file(path, (5u << 20) / 2, 7);
    struct zt_mesh_manifest m;
    assert_int_equal(zt_mesh_manifest_of_file(path, &m), 0);
    assert_int_equal(m.n_chunks, 3);
    assert_int_equal(m.file_size, (5u << 20) / 2);
    assert_int_equal(zt_mesh_chunk_len(&m, 0), ZT_MESH_CHUNK_SIZE);
    assert_int_equal(zt_mesh_chunk_len(&m, 2), (1u << 19));
    assert_int_equal(zt_mesh_chunk_len(&m, 3), 0);
    /* root by hand: SHA-256(2 || header || merkle(leaves)) */
    uint8_t leaf[3][32], b[65], l01[32], merkle[32];
    for (int i = 0; i < 3; i++) {
        b[0] = 0;
        memcpy(b + 1, m.chunks[i], 32);
        zt_sha256(leaf[i], b, 33);
    }
    b[0] = 1;
    memcpy(b + 1, leaf[0], 32);
    memcpy(b + 33, leaf[1], 32);
    zt_sha256(l01, b, 65);
    memcpy(b + 1, l01, 32);
    memcpy(b + 33, leaf[2], 32);
    zt_sha256(merkle, b, 65);
    uint8_t *enc = NULL;
    size_t len = 0;
    assert_int_equal(zt_mesh_manifest_encode(&m, &enc, &len), 0);
    assert_int_equal(len, ZT_MESH_MANIFEST_HEADER + 3 * 32);
    uint8_t rb[1 + ZT_MESH_MANIFEST_HEADER + 32], root[32];
    rb[0] = 2;
    memcpy(rb + 1, enc, ZT_MESH_MANIFEST_HEADER);
    memcpy(rb + 1 + ZT_MESH_MANIFEST_HEADER, merkle, 32);
    zt_sha256(root, rb, sizeof rb);
    assert_memory_equal(root, m.root, 32);
    struct zt_mesh_manifest d;
    assert_int_equal(zt_mesh_manifest_decode(enc, len, m.root, &d), 0);
    assert_memory_equal(d.file_sha256, m.file_sha256, 32);
    assert_memory_equal(d.chunks, m.chunks, 3 * 32);
    zt_mesh_manifest_deinit(&d);
    zt_free(enc);
    zt_mesh_manifest_deinit(&m);
    struct zt_mesh_manifest e;
    snprintf(path, sizeof path, "%s/empty", dir);
    write_file(path, 0, 0);
    assert_int_equal(zt_mesh_manifest_of_file(path, &e), ZT_EINVAL);
    assert_int_equal(zt_mesh_manifest_of_file("/nonexistent/x", &e), ZT_EIO);
}

/* Every malformed manifest is refused with its error, nothing kept. */
static void test_manifest_malformed(void **state)
{
    (void)state;
    struct zt_mesh_manifest m = {.chunk_size = ZT_MESH_CHUNK_SIZE, .n_chunks = 2, .file_size = ZT_MESH_CHUNK_SIZE + 1};
    uint8_t chunks[2][32];
    memset(chunks, 0xab, sizeof chunks);
    m.chunks = chunks;
    zt_mesh_manifest_seal(&m);
    uint8_t *enc = NULL;
    size_t len = 0;
    assert_int_equal(zt_mesh_manifest_encode(&m, &enc, &len), 0);
    uint8_t *b = malloc(len + 64);
    assert_non_null(b);
    struct zt_mesh_manifest out;
    int64_t live = zt_alloc_live();
#define TRY(want, mutate, n)                                                          \
    do {                                                                              \
        memcpy(b, enc, len);                                                          \
        mutate;                                                                       \
        assert_int_equal(zt_mesh_manifest_decode(b, (n), NULL, &out), (want));       \
        assert_int_equal(zt_alloc_live(), live);                                      \
    } while (0)
    assert_int_equal(zt_mesh_manifest_decode(enc, len, m.root, &out), 0);
    zt_mesh_manifest_deinit(&out);
    TRY(ZT_EPARSE, (void)0, len - 1);               /* truncated */
    TRY(ZT_EPARSE, (void)0, 10);                    /* not even a header */
    TRY(ZT_EPARSE, b[len] = 0, len + 1);            /* trailing byte */
    TRY(ZT_EPARSE, b[0] = 'X', len);                /* magic */
    TRY(ZT_EUNSUPPORTED, b[4] = 2, len);            /* version */
    TRY(ZT_EUNSUPPORTED, b[5] = 1, len);            /* kind: nothing private exists */
    TRY(ZT_EPARSE, b[6] = 1, len);                  /* reserved */
    TRY(ZT_EUNSUPPORTED, zt_put_le32(b + 8, 4096), len); /* chunk size */
    TRY(ZT_EPARSE, zt_put_le32(b + 12, 3), len);    /* count does not fit the size */
    TRY(ZT_EPARSE, zt_put_le64(b + 16, 3u << 20), len);
    TRY(ZT_EPARSE, zt_put_le64(b + 16, 0), len);    /* empty file */
    /* a size near 2^64 once wrapped the chunk count to 0, and 0 chunks
     * with no hashes read past an empty array (fuzz_mesh_manifest) */
    TRY(ZT_EPARSE, (zt_put_le32(b + 12, 0), zt_put_le64(b + 16, UINT64_MAX - 5)), ZT_MESH_MANIFEST_HEADER);
    TRY(ZT_EPARSE, (zt_put_le32(b + 12, 0), zt_put_le64(b + 16, UINT64_MAX)), ZT_MESH_MANIFEST_HEADER);
    TRY(ZT_ETOOBIG, zt_put_le32(b + 12, 0xffffffffu), len); /* bomb: refused before allocating */
    TRY(ZT_ETOOBIG, zt_put_le32(b + 12, ZT_MESH_MAX_CHUNKS + 1), len);
#undef TRY
    uint8_t other[32] = {1};
    assert_int_equal(zt_mesh_manifest_decode(enc, len, other, &out), ZT_ECRYPTO);
    b[len - 1] ^= 1; /* a chunk hash changed: another root */
    memcpy(b, enc, len - 1);
    assert_int_equal(zt_mesh_manifest_decode(b, len, m.root, &out), ZT_ECRYPTO);
    assert_int_equal(zt_mesh_manifest_decode(NULL, 0, NULL, &out), ZT_EPARSE);
    free(b);
    zt_free(enc);
}

static void test_frames(void **state)
{
    (void)state;
    uint8_t f[ZT_MESH_FRAME_HEADER + 5], sha[32];
    zt_sha256(sha, "hello", 5);
    zt_mesh_frame_header(f, sha, 5);
    memcpy(f + ZT_MESH_FRAME_HEADER, "hello", 5);
    const uint8_t *d = NULL;
    size_t n = 0;
    assert_int_equal(zt_mesh_frame_check(f, sizeof f, sha, &d, &n), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(d, "hello", 5);
    assert_int_equal(zt_mesh_frame_check(f, sizeof f - 1, NULL, NULL, NULL), ZT_EPARSE);
    f[ZT_MESH_FRAME_HEADER] = 'j';
    assert_int_equal(zt_mesh_frame_check(f, sizeof f, NULL, NULL, NULL), ZT_ECRYPTO);
    f[ZT_MESH_FRAME_HEADER] = 'h';
    uint8_t other[32] = {0};
    assert_int_equal(zt_mesh_frame_check(f, sizeof f, other, NULL, NULL), ZT_ECRYPTO);
    f[4] = 9;
    assert_int_equal(zt_mesh_frame_check(f, sizeof f, NULL, NULL, NULL), ZT_EUNSUPPORTED);
}

static void test_records(void **state)
{
    (void)state;
    struct zt_identity *id = NULL, *other = NULL;
    assert_int_equal(zt_identity_generate(&id), 0);
    assert_int_equal(zt_identity_generate(&other), 0);
    int64_t now = zt_time_real_ms() / 1000;
    struct zt_mesh_holder h = {.size = 42, .rf = 3, .exp = now + 60};
    snprintf(h.endpoint, sizeof h.endpoint, "http://127.0.0.1:9");
    snprintf(h.name, sizeof h.name, "m.gguf");
    memset(h.root, 1, 32);
    memset(h.sha256, 2, 32);
    char *rec = NULL;
    assert_int_equal(zt_mesh_record_sign(id, &h, &rec), 0);
    struct zt_mesh_holder v;
    assert_int_equal(zt_mesh_record_verify(rec, strlen(rec), now, &v), 0);
    assert_string_equal(v.node_id, zt_identity_id(id));
    assert_int_equal(v.rf, 3);
    assert_memory_equal(v.root, h.root, 32);
    assert_false(v.partial);
    assert_int_equal(zt_mesh_record_verify(rec, strlen(rec), now + 61, &v), ZT_ETIMEDOUT);
    /* a partial holder says so, signed */
    h.partial = true;
    char *rp = NULL;
    assert_int_equal(zt_mesh_record_sign(id, &h, &rp), 0);
    assert_int_equal(zt_mesh_record_verify(rp, strlen(rp), now, &v), 0);
    assert_true(v.partial);
    char *rq = strdup(rp);
    char *pt = strstr(rq, "\"partial\":true");
    assert_non_null(pt);
    memcpy(pt + 10, "1   ", 4); /* "partial":1 and blanks: not a boolean */
    assert_int_not_equal(zt_mesh_record_verify(rq, strlen(rq), now, &v), 0);
    free(rq);
    zt_free(rp);
    /* a withdrawal (the node dropped the blob) says so, signed; never with partial */
    h.withdrawn = true;
    assert_int_equal(zt_mesh_record_sign(id, &h, &rp), ZT_EINVAL);
    h.partial = false;
    assert_int_equal(zt_mesh_record_sign(id, &h, &rp), 0);
    assert_int_equal(zt_mesh_record_verify(rp, strlen(rp), now, &v), 0);
    assert_true(v.withdrawn);
    assert_false(v.partial);
    zt_free(rp);
    h.withdrawn = false;
    /* tampered: the endpoint moved to an attacker's host */
    char *t = strdup(rec);
    char *p = strstr(t, "127.0.0.1");
    assert_non_null(p);
    p[0] = '9';
    assert_int_equal(zt_mesh_record_verify(t, strlen(t), now, &v), ZT_ECRYPTO);
    free(t);
    /* another key claiming the node id */
    char *r2 = NULL;
    assert_int_equal(zt_mesh_record_sign(other, &h, &r2), 0);
    json_t *o = json_loads(r2, 0, NULL);
    json_object_set_new(o, "node_id", json_string(zt_identity_id(id)));
    char *forged = json_dumps(o, JSON_COMPACT);
    assert_int_equal(zt_mesh_record_verify(forged, strlen(forged), now, &v), ZT_ECRYPTO);
    zt_free(forged);
    json_decref(o);
    zt_free(r2);
    /* lives too long */
    h.exp = now + 2 * 86400;
    assert_int_equal(zt_mesh_record_sign(id, &h, &r2), 0);
    assert_int_equal(zt_mesh_record_verify(r2, strlen(r2), now, &v), ZT_ETIMEDOUT);
    zt_free(r2);
    assert_int_equal(zt_mesh_record_verify("{}", 2, now, &v), ZT_EPARSE);
    assert_int_equal(zt_mesh_record_verify("x", 1, now, &v), ZT_EPARSE);
    h.rf = 0;
    assert_int_equal(zt_mesh_record_sign(id, &h, &r2), ZT_EINVAL);
    zt_free(rec);
    zt_identity_free(id);
    zt_identity_free(other);
    assert_true(zt_mesh_name_ok("a-b_c.gguf"));
    assert_false(zt_mesh_name_ok(".hidden"));
    assert_false(zt_mesh_name_ok("../x"));
    assert_false(zt_mesh_name_ok(""));
}

/* A node's mesh with no peers: add, serve what verifies, never a corrupted chunk, unpin. */
static void test_store_and_serve(void **state)
{
    (void)state;
    char path[300], sdir[300];
    snprintf(path, sizeof path, "%s/g", dir);
    snprintf(sdir, sizeof sdir, "%s/store", dir);
    write_file(path, (3u << 20) + 5, 9);
    struct zt_identity *id = NULL;
    assert_int_equal(zt_identity_generate(&id), 0);
    struct zt_mesh_opts o = {.dir = sdir, .id = id};
    struct zt_mesh *m = NULL;
    assert_int_equal(zt_mesh_new(&o, &m), 0);
    char sha[65];
    assert_int_equal(zt_mesh_add_file(m, path, "g.gguf", 0, sha), 0);
    struct zt_mesh_manifest man;
    assert_int_equal(zt_mesh_manifest_of_file(path, &man), 0);
    char root[65], c0[65], c1[65];
    zt_hex_encode(root, man.root, 32);
    zt_hex_encode(c0, man.chunks[0], 32);
    zt_hex_encode(c1, man.chunks[1], 32);
    struct zt_buf b;
    zt_buf_init(&b, 2u << 20);
    assert_int_equal(zt_mesh_serve_manifest(m, root, &b), 0);
    assert_int_equal(b.len, ZT_MESH_MANIFEST_HEADER + 4 * 32);
    assert_int_equal(zt_mesh_serve_chunk(m, c0, &b), 0);
    assert_int_equal(b.len, ZT_MESH_CHUNK_SIZE);
    uint8_t h[32];
    zt_sha256(h, b.data, b.len);
    assert_memory_equal(h, man.chunks[0], 32);
    /* flip a byte of chunk 1 on disk: never served, dropped from the store */
    char cp[600];
    snprintf(cp, sizeof cp, "%s/chunks/%.2s/%s", sdir, c1, c1);
    FILE *f = fopen(cp, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, ZT_MESH_FRAME_HEADER + 100, SEEK_SET), 0);
    fputc(0x5a ^ fgetc(f), f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(zt_mesh_serve_chunk(m, c1, &b), ZT_ENOTFOUND);
    struct stat st;
    assert_int_not_equal(stat(cp, &st), 0);
    assert_int_equal(zt_mesh_serve_chunk(m, "zz", &b), ZT_EINVAL);
    /* no temporary file is left behind */
    char tp[320];
    snprintf(tp, sizeof tp, "%s/tmp", sdir);
    assert_int_equal(rmdir(tp), 0);
    assert_int_equal(mkdir(tp, 0700), 0);
    /* a second start reads what it held */
    zt_mesh_free(m);
    m = NULL;
    assert_int_equal(zt_mesh_new(&o, &m), 0);
    char *js = NULL;
    assert_int_equal(zt_mesh_list_json(m, &js), 0);
    assert_non_null(strstr(js, sha));
    zt_free(js);
    /* a pull with no DHT finds no holder */
    char why[256];
    assert_int_equal(zt_mesh_pull_wait(m, "00000000000000000000000000000000000000000000000000000000000000aa", NULL,
                                       false, 10000, why, sizeof why),
                     ZT_ENOTFOUND);
    assert_int_equal(zt_mesh_unpin(m, sha), 0);
    assert_int_equal(zt_mesh_serve_manifest(m, root, &b), ZT_ENOTFOUND);
    assert_int_equal(zt_mesh_serve_chunk(m, c0, &b), ZT_ENOTFOUND);
    assert_int_equal(zt_mesh_unpin(m, sha), ZT_ENOTFOUND);
    zt_buf_deinit(&b);
    zt_mesh_manifest_deinit(&man);
    zt_mesh_free(m);
    zt_identity_free(id);
}

/* path: n 64-bit words of xorshift64 from seed (no two chunks alike). */
static void write_random(const char *path, size_t n, uint64_t seed)
{
    FILE *wf = fopen(path, "wb");
    assert_non_null(wf);
    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        assert_int_equal(fwrite(&seed, 8, 1, wf), 1);
    }
    assert_int_equal(fclose(wf), 0);
}

static int n_counted;

static int count_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)p, (void)st, (void)ftw;
    n_counted += flag == FTW_F;
    return 0;
}

/* The files under d: how many. */
static int count_files(const char *d)
{
    n_counted = 0;
    (void)nftw(d, count_one, 16, FTW_PHYS);
    return n_counted;
}

/* A node killed (SIGKILL) while it writes a blob's chunks: the next start
 * clears DIR/tmp, every chunk file there verifies, the blob is held only if
 * it was complete, and adding it again completes it. (The writes are
 * fsync'ed file then directory: what a power loss would keep is what a
 * kill keeps; a kill is what a test can do.) */
static void test_store_crash(void **state)
{
    (void)state;
    char path[300], sdir[300], tmpd[320], chunks[320];
    snprintf(path, sizeof path, "%s/big", dir);
    snprintf(sdir, sizeof sdir, "%s/crash", dir);
    snprintf(tmpd, sizeof tmpd, "%s/tmp", sdir);
    snprintf(chunks, sizeof chunks, "%s/chunks", sdir);
    write_random(path, (40u << 20) / 8 + 1, 88172645463325252ull); /* 41 distinct chunks */
    struct zt_identity *id = NULL;
    assert_int_equal(zt_identity_generate(&id), 0);
    struct zt_mesh_opts o = {.dir = sdir, .id = id};
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct zt_mesh *m = NULL;
        char sha[65];
        if (zt_mesh_new(&o, &m) == 0) zt_ignore(zt_mesh_add_file(m, path, "big.gguf", 0, sha));
        _exit(0);
    }
    uint64_t until = zt_time_mono_ms() + 30000;
    int st = 0;
    pid_t done = 0;
    while (count_files(chunks) < 3 && (done = waitpid(pid, &st, WNOHANG)) == 0 && zt_time_mono_ms() < until)
        zt_time_sleep_ms(1);
    if (done == 0) {
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &st, 0), pid);
    }
    printf("# %s with %d of 41 chunk files written\n", done ? "ended" : "killed", count_files(chunks));
    /* a leftover in tmp, as a kill between open and rename leaves */
    char stray[400];
    snprintf(stray, sizeof stray, "%s/0123456789abcdef", tmpd);
    FILE *f = fopen(stray, "wb");
    assert_non_null(f);
    fputs("half a chunk", f);
    fclose(f);
    struct zt_mesh *m = NULL;
    assert_int_equal(zt_mesh_new(&o, &m), 0);
    assert_int_equal(count_files(tmpd), 0);
    struct zt_mesh_manifest man;
    assert_int_equal(zt_mesh_manifest_of_file(path, &man), 0);
    assert_int_equal(man.n_chunks, 41);
    char sha[65];
    zt_hex_encode(sha, man.file_sha256, 32);
    char *js = NULL;
    assert_int_equal(zt_mesh_list_json(m, &js), 0);
    bool held = strstr(js, sha) != NULL;
    zt_free(js);
    struct zt__mstore ms;
    assert_int_equal(zt__mstore_init(&ms, sdir), 0);
    struct zt_buf b;
    zt_buf_init(&b, 2u << 20);
    int present = 0;
    for (uint32_t i = 0; i < man.n_chunks; i++) {
        if (!zt__mstore_has_chunk(&ms, man.chunks[i])) continue;
        assert_int_equal(zt__mstore_get_chunk(&ms, man.chunks[i], &b), 0); /* whole, or not there */
        present++;
    }
    if (held) assert_int_equal(present, (int)man.n_chunks);
    assert_int_equal(zt_mesh_add_file(m, path, "big.gguf", 0, sha), 0);
    char c[65];
    for (uint32_t i = 0; i < man.n_chunks; i++) {
        zt_hex_encode(c, man.chunks[i], 32);
        assert_int_equal(zt_mesh_serve_chunk(m, c, &b), 0);
    }
    zt_buf_deinit(&b);
    zt_mesh_manifest_deinit(&man);
    zt_mesh_free(m);
    zt_identity_free(id);
}

/* A file of the models directory added to the mesh is held once: no chunk
 * bytes in the store, chunks served from the file (each checked: a byte
 * changed in the file stops that chunk being served), and a start that
 * finds the file gone drops the blob. */
static void test_one_copy(void **state)
{
    (void)state;
    char sdir[300], mdir[300], path[400];
    snprintf(sdir, sizeof sdir, "%s/one", dir);
    snprintf(mdir, sizeof mdir, "%s/models", dir);
    assert_int_equal(mkdir(mdir, 0700), 0);
    snprintf(path, sizeof path, "%s/m.gguf", mdir);
    write_random(path, (3u << 20) / 8 + 100, 0x2545F4914F6CDD1Dull); /* 4 distinct chunks */
    struct zt_identity *id = NULL;
    assert_int_equal(zt_identity_generate(&id), 0);
    struct zt_mesh_opts o = {.dir = sdir, .id = id, .models_dir = mdir};
    struct zt_mesh *m = NULL;
    assert_int_equal(zt_mesh_new(&o, &m), 0);
    char sha[65], chunks[320];
    assert_int_equal(zt_mesh_add_file(m, path, "m.gguf", 0, sha), 0);
    snprintf(chunks, sizeof chunks, "%s/chunks", sdir);
    assert_int_equal(count_files(chunks), 0); /* one copy: the file */
    struct zt_mesh_manifest man;
    assert_int_equal(zt_mesh_manifest_of_file(path, &man), 0);
    assert_int_equal(man.n_chunks, 4);
    struct zt_buf b;
    zt_buf_init(&b, 4u << 20);
    char c[65];
    uint8_t h[32];
    for (uint32_t i = 0; i < man.n_chunks; i++) {
        zt_hex_encode(c, man.chunks[i], 32);
        assert_int_equal(zt_mesh_serve_chunk(m, c, &b), 0);
        assert_int_equal(b.len, zt_mesh_chunk_len(&man, i));
        zt_sha256(h, b.data, b.len);
        assert_memory_equal(h, man.chunks[i], 32);
    }
    assert_int_equal(zt_mesh_read_blob(m, sha, 4u << 20, &b), 0);
    zt_buf_deinit(&b);
    zt_buf_init(&b, 4u << 20);
    /* a restart serves it from the file still */
    zt_mesh_free(m);
    m = NULL;
    assert_int_equal(zt_mesh_new(&o, &m), 0);
    zt_hex_encode(c, man.chunks[3], 32);
    assert_int_equal(zt_mesh_serve_chunk(m, c, &b), 0);
    /* a byte of chunk 1 changed in the file: that chunk is never served, the others are */
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, ZT_MESH_CHUNK_SIZE + 77, SEEK_SET), 0);
    fputc(0x33 ^ fgetc(f), f);
    assert_int_equal(fclose(f), 0);
    zt_hex_encode(c, man.chunks[1], 32);
    assert_int_equal(zt_mesh_serve_chunk(m, c, &b), ZT_ENOTFOUND);
    zt_hex_encode(c, man.chunks[0], 32);
    assert_int_equal(zt_mesh_serve_chunk(m, c, &b), 0);
    assert_int_equal(zt_mesh_read_blob(m, sha, 4u << 20, &b), ZT_ENOTFOUND);
    /* the file gone: the next start drops the blob */
    zt_mesh_free(m);
    m = NULL;
    assert_int_equal(unlink(path), 0);
    assert_int_equal(zt_mesh_new(&o, &m), 0);
    char *js = NULL;
    assert_int_equal(zt_mesh_list_json(m, &js), 0);
    assert_null(strstr(js, sha));
    zt_free(js);
    /* a file outside the models directory is copied into the store */
    char out_path[300];
    snprintf(out_path, sizeof out_path, "%s/g", dir);
    write_file(out_path, (1u << 20) + 9, 4);
    assert_int_equal(zt_mesh_add_file(m, out_path, "g.gguf", 0, sha), 0);
    assert_true(count_files(chunks) > 0);
    zt_buf_deinit(&b);
    zt_mesh_manifest_deinit(&man);
    zt_mesh_free(m);
    zt_identity_free(id);
}

/* Out of memory anywhere in decode and record checks: an error, no leak. */
static void test_alloc_failures(void **state)
{
    (void)state;
    struct zt_mesh_manifest m = {.chunk_size = ZT_MESH_CHUNK_SIZE, .n_chunks = 1, .file_size = 10};
    uint8_t c[1][32] = {{3}};
    m.chunks = c;
    zt_mesh_manifest_seal(&m);
    uint8_t *enc = NULL;
    size_t len = 0;
    assert_int_equal(zt_mesh_manifest_encode(&m, &enc, &len), 0);
    int64_t live = zt_alloc_live();
    unsigned nomem = 0;
    for (int64_t k = 1; k <= 4; k++) {
        struct zt_mesh_manifest d;
        zt_alloc_fail_after(k);
        int rc = zt_mesh_manifest_decode(enc, len, m.root, &d);
        zt_alloc_fail_after(0);
        assert_true(rc == 0 || rc == ZT_ENOMEM);
        if (rc == 0) zt_mesh_manifest_deinit(&d);
        else nomem++;
        assert_int_equal(zt_alloc_live(), live);
    }
    assert_true(nomem > 0);
    zt_free(enc);
}

/* ---- the store's bound ---------------------------------------------------------------- */

/* Blob name (a 1 MiB file of seed) added to m, its pin set to pinned; its SHA-256 in sha. */
static void add_mib(struct zt_mesh *m, const char *name, uint8_t seed, bool pinned, char sha[65])
{
    char path[300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_file(path, ZT_MESH_CHUNK_SIZE, seed);
    assert_int_equal(zt_mesh_add_file(m, path, name, 1, sha), 0);
    uint8_t h[32];
    assert_int_equal(zt_hex_decode_str(h, 32, sha, ZT_HEX_LOWER), 0);
    pthread_mutex_lock(&m->mu); /* as a pull without install or a replica leaves it */
    zt__mesh_find(m, h)->pinned = pinned;
    pthread_mutex_unlock(&m->mu);
    zt_time_sleep_ms(3); /* the next one is used later */
}

static bool has_blob(struct zt_mesh *m, const char *sha)
{
    uint8_t h[32];
    assert_int_equal(zt_hex_decode_str(h, 32, sha, ZT_HEX_LOWER), 0);
    pthread_mutex_lock(&m->mu);
    bool yes = zt__mesh_find(m, h) != NULL;
    pthread_mutex_unlock(&m->mu);
    return yes;
}

static bool chunk_file(const char *sdir, const char *sha_of_chunk)
{
    char p[600];
    snprintf(p, sizeof p, "%s/chunks/%.2s/%s", sdir, sha_of_chunk, sha_of_chunk);
    return access(p, F_OK) == 0;
}

/* A store bounded at 2 MiB holding 4 MiB: the unpinned blobs least
 * recently used go first (their chunks with them) until it is under the
 * bound; the pinned one, the oldest, stays. Nothing goes while a pull
 * runs; a pinned blob over the bound alone stays. */
static void test_evict(void **state)
{
    (void)state;
    char sdir[300];
    snprintf(sdir, sizeof sdir, "%s/bounded", dir);
    struct zt_identity *id = NULL;
    assert_int_equal(zt_identity_generate(&id), 0);
    struct zt_mesh_opts o = {.dir = sdir, .id = id, .max_bytes = (2u << 20) + 1};
    struct zt_mesh *m = NULL;
    assert_int_equal(zt_mesh_new(&o, &m), 0);
    char p[65], a[65], b[65], c[65];
    add_mib(m, "p.bin", 1, true, p);
    add_mib(m, "a.bin", 2, false, a);
    add_mib(m, "b.bin", 3, false, b);
    add_mib(m, "c.bin", 4, false, c);
    struct zt_buf buf;
    zt_buf_init(&buf, 2u << 20);
    /* a: used now (a whole 1 MiB chunk read back: its frame is larger than the chunk, which a
     * chunk-sized buffer refused, ZT_ETOOBIG, before; a database-sync segment over 1 MiB too) */
    assert_int_equal(zt_mesh_read_blob(m, a, 2u << 20, &buf), 0);
    assert_int_equal(zt__mesh_evict(m), 2);
    assert_true(has_blob(m, p)); /* pinned, the oldest */
    assert_true(has_blob(m, a)); /* recently used */
    assert_false(has_blob(m, b));
    assert_false(has_blob(m, c));
    assert_true(chunk_file(sdir, p)); /* one chunk each: its hash is the file's */
    assert_false(chunk_file(sdir, b));
    assert_int_equal(zt__mesh_evict(m), 0); /* under the bound */
    /* a bound under the pinned blob alone; a pull in progress */
    m->o.max_bytes = (1u << 20) - 1;
    struct zt__pull *run = zt_calloc(1, sizeof *run);
    assert_non_null(run);
    run->state = ZT__PULL_RUNNING;
    run->joined = true;
    pthread_mutex_lock(&m->mu);
    m->pulls[m->n_pulls++] = run;
    pthread_mutex_unlock(&m->mu);
    assert_int_equal(zt__mesh_evict(m), 0);
    assert_true(has_blob(m, a));
    run->state = ZT__PULL_DONE;
    assert_int_equal(zt__mesh_evict(m), 1);
    assert_false(has_blob(m, a));
    assert_true(has_blob(m, p)); /* over the bound alone, and pinned: kept */
    char *st = NULL;
    assert_int_equal(zt_mesh_status_json(m, &st), 0);
    json_t *j = json_loads(st, 0, NULL);
    zt_free(st);
    assert_int_equal(json_integer_value(json_object_get(j, "store_bytes")), 1 << 20);
    assert_int_equal(json_integer_value(json_object_get(j, "max_store_bytes")), (1 << 20) - 1);
    json_decref(j);
    zt_buf_deinit(&buf);
    zt_mesh_free(m);
    zt_identity_free(id);
}

/* Whether m's DHT view counts the node id as a holder of sha. */
static bool holds(struct zt_mesh *m, const uint8_t sha[32], const char *id)
{
    struct zt_mesh_holder hs[8];
    size_t n = zt__mesh_holders(m, sha, hs, 8);
    for (size_t i = 0; i < n; i++)
        if (strcmp(hs[i].node_id, id) == 0) return true;
    return false;
}

/* Review7 F11: a blob evicted (the store over its bound) is withdrawn
 * from the DHT: another node stops counting this one as its holder within
 * seconds, not when the holder record expires (record_ttl_s, 600 s here). */
static void test_evict_withdrawn(void **state)
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
    struct zt_identity *ia = NULL, *ib = NULL;
    assert_int_equal(zt_identity_generate(&ia), 0);
    assert_int_equal(zt_identity_generate(&ib), 0);
    char adir[300], bdir[300];
    snprintf(adir, sizeof adir, "%s/wa", dir);
    snprintf(bdir, sizeof bdir, "%s/wb", dir);
    struct zt_mesh_opts oa = {.dir = adir, .id = ia, .max_bytes = 1}, ob = {.dir = bdir, .id = ib};
    struct zt_mesh *ma = NULL, *mb = NULL;
    assert_int_equal(zt_mesh_new(&oa, &ma), 0);
    assert_int_equal(zt_mesh_new(&ob, &mb), 0);
    char sha[65];
    add_mib(ma, "w.bin", 11, true, sha); /* pinned: kept over the bound until unpinned below */
    uint8_t h[32];
    assert_int_equal(zt_hex_decode_str(h, 32, sha, ZT_HEX_LOWER), 0);
    assert_int_equal(zt_mesh_start(ma, da, "http://127.0.0.1:9"), 0);
    assert_int_equal(zt_mesh_start(mb, db, "http://127.0.0.1:10"), 0);
    uint64_t until = zt_time_mono_ms() + 60000;
    while (!holds(mb, h, zt_identity_id(ia))) {
        assert_true(zt_time_mono_ms() < until);
        zt_time_sleep_ms(200);
    }
    /* as a replica or a pull without install leaves it: the bound evicts it */
    pthread_mutex_lock(&ma->mu);
    zt__mesh_find(ma, h)->pinned = false;
    pthread_mutex_unlock(&ma->mu);
    uint64_t t0 = zt_time_mono_ms();
    while (has_blob(ma, sha)) {
        assert_true(zt_time_mono_ms() < t0 + 10000);
        zt_time_sleep_ms(50);
    }
    uint64_t t1 = zt_time_mono_ms();
    while (holds(mb, h, zt_identity_id(ia))) {
        assert_true(zt_time_mono_ms() < t1 + 20000); /* records live 600 s: only the withdrawal explains it */
        zt_time_sleep_ms(200);
    }
    printf("# evicted after %llu ms; another node stopped counting it as a holder %llu ms later (record_ttl_s 600)\n",
           (unsigned long long)(t1 - t0), (unsigned long long)(zt_time_mono_ms() - t1));
    /* review8 F9: held again at once (pinned, as an add after an unpin):
     * its new holder record shadows the withdrawal. Before, a record
     * published within a second of the withdrawal expired no later than it
     * (ttl vs ttl + 1): the withdrawal won and the node was not counted
     * until its next republish (record_ttl_s / 3, 200 s here). */
    uint64_t t2 = zt_time_mono_ms();
    add_mib(ma, "w.bin", 11, true, sha);
    while (!holds(mb, h, zt_identity_id(ia))) {
        if (zt_time_mono_ms() > t2 + 20000) fail_msg("held again %llu ms after the withdrawal was seen: not counted within 20 s",
                                                     (unsigned long long)(t2 - t1));
        zt_time_sleep_ms(200);
    }
    printf("# held again %llu ms after the withdrawal was seen; counted as a holder again %llu ms later\n",
           (unsigned long long)(t2 - t1), (unsigned long long)(zt_time_mono_ms() - t2));
    zt_mesh_free(mb);
    zt_mesh_free(ma);
    zt_dht_free(db);
    zt_dht_free(da);
    zt_identity_free(ib);
    zt_identity_free(ia);
}

/* ---- peers' scores across restarts ------------------------------------------------ */

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

static struct zt_store *open_store(void)
{
    char path[300];
    snprintf(path, sizeof path, "%s/node.db", dir);
    struct zt_store_opts so = {.path = pg_db[0] ? pg_db : path, .busy_timeout_ms = 5000};
    struct zt_store *st = NULL;
    assert_int_equal(zt_store_open(pg_db[0] ? "postgres" : "sqlite", &so, &st), 0);
    return st;
}

static struct zt_mesh *mesh_on(struct zt_store *st, const struct zt_identity *id, const char *sub)
{
    char sdir[300];
    snprintf(sdir, sizeof sdir, "%s/%s", dir, sub);
    struct zt_mesh_opts o = {.dir = sdir, .id = id, .st = st};
    struct zt_mesh *m = NULL;
    assert_int_equal(zt_mesh_new(&o, &m), 0);
    return m;
}

static int64_t rows_of(struct zt_store *st, const struct zt_identity *id)
{
    struct zt_store_stmt *q = NULL;
    int64_t n = -1;
    assert_int_equal(zt_store_prepare(st, "SELECT COUNT(*) FROM mesh_scores WHERE node = ?", &q), 0);
    assert_int_equal(zt_store_bind_text(q, 1, zt_identity_id(id), strlen(zt_identity_id(id))), 0);
    assert_int_equal(zt_store_step(q), ZT_STORE_ROW);
    assert_int_equal(zt_store_column_i64(q, 0, &n), 0);
    zt_store_stmt_free(q);
    return n;
}

/* A peer caught serving a bad chunk stays penalised after a restart (the
 * penalty is in the store before the mesh stops), credit is kept at the
 * stop; 1,100 more peers: the store keeps 1,024 (the penalised one, then
 * the most recent), as the table does; another node's view on the same
 * store is its own. */
static void test_scores_kept(void **state)
{
    (void)state;
    struct zt_identity *id = NULL, *other = NULL;
    assert_int_equal(zt_identity_generate(&id), 0);
    assert_int_equal(zt_identity_generate(&other), 0);
    struct zt_store *st = open_store();
    struct zt_mesh *m = mesh_on(st, id, "s1");
    zt__mesh_score(m, "zt1bad", -100, "served a bad chunk (test)");
    assert_int_equal(rows_of(st, id), 1); /* at once */
    for (int i = 0; i < 3; i++) zt__mesh_score(m, "zt1good", 1, "");
    zt_mesh_free(m);
    m = mesh_on(st, id, "s1"); /* the restart */
    assert_true(zt_mesh_peer_score(m, "zt1bad") == -100);
    assert_true(zt_mesh_peer_score(m, "zt1good") == 3);
    zt_time_sleep_ms(5); /* "good" is strictly older than what comes next */
    char peer[32];
    for (int i = 0; i < 1100; i++) {
        snprintf(peer, sizeof peer, "zt1p%04d", i);
        zt__mesh_score(m, peer, 1, "");
    }
    zt_time_sleep_ms(5);
    zt__mesh_score(m, "zt1p1099", 1, ""); /* strictly the newest */
    assert_true(zt_mesh_peer_score(m, "zt1bad") == -100); /* the table let others go */
    zt_mesh_free(m);
    assert_int_equal(rows_of(st, id), ZT__MESH_MAX_SCORES);
    m = mesh_on(st, id, "s1");
    assert_true(zt_mesh_peer_score(m, "zt1bad") == -100);
    assert_true(zt_mesh_peer_score(m, "zt1p1099") == 2);
    assert_true(zt_mesh_peer_score(m, "zt1good") == 0); /* the oldest: gone */
    zt_mesh_free(m);
    struct zt_mesh *m2 = mesh_on(st, other, "s2");
    assert_true(zt_mesh_peer_score(m2, "zt1bad") == 0);
    zt_mesh_free(m2);
    assert_int_equal(rows_of(st, other), 0);
    zt_store_close(st);
    zt_identity_free(other);
    zt_identity_free(id);
}

int main(void)
{
    json_set_alloc_funcs(zt_malloc, zt_free);
    if (zt_hash_init() != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_round_trip), cmocka_unit_test(test_manifest_malformed),
        cmocka_unit_test(test_frames),              cmocka_unit_test(test_records),
        cmocka_unit_test(test_store_and_serve),     cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_store_crash),         cmocka_unit_test(test_one_copy),
        cmocka_unit_test(test_scores_kept),         cmocka_unit_test(test_evict), cmocka_unit_test(test_evict_withdrawn),
    };
    int failures = cmocka_run_group_tests(tests, setup, teardown);
    const struct CMUnitTest pg_tests[] = {cmocka_unit_test_setup_teardown(test_scores_kept, setup_pg, teardown_pg)};
    failures += zt_test_pg_run("mesh_scores_postgres", pg_tests);
    return zt_test_exit(failures);
}
