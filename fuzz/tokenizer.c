/* fuzz/tokenizer.c: the SPM and byte-level BPE encoders and decoders over
 * arbitrary bytes. Two small synthetic vocabularies are built once; each
 * input is encoded with and without special-token parsing and decoded back.
 * Checks: every id is in the vocabulary; decode(encode(x)) == x (both
 * vocabularies can encode every byte, so both are lossless here); the
 * streaming decoder emits valid UTF-8 only, and exactly the input when the
 * input is valid UTF-8; nothing leaks. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define WS "\xE2\x96\x81" /* U+2581 */

static struct zt_tokenizer *spm, *bpe;

static void build_spm(void)
{
    static const char *const words[] = {
        "<unk>", "<s>", "</s>", "<|im_start|>", WS, "t", "h", "e", "a", "n", "d", WS "t", "he",
        WS "the", WS "a", "an", WS "and", "in", WS "in", "\xE4\xBD\xA0", WS WS, WS WS WS WS, "\n",
    };
    enum { NW = sizeof words / sizeof words[0] };
    static char bytes[256][7];
    struct zt_tok_text toks[NW + 256];
    float scores[NW + 256];
    int32_t types[NW + 256];
    for (size_t i = 0; i < NW; i++) {
        toks[i] = (struct zt_tok_text){words[i], strlen(words[i])};
        scores[i] = -(float)i;
        types[i] = i == 0 ? ZT_TOK_TYPE_UNKNOWN : i <= 3 ? ZT_TOK_TYPE_CONTROL : ZT_TOK_TYPE_NORMAL;
    }
    for (unsigned b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        toks[NW + b] = (struct zt_tok_text){bytes[b], 6};
        scores[NW + b] = 0;
        types[NW + b] = ZT_TOK_TYPE_BYTE;
    }
    struct zt_tok_desc d = {.kind = ZT_TOK_SPM, .n_tokens = NW + 256, .tokens = toks,
                            .scores = scores, .types = types, .bos = 1, .eos = 2, .unk = 0,
                            .pad = -1, .eot = -1, .add_bos = true, .add_space_prefix = true};
    if (zt_tok_new(&d, &spm, NULL) != 0) abort();
}

static size_t bytelevel(unsigned b, char *o)
{
    bool keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    unsigned k = 0;
    if (!keep)
        for (unsigned x = 0; x < b; x++)
            k += !((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE);
    unsigned cp = keep ? b : 256 + k;
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

static void build_bpe(void)
{
    /* merges in byte-level form: "Ġ" is the space, "Ċ" the newline */
    static const char *const merges[] = {
        "\xC4\xA0 t", "h e", "\xC4\xA0t he", "i n", "e r", "\xC4\xA0 a", "o n", "\xC4\x8A \xC4\x8A",
        "1 2", "12 3", "\xC3\xA4 \xC2\xBD", "\xC4\xA0 \xC4\xA0",
    };
    static const char *const merged[] = {
        "\xC4\xA0t", "he", "\xC4\xA0the", "in", "er", "\xC4\xA0\x61", "on", "\xC4\x8A\xC4\x8A",
        "12", "123", "\xC3\xA4\xC2\xBD", "\xC4\xA0\xC4\xA0",
    };
    static const char *const specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool>"};
    enum { NM = sizeof merges / sizeof merges[0], NS = 4 };
    static char bytes[256][2];
    struct zt_tok_text toks[256 + NM + NS], mt[NM];
    int32_t types[256 + NM + NS];
    for (unsigned b = 0; b < 256; b++) {
        toks[b] = (struct zt_tok_text){bytes[b], bytelevel(b, bytes[b])};
        types[b] = ZT_TOK_TYPE_NORMAL;
    }
    for (size_t i = 0; i < NM; i++) {
        toks[256 + i] = (struct zt_tok_text){merged[i], strlen(merged[i])};
        types[256 + i] = ZT_TOK_TYPE_NORMAL;
        mt[i] = (struct zt_tok_text){merges[i], strlen(merges[i])};
    }
    for (size_t i = 0; i < NS; i++) {
        toks[256 + NM + i] = (struct zt_tok_text){specials[i], strlen(specials[i])};
        types[256 + NM + i] = i == 3 ? ZT_TOK_TYPE_USER_DEFINED : ZT_TOK_TYPE_CONTROL;
    }
    struct zt_tok_desc d = {.kind = ZT_TOK_BPE, .n_tokens = 256 + NM + NS, .tokens = toks,
                            .types = types, .n_merges = NM, .merges = mt, .bos = 256 + NM,
                            .eos = 256 + NM, .unk = -1, .pad = -1, .eot = -1, .pre = "llama3"};
    if (zt_tok_new(&d, &bpe, NULL) != 0) abort();
}

/* Encode, check ids, decode with flags and compare with want (if given). */
static void roundtrip(const struct zt_tokenizer *t, const uint8_t *data, size_t size,
                      bool parse_special, unsigned flags, bool must_match)
{
    size_t n = 0;
    int rc = zt_tok_encode(t, (const char *)data, size, true, parse_special, NULL, 0, &n);
    if (rc != 0 && rc != ZT_ETOOBIG) abort();
    int32_t *ids = zt_malloc((n ? n : 1) * sizeof *ids);
    if (!ids) abort();
    size_t n2 = 0;
    if (zt_tok_encode(t, (const char *)data, size, true, parse_special, ids, n, &n2) != 0 || n2 != n)
        abort();
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= zt_tok_n_vocab(t)) abort();
    /* BOS is a control token: render it only when specials are rendered */
    size_t skip = (zt_tok_add_bos(t) && n > 0 && !(flags & ZT_TOK_DECODE_SPECIAL)) ? 1 : 0;
    struct zt_buf out;
    zt_buf_init(&out, 1u << 22);
    if (zt_tok_decode(t, ids + skip, n - skip, flags, &out) != 0) abort();
    if (must_match && (out.len != size || (size && memcmp(out.data, data, size) != 0))) abort();

    /* stream: valid UTF-8 only; the same text when the input was valid */
    struct zt_tok_stream s;
    struct zt_buf st;
    zt_buf_init(&st, 1u << 22);
    zt_tok_stream_init(&s, t, flags);
    for (size_t i = skip; i < n; i++)
        if (zt_tok_stream_push(&s, ids[i], &st) != 0) abort();
    if (zt_tok_stream_flush(&s, &st) != 0) abort();
    if (!zt_utf8_valid(st.data ? st.data : "", st.len)) abort();
    if (zt_utf8_valid(out.data ? out.data : "", out.len) &&
        (st.len != out.len || (st.len && memcmp(st.data, out.data, st.len) != 0)))
        abort();
    zt_buf_deinit(&st);
    zt_buf_deinit(&out);
    zt_free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!spm) {
        build_spm();
        build_bpe();
    }
    if (size > 65536) return 0;
    int64_t live = zt_alloc_live();

    /* plain text: both lossless (every byte has a token), except that SPM
     * reads a U+2581 in the input back as a space, as SentencePiece does */
    bool has_mark = false;
    for (size_t i = 0; i + 3 <= size && !has_mark; i++)
        has_mark = data[i] == 0xE2 && data[i + 1] == 0x96 && data[i + 2] == 0x81;
    roundtrip(spm, data, size, false, 0, !has_mark);
    roundtrip(bpe, data, size, false, 0, true);
    /* specials parsed and rendered back: byte-level BPE is still exact;
     * SPM re-adds a space prefix after each special, so only sanity */
    roundtrip(bpe, data, size, true, ZT_TOK_DECODE_SPECIAL, true);
    roundtrip(spm, data, size, true, ZT_TOK_DECODE_SPECIAL, false);
    roundtrip(spm, data, size, false, ZT_TOK_DECODE_KEEP_SPACE, false);

    size_t ends[64], nw;
    int rc = zt_tok_pre_split(bpe, (const char *)data, size, ends, 64, &nw);
    if (rc != 0 && rc != ZT_ETOOBIG) abort();
    for (size_t i = 1; i < nw && i < 64; i++)
        if (ends[i] <= ends[i - 1]) abort();
    if (rc == 0 && size && (nw == 0 || ends[nw - 1] != size)) abort();

    if (zt_alloc_live() != live) abort();
    return 0;
}
