/* test_tokenizer.c: the SPM and byte-level BPE tokenizers.
 *
 * Real vocabularies from tests/models (committed; a skip with the reason if
 * one is missing): llama.cpp's 46 llama-spm test vectors against the Llama 2
 * vocab of llama-2-tiny-random.gguf, stories260K.gguf and its tok512.bin,
 * and llama.cpp's 46 GPT-2 cases against ggml-vocab-gpt-2.gguf (a real
 * byte-level BPE vocabulary). Synthetic BPE vocabularies are built in the
 * test too (256 byte tokens + merges) for the pre-tokenizers, merge
 * priority, lossless round trips over arbitrary bytes and special-token
 * parsing. Throughput figures are in bench/tokenizer.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_gguf.h"
#include "zentalk/zt_tokenizer.h"
#include "zt_test.h"

/* ------------------------------------------------------------------ */
/* helpers */

/* tests/models/NAME into buf, or false (the caller skips). */
static bool shared_path(char *buf, size_t cap, const char *name)
{
    return zt_test_model(name, buf, cap);
}

/* Whole file, zt_malloc'd and NUL-terminated. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    struct zt_buf b;
    zt_buf_init(&b, 64u << 20);
    char chunk[4096];
    size_t r;
    while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) assert_int_equal(zt_buf_append(&b, chunk, r), 0);
    fclose(f);
    return zt_buf_detach(&b, len);
}

/* Tokenizer of a test GGUF model, or NULL after printing why (skip). */
static struct zt_tokenizer *shared_tok(const char *name)
{
    char path[1024];
    if (!shared_path(path, sizeof path, name)) {
        zt_skip_part("test model %s not found (tests/models)", name);
        return NULL;
    }
    struct zt_gguf *g = NULL;
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    int rc = zt_gguf_open(path, &g, &err);
    if (rc != 0) fprintf(stderr, "gguf: %s\n", zt_buf_str(&err));
    assert_int_equal(rc, 0);
    struct zt_tokenizer *t = NULL;
    rc = zt_tok_from_gguf(g, &t, &err);
    if (rc != 0) fprintf(stderr, "tokenizer: %s\n", zt_buf_str(&err));
    assert_int_equal(rc, 0);
    zt_gguf_close(g); /* the tokenizer copied what it needs */
    zt_buf_deinit(&err);
    return t;
}

/* Encode into a zt_malloc'd array (sized by a first call that reports the need). */
static int32_t *encode(const struct zt_tokenizer *t, const char *s, size_t len, bool add_special,
                       bool parse_special, size_t *n)
{
    size_t need = 0;
    int rc = zt_tok_encode(t, s, len, add_special, parse_special, NULL, 0, &need);
    assert_true(rc == 0 || rc == ZT_ETOOBIG);
    int32_t *ids = zt_malloc((need ? need : 1) * sizeof *ids);
    assert_non_null(ids);
    assert_int_equal(zt_tok_encode(t, s, len, add_special, parse_special, ids, need, n), 0);
    assert_int_equal(*n, need);
    for (size_t i = 0; i < *n; i++) assert_true(ids[i] >= 0 && (size_t)ids[i] < zt_tok_n_vocab(t));
    return ids;
}

static void assert_decodes_to(const struct zt_tokenizer *t, const int32_t *ids, size_t n,
                              unsigned flags, const char *want, size_t want_len)
{
    struct zt_buf b;
    zt_buf_init(&b, 1u << 24);
    assert_int_equal(zt_tok_decode(t, ids, n, flags, &b), 0);
    if (b.len != want_len || memcmp(zt_buf_str(&b), want, want_len) != 0)
        fail_msg("decoded \"%s\" (%zu bytes), want \"%.*s\" (%zu bytes)", zt_buf_str(&b), b.len,
                 (int)want_len, want, want_len);
    zt_buf_deinit(&b);
}

/* ------------------------------------------------------------------ */
/* real vocabularies against llama.cpp's test vectors */

/* llama.cpp's test-tokenizer-0 format: .inp holds cases each followed by
 * "\n__ggml_vocab_test__\n"; .out one line of token ids per case (no BOS).
 * Every case must match and decode back to its text (both tokenizers are
 * lossless on valid UTF-8). */
static void check_vectors(const struct zt_tokenizer *t, const char *ip, const char *op, const char *label,
                          int want_cases)
{
    size_t il, ol;
    char *inp = slurp(ip, &il), *outp = slurp(op, &ol);
    assert_non_null(inp);
    assert_non_null(outp);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    const size_t sl = sizeof sep - 1;
    char *pi = inp, *po = outp;
    int cases = 0, matched = 0;
    for (;;) {
        char *end = strstr(pi, sep);
        if (!end) break;
        char *eol = strchr(po, '\n');
        assert_non_null(eol);
        *eol = '\0';
        int32_t want[256];
        size_t nw = 0;
        for (char *q = po; *q;) {
            char *qe;
            long v = strtol(q, &qe, 10);
            if (qe == q) break;
            assert_true(nw < 256);
            want[nw++] = (int32_t)v;
            q = qe;
        }
        size_t n;
        size_t len = (size_t)(end - pi);
        int32_t *ids = encode(t, pi, len, false, false, &n);
        bool ok = n == nw && (n == 0 || memcmp(ids, want, n * sizeof *ids) == 0);
        if (!ok) {
            fprintf(stderr, "%s case %d \"%.*s\": got", label, cases, (int)len, pi);
            for (size_t i = 0; i < n; i++) fprintf(stderr, " %d", (int)ids[i]);
            fprintf(stderr, "\n   want %s\n", po);
        }
        matched += ok;
        assert_decodes_to(t, ids, n, 0, pi, len);
        zt_free(ids);
        cases++;
        pi = end + sl;
        po = eol + 1;
    }
    printf("%s vectors: %d/%d match\n", label, matched, cases);
    assert_int_equal(cases, want_cases);
    assert_int_equal(matched, want_cases);
    zt_free(inp);
    zt_free(outp);
}

/* The tokenizer of the test model VOCAB, with the paths of BASE.inp and
 * BASE.out in ip and op (1024 bytes each); skips when a file is missing. */
static struct zt_tokenizer *vector_files(const char *vocab, const char *base, char *ip, char *op)
{
    char in[256], out[256];
    snprintf(in, sizeof in, "%s.inp", base);
    snprintf(out, sizeof out, "%s.out", base);
    if (!shared_path(ip, 1024, in) || !shared_path(op, 1024, out))
        zt_skip("%s.{inp,out} not found (tests/models)", base);
    struct zt_tokenizer *t = shared_tok(vocab);
    if (!t) skip();
    return t;
}

static void test_spm_llama_vectors(void **state)
{
    (void)state;
    char ip[1024], op[1024];
    struct zt_tokenizer *t = vector_files("llama-2-tiny-random.gguf", "tokenizer-tests/llama-spm", ip, op);
    assert_int_equal(zt_tok_kind(t), ZT_TOK_SPM);
    assert_int_equal(zt_tok_n_vocab(t), 32000);
    assert_int_equal(zt_tok_bos(t), 1);
    assert_int_equal(zt_tok_eos(t), 2);
    assert_int_equal(zt_tok_unk(t), 0);
    assert_true(zt_tok_add_bos(t));
    check_vectors(t, ip, op, "llama-spm", 46);
    zt_tok_free(t);
}

/* A real byte-level BPE vocabulary: GPT-2's 50257 tokens and merges, with
 * llama.cpp's 46 reference cases (beside the synthetic vocabularies below). */
static void test_bpe_gpt2_vectors(void **state)
{
    (void)state;
    char ip[1024], op[1024];
    struct zt_tokenizer *t =
        vector_files("tokenizer-tests/ggml-vocab-gpt-2.gguf", "tokenizer-tests/ggml-vocab-gpt-2.gguf", ip, op);
    assert_int_equal(zt_tok_kind(t), ZT_TOK_BPE);
    assert_int_equal(zt_tok_n_vocab(t), 50257);
    assert_string_equal(zt_tok_pre(t), "gpt2");
    check_vectors(t, ip, op, "gpt-2", 46);
    zt_tok_free(t);
}

static void test_spm_hello_world(void **state)
{
    (void)state;
    struct zt_tokenizer *t = shared_tok("llama-2-tiny-random.gguf");
    if (!t) skip();
    size_t n;
    int32_t *ids = encode(t, "Hello world", 11, true, false, &n);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 15043);
    assert_int_equal(ids[2], 3186);
    assert_decodes_to(t, ids, n, 0, "Hello world", 11);
    assert_decodes_to(t, ids, n, ZT_TOK_DECODE_KEEP_SPACE, " Hello world", 12);
    assert_decodes_to(t, ids, n, ZT_TOK_DECODE_SPECIAL, "<s>Hello world", 14);

    /* cap too small: ETOOBIG with the count needed, a prefix written */
    int32_t two[2];
    size_t need = 0;
    assert_int_equal(zt_tok_encode(t, "Hello world", 11, true, false, two, 2, &need), ZT_ETOOBIG);
    assert_int_equal(need, 3);
    assert_int_equal(two[1], 15043);

    /* "<s>" is plain text unless parse_special; then the control token */
    zt_free(ids);
    ids = encode(t, "<s>Hi", 5, false, true, &n);
    assert_int_equal(ids[0], 1);
    zt_free(ids);
    ids = encode(t, "<s>Hi", 5, false, false, &n);
    for (size_t i = 0; i < n; i++) assert_int_not_equal(ids[i], 1);
    assert_decodes_to(t, ids, n, 0, "<s>Hi", 5);
    zt_free(ids);
    zt_tok_free(t);
}

static void test_spm_stories260k(void **state)
{
    (void)state;
    struct zt_tokenizer *t = shared_tok("stories260K.gguf");
    if (!t) skip();
    assert_int_equal(zt_tok_n_vocab(t), 512);
    assert_int_equal(zt_tok_bos(t), 1);
    assert_int_equal(zt_tok_eos(t), 2);
    assert_int_equal(zt_tok_pad(t), ZT_TOK_NONE); /* 0xFFFFFFFF in the file */
    assert_true(zt_tok_is_eog(t, 2));
    assert_false(zt_tok_is_eog(t, 1));
    struct zt_tok_text x = zt_tok_text(t, 403);
    assert_int_equal(x.len, strlen("\xE2\x96\x81Once"));
    assert_memory_equal(x.ptr, "\xE2\x96\x81Once", x.len);
    assert_int_equal(zt_tok_find(t, "\xE2\x96\x81Once", x.len), 403);
    assert_int_equal(zt_tok_type(t, 1), ZT_TOK_TYPE_CONTROL);
    assert_int_equal(zt_tok_type(t, 3), ZT_TOK_TYPE_BYTE);
    assert_int_equal(zt_tok_type(t, 512), ZT_TOK_TYPE_UNDEFINED);
    const char *p;
    size_t l;
    assert_int_equal(zt_tok_piece(t, 403, false, &p, &l), 0);
    assert_int_equal(l, 5);
    assert_memory_equal(p, " Once", 5);
    assert_int_equal(zt_tok_piece(t, 1, false, &p, &l), 0);
    assert_int_equal(l, 0);
    assert_int_equal(zt_tok_piece(t, 512, false, &p, &l), ZT_ERANGE);
    assert_int_equal(zt_tok_piece(t, -1, false, &p, &l), ZT_ERANGE);

    static const char story[] =
        "Once upon a time, there was a little girl named Lily. She loved to play outside "
        "in the park. One day, she saw a big, red ball.\n\"Can I play?\" she asked.";
    size_t n;
    int32_t *ids = encode(t, story, sizeof story - 1, true, false, &n);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 403);
    assert_decodes_to(t, ids, n, 0, story, sizeof story - 1);
    zt_free(ids);

    /* byte fallback: an emoji (not in a 512-token vocabulary) is 4 byte tokens */
    ids = encode(t, "\xF0\x9F\x98\x80", 4, false, false, &n);
    assert_true(n >= 4);
    assert_int_equal(zt_tok_type(t, ids[n - 1]), ZT_TOK_TYPE_BYTE);
    assert_decodes_to(t, ids, n, 0, "\xF0\x9F\x98\x80", 4);
    zt_free(ids);
    /* invalid UTF-8 also goes through byte fallback, losslessly */
    ids = encode(t, "a\xFF\xC3z", 4, false, false, &n);
    assert_decodes_to(t, ids, n, 0, "a\xFF\xC3z", 4);
    zt_free(ids);
    zt_tok_free(t);
}

/* tok512.bin (llama2.c format) holds the same 512 tokens and scores. */
static void test_spm_tok512_consistency(void **state)
{
    (void)state;
    char path[1024];
    if (!shared_path(path, sizeof path, "tok512.bin")) {
        zt_skip("tok512.bin not found (tests/models)");
    }
    struct zt_tokenizer *t = shared_tok("stories260K.gguf");
    if (!t) skip();
    size_t len;
    char *raw = slurp(path, &len);
    assert_non_null(raw);
    size_t off = 4; /* max_token_length */
    int same = 0;
    for (int32_t id = 0; id < 512; id++) {
        float score;
        int32_t n;
        assert_true(off + 8 <= len);
        memcpy(&score, raw + off, 4);
        memcpy(&n, raw + off + 4, 4);
        off += 8;
        assert_true(n >= 0 && off + (size_t)n <= len);
        const char *s = raw + off;
        off += (size_t)n;
        if (id == 1 || id == 2) continue; /* llama2.c writes "\n<s>\n", "\n</s>\n" */
        /* the GGUF text with U+2581 read as a space must equal the .bin text */
        struct zt_tok_text x = zt_tok_text(t, id);
        char conv[64];
        size_t k = 0;
        for (size_t i = 0; i < x.len; i++) {
            if (i + 3 <= x.len && memcmp(x.ptr + i, "\xE2\x96\x81", 3) == 0) {
                conv[k++] = ' ';
                i += 2;
            } else {
                conv[k++] = x.ptr[i];
            }
            assert_true(k < sizeof conv);
        }
        assert_int_equal(k, (size_t)n);
        assert_memory_equal(conv, s, k);
        same++;
        (void)score;
    }
    assert_int_equal(off, len);
    assert_int_equal(same, 510);
    zt_free(raw);
    zt_tok_free(t);
}

/* ------------------------------------------------------------------ */
/* SPM: synthetic */

static void test_spm_synthetic_merges(void **state)
{
    (void)state;
    /* "▁ab" beats "▁a"+"b": best score first; ties go to the leftmost pair. */
    struct zt_tok_text toks[] = {
        {"<unk>", 5}, {"<s>", 3}, {"</s>", 4}, {"a", 1}, {"b", 1}, {"\xE2\x96\x81", 3},
        {"\xE2\x96\x81\x61", 4}, {"ab", 2}, {"\xE2\x96\x81\x61\x62", 5}, {"<0x41>", 6}, {"<0xC3>", 6},
        {"<0xA9>", 6}, {"<0xFF>", 6}, {"aa", 2},
    };
    float scores[] = {0, 0, 0, -1, -1, -1, -2, -3, -1.5f, 0, 0, 0, 0, -2};
    int32_t types[] = {2, 3, 3, 1, 1, 1, 1, 1, 1, 6, 6, 6, 6, 1};
    struct zt_tok_desc d = {.kind = ZT_TOK_SPM, .n_tokens = 14, .tokens = toks, .scores = scores,
                            .types = types, .bos = 1, .eos = 2, .unk = 0, .pad = -1, .eot = -1,
                            .add_bos = true, .add_space_prefix = true};
    struct zt_tokenizer *t = NULL;
    assert_int_equal(zt_tok_new(&d, &t, NULL), 0);
    size_t n;
    int32_t *ids = encode(t, "ab", 2, true, false, &n);
    /* bigrams: "▁a" (-2), "ab" (-3): "▁a" first, then "▁ab" (-1.5) */
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 8);
    zt_free(ids);
    /* "▁aaa": "▁a", "aa", "aa" all score -2; the leftmost merges first */
    ids = encode(t, "aaa", 3, false, false, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 6);
    assert_int_equal(ids[1], 13);
    zt_free(ids);
    /* "A" only as a byte token; "é" as its two bytes; "x" has no byte: unknown */
    ids = encode(t, "A\xC3\xA9x", 4, false, false, &n);
    assert_int_equal(n, 5);
    assert_int_equal(ids[0], 5);
    assert_int_equal(ids[1], 9);
    assert_int_equal(ids[2], 10);
    assert_int_equal(ids[3], 11);
    assert_int_equal(ids[4], 0);
    zt_free(ids);
    /* "<0x41>" typed by a user is plain text, never the byte token */
    ids = encode(t, "<0x41>", 6, false, true, &n);
    for (size_t i = 0; i < n; i++) assert_int_not_equal(ids[i], 9);
    zt_free(ids);
    /* empty text: BOS only, or nothing */
    ids = encode(t, "", 0, true, false, &n);
    assert_int_equal(n, 1);
    zt_free(ids);
    assert_int_equal(zt_tok_encode(t, NULL, 0, false, false, NULL, 0, &n), 0);
    assert_int_equal(n, 0);
    /* too long: refused before anything is read or allocated */
    assert_int_equal(zt_tok_encode(t, "x", ZT_TOK_MAX_INPUT + 1, false, false, NULL, 0, &n),
                     ZT_ETOOBIG);
    zt_tok_free(t);

    /* no space prefix: "aaa" -> "aa" "a" (leftmost of two equal pairs) */
    d.add_space_prefix = false;
    assert_int_equal(zt_tok_new(&d, &t, NULL), 0);
    ids = encode(t, "aaa", 3, false, false, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 13);
    assert_int_equal(ids[1], 3);
    zt_free(ids);
    zt_tok_free(t);

    /* no unknown token: a byte without a token cannot be encoded */
    d.unk = -1;
    assert_int_equal(zt_tok_new(&d, &t, NULL), 0);
    int32_t buf[8];
    assert_int_equal(zt_tok_encode(t, "x", 1, false, false, buf, 8, &n), ZT_EINVAL);
    zt_tok_free(t);
}

/* ------------------------------------------------------------------ */
/* BPE: synthetic byte-level vocabularies */

static uint32_t byte_cp(unsigned b)
{
    /* GPT-2 bytes_to_unicode, written out independently of the library */
    static uint32_t map[256];
    static bool ready;
    if (!ready) {
        unsigned k = 0;
        for (unsigned x = 0; x < 256; x++) {
            bool keep = (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE);
            map[x] = keep ? x : 256 + k++;
        }
        ready = true;
    }
    return map[b];
}

static size_t to_bytelevel(const char *s, size_t n, char *o)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = byte_cp((uint8_t)s[i]);
        if (cp < 0x80) {
            o[k++] = (char)cp;
        } else {
            o[k++] = (char)(0xC0 | (cp >> 6));
            o[k++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    return k;
}

/* A byte-level vocabulary: ids 0..255 the bytes, then one token per merge
 * (merges given in raw bytes as "left|right"), then the specials. */
struct bpe_vocab {
    char text[512][64];
    struct zt_tok_text toks[512];
    int32_t types[512];
    char merge[256][64];
    struct zt_tok_text merges[256];
    size_t n_tokens, n_merges;
};

static int32_t bv_find(const struct bpe_vocab *v, const char *raw)
{
    char bl[64];
    size_t l = to_bytelevel(raw, strlen(raw), bl);
    for (size_t i = 0; i < v->n_tokens; i++)
        if (v->toks[i].len == l && memcmp(v->toks[i].ptr, bl, l) == 0) return (int32_t)i;
    return -1;
}

static void bv_build(struct bpe_vocab *v, const char *const *merges, size_t nm,
                     const char *const *specials, const int32_t *special_types, size_t ns)
{
    memset(v, 0, sizeof *v);
    for (unsigned b = 0; b < 256; b++) {
        char c = (char)b;
        v->toks[b].len = to_bytelevel(&c, 1, v->text[b]);
        v->toks[b].ptr = v->text[b];
        v->types[b] = ZT_TOK_TYPE_NORMAL;
    }
    v->n_tokens = 256;
    for (size_t i = 0; i < nm; i++) {
        const char *sp = strchr(merges[i], '|');
        assert_non_null(sp);
        char l[32] = {0}, r[32] = {0}, cat[64];
        memcpy(l, merges[i], (size_t)(sp - merges[i]));
        strncpy(r, sp + 1, sizeof r - 1);
        size_t a = to_bytelevel(l, strlen(l), v->merge[i]);
        v->merge[i][a] = ' ';
        size_t b = to_bytelevel(r, strlen(r), v->merge[i] + a + 1);
        v->merges[i].ptr = v->merge[i];
        v->merges[i].len = a + 1 + b;
        snprintf(cat, sizeof cat, "%s%s", l, r);
        if (bv_find(v, cat) < 0) {
            size_t k = v->n_tokens++;
            v->toks[k].len = to_bytelevel(cat, strlen(cat), v->text[k]);
            v->toks[k].ptr = v->text[k];
            v->types[k] = ZT_TOK_TYPE_NORMAL;
        }
    }
    v->n_merges = nm;
    for (size_t i = 0; i < ns; i++) {
        size_t k = v->n_tokens++;
        v->toks[k].len = strlen(specials[i]);
        memcpy(v->text[k], specials[i], v->toks[k].len);
        v->toks[k].ptr = v->text[k];
        v->types[k] = special_types[i];
    }
}

static struct zt_tokenizer *bv_tok(const struct bpe_vocab *v, const char *pre)
{
    struct zt_tok_desc d = {.kind = ZT_TOK_BPE, .n_tokens = v->n_tokens, .tokens = v->toks,
                            .types = v->types, .n_merges = v->n_merges, .merges = v->merges,
                            .bos = -1, .eos = -1, .unk = -1, .pad = -1, .eot = -1, .pre = pre};
    struct zt_tokenizer *t = NULL;
    struct zt_buf err;
    zt_buf_init(&err, 512);
    int rc = zt_tok_new(&d, &t, &err);
    if (rc) fprintf(stderr, "%s\n", zt_buf_str(&err));
    assert_int_equal(rc, 0);
    zt_buf_deinit(&err);
    return t;
}

/* Split s with t's pre-tokenizer and compare with the words of want, which
 * are separated by '|' ('|' itself never appears in the inputs). */
static void check_split(const struct zt_tokenizer *t, const char *s, const char *want)
{
    size_t ends[128], n;
    size_t len = strlen(s);
    assert_int_equal(zt_tok_pre_split(t, s, len, ends, 128, &n), 0);
    struct zt_buf got;
    zt_buf_init(&got, 4096);
    size_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) assert_int_equal(zt_buf_append_byte(&got, '|'), 0);
        assert_int_equal(zt_buf_append(&got, s + prev, ends[i] - prev), 0);
        prev = ends[i];
    }
    assert_int_equal(prev, len);
    if (strcmp(zt_buf_str(&got), want) != 0)
        fail_msg("%s split \"%s\" as \"%s\", want \"%s\"", zt_tok_pre(t), s, zt_buf_str(&got), want);
    zt_buf_deinit(&got);
}

static void test_bpe_pretokenizers(void **state)
{
    (void)state;
    struct bpe_vocab *v = zt_malloc(sizeof *v);
    assert_non_null(v);
    bv_build(v, NULL, 0, NULL, NULL, 0);
    struct zt_tokenizer *l3 = bv_tok(v, "llama-bpe"), *qw = bv_tok(v, "qwen2"), *g2 = bv_tok(v, NULL);
    assert_string_equal(zt_tok_pre(l3), "llama3");
    assert_string_equal(zt_tok_pre(qw), "qwen2");
    assert_string_equal(zt_tok_pre(g2), "gpt2");

    check_split(l3, "12345", "123|45");
    check_split(qw, "12345", "1|2|3|4|5");
    check_split(g2, "12345", "12345");
    check_split(l3, "I'm don't WE'LL you've", "I|'m| don|'t| WE|'LL| you|'ve");
    check_split(qw, "I'm WE'LL", "I|'m| WE|'LL");
    check_split(g2, "I'm WE'LL", "I|'m| WE|'|LL");
    check_split(l3, "Hello, world!", "Hello|,| world|!");
    check_split(l3, "a  b", "a| | b");
    check_split(l3, "a   ", "a|   ");
    check_split(l3, "a\n\nb", "a|\n\n|b");
    check_split(l3, "a \n  b", "a| \n| | b");
    check_split(l3, "x\r\n\ty", "x|\r\n|\ty");
    check_split(l3, "...\n\nok", "...\n\n|ok");
    check_split(l3, "hi \xF0\x9F\x98\x80\xF0\x9F\x98\x80!", "hi| \xF0\x9F\x98\x80\xF0\x9F\x98\x80!");
    check_split(l3, "\xE4\xBD\xA0\xE5\xA5\xBD \xE4\xB8\x96\xE7\x95\x8C",
                "\xE4\xBD\xA0\xE5\xA5\xBD| \xE4\xB8\x96\xE7\x95\x8C");
    check_split(l3, "abc123def", "abc|123|def");
    check_split(qw, "abc123def", "abc|1|2|3|def");
    check_split(g2, "abc 123 def", "abc| 123| def");
    check_split(l3, "$100.50", "$|100|.|50");
    /* invalid UTF-8 is a word of its own; the valid runs around it are split normally */
    check_split(l3, "ab\xFF\xFE" "cd \xC3", "ab|\xFF\xFE|cd| |\xC3");
    check_split(l3, "", "");

    zt_tok_free(l3);
    zt_tok_free(qw);
    zt_tok_free(g2);
    zt_free(v);
}

static void test_bpe_merge_priority(void **state)
{
    (void)state;
    struct bpe_vocab *v = zt_malloc(sizeof *v);
    assert_non_null(v);
    static const char *const m1[] = {"a|b", "b|c", "ab|c"};
    bv_build(v, m1, 3, NULL, NULL, 0);
    struct zt_tokenizer *t = bv_tok(v, "gpt2");
    size_t n;
    int32_t *ids = encode(t, "abc", 3, true, false, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], bv_find(v, "abc"));
    zt_free(ids);
    /* "bcab": "a b" (rank 0) before "b c" (rank 1) */
    ids = encode(t, "bcab", 4, false, false, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], bv_find(v, "bc"));
    assert_int_equal(ids[1], bv_find(v, "ab"));
    zt_free(ids);
    zt_tok_free(t);

    static const char *const m2[] = {"b|c", "a|b", "a|bc"};
    bv_build(v, m2, 3, NULL, NULL, 0);
    t = bv_tok(v, "gpt2");
    ids = encode(t, "abc", 3, false, false, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], bv_find(v, "abc")); /* via "a" + "bc" */
    zt_free(ids);
    ids = encode(t, "abab", 4, false, false, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], bv_find(v, "ab"));
    assert_int_equal(ids[1], bv_find(v, "ab"));
    zt_free(ids);
    zt_tok_free(t);

    /* ties: "aaa" with "a a" merges the leftmost pair */
    static const char *const m3[] = {"a|a"};
    bv_build(v, m3, 1, NULL, NULL, 0);
    t = bv_tok(v, "gpt2");
    ids = encode(t, "aaa", 3, false, false, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], bv_find(v, "aa"));
    assert_int_equal(ids[1], 'a');
    zt_free(ids);
    zt_tok_free(t);

    /* Llama 3 ignores merges for a word that is a token as a whole:
     * " xyz" is in the vocabulary but no merge chain reaches it. */
    static const char *const m4[] = {"x|y"};
    static const char *const sp[] = {" xyz"};
    static const int32_t spt[] = {ZT_TOK_TYPE_NORMAL};
    bv_build(v, m4, 1, NULL, NULL, 0);
    size_t k = v->n_tokens++;
    v->toks[k].len = to_bytelevel(sp[0], 4, v->text[k]);
    v->toks[k].ptr = v->text[k];
    v->types[k] = spt[0];
    t = bv_tok(v, "llama3");
    ids = encode(t, "a xyz", 5, false, false, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ids[1], (int32_t)k);
    zt_free(ids);
    zt_tok_free(t);
    t = bv_tok(v, "gpt2");
    ids = encode(t, "a xyz", 5, false, false, &n);
    assert_int_equal(n, 4); /* a, " ", "xy", "z" */
    assert_int_equal(ids[2], bv_find(v, "xy"));
    zt_free(ids);
    zt_tok_free(t);
    zt_free(v);
}

static uint64_t rng_state = 0x853c49e6748fea9bull;
static uint64_t rng(void)
{
    /* xorshift64*: deterministic test data (rand() is banned by lint) */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static void test_bpe_roundtrip_any_bytes(void **state)
{
    (void)state;
    struct bpe_vocab *v = zt_malloc(sizeof *v);
    assert_non_null(v);
    static const char *const m[] = {" |t", "h|e", " t|he", "i|n", "e|r", " |a", "o|n", "\xC3|\xA9",
                                    "\xF0|\x9F", "\n|\n", " | ", "1|2", "12|3"};
    static const char *const sp[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    static const int32_t spt[] = {3, 3, 3};
    bv_build(v, m, sizeof m / sizeof m[0], sp, spt, 3);
    const char *pres[] = {"llama3", "qwen2", "gpt2"};
    char buf[300];
    for (size_t p = 0; p < 3; p++) {
        struct zt_tokenizer *t = bv_tok(v, pres[p]);
        for (int iter = 0; iter < 300; iter++) {
            size_t len = (size_t)(rng() % sizeof buf);
            for (size_t i = 0; i < len; i++) {
                uint64_t r = rng();
                /* mix ASCII text, whitespace and arbitrary bytes */
                static const char alpha[] = "the in er a on 123 \n\n\t'sx<|>";
                buf[i] = (r & 3) ? alpha[(r >> 8) % (sizeof alpha - 1)] : (char)(r >> 16);
            }
            size_t n;
            int32_t *ids = encode(t, buf, len, false, false, &n);
            assert_decodes_to(t, ids, n, 0, buf, len);
            zt_free(ids);
        }
        zt_tok_free(t);
    }
    zt_free(v);
}

/* Long runs (whitespace, one huge word, invalid bytes) stay correct and lossless. */
static void test_long_runs(void **state)
{
    (void)state;
    struct bpe_vocab *v = zt_malloc(sizeof *v);
    assert_non_null(v);
    static const char *const m[] = {" | ", "\n|\n", "a|a", "aa|aa"};
    bv_build(v, m, 4, NULL, NULL, 0);
    const size_t len = 1u << 18;
    char *buf = zt_malloc(len);
    assert_non_null(buf);
    const char *pres[] = {"llama3", "gpt2"};
    for (size_t p = 0; p < 2; p++) {
        struct zt_tokenizer *t = bv_tok(v, pres[p]);
        for (int kind = 0; kind < 4; kind++) {
            for (size_t i = 0; i < len; i++)
                buf[i] = kind == 0 ? ' ' : kind == 1 ? (i % 3 ? ' ' : '\n') : kind == 2 ? 'a' : (char)0xFF;
            buf[len - 1] = 'x';
            size_t n;
            int32_t *ids = encode(t, buf, len, false, false, &n);
            assert_decodes_to(t, ids, n, 0, buf, len);
            zt_free(ids);
        }
        zt_tok_free(t);
    }
    zt_free(buf);
    zt_free(v);
}

static void test_bpe_special_tokens(void **state)
{
    (void)state;
    struct bpe_vocab *v = zt_malloc(sizeof *v);
    assert_non_null(v);
    static const char *const m[] = {"u|s", "us|e", "use|r", "h|i"};
    static const char *const sp[] = {"<|im_start|>", "<|im_end|>", "<|endoftext|>", "<tool>", "<|im"};
    static const int32_t spt[] = {3, 3, 3, 4, 3};
    bv_build(v, m, 4, sp, spt, 5);
    int32_t im_start = (int32_t)v->n_tokens - 5, im_end = im_start + 1, eot = im_start + 2,
            tool = im_start + 3;
    struct zt_tok_desc d = {.kind = ZT_TOK_BPE, .n_tokens = v->n_tokens, .tokens = v->toks,
                            .types = v->types, .n_merges = v->n_merges, .merges = v->merges,
                            .bos = eot, .eos = eot, .unk = -1, .pad = -1, .eot = -1,
                            .add_bos = true, .add_eos = true, .pre = "qwen2"};
    struct zt_tokenizer *t = NULL;
    assert_int_equal(zt_tok_new(&d, &t, NULL), 0);
    /* EOT found by its text; <|endoftext|> is EOS */
    assert_int_equal(zt_tok_eot(t), im_end);
    assert_true(zt_tok_is_eog(t, im_end));
    assert_true(zt_tok_is_eog(t, eot));
    assert_false(zt_tok_is_eog(t, im_start));

    static const char chat[] = "<|im_start|>user\nhi<tool><|im_end|>";
    size_t n;
    int32_t *ids = encode(t, chat, sizeof chat - 1, false, true, &n);
    /* longest special first: "<|im_start|>" wins over its prefix "<|im" */
    assert_int_equal(n, 6);
    assert_int_equal(ids[0], im_start);
    assert_int_equal(ids[1], bv_find(v, "user"));
    assert_int_equal(ids[2], '\n');
    assert_int_equal(ids[3], bv_find(v, "hi"));
    assert_int_equal(ids[4], tool);
    assert_int_equal(ids[5], im_end);
    assert_decodes_to(t, ids, n, 0, "user\nhi<tool>", 13);
    assert_decodes_to(t, ids, n, ZT_TOK_DECODE_SPECIAL, chat, sizeof chat - 1);
    zt_free(ids);

    /* without parse_special control texts are plain bytes; user-defined still match */
    ids = encode(t, chat, sizeof chat - 1, true, false, &n);
    assert_int_equal(ids[0], eot); /* BOS */
    assert_int_equal(ids[n - 1], eot); /* EOS */
    bool has_tool = false;
    for (size_t i = 1; i + 1 < n; i++) {
        assert_int_not_equal(ids[i], im_start);
        assert_int_not_equal(ids[i], im_end);
        has_tool |= ids[i] == tool;
    }
    assert_true(has_tool);
    assert_decodes_to(t, ids + 1, n - 2, 0, chat, sizeof chat - 1);
    zt_free(ids);
    zt_tok_free(t);
    zt_free(v);
}

/* ------------------------------------------------------------------ */
/* streaming decoder */

static void test_stream_split_utf8(void **state)
{
    (void)state;
    struct bpe_vocab *v = zt_malloc(sizeof *v);
    assert_non_null(v);
    static const char *const sp[] = {"<|endoftext|>"};
    static const int32_t spt[] = {3};
    bv_build(v, NULL, 0, sp, spt, 1);
    struct zt_tokenizer *t = bv_tok(v, "llama3");
    struct zt_tok_stream s;
    struct zt_buf out;
    zt_buf_init(&out, 1024);
    zt_tok_stream_init(&s, t, 0);
    /* "a😀b" byte by byte: nothing of the emoji until its last byte */
    static const uint8_t emoji[] = {'a', 0xF0, 0x9F, 0x98, 0x80, 'b'};
    size_t lens[] = {1, 1, 1, 1, 5, 6};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(zt_tok_stream_push(&s, emoji[i], &out), 0);
        assert_int_equal(out.len, lens[i]);
    }
    assert_memory_equal(zt_buf_str(&out), "a\xF0\x9F\x98\x80" "b", 6);
    /* a control token renders as nothing and does not break a held character */
    zt_buf_reset(&out);
    assert_int_equal(zt_tok_stream_push(&s, 0xC3, &out), 0);
    assert_int_equal(zt_tok_stream_push(&s, 256, &out), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(zt_tok_stream_push(&s, 0xA9, &out), 0);
    assert_string_equal(zt_buf_str(&out), "\xC3\xA9");
    /* invalid: a lone continuation byte, a lead byte followed by ASCII */
    zt_buf_reset(&out);
    assert_int_equal(zt_tok_stream_push(&s, 0x80, &out), 0);
    assert_int_equal(zt_tok_stream_push(&s, 0xE2, &out), 0);
    assert_int_equal(zt_tok_stream_push(&s, 0x82, &out), 0);
    assert_int_equal(zt_tok_stream_push(&s, 'x', &out), 0);
    assert_string_equal(zt_buf_str(&out), "\xEF\xBF\xBD\xEF\xBF\xBDx");
    /* flush: an incomplete tail becomes U+FFFD */
    zt_buf_reset(&out);
    assert_int_equal(zt_tok_stream_push(&s, 0xF0, &out), 0);
    assert_int_equal(zt_tok_stream_flush(&s, &out), 0);
    assert_string_equal(zt_buf_str(&out), "\xEF\xBF\xBD");
    assert_int_equal(zt_tok_stream_push(&s, 9999, &out), ZT_ERANGE);
    /* a full buffer: error, nothing consumed */
    struct zt_buf tiny;
    zt_buf_init(&tiny, 2);
    zt_tok_stream_init(&s, t, 0);
    assert_int_equal(zt_tok_stream_push(&s, 'a', &tiny), 0);
    assert_int_equal(zt_tok_stream_push(&s, 0xE2, &tiny), 0);
    assert_int_equal(zt_tok_stream_push(&s, 0x82, &tiny), 0);
    assert_int_equal(zt_tok_stream_push(&s, 0xAC, &tiny), ZT_ETOOBIG); /* "€" does not fit */
    assert_int_equal(tiny.len, 1);
    assert_int_equal(s.n_pending, 2);
    zt_buf_deinit(&tiny);
    zt_buf_deinit(&out);
    zt_tok_free(t);
    zt_free(v);
}

static void test_stream_spm(void **state)
{
    (void)state;
    struct zt_tokenizer *t = shared_tok("stories260K.gguf");
    if (!t) skip();
    static const char text[] = "Once \xE4\xBD\xA0 a \xF0\x9F\x98\x80!";
    size_t n;
    int32_t *ids = encode(t, text, sizeof text - 1, true, false, &n);
    struct zt_tok_stream s;
    struct zt_buf out;
    zt_buf_init(&out, 1024);
    zt_tok_stream_init(&s, t, 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(zt_tok_stream_push(&s, ids[i], &out), 0);
        /* never a partial character on the way */
        for (size_t k = 0; k < out.len;) {
            uint8_t c = (uint8_t)out.data[k];
            size_t cl = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
            assert_true(k + cl <= out.len);
            k += cl;
        }
    }
    assert_int_equal(zt_tok_stream_flush(&s, &out), 0);
    assert_string_equal(zt_buf_str(&out), text); /* the leading space is stripped once */
    zt_buf_deinit(&out);
    zt_free(ids);
    zt_tok_free(t);
}

/* ------------------------------------------------------------------ */
/* malformed vocabularies */

static void expect_refused(const struct zt_tok_desc *d, int want, const char *msg_part)
{
    struct zt_tokenizer *t = NULL;
    struct zt_buf err;
    zt_buf_init(&err, 512);
    assert_int_equal(zt_tok_new(d, &t, &err), want);
    assert_null(t);
    if (!strstr(zt_buf_str(&err), msg_part))
        fail_msg("error \"%s\" does not mention \"%s\"", zt_buf_str(&err), msg_part);
    zt_buf_deinit(&err);
}

static void test_malformed_vocab(void **state)
{
    (void)state;
    struct zt_tok_text toks[] = {{"<unk>", 5}, {"a", 1}, {"b", 1}, {"ab", 2}, {"a", 1}};
    float scores[] = {0, -1, -1, -2, -3};
    int32_t types[] = {2, 1, 1, 1, 1};
    struct zt_tok_desc d = {.kind = ZT_TOK_SPM, .n_tokens = 5, .tokens = toks, .scores = scores,
                            .types = types, .bos = -1, .eos = -1, .unk = 0, .pad = -1, .eot = -1};
    struct zt_tokenizer *t = NULL;
    /* duplicates are accepted (llama.cpp does): the text maps to the last id */
    assert_int_equal(zt_tok_new(&d, &t, NULL), 0);
    assert_int_equal(zt_tok_find(t, "a", 1), 4);
    zt_tok_free(t);

    struct zt_tok_desc x = d;
    x.n_tokens = 0;
    expect_refused(&x, ZT_EINVAL, "empty");
    x = d;
    x.scores = NULL;
    expect_refused(&x, ZT_EINVAL, "scores");
    x = d;
    x.bos = 5;
    expect_refused(&x, ZT_ERANGE, "BOS");
    x = d;
    x.eot = -7;
    expect_refused(&x, ZT_ERANGE, "EOT");
    x = d;
    x.n_tokens = ZT_TOK_MAX_TOKENS + 1;
    expect_refused(&x, ZT_ETOOBIG, "limit");
    x = d;
    x.kind = (enum zt_tok_kind)7;
    expect_refused(&x, ZT_EINVAL, "kind");
    int32_t bad_types[] = {2, 1, 9, 1, 1};
    x = d;
    x.types = bad_types;
    expect_refused(&x, ZT_EINVAL, "type");
    float nan_scores[] = {0, NAN, -1, -2, -3};
    x = d;
    x.scores = nan_scores;
    expect_refused(&x, ZT_EINVAL, "NaN");
    int32_t byte_types[] = {2, 6, 1, 1, 1};
    x = d;
    x.types = byte_types;
    expect_refused(&x, ZT_EINVAL, "<0xNN>");
    static char big[ZT_TOK_MAX_TOKEN_LEN + 1];
    struct zt_tok_text big_toks[] = {{"<unk>", 5}, {big, sizeof big}, {"b", 1}, {"ab", 2}, {"a", 1}};
    x = d;
    x.tokens = big_toks;
    expect_refused(&x, ZT_ETOOBIG, "bytes long");
    struct zt_tok_text null_toks[] = {{"<unk>", 5}, {NULL, 3}, {"b", 1}, {"ab", 2}, {"a", 1}};
    x = d;
    x.tokens = null_toks;
    expect_refused(&x, ZT_EINVAL, "no text");

    /* BPE merges */
    struct zt_tok_text merges[] = {{"a b", 3}, {"a c", 3}};
    struct zt_tok_desc b = {.kind = ZT_TOK_BPE, .n_tokens = 4, .tokens = toks, .n_merges = 1,
                            .merges = merges, .bos = -1, .eos = -1, .unk = -1, .pad = -1,
                            .eot = -1, .pre = "gpt2"};
    assert_int_equal(zt_tok_new(&b, &t, NULL), 0);
    zt_tok_free(t);
    x = b;
    x.n_merges = 2;
    expect_refused(&x, ZT_EPARSE, "merge 1");
    struct zt_tok_text nospace[] = {{"ab", 2}};
    x = b;
    x.merges = nospace;
    expect_refused(&x, ZT_EPARSE, "no space");
    struct zt_tok_text noresult[] = {{"b a", 3}};
    x = b;
    x.merges = noresult;
    expect_refused(&x, ZT_EPARSE, "not in the vocabulary");
    x = b;
    x.merges = NULL;
    expect_refused(&x, ZT_EINVAL, "merge");
    x = b;
    x.n_merges = ZT_TOK_MAX_MERGES + 1;
    expect_refused(&x, ZT_ETOOBIG, "limit");
    x = b;
    x.pre = "klingon";
    expect_refused(&x, ZT_EUNSUPPORTED, "klingon");
    assert_int_equal(zt_tok_new(NULL, &t, NULL), ZT_EINVAL);
    zt_tok_free(NULL);
}

/* ------------------------------------------------------------------ */
/* GGUF path with synthetic files (the GGUF writer) */

static struct zt_gguf *gguf_from_writer(struct zt_gguf_writer *w, void **mem)
{
    size_t len;
    assert_int_equal(zt_gguf_writer_to_mem(w, mem, &len, NULL), 0);
    zt_gguf_writer_free(w);
    struct zt_gguf *g = NULL;
    assert_int_equal(zt_gguf_open_mem(*mem, len, &g, NULL), 0);
    return g;
}

static struct zt_gguf_writer *bpe_writer(const struct bpe_vocab *v, const char *pre)
{
    struct zt_gguf_writer *w = NULL;
    assert_int_equal(zt_gguf_writer_new(&w), 0);
    const char *strs[512];
    size_t lens[512];
    for (size_t i = 0; i < v->n_tokens; i++) {
        strs[i] = v->toks[i].ptr;
        lens[i] = v->toks[i].len;
    }
    assert_int_equal(zt_gguf_writer_add_str(w, "tokenizer.ggml.model", "gpt2", 4), 0);
    assert_int_equal(zt_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", strs, lens, v->n_tokens), 0);
    assert_int_equal(zt_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", ZT_GGUF_I32, v->types,
                                            v->n_tokens), 0);
    for (size_t i = 0; i < v->n_merges; i++) {
        strs[i] = v->merges[i].ptr;
        lens[i] = v->merges[i].len;
    }
    assert_int_equal(zt_gguf_writer_add_arr_str(w, "tokenizer.ggml.merges", strs, lens, v->n_merges), 0);
    if (pre) assert_int_equal(zt_gguf_writer_add_str(w, "tokenizer.ggml.pre", pre, strlen(pre)), 0);
    assert_int_equal(zt_gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 256), 0);
    assert_int_equal(zt_gguf_writer_add_u32(w, "tokenizer.ggml.padding_token_id", 99999), 0);
    return w;
}

static void test_gguf_bpe(void **state)
{
    (void)state;
    struct bpe_vocab *v = zt_malloc(sizeof *v);
    assert_non_null(v);
    static const char *const m[] = {"h|e", "l|l", "he|ll", "hell|o"};
    static const char *const sp[] = {"<|begin_of_text|>", "<|eot_id|>"};
    static const int32_t spt[] = {3, 3};
    bv_build(v, m, 4, sp, spt, 2);
    /* renumber: bos id 256 must be a token: it is "he" here; fine for the test */
    void *mem = NULL;
    struct zt_gguf *g = gguf_from_writer(bpe_writer(v, "llama-bpe"), &mem);
    struct zt_tokenizer *t = NULL;
    struct zt_buf err;
    zt_buf_init(&err, 512);
    int rc = zt_tok_from_gguf(g, &t, &err);
    if (rc) fprintf(stderr, "%s\n", zt_buf_str(&err));
    assert_int_equal(rc, 0);
    zt_gguf_close(g);
    zt_free(mem);
    assert_int_equal(zt_tok_kind(t), ZT_TOK_BPE);
    assert_string_equal(zt_tok_pre(t), "llama3");
    assert_true(zt_tok_add_bos(t));                /* llama3 default */
    assert_int_equal(zt_tok_pad(t), ZT_TOK_NONE); /* out of range: ignored */
    assert_int_equal(zt_tok_eot(t), (int32_t)v->n_tokens - 1);
    size_t n;
    int32_t *ids = encode(t, "hello", 5, true, false, &n);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 256);
    assert_int_equal(ids[1], bv_find(v, "hello"));
    zt_free(ids);
    zt_tok_free(t);

    /* qwen2 without add_bos_token: no BOS */
    g = gguf_from_writer(bpe_writer(v, "qwen2"), &mem);
    assert_int_equal(zt_tok_from_gguf(g, &t, NULL), 0);
    zt_gguf_close(g);
    zt_free(mem);
    assert_false(zt_tok_add_bos(t));
    zt_tok_free(t);

    /* malformed files */
    struct zt_gguf_writer *w = NULL;
    assert_int_equal(zt_gguf_writer_new(&w), 0);
    assert_int_equal(zt_gguf_writer_add_u32(w, "general.alignment", 32), 0);
    g = gguf_from_writer(w, &mem);
    zt_buf_reset(&err);
    assert_int_equal(zt_tok_from_gguf(g, &t, &err), ZT_ENOTFOUND);
    assert_non_null(strstr(zt_buf_str(&err), "tokenizer.ggml.model"));
    zt_gguf_close(g);
    zt_free(mem);

    assert_int_equal(zt_gguf_writer_new(&w), 0);
    assert_int_equal(zt_gguf_writer_add_str(w, "tokenizer.ggml.model", "bert", 4), 0);
    g = gguf_from_writer(w, &mem);
    assert_int_equal(zt_tok_from_gguf(g, &t, NULL), ZT_EUNSUPPORTED);
    zt_gguf_close(g);
    zt_free(mem);

    /* SPM whose scores do not match the token count */
    assert_int_equal(zt_gguf_writer_new(&w), 0);
    const char *toks[] = {"<unk>", "a"};
    float sc[] = {0};
    assert_int_equal(zt_gguf_writer_add_str(w, "tokenizer.ggml.model", "llama", 5), 0);
    assert_int_equal(zt_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 2), 0);
    assert_int_equal(zt_gguf_writer_add_arr(w, "tokenizer.ggml.scores", ZT_GGUF_F32, sc, 1), 0);
    g = gguf_from_writer(w, &mem);
    zt_buf_reset(&err);
    assert_int_equal(zt_tok_from_gguf(g, &t, &err), ZT_EPARSE);
    assert_non_null(strstr(zt_buf_str(&err), "scores"));
    zt_gguf_close(g);
    zt_free(mem);

    /* BPE without merges */
    assert_int_equal(zt_gguf_writer_new(&w), 0);
    assert_int_equal(zt_gguf_writer_add_str(w, "tokenizer.ggml.model", "gpt2", 4), 0);
    assert_int_equal(zt_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 2), 0);
    g = gguf_from_writer(w, &mem);
    assert_int_equal(zt_tok_from_gguf(g, &t, NULL), ZT_EPARSE);
    zt_gguf_close(g);
    zt_free(mem);
    zt_buf_deinit(&err);
    zt_free(v);
}

/* ------------------------------------------------------------------ */
/* allocation failures: every one is reported, nothing leaks */

static void test_alloc_failures(void **state)
{
    (void)state;
    struct bpe_vocab *v = zt_malloc(sizeof *v);
    assert_non_null(v);
    static const char *const m[] = {"h|e", "l|l", "he|ll"};
    static const char *const sp[] = {"<|im_end|>"};
    static const int32_t spt[] = {3};
    bv_build(v, m, 3, sp, spt, 1);
    struct zt_tok_desc d = {.kind = ZT_TOK_BPE, .n_tokens = v->n_tokens, .tokens = v->toks,
                            .types = v->types, .n_merges = v->n_merges, .merges = v->merges,
                            .bos = -1, .eos = -1, .unk = -1, .pad = -1, .eot = -1, .pre = "qwen2"};
    int64_t live = zt_alloc_live();
    int ok = 0;
    for (int64_t k = 1; k < 64 && !ok; k++) {
        struct zt_tokenizer *t = NULL;
        zt_alloc_fail_after(k);
        int rc = zt_tok_new(&d, &t, NULL);
        zt_alloc_fail_after(0);
        assert_true(rc == 0 || rc == ZT_ENOMEM);
        if (rc == 0) {
            ok = 1;
            for (int64_t j = 1; j < 16; j++) {
                int32_t ids[64];
                size_t n;
                zt_alloc_fail_after(j);
                rc = zt_tok_encode(t, "hello<|im_end|>", 15, true, true, ids, 64, &n);
                zt_alloc_fail_after(0);
                assert_true(rc == 0 || rc == ZT_ENOMEM);
            }
        }
        zt_tok_free(t);
        assert_int_equal(zt_alloc_live(), live);
    }
    assert_true(ok);
    zt_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spm_llama_vectors, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_spm_hello_world, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_spm_stories260k, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_spm_tok512_consistency, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_spm_synthetic_merges, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_bpe_gpt2_vectors, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_bpe_pretokenizers, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_bpe_merge_priority, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_bpe_roundtrip_any_bytes, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_bpe_special_tokens, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_long_runs, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_stream_split_utf8, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_stream_spm, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_vocab, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_gguf_bpe, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, zt_test_leak_setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
