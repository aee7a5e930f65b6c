/* zt_tokenizer.h: the tokenizers of the inference engine.
 *
 * Two families, as llama.cpp names them in GGUF's tokenizer.ggml.model:
 *  - "llama": SentencePiece-style BPE over UTF-8 characters with scores,
 *    U+2581 for spaces, an optional leading space, and byte fallback to
 *    <0xNN> tokens (ZT_TOK_SPM);
 *  - "gpt2": byte-level BPE with ranked merges after a regex pre-tokenizer
 *    (GPT-2, Llama 3, Qwen2 variants; ZT_TOK_BPE).
 *
 * A tokenizer is built either from a plain description (zt_tok_new, no GGUF
 * needed: tests, other formats) or from a GGUF file's metadata
 * (zt_tok_from_gguf). Either way it copies what it needs: the source may be
 * freed afterwards. A built tokenizer is immutable, so any number of threads
 * may encode and decode with it concurrently. Vocabulary files are untrusted
 * input: sizes are bounded and every id is range-checked.
 * See docs/internals/tokenizer.md. */
#ifndef ZT_TOKENIZER_H
#define ZT_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_error.h"

struct zt_gguf;
struct zt_tokenizer;

enum zt_tok_kind {
    ZT_TOK_SPM = 1, /* tokenizer.ggml.model = "llama" */
    ZT_TOK_BPE = 2, /* tokenizer.ggml.model = "gpt2" */
};

/* Token types, numbered as GGUF's tokenizer.ggml.token_type. */
enum zt_tok_type {
    ZT_TOK_TYPE_UNDEFINED = 0,
    ZT_TOK_TYPE_NORMAL = 1,
    ZT_TOK_TYPE_UNKNOWN = 2,
    ZT_TOK_TYPE_CONTROL = 3,
    ZT_TOK_TYPE_USER_DEFINED = 4,
    ZT_TOK_TYPE_UNUSED = 5,
    ZT_TOK_TYPE_BYTE = 6,
};

#define ZT_TOK_NONE (-1)                      /* "no such special token" */
#define ZT_TOK_MAX_TOKENS ((size_t)1 << 22)   /* vocabulary size limit (4M) */
#define ZT_TOK_MAX_MERGES ((size_t)1 << 22)
#define ZT_TOK_MAX_TOKEN_LEN ((size_t)4096)   /* bytes of one token text */
#define ZT_TOK_MAX_INPUT ((size_t)1 << 24)    /* bytes of text per encode call (16 MiB) */

/* A byte string that need not be NUL-terminated. */
struct zt_tok_text {
    const char *ptr;
    size_t len;
};

/* Everything a tokenizer is made of. Pointers are borrowed for the duration
 * of zt_tok_new() only. */
struct zt_tok_desc {
    enum zt_tok_kind kind;
    size_t n_tokens;
    const struct zt_tok_text *tokens; /* n_tokens texts, as stored in GGUF (SPM: U+2581
                                         for spaces; BPE: GPT-2 byte-to-unicode form) */
    const float *scores;              /* n_tokens; required for SPM, ignored for BPE */
    const int32_t *types;             /* n_tokens enum zt_tok_type; NULL = all normal
                                         (SPM: <0xNN> texts are then taken as byte tokens) */
    size_t n_merges;                  /* BPE: merges "left right", best (rank 0) first */
    const struct zt_tok_text *merges;
    int32_t bos, eos, unk, pad, eot;  /* special ids, ZT_TOK_NONE when absent */
    bool add_bos, add_eos;            /* added by zt_tok_encode(add_special = true) */
    bool add_space_prefix;            /* SPM: prefix a space to the text (and after a special token) */
    const char *pre;                  /* BPE pre-tokenizer (tokenizer.ggml.pre), NUL-terminated:
                                         "llama3"/"llama-bpe"/..., "qwen2", "gpt2", "default";
                                         NULL = "default" */
};

/* Build a tokenizer from d. Returns 0 and *out, or ZT_EINVAL/ZT_EPARSE for a
 * malformed vocabulary (empty, missing scores, ids out of range, a merge
 * naming unknown tokens...), ZT_ETOOBIG beyond the ZT_TOK_MAX_* limits,
 * ZT_EUNSUPPORTED for an unknown pre-tokenizer, ZT_ENOMEM; a one-line reason
 * is appended to err (may be NULL). Duplicate token texts are accepted as
 * llama.cpp does: text lookups find the highest id. Free with zt_tok_free(). */
ZT_NODISCARD int zt_tok_new(const struct zt_tok_desc *d, struct zt_tokenizer **out,
                            struct zt_buf *err);

/* Build from the tokenizer.ggml.* keys of an opened GGUF file. Absent flags
 * default as in llama.cpp: SPM adds BOS and a space prefix; BPE adds BOS only
 * for the Llama 3 pre-tokenizer, otherwise when add_bos_token says so. The
 * file may be closed afterwards. Errors as zt_tok_new(), plus ZT_ENOTFOUND
 * when the file has no tokenizer and ZT_EUNSUPPORTED for other models. */
ZT_NODISCARD int zt_tok_from_gguf(const struct zt_gguf *g, struct zt_tokenizer **out,
                                  struct zt_buf *err);

void zt_tok_free(struct zt_tokenizer *t); /* NULL is a no-op */

/* Accessors. Ids are ZT_TOK_NONE when the vocabulary has no such token. */
enum zt_tok_kind zt_tok_kind(const struct zt_tokenizer *t);
size_t zt_tok_n_vocab(const struct zt_tokenizer *t);
int32_t zt_tok_bos(const struct zt_tokenizer *t);
int32_t zt_tok_eos(const struct zt_tokenizer *t);
int32_t zt_tok_eot(const struct zt_tokenizer *t);
int32_t zt_tok_unk(const struct zt_tokenizer *t);
int32_t zt_tok_pad(const struct zt_tokenizer *t);
bool zt_tok_add_bos(const struct zt_tokenizer *t);
bool zt_tok_add_eos(const struct zt_tokenizer *t);
/* Canonical pre-tokenizer: "llama3", "qwen2" or "gpt2" (BPE); "" for SPM. */
const char *zt_tok_pre(const struct zt_tokenizer *t);
/* End of generation: EOS, EOT, or one of the known end-of-turn control
 * tokens of the vocabulary (<|eot_id|>, <|im_end|>, <|end|>, ...). */
bool zt_tok_is_eog(const struct zt_tokenizer *t, int32_t id);
/* Type of a token; ZT_TOK_TYPE_UNDEFINED for an id out of range. */
enum zt_tok_type zt_tok_type(const struct zt_tokenizer *t, int32_t id);
/* Text of a token as stored in the vocabulary (borrowed, not NUL-terminated);
 * {NULL, 0} for an id out of range. */
struct zt_tok_text zt_tok_text(const struct zt_tokenizer *t, int32_t id);
/* Id of the token whose vocabulary text is exactly text[0..len); ZT_TOK_NONE. */
int32_t zt_tok_find(const struct zt_tokenizer *t, const char *text, size_t len);

/* Encode len bytes of text (any bytes: invalid UTF-8 goes through byte
 * fallback / byte-level tokens, never an error) into at most cap ids.
 * add_special adds BOS/EOS as the vocabulary asks. parse_special turns the
 * texts of control tokens (e.g. "<|im_start|>") into those tokens; without
 * it they are tokenized as plain text. User-defined tokens always match, as
 * in llama.cpp. Returns 0 with *n_out ids written; ZT_ETOOBIG when cap is too
 * small (then *n_out is the count needed; out holds a prefix) or len exceeds
 * ZT_TOK_MAX_INPUT; ZT_EINVAL when a byte has no token and there is no
 * unknown token; ZT_ENOMEM. */
ZT_NODISCARD int zt_tok_encode(const struct zt_tokenizer *t, const char *text, size_t len,
                               bool add_special, bool parse_special, int32_t *out, size_t cap,
                               size_t *n_out);

/* The pre-tokenizer alone (tests, debugging): the end offsets of the words
 * that byte-level BPE would merge within, for plain text (special tokens are
 * not looked for). SPM does not pre-tokenize: one word. Returns 0, or
 * ZT_ETOOBIG when cap is too small (*n_out = count needed), ZT_ENOMEM. */
ZT_NODISCARD int zt_tok_pre_split(const struct zt_tokenizer *t, const char *text, size_t len,
                                  size_t *ends, size_t cap, size_t *n_out);

/* Decoding flags. */
#define ZT_TOK_DECODE_SPECIAL 1u    /* render control/unknown tokens as their text */
#define ZT_TOK_DECODE_KEEP_SPACE 2u /* SPM: keep the space the encoder prefixed */

/* The raw bytes a token stands for (SPM: U+2581 as a space, <0xNN> as that
 * byte; BPE: the GPT-2 byte mapping undone). Control and unknown tokens give
 * an empty piece unless special is true. *ptr is borrowed from t and is not
 * NUL-terminated. Returns 0, or ZT_ERANGE for an id out of range. */
ZT_NODISCARD int zt_tok_piece(const struct zt_tokenizer *t, int32_t id, bool special,
                              const char **ptr, size_t *len);

/* Append the concatenated pieces of ids[0..n) to out, as raw bytes (may be
 * invalid UTF-8: byte-level BPE is lossless). Unless ZT_TOK_DECODE_KEEP_SPACE,
 * an SPM vocabulary with a space prefix drops one leading space from the
 * first text (non-control) token, undoing the encoder's prefix. Returns 0,
 * ZT_ERANGE for a bad id, ZT_ETOOBIG when out is full (out is then unchanged). */
ZT_NODISCARD int zt_tok_decode(const struct zt_tokenizer *t, const int32_t *ids, size_t n,
                               unsigned flags, struct zt_buf *out);

/* Streaming decoder for generation: push ids one at a time and get only
 * complete, valid UTF-8. A character split over several tokens (byte
 * fallback, byte-level BPE) is held back until complete; invalid sequences
 * come out as U+FFFD (one per maximal invalid subpart, as WHATWG decoders
 * do). Embedded by the caller; holds no allocation, so there is no deinit. */
struct zt_tok_stream {
    const struct zt_tokenizer *tok;
    unsigned flags;      /* ZT_TOK_DECODE_* */
    bool started;        /* a non-empty piece was emitted */
    uint8_t n_pending;   /* bytes of an incomplete character held back */
    uint8_t pending[4];
};

void zt_tok_stream_init(struct zt_tok_stream *s, const struct zt_tokenizer *tok, unsigned flags);
/* Append the text that id completes to out. Returns 0, ZT_ERANGE for a bad id,
 * ZT_ETOOBIG when out is full; on error out and s are unchanged. */
ZT_NODISCARD int zt_tok_stream_push(struct zt_tok_stream *s, int32_t id, struct zt_buf *out);
/* End of sequence: a held-back incomplete character becomes U+FFFD. The
 * stream is then reset for a new sequence. Errors as zt_tok_stream_push(). */
ZT_NODISCARD int zt_tok_stream_flush(struct zt_tok_stream *s, struct zt_buf *out);

#endif
