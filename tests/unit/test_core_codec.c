/* test_core_codec.c: known-answer tests for the core helpers written once
 * for the whole tree: hex (zt_hex.h), byte order (zt_endian.h), bounded
 * whole-file reads (zt_file.h), FNV-1a, a file's SHA-256 and the chained index (zt_hash.h) and array growth
 * (zt_array_grow in zt_alloc.h) and a constructor's hand-out tail (ZT_HAND_OUT). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"

/* ---- hex ------------------------------------------------------------------- */

static void test_hex_round_trip(void **state)
{
    (void)state;
    uint8_t all[256];
    for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
    char hex[2 * sizeof all + 1];
    zt_hex_encode(hex, all, sizeof all);
    assert_int_equal(strlen(hex), 512);
    assert_memory_equal(hex, "000102030405060708090a0b0c0d0e0f10", 34);
    assert_string_equal(hex + 500, "fafbfcfdfeff");
    uint8_t back[256];
    assert_int_equal(zt_hex_decode_str(back, sizeof back, hex, ZT_HEX_LOWER), 0);
    assert_memory_equal(back, all, sizeof all);

    /* Known answers, both cases accepted where asked. */
    uint8_t b4[4];
    assert_int_equal(zt_hex_decode_str(b4, 4, "deadBEEF", ZT_HEX_ANY_CASE), 0);
    assert_memory_equal(b4, "\xde\xad\xbe\xef", 4);
    assert_int_equal(zt_hex_decode(b4, 2, "00ff", 4, ZT_HEX_LOWER), 0);
    assert_memory_equal(b4, "\x00\xff", 2);
    /* The length-bounded form reads only slen bytes. */
    assert_int_equal(zt_hex_decode(b4, 1, "7fzz", 2, ZT_HEX_LOWER), 0);
    assert_int_equal(b4[0], 0x7f);
    /* Zero bytes from the empty string. */
    assert_int_equal(zt_hex_decode_str(b4, 0, "", ZT_HEX_LOWER), 0);

    char e[1];
    zt_hex_encode(e, NULL, 0);
    assert_int_equal(e[0], '\0');

    assert_int_equal(zt_hex_digit('0'), 0);
    assert_int_equal(zt_hex_digit('9'), 9);
    assert_int_equal(zt_hex_digit('a'), 10);
    assert_int_equal(zt_hex_digit('F'), 15);
    for (int c = 1; c < 256; c++) {
        bool is = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        assert_int_equal(zt_hex_digit((char)c) >= 0, is);
    }
}

static void test_hex_rejects(void **state)
{
    (void)state;
    uint8_t out[4] = {1, 2, 3, 4};
    const uint8_t untouched[4] = {1, 2, 3, 4};
    /* Upper case under ZT_HEX_LOWER. */
    assert_int_equal(zt_hex_decode_str(out, 4, "deadBEEF", ZT_HEX_LOWER), ZT_EPARSE);
    /* Wrong lengths: short, long, odd. */
    assert_int_equal(zt_hex_decode_str(out, 4, "deadbe", ZT_HEX_LOWER), ZT_EPARSE);
    assert_int_equal(zt_hex_decode_str(out, 4, "deadbeef00", ZT_HEX_LOWER), ZT_EPARSE);
    assert_int_equal(zt_hex_decode_str(out, 4, "deadbeef0", ZT_HEX_ANY_CASE), ZT_EPARSE);
    assert_int_equal(zt_hex_decode(out, 4, "deadbeef", 7, ZT_HEX_LOWER), ZT_EPARSE);
    /* Non-digits anywhere, including the last one and a NUL inside. */
    assert_int_equal(zt_hex_decode_str(out, 4, "deadbeeg", ZT_HEX_ANY_CASE), ZT_EPARSE);
    assert_int_equal(zt_hex_decode_str(out, 4, " eadbeef", ZT_HEX_ANY_CASE), ZT_EPARSE);
    assert_int_equal(zt_hex_decode_str(out, 4, "0xadbeef", ZT_HEX_ANY_CASE), ZT_EPARSE);
    assert_int_equal(zt_hex_decode(out, 4, "dead\0eef", 8, ZT_HEX_ANY_CASE), ZT_EPARSE);
    assert_int_equal(zt_hex_decode_str(out, 4, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", ZT_HEX_ANY_CASE), ZT_EPARSE);
    assert_int_equal(zt_hex_decode_str(out, 4, NULL, ZT_HEX_ANY_CASE), ZT_EPARSE);
    assert_int_equal(zt_hex_decode(out, 4, NULL, 8, ZT_HEX_ANY_CASE), ZT_EPARSE);
    /* Nothing was written by any of them. */
    assert_memory_equal(out, untouched, 4);
}

static void test_hex_valid(void **state)
{
    (void)state;
    assert_true(zt_hex_valid("00ff", 4, ZT_HEX_LOWER));
    assert_true(zt_hex_valid("00fF", 4, ZT_HEX_ANY_CASE));
    assert_true(zt_hex_valid("", 0, ZT_HEX_LOWER)); /* no bytes: valid */
    /* only the first slen characters count */
    assert_true(zt_hex_valid("abzz", 2, ZT_HEX_LOWER));
    /* malformed: upper case under ZT_HEX_LOWER, odd length, non-digits
     * first, inside and last, a NUL inside, UTF-8, NULL */
    assert_false(zt_hex_valid("00fF", 4, ZT_HEX_LOWER));
    assert_false(zt_hex_valid("abc", 3, ZT_HEX_ANY_CASE));
    assert_false(zt_hex_valid("g0", 2, ZT_HEX_ANY_CASE));
    assert_false(zt_hex_valid("0x12", 4, ZT_HEX_ANY_CASE));
    assert_false(zt_hex_valid("123 ", 4, ZT_HEX_ANY_CASE));
    assert_false(zt_hex_valid("12\0" "4", 4, ZT_HEX_ANY_CASE));
    assert_false(zt_hex_valid("\xc3\xa9", 2, ZT_HEX_ANY_CASE));
    assert_false(zt_hex_valid(NULL, 0, ZT_HEX_ANY_CASE));
    /* every byte value: valid exactly when zt_hex_digit takes it */
    for (int c = 1; c < 256; c++) {
        char two[2] = {'0', (char)c};
        assert_int_equal(zt_hex_valid(two, 2, ZT_HEX_ANY_CASE), zt_hex_digit((char)c) >= 0);
        bool lower = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        assert_int_equal(zt_hex_valid(two, 2, ZT_HEX_LOWER), lower);
    }
}

/* ---- byte order ------------------------------------------------------------ */

static void test_endian(void **state)
{
    (void)state;
    uint8_t b[8];
    zt_put_be16(b, 0x0102);
    assert_memory_equal(b, "\x01\x02", 2);
    assert_int_equal(zt_get_be16(b), 0x0102);
    zt_put_be32(b, 0x01020304u);
    assert_memory_equal(b, "\x01\x02\x03\x04", 4);
    assert_int_equal(zt_get_be32(b), 0x01020304u);
    zt_put_be64(b, 0x0102030405060708ull);
    assert_memory_equal(b, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    assert_true(zt_get_be64(b) == 0x0102030405060708ull);
    zt_put_le32(b, 0x01020304u);
    assert_memory_equal(b, "\x04\x03\x02\x01", 4);
    assert_int_equal(zt_get_le32(b), 0x01020304u);
    zt_put_le64(b, 0x0102030405060708ull);
    assert_memory_equal(b, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
    assert_true(zt_get_le64(b) == 0x0102030405060708ull);
    /* High bits survive (no sign extension through int promotion). */
    memset(b, 0xff, sizeof b);
    assert_int_equal(zt_get_be16(b), 0xffff);
    assert_int_equal(zt_get_be32(b), 0xffffffffu);
    assert_int_equal(zt_get_le32(b), 0xffffffffu);
    assert_true(zt_get_be64(b) == UINT64_MAX);
    assert_true(zt_get_le64(b) == UINT64_MAX);
    const uint8_t mixed[8] = {0x80, 0, 0, 0, 0, 0, 0, 0x7f};
    assert_true(zt_get_be64(mixed) == 0x800000000000007full);
    assert_true(zt_get_le64(mixed) == 0x7f00000000000080ull);
    /* Floats as their little-endian IEEE-754 bits. */
    zt_put_le_f64(b, 1.5);
    assert_memory_equal(b, "\x00\x00\x00\x00\x00\x00\xf8\x3f", 8);
    assert_true(zt_get_le_f64(b) == 1.5);
    zt_put_le32(b, 0xc0490fdbu); /* -pi as a float */
    assert_true(zt_get_le_f32(b) == -3.14159274101257324f);
}

/* ---- whole-file reads ------------------------------------------------------ */

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (n) assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static int chunk_into(void *ud, const void *p, size_t n)
{
    assert_true(n > 0 && n <= 1000);
    return zt_buf_append(ud, p, n);
}

static void test_file_read(void **state)
{
    (void)state;
    char dir[] = "/tmp/zt_core_codec_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], empty[256], missing[256];
    snprintf(path, sizeof path, "%s/data", dir);
    snprintf(empty, sizeof empty, "%s/empty", dir);
    snprintf(missing, sizeof missing, "%s/missing", dir);
    /* 40000 bytes: more than one read chunk, with a NUL inside. */
    size_t n = 40000;
    uint8_t *data = malloc(n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++) data[i] = (uint8_t)(i * 7);
    write_file(path, data, n);
    write_file(empty, NULL, 0);

    char *got = NULL;
    size_t len = 0;
    assert_int_equal(zt_file_read(path, n, &got, &len), 0); /* exactly the cap */
    assert_int_equal(len, n);
    assert_memory_equal(got, data, n);
    assert_int_equal(got[n], '\0');
    zt_free(got);

    /* One byte over the cap; the out-parameters stay as they were. */
    got = (char *)"untouched";
    len = 7;
    assert_int_equal(zt_file_read(path, n - 1, &got, &len), ZT_ETOOBIG);
    assert_string_equal(got, "untouched");
    assert_int_equal(len, 7);

    /* Empty file: "" and 0. */
    assert_int_equal(zt_file_read(empty, 16, &got, &len), 0);
    assert_int_equal(len, 0);
    assert_string_equal(got, "");
    zt_free(got);

    /* Missing file and a directory. */
    got = NULL;
    assert_int_equal(zt_file_read(missing, 16, &got, &len), ZT_ENOTFOUND);
    assert_int_equal(errno, ENOENT);
    assert_null(got);
    assert_int_equal(zt_file_read(dir, 16, &got, &len), ZT_EIO);
    assert_null(got);

    /* A secret: the same limits, in guarded memory. */
    assert_int_equal(zt_file_read_secret(path, n, &got, &len), 0);
    assert_int_equal(len, n);
    assert_memory_equal(got, data, n);
    assert_int_equal(got[n], '\0');
    zt_file_secret_free(got);
    got = NULL;
    assert_int_equal(zt_file_read_secret(path, n - 1, &got, &len), ZT_ETOOBIG);
    assert_null(got);
    assert_int_equal(zt_file_read_secret(empty, 16, &got, &len), 0);
    assert_int_equal(len, 0);
    assert_string_equal(got, "");
    zt_file_secret_free(got);
    got = NULL;
    assert_int_equal(zt_file_read_secret(missing, 16, &got, &len), ZT_ENOTFOUND);
    assert_int_equal(zt_file_read_secret(dir, 16, &got, &len), ZT_EIO);
    assert_null(got);
    zt_file_secret_free(NULL);

    /* Appending to a buffer: the cap is b->max, counted with what it held;
     * on an error the buffer keeps what it had. */
    struct zt_buf b;
    zt_buf_init(&b, n + 3);
    assert_int_equal(zt_buf_append_str(&b, "abc"), 0);
    assert_int_equal(zt_file_read_buf(path, &b), 0);
    assert_int_equal(b.len, n + 3);
    assert_memory_equal(b.data + 3, data, n);
    zt_buf_reset(&b);
    assert_int_equal(zt_buf_append_str(&b, "abcd"), 0);
    assert_int_equal(zt_file_read_buf(path, &b), ZT_ETOOBIG);
    assert_string_equal(zt_buf_str(&b), "abcd");
    assert_int_equal(zt_file_read_buf(missing, &b), ZT_ENOTFOUND);
    assert_string_equal(zt_buf_str(&b), "abcd");
    zt_buf_deinit(&b);

    /* Streams. */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    zt_buf_init(&b, n);
    assert_int_equal(zt_file_read_stream(f, &b), 0);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, data, n);
    zt_buf_deinit(&b);
    rewind(f);
    zt_buf_init(&b, 100);
    assert_int_equal(zt_file_read_stream(f, &b), ZT_ETOOBIG);
    zt_buf_deinit(&b);
    fclose(f);

    /* Descriptors: up to cap bytes, fewer at end of file. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    uint8_t small[10];
    assert_int_equal(zt_fd_read_full(fd, small, sizeof small, &len), 0);
    assert_int_equal(len, sizeof small);
    assert_memory_equal(small, data, sizeof small);
    assert_int_equal(lseek(fd, (off_t)n - 4, SEEK_SET), (off_t)n - 4);
    assert_int_equal(zt_fd_read_full(fd, small, sizeof small, &len), 0);
    assert_int_equal(len, 4);
    assert_memory_equal(small, data + n - 4, 4);
    close(fd);
    assert_int_equal(zt_fd_read_full(-1, small, sizeof small, &len), ZT_EIO);

    /* Only a regular file: the same limits; a directory and a FIFO are
     * ZT_EINVAL, and opening the FIFO (no writer) does not block. */
    assert_int_equal(zt_file_read_regular(path, n, &got, &len), 0); /* exactly the cap */
    assert_int_equal(len, n);
    assert_memory_equal(got, data, n);
    zt_free(got);
    got = NULL;
    assert_int_equal(zt_file_read_regular(path, n - 1, &got, &len), ZT_ETOOBIG);
    assert_null(got);
    assert_int_equal(zt_file_read_regular(empty, 16, &got, &len), 0);
    assert_string_equal(got, "");
    zt_free(got);
    got = NULL;
    assert_int_equal(zt_file_read_regular(missing, 16, &got, &len), ZT_ENOTFOUND);
    assert_int_equal(zt_file_read_regular(dir, 16, &got, &len), ZT_EINVAL);
    assert_int_equal(errno, EINVAL);
    char fifo[256];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(zt_file_read_regular(fifo, 16, &got, &len), ZT_EINVAL);
    assert_null(got);
    unlink(fifo);

    /* Chunks: every byte once, in order, in pieces of at most cap; a
     * non-zero answer stops the reading and is returned. */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    zt_buf_init(&b, n);
    char piece[1000];
    assert_int_equal(zt_fd_read_chunks(fd, piece, sizeof piece, chunk_into, &b), 0);
    assert_int_equal(b.len, n);
    assert_memory_equal(b.data, data, n);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    zt_buf_reset(&b);
    b.max = 2500; /* the third chunk does not fit */
    assert_int_equal(zt_fd_read_chunks(fd, piece, sizeof piece, chunk_into, &b), ZT_ETOOBIG);
    assert_int_equal(b.len, 2000);
    zt_buf_deinit(&b);
    close(fd);
    assert_int_equal(zt_fd_read_chunks(-1, piece, sizeof piece, chunk_into, &b), ZT_EIO);

    free(data);
    unlink(path);
    unlink(empty);
    rmdir(dir);
}

/* ---- FNV-1a ---------------------------------------------------------------- */

static void test_fnv1a(void **state)
{
    (void)state;
    /* Reference values of FNV-1a (Fowler, Noll, Vo; draft-eastlake-fnv). */
    assert_true(zt_fnv1a64("", 0) == 0xcbf29ce484222325ull);
    assert_true(zt_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cull);
    assert_true(zt_fnv1a64("foobar", 6) == 0x85944171f73967e8ull);
    assert_int_equal(zt_fnv1a32_str(""), 0x811c9dc5u);
    assert_int_equal(zt_fnv1a32_str("a"), 0xe40c292cu);
    assert_int_equal(zt_fnv1a32_str("foobar"), 0xbf9cf968u);
    /* Stepping over pieces is the hash of the whole. */
    uint64_t h = zt_fnv1a64_step(ZT_FNV1A64_INIT, "foo", 3);
    assert_true(zt_fnv1a64_step(h, "bar", 3) == zt_fnv1a64("foobar", 6));
    /* Bytes above 0x7f hash as unsigned. */
    assert_true(zt_fnv1a64("\xff", 1) == ((0xcbf29ce484222325ull ^ 0xffu) * 0x100000001b3ull));
}

/* ---- a file's SHA-256 --------------------------------------------------------- */

static void test_sha256_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/zt_core_sha_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/data", dir);
    write_file(path, "abc", 3);
    uint8_t h[ZT_SHA256_LEN];
    char hex[2 * ZT_SHA256_LEN + 1];
    assert_int_equal(zt_sha256_file(path, h), 0);
    zt_hex_encode(hex, h, sizeof h);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* more than one read chunk (1 MiB) */
    size_t n = 3u << 20;
    uint8_t *big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++) big[i] = (uint8_t)(i * 7);
    write_file(path, big, n);
    uint8_t want[ZT_SHA256_LEN];
    zt_sha256(want, big, n);
    assert_int_equal(zt_sha256_file(path, h), 0);
    assert_memory_equal(h, want, sizeof h);
    /* a descriptor read to its end from where it stands */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(lseek(fd, 1, SEEK_SET), 1);
    zt_sha256(want, big + 1, n - 1);
    assert_int_equal(zt_sha256_fd(fd, h), 0);
    assert_memory_equal(h, want, sizeof h);
    close(fd);
    /* errors leave out alone: missing (errno ENOENT), a directory */
    uint8_t untouched[ZT_SHA256_LEN];
    memcpy(untouched, h, sizeof h);
    unlink(path);
    assert_int_equal(zt_sha256_file(path, h), ZT_EIO);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(zt_sha256_file(dir, h), ZT_EIO);
    assert_int_equal(zt_sha256_fd(-1, h), ZT_EIO);
    assert_memory_equal(h, untouched, sizeof h);
    free(big);
    rmdir(dir);
}

/* ---- chained hash index ------------------------------------------------------ */

static size_t chain_len(const struct zt_hindex *c, uint32_t h, uint32_t want, bool *found)
{
    size_t n = 0;
    *found = false;
    for (uint32_t i = zt_hindex_first(c, h); i != ZT_HINDEX_NIL; i = zt_hindex_next(c, i), n++)
        if (i == want) *found = true;
    return n;
}

static void test_chain(void **state)
{
    (void)state;
    struct zt_hindex c = {0};
    zt_hindex_deinit(&c); /* zeroed: no-op */
    assert_int_equal(zt_hindex_init(&c, 8, (size_t)1 << 31), ZT_EINVAL);
    assert_int_equal(zt_hindex_init(&c, 8, 3), 0);
    assert_int_equal(c.mask, 3); /* 4 buckets */
    bool found;
    assert_int_equal(chain_len(&c, 1, 0, &found), 0);
    /* hashes 1, 5 and 9 share bucket 1; 2 does not */
    zt_hindex_insert(&c, 1, 0);
    zt_hindex_insert(&c, 5, 1);
    zt_hindex_insert(&c, 9, 2);
    zt_hindex_insert(&c, 2, 3);
    assert_int_equal(zt_hindex_first(&c, 1), 2); /* newest first */
    assert_int_equal(chain_len(&c, 1, 1, &found), 3);
    assert_true(found);
    zt_hindex_remove(&c, 5, 1); /* the middle of the chain */
    assert_int_equal(chain_len(&c, 1, 1, &found), 2);
    assert_false(found);
    zt_hindex_remove(&c, 5, 1); /* not in it: no-op */
    zt_hindex_remove(&c, 9, 2); /* the head */
    assert_int_equal(zt_hindex_first(&c, 1), 0);
    zt_hindex_remove(&c, 1, 0);
    assert_int_equal(zt_hindex_first(&c, 1), ZT_HINDEX_NIL);
    assert_int_equal(chain_len(&c, 2, 3, &found), 1);
    assert_true(found);
    zt_hindex_deinit(&c);
    assert_null(c.bucket);
}

/* ---- array growth ---------------------------------------------------------- */

static void test_array_grow(void **state)
{
    (void)state;
    int *v = NULL;
    size_t cap = 0;
    for (size_t n = 0; n < 100; n++) {
        int *g = zt_array_grow(v, &cap, n + 1, sizeof *g, 4);
        assert_non_null(g);
        v = g;
        v[n] = (int)n;
        assert_true(cap >= n + 1);
    }
    assert_int_equal(cap, 128); /* 4, 8, ..., 128: doubled each time */
    for (size_t n = 0; n < 100; n++) assert_int_equal(v[n], (int)n);
    /* Room already: the same pointer, the same capacity. */
    assert_ptr_equal(zt_array_grow(v, &cap, 50, sizeof *v, 4), v);
    assert_int_equal(cap, 128);
    /* A jump past double grows until it fits. */
    int *g = zt_array_grow(v, &cap, 1000, sizeof *v, 4);
    assert_non_null(g);
    v = g;
    assert_int_equal(cap, 1024);
    assert_int_equal(v[99], 99);
    /* Overflow and failure: NULL, the array and its capacity untouched. */
    assert_null(zt_array_grow(v, &cap, SIZE_MAX / 2, sizeof *v, 4));
    assert_int_equal(cap, 1024);
    zt_alloc_fail_after(1);
    assert_null(zt_array_grow(v, &cap, 2000, sizeof *v, 4));
    assert_int_equal(cap, 1024);
    assert_int_equal(v[99], 99);
    zt_free(v);
    /* first == 0 still grows. */
    size_t c0 = 0;
    char *c = zt_array_grow(NULL, &c0, 3, 1, 0);
    assert_non_null(c);
    assert_int_equal(c0, 4);
    zt_free(c);
}

/* ---- a constructor's tail ------------------------------------------------- */

struct thing {
    int *parts;
};

static int things_freed;

static void thing_free(struct thing *t)
{
    if (!t) return;
    things_freed++;
    zt_free(t->parts);
    zt_free(t);
}

/* A constructor in the shape ZT_HAND_OUT serves: the step's error or 0. */
static int thing_new(int step_rc, struct thing **out)
{
    struct thing *t = zt_calloc(1, sizeof *t);
    if (!t) return ZT_ENOMEM;
    int rc = step_rc;
    if (!rc) {
        t->parts = zt_calloc(4, sizeof *t->parts);
        if (!t->parts) rc = ZT_ENOMEM;
    }
    return ZT_HAND_OUT(rc, t, thing_free, out);
}

static void test_hand_out(void **state)
{
    (void)state;
    things_freed = 0;
    struct thing *t = NULL;
    assert_int_equal(thing_new(0, &t), 0); /* success: handed out, not freed */
    assert_non_null(t);
    assert_non_null(t->parts);
    assert_int_equal(things_freed, 0);
    thing_free(t);
    assert_int_equal(things_freed, 1);
    /* A step's error: given back, the object freed, *out untouched. */
    struct thing *sentinel = (struct thing *)&things_freed;
    t = sentinel;
    assert_int_equal(thing_new(ZT_EPARSE, &t), ZT_EPARSE);
    assert_ptr_equal(t, sentinel);
    assert_int_equal(things_freed, 2);
    /* A later step failing (the second allocation): the partial object freed. */
    zt_alloc_fail_after(2);
    assert_int_equal(thing_new(0, &t), ZT_ENOMEM);
    assert_ptr_equal(t, sentinel);
    assert_int_equal(things_freed, 3);
}

/* zt_keyed_hash64 is SipHash-2-4: the reference vectors of Aumasson and
 * Bernstein's paper (key 00..0f; messages of 0 and of 15 bytes 00..0e),
 * and a different key gives a different value. */
static void test_keyed_hash(void **state)
{
    (void)state;
    assert_int_equal(zt_hash_init(), 0);
    uint8_t key[ZT_KEYED_HASH_KEY_LEN], msg[15];
    for (int i = 0; i < 16; i++) key[i] = (uint8_t)i;
    for (int i = 0; i < 15; i++) msg[i] = (uint8_t)i;
    assert_true(zt_keyed_hash64(msg, 0, key) == 0x726fdb47dd0e0e31ull);
    assert_true(zt_keyed_hash64(msg, 15, key) == 0xa129ca6149be45e5ull);
    key[0] ^= 1;
    assert_true(zt_keyed_hash64(msg, 15, key) != 0xa129ca6149be45e5ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hex_round_trip, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_hex_rejects, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_hex_valid, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_endian, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_file_read, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_fnv1a, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_sha256_file, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_chain, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_array_grow, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_hand_out, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_keyed_hash, zt_test_leak_setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
