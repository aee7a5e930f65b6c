/* tokenizer.c: SentencePiece-style and byte-level BPE tokenizers built from
 * a plain description or from GGUF metadata (see zt_tokenizer.h and
 * docs/internals/tokenizer.md).
 *
 * Layout: every token's vocabulary text and its decoded piece live in one
 * blob; two open-addressing hash maps index texts (all tokens) and the
 * "matchable" tokens the encoder may produce from plain text; a third maps
 * BPE merge pairs (left id, right id) to (rank, merged id). Encoding works
 * on ids and offsets only, so it never builds temporary strings. */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "zentalk/zt_tokenizer.h"

#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_gguf.h"
#include "zentalk/zt_hex.h"

/* ------------------------------------------------------------------ */
/* internal types */

enum pre_kind { PRE_NONE = 0, PRE_GPT2, PRE_LLAMA3, PRE_QWEN2 };

struct tok_entry {
    uint32_t text_off, piece_off; /* into blob */
    uint16_t text_len, piece_len; /* <= ZT_TOK_MAX_TOKEN_LEN; piece_len <= text_len */
    float score;
    uint8_t type;
};

/* Open addressing, linear probing; slot value = id + 1, 0 = empty. The
 * stored hash avoids touching the blob for most mismatches. */
struct smap {
    uint32_t *hash;
    uint32_t *id1;
    uint32_t mask;
    bool by_piece; /* key is the decoded piece (BPE matching), else the text */
};

struct merge_slot {
    uint64_t key; /* ((left + 1) << 32) | right; 0 = empty */
    uint32_t rank;
    int32_t result;
};

#define ZT_TOK_MAX_EOG 8

struct zt_tokenizer {
    enum zt_tok_kind kind;
    enum pre_kind pre;
    uint32_t n;
    struct tok_entry *tok;
    char *blob;
    struct smap text_map;  /* every non-empty token text -> id (last duplicate wins) */
    struct smap match_map; /* normal and user-defined tokens the encoder may emit */
    struct merge_slot *merges;
    uint64_t merge_mask;
    int32_t byte_id[256]; /* token for a raw byte: SPM <0xNN>, BPE the byte's unicode char */
    int32_t bos, eos, unk, pad, eot;
    int32_t eog[ZT_TOK_MAX_EOG];
    size_t n_eog;
    bool add_bos, add_eos, add_space_prefix, ignore_merges;
    bool spm_word_split;    /* see spm_fragment() */
    uint32_t max_match_len; /* longest text in match_map: longer pairs are not looked up */
    int32_t *special; /* ids the partitioner looks for, longest text first */
    size_t n_special;
    pcre2_code *re;
};

/* ------------------------------------------------------------------ */
/* helpers */

/* A fast 64-bit mixing hash for short keys (token texts average < 8 bytes). */
static uint32_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = (h ^ v) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t v = 0;
    if (n) memcpy(&v, p, n);
    h = (h ^ v) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 29;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    return (uint32_t)h;
}

/* Classify the UTF-8 sequence at s[0..n), n >= 1 (Unicode table 3-7: no
 * overlongs, surrogates or code points past U+10FFFF). Returns its length
 * when valid, 0 when s is a valid but truncated prefix, or -k when the first
 * k bytes are a maximal invalid subpart (one U+FFFD each, as WHATWG). */
static int utf8_next(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;
        else if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;
        else if (c == 0xF4) hi = 0x8F;
    } else {
        return -1;
    }
    for (size_t i = 1; i < need; i++) {
        if (i >= n) return 0;
        if (s[i] < lo || s[i] > hi) return -(int)i;
        lo = 0x80;
        hi = 0xBF;
    }
    return (int)need;
}

/* Length of the character at s[0..n): a valid sequence, else one byte, so
 * invalid input still splits into symbols that byte fallback can encode. */
static size_t char_len(const uint8_t *s, size_t n)
{
    int k = utf8_next(s, n);
    return k > 0 ? (size_t)k : 1;
}

static bool is_ws_mark(const uint8_t *p) /* U+2581, SentencePiece's space */
{
    return p[0] == 0xE2 && p[1] == 0x96 && p[2] == 0x81;
}

static size_t put_utf8(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    o[0] = (uint8_t)(0xE0 | (cp >> 12));
    o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (uint8_t)(0x80 | (cp & 0x3F));
    return 3;
}

/* GPT-2's bytes_to_unicode(): printable Latin-1 bytes stand for themselves,
 * the other 68 bytes for U+0100.. in byte order, so that every byte is a
 * visible character in the vocabulary. */
static uint32_t gpt2_byte_cp(unsigned b)
{
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE)) return b;
    unsigned k = 0;
    for (unsigned x = 0; x < b; x++)
        if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE))) k++;
    return 256 + k;
}

/* ------------------------------------------------------------------ */
/* maps */

static const char *entry_key(const struct zt_tokenizer *t, const struct smap *m, uint32_t id,
                             size_t *len)
{
    const struct tok_entry *e = &t->tok[id];
    if (m->by_piece) {
        *len = e->piece_len;
        return t->blob + e->piece_off;
    }
    *len = e->text_len;
    return t->blob + e->text_off;
}

static int smap_init(struct smap *m, size_t count, bool by_piece)
{
    size_t cap = 16;
    while (cap < count * 2) cap <<= 1;
    m->hash = zt_calloc(cap, sizeof *m->hash);
    m->id1 = zt_calloc(cap, sizeof *m->id1);
    m->mask = (uint32_t)(cap - 1);
    m->by_piece = by_piece;
    return (m->hash && m->id1) ? 0 : ZT_ENOMEM;
}

static void smap_deinit(struct smap *m)
{
    zt_free(m->hash);
    zt_free(m->id1);
    m->hash = m->id1 = NULL;
}

/* Insert id under its key; a later id with the same key replaces the earlier
 * one (llama.cpp fills its std::map in id order the same way). */
static void smap_put(const struct zt_tokenizer *t, struct smap *m, uint32_t id)
{
    size_t len;
    const char *k = entry_key(t, m, id, &len);
    uint32_t h = hash_bytes(k, len);
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        if (m->id1[i] == 0) {
            m->hash[i] = h;
            m->id1[i] = id + 1;
            return;
        }
        if (m->hash[i] == h) {
            size_t l2;
            const char *k2 = entry_key(t, m, m->id1[i] - 1, &l2);
            if (l2 == len && memcmp(k, k2, len) == 0) {
                m->id1[i] = id + 1;
                return;
            }
        }
    }
}

static int32_t smap_get(const struct zt_tokenizer *t, const struct smap *m, const char *k,
                        size_t len)
{
    if (!m->id1) return ZT_TOK_NONE;
    uint32_t h = hash_bytes(k, len);
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        uint32_t v = m->id1[i];
        if (v == 0) return ZT_TOK_NONE;
        if (m->hash[i] == h) {
            size_t l2;
            const char *k2 = entry_key(t, m, v - 1, &l2);
            if (l2 == len && memcmp(k, k2, len) == 0) return (int32_t)(v - 1);
        }
    }
}

static uint64_t merge_key(int32_t l, int32_t r)
{
    return ((uint64_t)(uint32_t)(l + 1) << 32) | (uint32_t)r;
}

static uint64_t merge_hash(uint64_t key)
{
    key ^= key >> 31;
    key *= 0x9E3779B97F4A7C15ull;
    return key ^ (key >> 29);
}

static const struct merge_slot *merge_get(const struct zt_tokenizer *t, int32_t l, int32_t r)
{
    if (!t->merges || l < 0 || r < 0) return NULL;
    uint64_t key = merge_key(l, r);
    for (uint64_t i = merge_hash(key) & t->merge_mask;; i = (i + 1) & t->merge_mask) {
        const struct merge_slot *s = &t->merges[i];
        if (s->key == key) return s;
        if (s->key == 0) return NULL;
    }
}

/* ------------------------------------------------------------------ */
/* pre-tokenizers (byte-level BPE) */

/* The regexes of llama.cpp's llama-vocab.cpp. Case-insensitive contractions
 * are spelled [sS] rather than (?i:...) because Unicode caseless matching
 * would also accept U+017F and the Kelvin sign. */
static const char re_llama3[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char re_qwen2[] =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|"
    "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char re_gpt2[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static enum pre_kind pre_from_name(const char *name)
{
    static const struct {
        const char *name;
        enum pre_kind kind;
    } names[] = {
        {"default", PRE_GPT2},     {"gpt2", PRE_GPT2},        {"gpt-2", PRE_GPT2},
        {"phi-2", PRE_GPT2},       {"roberta-bpe", PRE_GPT2}, {"llama3", PRE_LLAMA3},
        {"llama-v3", PRE_LLAMA3},  {"llama-bpe", PRE_LLAMA3}, {"falcon3", PRE_LLAMA3},
        {"pixtral", PRE_LLAMA3},   {"dbrx", PRE_LLAMA3},      {"smaug-bpe", PRE_LLAMA3},
        {"qwen2", PRE_QWEN2},      {"deepseek-r1-qwen", PRE_QWEN2},
    };
    if (!name || !*name) return PRE_GPT2;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i].name, name) == 0) return names[i].kind;
    return PRE_NONE;
}

/* ------------------------------------------------------------------ */
/* construction */

void zt_tok_free(struct zt_tokenizer *t)
{
    if (!t) return;
    smap_deinit(&t->text_map);
    smap_deinit(&t->match_map);
    zt_free(t->merges);
    zt_free(t->tok);
    zt_free(t->blob);
    zt_free(t->special);
    pcre2_code_free(t->re);
    zt_free(t);
}

/* "<0xNN>" -> NN, else -1. */
static int parse_byte_token(const char *p, size_t n)
{
    if (n != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') return -1;
    int a = zt_hex_digit(p[3]), b = zt_hex_digit(p[4]);
    return (a < 0 || b < 0) ? -1 : a * 16 + b;
}

/* Decoded piece of token i into o (room for text_len bytes); returns its length. */
static size_t make_piece(enum zt_tok_kind kind, const int16_t *cp_byte, uint8_t type,
                         const uint8_t *s, size_t n, uint8_t *o)
{
    if (type == ZT_TOK_TYPE_CONTROL || type == ZT_TOK_TYPE_UNKNOWN ||
        type == ZT_TOK_TYPE_USER_DEFINED) {
        memcpy(o, s, n); /* rendered verbatim (specials only when asked) */
        return n;
    }
    if (type == ZT_TOK_TYPE_UNUSED || type == ZT_TOK_TYPE_UNDEFINED) return 0;
    if (kind == ZT_TOK_SPM) {
        if (type == ZT_TOK_TYPE_BYTE) {
            o[0] = (uint8_t)parse_byte_token((const char *)s, n);
            return 1;
        }
        size_t k = 0;
        for (size_t i = 0; i < n;) {
            if (i + 3 <= n && s[i] == 0xE2 && s[i + 1] == 0x96 && s[i + 2] == 0x81) {
                o[k++] = ' ';
                i += 3;
            } else {
                o[k++] = s[i++];
            }
        }
        return k;
    }
    /* BPE: undo the byte-to-unicode mapping; a character outside it (not a
     * byte-level vocabulary after all) is copied as it is. */
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        int l = utf8_next(s + i, n - i);
        if (l == 2 || l == 1) {
            uint32_t cp = l == 1 ? s[i] : ((uint32_t)(s[i] & 0x1F) << 6) | (s[i + 1] & 0x3F);
            if (cp < 512 && cp_byte[cp] >= 0) {
                o[k++] = (uint8_t)cp_byte[cp];
                i += (size_t)l;
                continue;
            }
        }
        size_t c = l > 0 ? (size_t)l : 1;
        memcpy(o + k, s + i, c);
        k += c;
        i += c;
    }
    return k;
}

static int cmp_special(const void *a, const void *b, const struct zt_tokenizer *t)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    if (t->tok[x].text_len != t->tok[y].text_len)
        return t->tok[x].text_len > t->tok[y].text_len ? -1 : 1;
    return x < y ? -1 : (x > y);
}

/* Stable bottom-up merge sort (qsort has no context argument in C17). */
static void sort_special(struct zt_tokenizer *t, int32_t *tmp)
{
    size_t n = t->n_special;
    int32_t *a = t->special, *b = tmp;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) b[k++] = cmp_special(&a[j], &a[i], t) < 0 ? a[j++] : a[i++];
            while (i < mid) b[k++] = a[i++];
            while (j < hi) b[k++] = a[j++];
        }
        int32_t *s = a;
        a = b;
        b = s;
    }
    if (a != t->special) memcpy(t->special, a, n * sizeof *a);
}

static int check_id(int32_t id, size_t n, const char *what, struct zt_buf *err)
{
    if (id == ZT_TOK_NONE || (id >= 0 && (size_t)id < n)) return 0;
    zt_buf_sayf(err, "tokenizer: %s token id %d out of range (vocabulary of %zu)", what, (int)id, n);
    return ZT_ERANGE;
}

static int build_merges(struct zt_tokenizer *t, const struct zt_tok_desc *d, struct zt_buf *err)
{
    if (d->n_merges == 0) return 0;
    size_t cap = 16;
    while (cap < d->n_merges * 2) cap <<= 1;
    t->merges = zt_calloc(cap, sizeof *t->merges);
    if (!t->merges) return ZT_ENOMEM;
    t->merge_mask = cap - 1;
    char *cat = zt_malloc(2 * ZT_TOK_MAX_TOKEN_LEN);
    if (!cat) return ZT_ENOMEM;
    int rc = 0;
    for (size_t i = 0; i < d->n_merges; i++) {
        const char *p = d->merges[i].ptr;
        size_t n = d->merges[i].len;
        if (!p && n) {
            rc = ZT_EINVAL;
            zt_buf_sayf(err, "tokenizer: merge %zu is NULL", i);
            goto out;
        }
        /* "left right", split at the first space after the first byte, as
         * llama.cpp does (a left part may itself start with a space). */
        const char *sp = n > 1 ? memchr(p + 1, ' ', n - 1) : NULL;
        if (!sp) {
            rc = ZT_EPARSE;
            zt_buf_sayf(err, "tokenizer: merge %zu has no space separator", i);
            goto out;
        }
        size_t ll = (size_t)(sp - p), rl = n - ll - 1;
        int32_t l = smap_get(t, &t->text_map, p, ll);
        int32_t r = smap_get(t, &t->text_map, sp + 1, rl);
        int32_t res = ZT_TOK_NONE;
        if (l >= 0 && r >= 0 && ll + rl <= 2 * ZT_TOK_MAX_TOKEN_LEN) {
            memcpy(cat, p, ll);
            memcpy(cat + ll, sp + 1, rl);
            res = smap_get(t, &t->text_map, cat, ll + rl);
        }
        if (res < 0) {
            rc = ZT_EPARSE;
            zt_buf_sayf(err, "tokenizer: merge %zu (\"%.*s\") refers to a token not in the vocabulary", i,
                 (int)(n > 64 ? 64 : n), p);
            goto out;
        }
        uint64_t key = merge_key(l, r);
        for (uint64_t j = merge_hash(key) & t->merge_mask;; j = (j + 1) & t->merge_mask) {
            struct merge_slot *s = &t->merges[j];
            if (s->key == key) break; /* first (best) rank wins, as llama.cpp's emplace */
            if (s->key == 0) {
                s->key = key;
                s->rank = (uint32_t)i;
                s->result = res;
                break;
            }
        }
    }
out:
    zt_free(cat);
    return rc;
}

static void find_eog(struct zt_tokenizer *t)
{
    /* llama.cpp's list of end-of-turn texts, for vocabularies that do not
     * name an EOT id; generation stops at any of them. */
    static const char *const eot_texts[] = {
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
        "<EOT>",
    };
    if (t->eos >= 0) t->eog[t->n_eog++] = t->eos;
    if (t->eot >= 0 && t->eot != t->eos) t->eog[t->n_eog++] = t->eot;
    for (size_t i = 0; i < sizeof eot_texts / sizeof eot_texts[0]; i++) {
        int32_t id = smap_get(t, &t->text_map, eot_texts[i], strlen(eot_texts[i]));
        if (id < 0) continue;
        uint8_t ty = t->tok[id].type;
        if (ty != ZT_TOK_TYPE_CONTROL && ty != ZT_TOK_TYPE_USER_DEFINED) continue;
        if (t->eot < 0 && i != 4) t->eot = id; /* <|endoftext|> is an EOS, not an EOT */
        bool seen = false;
        for (size_t k = 0; k < t->n_eog; k++) seen |= t->eog[k] == id;
        if (!seen && t->n_eog < ZT_TOK_MAX_EOG) t->eog[t->n_eog++] = id;
    }
}

int zt_tok_new(const struct zt_tok_desc *d, struct zt_tokenizer **out, struct zt_buf *err)
{
    struct zt_tokenizer *t = NULL;
    int32_t *tmp = NULL;
    int rc = ZT_EINVAL;
    if (!d || !out) return ZT_EINVAL;
    if (d->kind != ZT_TOK_SPM && d->kind != ZT_TOK_BPE) {
        zt_buf_sayf(err, "tokenizer: unknown kind %d", (int)d->kind);
        goto out;
    }
    if (d->n_tokens == 0 || !d->tokens) {
        zt_buf_sayf(err, "tokenizer: empty vocabulary");
        goto out;
    }
    if (d->n_tokens > ZT_TOK_MAX_TOKENS || d->n_merges > ZT_TOK_MAX_MERGES) {
        rc = ZT_ETOOBIG;
        zt_buf_sayf(err, "tokenizer: %zu tokens / %zu merges exceed the limits (%zu / %zu)", d->n_tokens,
             d->n_merges, ZT_TOK_MAX_TOKENS, ZT_TOK_MAX_MERGES);
        goto out;
    }
    if (d->kind == ZT_TOK_SPM && !d->scores) {
        zt_buf_sayf(err, "tokenizer: a SentencePiece vocabulary needs scores");
        goto out;
    }
    if (d->n_merges && !d->merges) {
        zt_buf_sayf(err, "tokenizer: %zu merges but no merge array", d->n_merges);
        goto out;
    }
    if ((rc = check_id(d->bos, d->n_tokens, "BOS", err)) || (rc = check_id(d->eos, d->n_tokens, "EOS", err)) ||
        (rc = check_id(d->unk, d->n_tokens, "unknown", err)) ||
        (rc = check_id(d->pad, d->n_tokens, "padding", err)) ||
        (rc = check_id(d->eot, d->n_tokens, "EOT", err)))
        goto out;
    rc = ZT_EINVAL;
    enum pre_kind pre = PRE_NONE;
    if (d->kind == ZT_TOK_BPE) {
        pre = pre_from_name(d->pre);
        if (pre == PRE_NONE) {
            rc = ZT_EUNSUPPORTED;
            zt_buf_sayf(err, "tokenizer: unsupported pre-tokenizer \"%.64s\"", d->pre);
            goto out;
        }
    }

    /* Validate every token and size the blob (texts + pieces). */
    size_t total = 0;
    for (size_t i = 0; i < d->n_tokens; i++) {
        const struct zt_tok_text *x = &d->tokens[i];
        if (!x->ptr && x->len) {
            zt_buf_sayf(err, "tokenizer: token %zu has no text", i);
            goto out;
        }
        if (x->len > ZT_TOK_MAX_TOKEN_LEN) {
            rc = ZT_ETOOBIG;
            zt_buf_sayf(err, "tokenizer: token %zu is %zu bytes long (limit %zu)", i, x->len,
                 ZT_TOK_MAX_TOKEN_LEN);
            goto out;
        }
        if (d->types && (d->types[i] < 0 || d->types[i] > ZT_TOK_TYPE_BYTE)) {
            zt_buf_sayf(err, "tokenizer: token %zu has invalid type %d", i, (int)d->types[i]);
            goto out;
        }
        if (d->kind == ZT_TOK_SPM && isnan(d->scores[i])) {
            zt_buf_sayf(err, "tokenizer: token %zu has a NaN score", i);
            goto out;
        }
        if (d->kind == ZT_TOK_SPM && d->types && d->types[i] == ZT_TOK_TYPE_BYTE &&
            parse_byte_token(x->ptr, x->len) < 0) {
            zt_buf_sayf(err, "tokenizer: byte token %zu is not of the form <0xNN>", i);
            goto out;
        }
        total += 2 * x->len;
    }
    if (total > (size_t)UINT32_MAX) {
        rc = ZT_ETOOBIG;
        zt_buf_sayf(err, "tokenizer: vocabulary texts too large (%zu bytes)", total);
        goto out;
    }

    rc = ZT_ENOMEM;
    t = zt_calloc(1, sizeof *t);
    if (!t) goto out;
    t->kind = d->kind;
    t->pre = pre;
    t->n = (uint32_t)d->n_tokens;
    t->bos = d->bos;
    t->eos = d->eos;
    t->unk = d->unk;
    t->pad = d->pad;
    t->eot = d->eot;
    t->add_bos = d->add_bos;
    t->add_eos = d->add_eos;
    t->add_space_prefix = d->kind == ZT_TOK_SPM && d->add_space_prefix;
    t->ignore_merges = pre == PRE_LLAMA3;
    t->tok = zt_calloc(d->n_tokens, sizeof *t->tok);
    t->blob = zt_malloc(total ? total : 1);
    if (!t->tok || !t->blob) goto out;

    int16_t cp_byte[512];
    memset(cp_byte, 0xFF, sizeof cp_byte);
    for (unsigned b = 0; b < 256; b++) cp_byte[gpt2_byte_cp(b)] = (int16_t)b;

    size_t off = 0;
    for (size_t i = 0; i < d->n_tokens; i++) {
        const struct zt_tok_text *x = &d->tokens[i];
        struct tok_entry *e = &t->tok[i];
        uint8_t type = d->types ? (uint8_t)d->types[i] : ZT_TOK_TYPE_NORMAL;
        if (!d->types && d->kind == ZT_TOK_SPM && parse_byte_token(x->ptr, x->len) >= 0)
            type = ZT_TOK_TYPE_BYTE;
        e->type = type;
        e->score = d->kind == ZT_TOK_SPM ? d->scores[i] : 0.0f;
        e->text_off = (uint32_t)off;
        e->text_len = (uint16_t)x->len;
        if (x->len) memcpy(t->blob + off, x->ptr, x->len);
        off += x->len;
        e->piece_off = (uint32_t)off;
        e->piece_len = (uint16_t)make_piece(d->kind, cp_byte, type, (const uint8_t *)x->ptr, x->len,
                                            (uint8_t *)t->blob + off);
        off += e->piece_len;
    }

    if (smap_init(&t->text_map, d->n_tokens, false) ||
        smap_init(&t->match_map, d->n_tokens, d->kind == ZT_TOK_BPE))
        goto out;
    size_t n_special = 0;
    bool split_ok = true;
    for (uint32_t i = 0; i < t->n; i++) {
        const struct tok_entry *e = &t->tok[i];
        if (e->text_len == 0) continue; /* an empty text matches nothing */
        smap_put(t, &t->text_map, i);
        /* Only tokens SentencePiece itself would produce from plain text:
         * never control, unknown, unused or byte tokens, so a user typing
         * "<s>" or "<0x41>" cannot forge them. */
        if ((e->type == ZT_TOK_TYPE_NORMAL || e->type == ZT_TOK_TYPE_USER_DEFINED) &&
            (d->kind == ZT_TOK_SPM || e->piece_len > 0)) {
            smap_put(t, &t->match_map, i);
            if (e->text_len > t->max_match_len) t->max_match_len = e->text_len;
            const uint8_t *x = (const uint8_t *)t->blob + e->text_off;
            for (size_t k = 1; k + 3 <= e->text_len; k++)
                if (is_ws_mark(x + k) && (k < 3 || !is_ws_mark(x + k - 3))) split_ok = false;
        }
        if (e->type == ZT_TOK_TYPE_CONTROL || e->type == ZT_TOK_TYPE_USER_DEFINED ||
            e->type == ZT_TOK_TYPE_UNKNOWN)
            n_special++;
    }

    t->spm_word_split = split_ok;

    /* Byte tokens. */
    for (unsigned b = 0; b < 256; b++) {
        int32_t id = ZT_TOK_NONE;
        if (t->kind == ZT_TOK_SPM) {
            static const char hex[] = "0123456789ABCDEF";
            char buf[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
            id = smap_get(t, &t->text_map, buf, 6);
            if (id < 0) {
                char c = (char)b;
                id = smap_get(t, &t->match_map, &c, 1);
            }
        } else {
            uint8_t u[3];
            size_t ul = put_utf8(u, gpt2_byte_cp(b));
            id = smap_get(t, &t->text_map, (const char *)u, ul);
        }
        t->byte_id[b] = id;
    }

    if (n_special) {
        t->special = zt_malloc(n_special * sizeof *t->special);
        tmp = zt_malloc(n_special * sizeof *tmp);
        if (!t->special || !tmp) goto out;
        for (uint32_t i = 0; i < t->n; i++) {
            const struct tok_entry *e = &t->tok[i];
            if (e->text_len && (e->type == ZT_TOK_TYPE_CONTROL ||
                                e->type == ZT_TOK_TYPE_USER_DEFINED || e->type == ZT_TOK_TYPE_UNKNOWN))
                t->special[t->n_special++] = (int32_t)i;
        }
        sort_special(t, tmp);
    }

    if (t->kind == ZT_TOK_BPE) {
        if ((rc = build_merges(t, d, err)) != 0) goto out;
        rc = ZT_ENOMEM;
        const char *re = pre == PRE_LLAMA3 ? re_llama3 : pre == PRE_QWEN2 ? re_qwen2 : re_gpt2;
        int ec;
        PCRE2_SIZE eo;
        t->re = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo,
                              NULL);
        if (!t->re) {
            rc = ZT_EUNSUPPORTED;
            zt_buf_sayf(err, "tokenizer: PCRE2 cannot compile the pre-tokenizer (error %d at %zu)", ec,
                 (size_t)eo);
            goto out;
        }
        /* JIT is an optimisation only: the interpreter gives the same splits. */
        zt_ignore(pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE) < 0);
    }
    find_eog(t);
    *out = t;
    t = NULL;
    rc = 0;
out:
    if (rc == ZT_ENOMEM) zt_buf_sayf(err, "tokenizer: out of memory");
    zt_free(tmp);
    zt_tok_free(t);
    return rc;
}

/* ------------------------------------------------------------------ */
/* GGUF */

/* Special id: absent or 0xFFFFFFFF/-1 (as converters write "none") -> NONE. */
static int gguf_special(const struct zt_gguf *g, const char *key, int32_t *id)
{
    int64_t v;
    int rc = zt_gguf_get_i64(g, key, &v);
    if (rc == ZT_ENOTFOUND) {
        *id = ZT_TOK_NONE;
        return 0;
    }
    if (rc != 0) return rc;
    if (v == -1 || v == (int64_t)UINT32_MAX) v = ZT_TOK_NONE;
    if (v < ZT_TOK_NONE || v > INT32_MAX) v = INT32_MAX; /* rejected as out of range */
    *id = (int32_t)v;
    return 0;
}

static int gguf_bool(const struct zt_gguf *g, const char *key, bool dflt, bool *out)
{
    int rc = zt_gguf_get_bool(g, key, out);
    if (rc == ZT_ENOTFOUND) {
        *out = dflt;
        return 0;
    }
    return rc;
}

/* The optional per-token array key of g (*ki, its element type *et):
 * ZT_ENOTFOUND when g has none; ZT_EPARSE (err says why) unless it holds
 * n elements of a float type (floats) or an integer type (!floats). */
static int token_array(const struct zt_gguf *g, const char *key, size_t n, bool floats, int64_t *ki,
                       enum zt_gguf_vtype *et, struct zt_buf *err)
{
    uint64_t cnt;
    *ki = zt_gguf_find_key(g, key);
    int rc = zt_gguf_kv_arr(g, *ki, et, &cnt);
    if (rc) return rc;
    bool is_float = *et == ZT_GGUF_F32 || *et == ZT_GGUF_F64;
    bool is_int = !is_float && *et != ZT_GGUF_STRING && *et != ZT_GGUF_ARRAY && *et != ZT_GGUF_BOOL;
    if (cnt != n || !(floats ? is_float : is_int)) {
        zt_buf_sayf(err, "tokenizer: %s has %llu entries of type %d for %zu tokens", key, (unsigned long long)cnt,
                    (int)*et, n);
        return ZT_EPARSE;
    }
    return 0;
}

/* key's array of n numbers (ZT_ENOTFOUND: there is none) as n floats
 * (floats) or n token types (-1: out of range), zt_calloc'd in *out. */
static int token_numbers(const struct zt_gguf *g, const char *key, size_t n, bool floats, void **out,
                         struct zt_buf *err)
{
    enum zt_gguf_vtype et;
    int64_t ki;
    int rc = token_array(g, key, n, floats, &ki, &et, err);
    if (rc) return rc;
    uint8_t *v = zt_calloc(n ? n : 1, 4);
    if (!v) {
        zt_buf_sayf(err, "tokenizer: out of memory");
        return ZT_ENOMEM;
    }
    const uint8_t *raw = zt_gguf_kv_arr_data(g, ki);
    if (raw && et == (floats ? ZT_GGUF_F32 : ZT_GGUF_I32)) {
        memcpy(v, raw, 4 * n); /* packed little-endian, maybe unaligned */
    } else {
        for (size_t i = 0; i < n && !rc; i++) {
            if (floats) {
                double f;
                float x = (rc = zt_gguf_kv_arr_f64(g, ki, i, &f)) == 0 ? (float)f : 0;
                memcpy(v + 4 * i, &x, 4);
            } else {
                int64_t t;
                int32_t y = (rc = zt_gguf_kv_arr_i64(g, ki, i, &t)) != 0 || t < 0 || t > ZT_TOK_TYPE_BYTE
                                ? -1 /* refused */
                                : (int32_t)t;
                memcpy(v + 4 * i, &y, 4);
            }
        }
    }
    if (rc) {
        zt_free(v);
        return rc;
    }
    *out = v;
    return 0;
}

/* A string array as zt_tok_text[] (pointing into the mapping). */
static int gguf_texts(const struct zt_gguf *g, const char *key, size_t max, struct zt_tok_text **out,
                      size_t *n_out, struct zt_buf *err)
{
    enum zt_gguf_vtype et;
    uint64_t n;
    int64_t ki = zt_gguf_find_key(g, key);
    int rc = zt_gguf_kv_arr(g, ki, &et, &n);
    if (rc != 0) return rc;
    if (et != ZT_GGUF_STRING) {
        zt_buf_sayf(err, "tokenizer: %s is not an array of strings", key);
        return ZT_EPARSE;
    }
    if (n > max) {
        zt_buf_sayf(err, "tokenizer: %s has %llu entries (limit %zu)", key, (unsigned long long)n, max);
        return ZT_ETOOBIG;
    }
    struct zt_tok_text *v = zt_calloc(n ? (size_t)n : 1, sizeof *v);
    if (!v) return ZT_ENOMEM;
    for (uint64_t i = 0; i < n; i++) {
        struct zt_gguf_str s;
        if ((rc = zt_gguf_kv_arr_str(g, ki, i, &s)) != 0) {
            zt_buf_sayf(err, "tokenizer: cannot read %s[%llu]", key, (unsigned long long)i);
            zt_free(v);
            return rc;
        }
        /* Clamped, not trusted: anything this long is refused by zt_tok_new. */
        if (s.len > 2 * ZT_TOK_MAX_TOKEN_LEN + 1) s.len = 2 * ZT_TOK_MAX_TOKEN_LEN + 1;
        v[i].ptr = s.ptr;
        v[i].len = (size_t)s.len;
    }
    *out = v;
    *n_out = (size_t)n;
    return 0;
}

int zt_tok_from_gguf(const struct zt_gguf *g, struct zt_tokenizer **out, struct zt_buf *err)
{
    struct zt_tok_text *tokens = NULL, *merges = NULL;
    float *scores = NULL;
    int32_t *types = NULL;
    struct zt_tok_desc d;
    memset(&d, 0, sizeof d);
    int rc;
    if (!g || !out) return ZT_EINVAL;

    struct zt_gguf_str model;
    rc = zt_gguf_get_str(g, "tokenizer.ggml.model", &model);
    if (rc != 0) {
        zt_buf_sayf(err, "tokenizer: %s tokenizer.ggml.model", rc == ZT_ENOTFOUND ? "no" : "invalid");
        goto out;
    }
    if (model.len == 5 && memcmp(model.ptr, "llama", 5) == 0) {
        d.kind = ZT_TOK_SPM;
    } else if (model.len == 4 && memcmp(model.ptr, "gpt2", 4) == 0) {
        d.kind = ZT_TOK_BPE;
    } else {
        rc = ZT_EUNSUPPORTED;
        zt_buf_sayf(err, "tokenizer: unsupported tokenizer.ggml.model \"%.*s\"",
             (int)(model.len > 64 ? 64 : model.len), model.ptr);
        goto out;
    }

    if ((rc = gguf_texts(g, "tokenizer.ggml.tokens", ZT_TOK_MAX_TOKENS, &tokens, &d.n_tokens, err)) != 0) {
        if (rc == ZT_ENOTFOUND) zt_buf_sayf(err, "tokenizer: no tokenizer.ggml.tokens");
        goto out;
    }
    d.tokens = tokens;

    void *arr;
    rc = token_numbers(g, "tokenizer.ggml.scores", d.n_tokens, true, &arr, err);
    if (rc == 0) d.scores = scores = arr;
    else if (rc != ZT_ENOTFOUND) goto out;
    rc = token_numbers(g, "tokenizer.ggml.token_type", d.n_tokens, false, &arr, err);
    if (rc == 0) d.types = types = arr;
    else if (rc != ZT_ENOTFOUND) goto out;

    if (d.kind == ZT_TOK_BPE) {
        rc = gguf_texts(g, "tokenizer.ggml.merges", ZT_TOK_MAX_MERGES, &merges, &d.n_merges, err);
        if (rc == ZT_ENOTFOUND) {
            rc = ZT_EPARSE;
            zt_buf_sayf(err, "tokenizer: a gpt2 tokenizer needs tokenizer.ggml.merges");
        }
        if (rc != 0) goto out;
        d.merges = merges;
    }

    int32_t pad = ZT_TOK_NONE;
    if ((rc = gguf_special(g, "tokenizer.ggml.bos_token_id", &d.bos)) ||
        (rc = gguf_special(g, "tokenizer.ggml.eos_token_id", &d.eos)) ||
        (rc = gguf_special(g, "tokenizer.ggml.unknown_token_id", &d.unk)) ||
        (rc = gguf_special(g, "tokenizer.ggml.padding_token_id", &pad)) ||
        (rc = gguf_special(g, "tokenizer.ggml.eot_token_id", &d.eot))) {
        zt_buf_sayf(err, "tokenizer: a special token id is not an integer");
        goto out;
    }
    /* Padding is never produced by the tokenizer; converters write junk
     * there often enough that llama.cpp merely warns, so do we (silently). */
    d.pad = (pad >= 0 && (size_t)pad < d.n_tokens) ? pad : ZT_TOK_NONE;

    char pre[64] = "default";
    struct zt_gguf_str ps;
    rc = zt_gguf_get_str(g, "tokenizer.ggml.pre", &ps);
    if (rc == 0) {
        if (ps.len >= sizeof pre) {
            rc = ZT_EUNSUPPORTED;
            zt_buf_sayf(err, "tokenizer: unsupported pre-tokenizer (name too long)");
            goto out;
        }
        memcpy(pre, ps.ptr, (size_t)ps.len);
        pre[ps.len] = '\0';
    } else if (rc != ZT_ENOTFOUND) {
        goto out;
    }
    d.pre = pre;

    bool spm = d.kind == ZT_TOK_SPM;
    bool bos_default = spm || pre_from_name(pre) == PRE_LLAMA3;
    if ((rc = gguf_bool(g, "tokenizer.ggml.add_bos_token", bos_default, &d.add_bos)) ||
        (rc = gguf_bool(g, "tokenizer.ggml.add_eos_token", false, &d.add_eos)) ||
        (rc = gguf_bool(g, "tokenizer.ggml.add_space_prefix", spm, &d.add_space_prefix))) {
        zt_buf_sayf(err, "tokenizer: an add_* flag is not a boolean");
        goto out;
    }
    rc = zt_tok_new(&d, out, err);
out:
    zt_free(tokens);
    zt_free(merges);
    zt_free(scores);
    zt_free(types);
    return rc;
}

/* ------------------------------------------------------------------ */
/* accessors */

enum zt_tok_kind zt_tok_kind(const struct zt_tokenizer *t) { return t->kind; }
size_t zt_tok_n_vocab(const struct zt_tokenizer *t) { return t->n; }
int32_t zt_tok_bos(const struct zt_tokenizer *t) { return t->bos; }
int32_t zt_tok_eos(const struct zt_tokenizer *t) { return t->eos; }
int32_t zt_tok_eot(const struct zt_tokenizer *t) { return t->eot; }
int32_t zt_tok_unk(const struct zt_tokenizer *t) { return t->unk; }
int32_t zt_tok_pad(const struct zt_tokenizer *t) { return t->pad; }
bool zt_tok_add_bos(const struct zt_tokenizer *t) { return t->add_bos; }
bool zt_tok_add_eos(const struct zt_tokenizer *t) { return t->add_eos; }

const char *zt_tok_pre(const struct zt_tokenizer *t)
{
    switch (t->pre) {
    case PRE_GPT2: return "gpt2";
    case PRE_LLAMA3: return "llama3";
    case PRE_QWEN2: return "qwen2";
    case PRE_NONE: break;
    }
    return "";
}

bool zt_tok_is_eog(const struct zt_tokenizer *t, int32_t id)
{
    if (id < 0) return false;
    for (size_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id) return true;
    return false;
}

enum zt_tok_type zt_tok_type(const struct zt_tokenizer *t, int32_t id)
{
    if (id < 0 || (uint32_t)id >= t->n) return ZT_TOK_TYPE_UNDEFINED;
    return (enum zt_tok_type)t->tok[id].type;
}

struct zt_tok_text zt_tok_text(const struct zt_tokenizer *t, int32_t id)
{
    struct zt_tok_text r = {NULL, 0};
    if (id < 0 || (uint32_t)id >= t->n) return r;
    r.ptr = t->blob + t->tok[id].text_off;
    r.len = t->tok[id].text_len;
    return r;
}

int32_t zt_tok_find(const struct zt_tokenizer *t, const char *text, size_t len)
{
    if (!text || len == 0) return ZT_TOK_NONE;
    return smap_get(t, &t->text_map, text, len);
}

/* ------------------------------------------------------------------ */
/* encoding */

struct emit {
    int32_t *ids;
    size_t cap, n;
};

static void emit(struct emit *e, int32_t id)
{
    if (e->n < e->cap) e->ids[e->n] = id;
    e->n++;
}

/* A symbol: a run of bytes of the (escaped) text; id is used by BPE. */
struct sym {
    uint32_t off, n;
    int32_t prev, next;
    int32_t id;
};

/* A candidate merge of two adjacent symbols. key: higher merges first (SPM:
 * the merged token's score; BPE: minus the merge rank); ties: leftmost. */
struct bigram {
    float key;
    int32_t left, right;
    uint32_t size; /* bytes of both symbols when queued: detects stale entries */
};

static bool bigram_before(const struct bigram *a, const struct bigram *b)
{
    return a->key > b->key || (a->key == b->key && a->left < b->left);
}

struct heap {
    struct bigram *v;
    size_t n;
};

static void heap_push(struct heap *h, struct bigram b)
{
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!bigram_before(&b, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = b;
}

static struct bigram heap_pop(struct heap *h)
{
    struct bigram top = h->v[0], last = h->v[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && bigram_before(&h->v[c + 1], &h->v[c])) c++;
        if (!bigram_before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (n) h->v[i] = last;
    return top;
}

/* Scratch for one encode call. Symbols: at most one per byte of a word (SPM
 * segment or BPE word); each merge queues at most two bigrams on top of the
 * initial n - 1, so 3n heap entries suffice. Grown on demand to the longest
 * word, so memory follows words, not the whole text. */
struct scratch {
    uint8_t *esc; /* SPM: the escaped fragment */
    struct sym *sym;
    struct heap heap;
    size_t cap; /* symbols */
};

static int scratch_reserve(struct scratch *w, size_t n)
{
    if (n <= w->cap) return 0;
    size_t nc = w->cap ? w->cap : 64;
    while (nc < n) nc *= 2;
    struct sym *ns = zt_reallocarray(w->sym, nc, sizeof *ns);
    if (!ns) return ZT_ENOMEM;
    w->sym = ns;
    struct bigram *nh = zt_reallocarray(w->heap.v, nc, 3 * sizeof *nh);
    if (!nh) return ZT_ENOMEM;
    w->heap.v = nh;
    w->cap = nc;
    return 0;
}

static int emit_byte(const struct zt_tokenizer *t, struct emit *e, uint8_t b)
{
    int32_t id = t->byte_id[b];
    if (id < 0) id = t->unk;
    if (id < 0) return ZT_EINVAL;
    emit(e, id);
    return 0;
}

static void spm_try_bigram(const struct zt_tokenizer *t, const uint8_t *s, struct scratch *w, int32_t l,
                           int32_t r)
{
    if (l < 0 || r < 0) return;
    const struct sym *a = &w->sym[l], *b = &w->sym[r];
    uint32_t size = a->n + b->n;
    if (size > t->max_match_len) return;
    int32_t id = smap_get(t, &t->match_map, (const char *)s + a->off, size);
    if (id < 0) return;
    struct bigram bg = {t->tok[id].score, l, r, size};
    heap_push(&w->heap, bg);
}

/* Merge the symbols of s[start..end) (see spm_fragment). */
static int spm_segment(const struct zt_tokenizer *t, const uint8_t *s, size_t start, size_t end,
                       struct scratch *w, struct emit *e)
{
    int rc = scratch_reserve(w, end - start);
    if (rc) return rc;
    int32_t ns = 0;
    for (size_t off = start; off < end;) {
        size_t cl = char_len(s + off, end - off);
        struct sym *y = &w->sym[ns];
        y->off = (uint32_t)off;
        y->n = (uint32_t)cl;
        y->prev = ns - 1;
        off += cl;
        y->next = off == end ? -1 : ns + 1;
        ns++;
    }
    w->heap.n = 0;
    for (int32_t i = 1; i < ns; i++) spm_try_bigram(t, s, w, i - 1, i);
    while (w->heap.n) {
        struct bigram bg = heap_pop(&w->heap);
        struct sym *l = &w->sym[bg.left], *r = &w->sym[bg.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != bg.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) w->sym[r->next].prev = bg.left;
        spm_try_bigram(t, s, w, l->prev, bg.left);
        spm_try_bigram(t, s, w, bg.left, l->next);
    }
    for (int32_t i = 0; i != -1; i = w->sym[i].next) {
        const struct sym *y = &w->sym[i];
        int32_t id = smap_get(t, &t->match_map, (const char *)s + y->off, y->n);
        if (id >= 0) {
            emit(e, id);
            continue;
        }
        for (uint32_t k = 0; k < y->n; k++)
            if ((rc = emit_byte(t, e, s[y->off + k])) != 0) return rc;
    }
    return 0;
}

/* llama.cpp's llm_tokenizer_spm_session::tokenize: start from characters,
 * repeatedly merge the best-scoring adjacent pair that is a token, then
 * emit each symbol as its token or, failing that, as byte tokens. (Its
 * rev_merge recursion never fires: a merged symbol is always a token.)
 *
 * Speed: when no token has a U+2581 right after another character (true of
 * Llama-2-style vocabularies, whose only inner U+2581 are in runs of them),
 * no merge can cross the point where a U+2581 follows a different
 * character, so the text is merged word by word with the same result: the
 * queue stays small and in cache instead of spanning the whole text. */
static int spm_fragment(const struct zt_tokenizer *t, const char *text, size_t len, bool prefix,
                        struct scratch *w, struct emit *e)
{
    uint8_t *s = w->esc;
    size_t n = 0;
    if (prefix) {
        memcpy(s, "\xE2\x96\x81", 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(s + n, "\xE2\x96\x81", 3);
            n += 3;
        } else {
            s[n++] = (uint8_t)text[i];
        }
    }
    if (n == 0) return 0;
    if (!t->spm_word_split) return spm_segment(t, s, 0, n, w, e);
    size_t start = 0;
    for (size_t p = 1; p + 3 <= n; p++) {
        if (s[p] != 0xE2 || !is_ws_mark(s + p) || (p >= 3 && is_ws_mark(s + p - 3))) continue;
        int rc = spm_segment(t, s, start, p, w, e);
        if (rc) return rc;
        start = p;
        p += 2;
    }
    return spm_segment(t, s, start, n, w, e);
}

/* Byte-level BPE of one pre-tokenized word: symbols are bytes (as their
 * byte-level tokens), merged lowest rank first, leftmost on ties. */
static int bpe_word(const struct zt_tokenizer *t, const uint8_t *s, size_t len, struct scratch *w,
                    struct emit *e)
{
    if (len == 1) return emit_byte(t, e, s[0]);
    if (t->ignore_merges) {
        /* Llama 3 takes a whole word that is a token as it is. */
        int32_t id = smap_get(t, &t->match_map, (const char *)s, len);
        if (id >= 0) {
            emit(e, id);
            return 0;
        }
    }
    int rc = scratch_reserve(w, len);
    if (rc) return rc;
    int32_t ns = (int32_t)len;
    for (int32_t i = 0; i < ns; i++) {
        struct sym *y = &w->sym[i];
        y->off = (uint32_t)i;
        y->n = 1;
        y->prev = i - 1;
        y->next = i + 1 == ns ? -1 : i + 1;
        y->id = t->byte_id[s[i]];
    }
    w->heap.n = 0;
    for (int32_t i = 1; i < ns; i++) {
        const struct merge_slot *m = merge_get(t, w->sym[i - 1].id, w->sym[i].id);
        if (m) heap_push(&w->heap, (struct bigram){-(float)m->rank, i - 1, i, 2});
    }
    while (w->heap.n) {
        struct bigram bg = heap_pop(&w->heap);
        struct sym *l = &w->sym[bg.left], *r = &w->sym[bg.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != bg.size) continue; /* stale */
        const struct merge_slot *m = merge_get(t, l->id, r->id);
        if (!m) continue; /* cannot happen: the pair was pushed because it merges */
        l->id = m->result;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) w->sym[r->next].prev = bg.left;
        if (l->prev >= 0) {
            const struct sym *p = &w->sym[l->prev];
            m = merge_get(t, p->id, l->id);
            if (m) heap_push(&w->heap, (struct bigram){-(float)m->rank, l->prev, bg.left, p->n + l->n});
        }
        if (l->next >= 0) {
            const struct sym *x = &w->sym[l->next];
            m = merge_get(t, l->id, x->id);
            if (m) heap_push(&w->heap, (struct bigram){-(float)m->rank, bg.left, l->next, l->n + x->n});
        }
    }
    for (int32_t i = 0; i != -1; i = w->sym[i].next) {
        const struct sym *y = &w->sym[i];
        if (y->id >= 0) {
            emit(e, y->id);
        } else if ((rc = emit_byte(t, e, s[y->off])) != 0) {
            return rc; /* a byte without a token and no unknown token */
        }
    }
    return 0;
}

/* Pre-tokenize with the model's regex, calling fn for each word. PCRE2
 * needs valid UTF-8, so the text is cut into valid runs matched separately;
 * each maximal run of invalid bytes is a word of its own (byte-level BPE
 * encodes any byte, so nothing is lost). Text the regex skips also becomes a
 * word, so the words always tile the input. */
typedef int (*word_fn)(void *ctx, const uint8_t *s, size_t off, size_t len);

static int bpe_split(const struct zt_tokenizer *t, const uint8_t *s, size_t len, pcre2_match_data *md,
                     word_fn fn, void *ctx)
{
    size_t i = 0;
    int rc;
    while (i < len) {
        size_t j = i;
        int k;
        while (j < len && (k = utf8_next(s + j, len - j)) > 0) j += (size_t)k;
        if (j == i) { /* invalid bytes */
            while (j < len && utf8_next(s + j, len - j) <= 0) j++;
            if ((rc = fn(ctx, s, i, j - i)) != 0) return rc;
            i = j;
            continue;
        }
        size_t pos = i;
        while (pos < j) {
            int m = pcre2_match(t->re, (PCRE2_SPTR)s + i, j - i, pos - i, PCRE2_NO_UTF_CHECK, md, NULL);
            size_t ms, me;
            if (m >= 0) {
                const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
                ms = i + ov[0];
                me = i + ov[1];
            } else {
                /* No match (or a PCRE2 limit): the rest of the run is one word,
                 * still a correct, lossless encoding. */
                ms = me = j;
            }
            if (me == ms && ms < j) me = ms + char_len(s + ms, j - ms); /* never loop on empty */
            if (ms > pos && (rc = fn(ctx, s, pos, ms - pos)) != 0) return rc;
            if (me > ms && (rc = fn(ctx, s, ms, me - ms)) != 0) return rc;
            pos = me;
        }
        i = j;
    }
    return 0;
}

struct bpe_ctx {
    const struct zt_tokenizer *t;
    struct scratch *w;
    struct emit *e;
};

static int bpe_word_fn(void *ctx, const uint8_t *s, size_t off, size_t len)
{
    struct bpe_ctx *c = ctx;
    return bpe_word(c->t, s + off, len, c->w, c->e);
}

struct split_ctx {
    size_t *ends;
    size_t cap, n;
};

static int split_fn(void *ctx, const uint8_t *s, size_t off, size_t len)
{
    struct split_ctx *c = ctx;
    (void)s;
    if (c->n < c->cap) c->ends[c->n] = off + len;
    c->n++;
    return 0;
}

int zt_tok_pre_split(const struct zt_tokenizer *t, const char *text, size_t len, size_t *ends,
                     size_t cap, size_t *n_out)
{
    if (!t || (!text && len) || (!ends && cap) || !n_out) return ZT_EINVAL;
    if (len > ZT_TOK_MAX_INPUT) return ZT_ETOOBIG;
    struct split_ctx c = {ends, cap, 0};
    if (len && t->kind == ZT_TOK_SPM) {
        zt_ignore(split_fn(&c, (const uint8_t *)text, 0, len));
    } else if (len) {
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(t->re, NULL);
        if (!md) return ZT_ENOMEM;
        int rc = bpe_split(t, (const uint8_t *)text, len, md, split_fn, &c);
        pcre2_match_data_free(md);
        if (rc) return rc;
    }
    *n_out = c.n;
    return c.n > cap ? ZT_ETOOBIG : 0;
}

/* memmem() is a GNU extension: first byte by memchr, then compare. */
static const char *find_bytes(const char *h, size_t n, const char *nd, size_t m)
{
    if (m == 0 || m > n) return NULL;
    const char *end = h + (n - m) + 1;
    while (h < end) {
        const char *p = memchr(h, nd[0], (size_t)(end - h));
        if (!p) return NULL;
        if (memcmp(p, nd, m) == 0) return p;
        h = p + 1;
    }
    return NULL;
}

/* A span of the input: raw text (id < 0) or a special token found in it. */
struct frag {
    size_t off, len;
    int32_t id;
};

struct frags {
    struct frag *v;
    size_t n, cap;
};

static int frags_add(struct frags *f, size_t off, size_t len, int32_t id)
{
    struct frag x = {off, len, id};
    return zt_array_push(&f->v, &f->n, &f->cap, &x, sizeof x, 16);
}

/* llama.cpp's tokenizer_st_partition: for each special token, longest
 * first, split every raw fragment at each of its occurrences. Control and
 * unknown tokens take part only with parse_special; user-defined always. */
static int partition(const struct zt_tokenizer *t, const char *text, size_t len, bool parse_special,
                     struct frags *a, struct frags *b)
{
    int rc;
    a->n = 0;
    if (len == 0) return 0; /* as llama.cpp: empty text, no fragment, no space prefix */
    if ((rc = frags_add(a, 0, len, -1)) != 0) return rc;
    for (size_t si = 0; si < t->n_special; si++) {
        int32_t id = t->special[si];
        const struct tok_entry *e = &t->tok[id];
        if (!parse_special && e->type != ZT_TOK_TYPE_USER_DEFINED) continue;
        const char *st = t->blob + e->text_off;
        size_t sl = e->text_len;
        bool hit = false;
        for (size_t k = 0; k < a->n && !hit; k++)
            hit = a->v[k].id < 0 && find_bytes(text + a->v[k].off, a->v[k].len, st, sl) != NULL;
        if (!hit) continue;
        b->n = 0;
        for (size_t k = 0; k < a->n; k++) {
            struct frag f = a->v[k];
            if (f.id >= 0) {
                if ((rc = frags_add(b, f.off, f.len, f.id)) != 0) return rc;
                continue;
            }
            size_t pos = f.off, end = f.off + f.len;
            const char *p;
            while (pos < end && (p = find_bytes(text + pos, end - pos, st, sl)) != NULL) {
                size_t at = (size_t)(p - text);
                if (at > pos && (rc = frags_add(b, pos, at - pos, -1)) != 0) return rc;
                if ((rc = frags_add(b, at, sl, id)) != 0) return rc;
                pos = at + sl;
            }
            if (pos < end && (rc = frags_add(b, pos, end - pos, -1)) != 0) return rc;
        }
        struct frags x = *a;
        *a = *b;
        *b = x;
    }
    return 0;
}

int zt_tok_encode(const struct zt_tokenizer *t, const char *text, size_t len, bool add_special,
                  bool parse_special, int32_t *out, size_t cap, size_t *n_out)
{
    struct frags fa = {0}, fb = {0};
    struct scratch w = {0};
    pcre2_match_data *md = NULL;
    int rc = ZT_EINVAL;
    if (!t || (!text && len) || (!out && cap) || !n_out) return ZT_EINVAL;
    if (len > ZT_TOK_MAX_INPUT) return ZT_ETOOBIG;
    struct emit e = {out, cap, 0};

    if ((rc = partition(t, text ? text : "", len, parse_special, &fa, &fb)) != 0) goto out;
    size_t longest = 0;
    for (size_t k = 0; k < fa.n; k++)
        if (fa.v[k].id < 0 && fa.v[k].len > longest) longest = fa.v[k].len;
    rc = ZT_ENOMEM;
    /* SPM: a space becomes 3 bytes; plus the prefix */
    if (t->kind == ZT_TOK_SPM && longest && !(w.esc = zt_malloc(3 * longest + 3))) goto out;
    if (t->kind == ZT_TOK_BPE && longest && !(md = pcre2_match_data_create_from_pattern(t->re, NULL)))
        goto out;

    if (add_special && t->add_bos && t->bos >= 0) emit(&e, t->bos);
    bool prev_special = true; /* the first fragment gets the space prefix */
    rc = 0;
    for (size_t k = 0; k < fa.n && rc == 0; k++) {
        const struct frag *f = &fa.v[k];
        if (f->id >= 0) {
            emit(&e, f->id);
            prev_special = true;
        } else if (t->kind == ZT_TOK_SPM) {
            rc = spm_fragment(t, text + f->off, f->len, t->add_space_prefix && prev_special, &w, &e);
            prev_special = false;
        } else {
            struct bpe_ctx c = {t, &w, &e};
            rc = bpe_split(t, (const uint8_t *)text + f->off, f->len, md, bpe_word_fn, &c);
        }
    }
    if (rc) goto out;
    if (add_special && t->add_eos && t->eos >= 0) emit(&e, t->eos);
    *n_out = e.n;
    rc = e.n > cap ? ZT_ETOOBIG : 0;
out:
    pcre2_match_data_free(md);
    zt_free(w.esc);
    zt_free(w.sym);
    zt_free(w.heap.v);
    zt_free(fa.v);
    zt_free(fb.v);
    return rc;
}

/* ------------------------------------------------------------------ */
/* decoding */

int zt_tok_piece(const struct zt_tokenizer *t, int32_t id, bool special, const char **ptr, size_t *len)
{
    if (!t || !ptr || !len || id < 0 || (uint32_t)id >= t->n) return ZT_ERANGE;
    const struct tok_entry *e = &t->tok[id];
    *ptr = t->blob + e->piece_off;
    *len = e->piece_len;
    if (!special && (e->type == ZT_TOK_TYPE_CONTROL || e->type == ZT_TOK_TYPE_UNKNOWN)) *len = 0;
    return 0;
}

static bool strips_space(const struct zt_tokenizer *t, unsigned flags)
{
    return t->kind == ZT_TOK_SPM && t->add_space_prefix && !(flags & ZT_TOK_DECODE_KEEP_SPACE);
}

/* The encoder prefixes the space to text, so the first piece of a text
 * token loses it; a rendered BOS before it does not count. */
static bool is_text_token(const struct zt_tokenizer *t, int32_t id)
{
    uint8_t ty = t->tok[id].type;
    return ty != ZT_TOK_TYPE_CONTROL && ty != ZT_TOK_TYPE_UNKNOWN;
}

static void buf_truncate(struct zt_buf *b, size_t len)
{
    b->len = len;
    if (b->data) b->data[len] = '\0';
}

int zt_tok_decode(const struct zt_tokenizer *t, const int32_t *ids, size_t n, unsigned flags,
                  struct zt_buf *out)
{
    if (!t || (!ids && n) || !out) return ZT_EINVAL;
    size_t saved = out->len;
    bool strip = strips_space(t, flags);
    for (size_t i = 0; i < n; i++) {
        const char *p;
        size_t l;
        int rc = zt_tok_piece(t, ids[i], flags & ZT_TOK_DECODE_SPECIAL, &p, &l);
        if (rc == 0 && l && strip && is_text_token(t, ids[i])) {
            if (p[0] == ' ') {
                p++;
                l--;
            }
            strip = false;
        }
        if (rc == 0 && l) rc = zt_buf_append(out, p, l);
        if (rc) {
            buf_truncate(out, saved);
            return rc;
        }
    }
    return 0;
}

void zt_tok_stream_init(struct zt_tok_stream *s, const struct zt_tokenizer *tok, unsigned flags)
{
    memset(s, 0, sizeof *s);
    s->tok = tok;
    s->flags = flags;
}

static const char replacement[3] = {(char)0xEF, (char)0xBF, (char)0xBD}; /* U+FFFD */

/* Append the complete characters of b[0..n) to out, U+FFFD for invalid
 * subparts; a valid but truncated tail is returned in *keep (not emitted)
 * unless final. */
static int emit_utf8(const uint8_t *b, size_t n, bool final, struct zt_buf *out, size_t *keep)
{
    size_t i = 0, run = 0;
    int rc = 0;
    *keep = 0;
    while (i < n) {
        int k = utf8_next(b + i, n - i);
        if (k > 0) {
            i += (size_t)k;
            continue;
        }
        if ((rc = zt_buf_append(out, b + run, i - run)) != 0) return rc;
        if (k == 0 && !final) {
            *keep = n - i;
            return 0;
        }
        if ((rc = zt_buf_append(out, replacement, 3)) != 0) return rc;
        i += k == 0 ? n - i : (size_t)-k;
        run = i;
    }
    return zt_buf_append(out, b + run, i - run);
}

int zt_tok_stream_push(struct zt_tok_stream *s, int32_t id, struct zt_buf *out)
{
    if (!s || !s->tok || !out) return ZT_EINVAL;
    const char *p;
    size_t l;
    int rc = zt_tok_piece(s->tok, id, s->flags & ZT_TOK_DECODE_SPECIAL, &p, &l);
    if (rc) return rc;
    if (l == 0) return 0;
    bool started = s->started;
    if (!started && is_text_token(s->tok, id)) {
        if (strips_space(s->tok, s->flags) && p[0] == ' ') {
            p++;
            l--;
        }
        started = true;
    }
    uint8_t buf[ZT_TOK_MAX_TOKEN_LEN + 4];
    memcpy(buf, s->pending, s->n_pending);
    if (l) memcpy(buf + s->n_pending, p, l);
    size_t saved = out->len, keep;
    rc = emit_utf8(buf, s->n_pending + l, false, out, &keep);
    if (rc) {
        buf_truncate(out, saved);
        return rc;
    }
    /* keep < 4: a truncated prefix is at most 3 bytes long */
    memcpy(s->pending, buf + s->n_pending + l - keep, keep);
    s->n_pending = (uint8_t)keep;
    s->started = started;
    return 0;
}

int zt_tok_stream_flush(struct zt_tok_stream *s, struct zt_buf *out)
{
    if (!s || !out) return ZT_EINVAL;
    size_t saved = out->len, keep;
    int rc = emit_utf8(s->pending, s->n_pending, true, out, &keep);
    if (rc) {
        buf_truncate(out, saved);
        return rc;
    }
    zt_tok_stream_init(s, s->tok, s->flags);
    return 0;
}
