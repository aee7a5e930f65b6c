/* zt_entities.h: rule-based entity extraction from chat messages.
 *
 * One left-to-right pass; at each position the matchers are tried in this
 * order and the first that matches consumes its span (entities never
 * overlap): url, email, wallet (Ethereum, Bitcoin), date/time, money,
 * phone, mention, hashtag. Matches start at a word boundary (the byte
 * before is not an ASCII letter, digit or a byte of a multi-byte
 * character) and must end at one.
 *
 *  URL       http://, https://, www. up to whitespace or <>"; trailing
 *            .,;:!?'" and an unbalanced ')' are left out. Value: the URL
 *            with the scheme and host lower-cased ("http://" added to www.).
 *  EMAIL     local@domain.tld (local: A-Z a-z 0-9 . _ % + -; TLD: >= 2
 *            letters). Value: the address with the domain lower-cased.
 *  MENTION   @ + 1..64 of A-Z a-z 0-9 _ . (not after a word: "a@b" is not
 *            one). Value: lower-cased, with the @.
 *  HASHTAG   # + letters, digits, _ (Unicode letters too), not all digits.
 *            Value: case-folded, with the #.
 *  WALLET    Ethereum: 0x + 40 hex digits. All-lower or all-upper hex has
 *            no checksum; mixed case must match EIP-55 (Keccak-256), else
 *            the entity is still reported with valid = false so a client
 *            can warn about a mistyped address. Value: the EIP-55 form;
 *            detail "eth". Bitcoin (mainnet only, reported only when the
 *            checksum holds): base58check P2PKH (1...) and P2SH (3...),
 *            bech32 (BIP-173, witness v0) and bech32m (BIP-350, v1+)
 *            "bc1..." addresses. Value: the address (bech32 lower-cased);
 *            detail "p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr" or
 *            "segwit".
 *  DATE / DATETIME
 *            absolute: 2026-12-01 (ISO, optionally with Thh:mm[:ss] and Z
 *            or an offset), 1 Dec 2026, 1st December 2026, December 1,
 *            2026, Dec 1 (no year: the reference year), 01.12.2026 and
 *            01-12-2026 (day first), and slashes 12/01/2026 or 12/01/26
 *            under this locale rule: a first number > 12 is the day, a
 *            second number > 12 is the day, otherwise the caller's order
 *            (ZT_ENT_DMY, default month first as in the US);
 *            times: 14:30, 14:30:05, 2pm, 2 pm, 2:30pm, 2:30 p.m., noon,
 *            midnight (a time alone is on the reference day);
 *            relative: today, tonight, tomorrow, yesterday, next week,
 *            [this|next|on] Monday (the first such day after the reference
 *            day; "this Monday" and a bare weekday may be the reference
 *            day itself), in N minutes|hours|days|weeks, N ... ago (N: digits,
 *            a, an, one..twelve).
 *            A date followed by a time ("tomorrow at 2pm", "1 Dec 2026,
 *            14:30") or a time followed by a date ("2pm tomorrow") is one
 *            entity. Value: ISO 8601, "2026-12-02" for a DATE and
 *            "2026-12-02T14:00:00+01:00" for a DATETIME, in the reference
 *            time's UTC offset ("Z" for 0).
 *  MONEY     $3.50, € 20, £1,000, ¥500, 20€, 20 EUR, USD 20, 1.2k USD,
 *            3m dollars (k/m/bn multipliers; ISO codes USD EUR GBP JPY CHF
 *            CAD AUD CNY INR RUB BRL MXN SEK NOK DKK PLN BTC ETH; words
 *            dollars, euros, pounds, bucks). A number with both ',' and '.'
 *            uses the last as the decimal separator; with only ',' it is a
 *            decimal comma unless 3 digits follow each comma. Value:
 *            "1200.00 USD" (2 decimals; 0 for JPY; up to 8 for BTC/ETH).
 *  PHONE     international: + then 8..15 digits (E.164) with spaces,
 *            dashes, dots or brackets between groups; national: 10 or 11
 *            digits that start with 0 or have a separator, or "(555)
 *            123-4567". Value: +DIGITS (international) or DIGITS
 *            (national, detail "national").
 *
 * Offsets are bytes and Unicode code points of the input. The text must be
 * valid UTF-8 (ZT_EPARSE otherwise). Thread-safe; allocates nothing. */
#ifndef ZT_ENTITIES_H
#define ZT_ENTITIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

enum zt_entity_type {
    ZT_ENT_URL = 1,
    ZT_ENT_EMAIL,
    ZT_ENT_MENTION,
    ZT_ENT_HASHTAG,
    ZT_ENT_WALLET,
    ZT_ENT_DATE,
    ZT_ENT_DATETIME,
    ZT_ENT_MONEY,
    ZT_ENT_PHONE,
};

#define ZT_ENT_VALUE_MAX 160

struct zt_entity {
    enum zt_entity_type type;
    size_t off, len;       /* bytes */
    size_t cp_off, cp_len; /* code points */
    char value[ZT_ENT_VALUE_MAX]; /* normalised (see above); a longer URL is cut (valid UTF-8) */
    char detail[16];       /* wallet kind, currency code, "national"; "" otherwise */
    double amount;         /* MONEY: the amount */
    bool valid;            /* WALLET: checksum holds (always true for the others) */
};

#define ZT_ENT_DMY 0x01u /* 01/02/2026 is 1 February (default: 2 January) */

struct zt_entities_ref {
    int64_t now;        /* reference time, Unix seconds */
    int32_t utc_offset; /* its UTC offset in minutes (-1080..1080) */
    unsigned flags;     /* ZT_ENT_* */
};

/* Entities of text[0..len) into out[0..max); *n is the number found (when
 * more than max exist the first max are stored and *n is the total).
 * ZT_EPARSE: invalid UTF-8; ZT_EINVAL: a bad reference offset. */
ZT_NODISCARD int zt_entities_extract(const char *text, size_t len, const struct zt_entities_ref *ref,
                                     struct zt_entity *out, size_t max, size_t *n);

/* "url", "email", ... for a type; "unknown" otherwise. */
const char *zt_entity_type_name(enum zt_entity_type t);

/* Parse an ISO 8601 date-time with an explicit offset or Z
 * ("2026-12-01T09:30:00+01:00", seconds optional) into ref->now and
 * ref->utc_offset (flags untouched). ZT_EPARSE otherwise. */
ZT_NODISCARD int zt_entities_parse_time(const char *s, struct zt_entities_ref *ref);

/* Checks used by the extractor, exposed for tests and other features.
 * zt_eth_checksum writes the EIP-55 form of 40 hex digits (any case) into
 * out (43 bytes with "0x" and NUL); returns 0 or ZT_EPARSE. */
ZT_NODISCARD int zt_eth_checksum(const char *hex40, char out[static 43]);
/* true when s[0..n) is a valid mainnet Bitcoin address; *kind as detail. */
bool zt_btc_address_valid(const char *s, size_t n, const char **kind);

#endif
