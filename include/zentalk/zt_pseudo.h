/* zt_pseudo.h: pseudonymisation of the PII of one job, and its reversal.
 *
 * A struct zt_pseudo is the mapping of one job: each distinct (type, value)
 * found in any message of the job gets one typed pseudonym, <EMAIL_1>,
 * <PHONE_2>, <EMPLOYEE_ID_1>... numbered per type in order of first
 * appearance, so the same value gets the same pseudonym in every message
 * of the job. The values live only in this object, in sodium_malloc'd
 * memory (guard pages, mlock'd where the system allows), wiped and freed by
 * zt_pseudo_free(); they are never written anywhere else.
 *
 *   struct zt_pseudo *p = NULL;
 *   rc = zt_pseudo_new(detector, &p);
 *   rc = zt_pseudo_apply(p, msg, len, &hits, &masked);   // per message
 *   ... the job runs on masked text ...
 *   rc = zt_pseudo_restore(p, result, rlen, &restored);   // pseudonyms back
 *   zt_pseudo_free(p);                                     // end of the job
 *
 * Not thread-safe: one job, one thread at a time. */
#ifndef ZT_PSEUDO_H
#define ZT_PSEUDO_H

#include <stddef.h>

#include "zt_buf.h"
#include "zt_error.h"
#include "zt_pii.h"

#define ZT_PSEUDO_MAX_ENTRIES 4096           /* distinct values per job */
#define ZT_PSEUDO_MAX_BYTES (4u * 1024 * 1024) /* bytes of values per job */
#define ZT_PSEUDO_PSEUDONYM_MAX 48          /* "<" TYPE "_" N ">" + NUL */

struct zt_pseudo;

/* A new, empty mapping. d names the types (may be NULL: built-ins only) and
 * must outlive the mapping. ZT_ENOMEM, ZT_ECRYPTO (libsodium failed to start). */
ZT_NODISCARD int zt_pseudo_new(const struct zt_pii_detector *d, struct zt_pseudo **out);
/* Wipe every value and free. NULL is a no-op. */
void zt_pseudo_free(struct zt_pseudo *p);

/* Append text[0..len) to out with each hit (sorted, non-overlapping, in
 * bounds: what zt_pii_detect() gives; hits the caller chose not to replace
 * may simply be left out) replaced by its pseudonym. ZT_EINVAL for hits
 * out of order or bounds, ZT_ETOOBIG past ZT_PSEUDO_MAX_ENTRIES/BYTES or
 * out's maximum, ZT_ENOMEM. On error out and the mapping are unchanged. */
ZT_NODISCARD int zt_pseudo_apply(struct zt_pseudo *p, const char *text, size_t len,
                                 const struct zt_pii_hits *hits, struct zt_buf *out);

/* Append text[0..len) to out with every pseudonym of this mapping put
 * back to its value (wherever and however often it occurs); anything that
 * only looks like a pseudonym (<EMAIL_99>, <FOO_1>) is left as it is.
 * ZT_ETOOBIG (out's maximum), ZT_ENOMEM; out unchanged on error. The
 * restored text holds the values in clear: the caller owns that buffer. */
ZT_NODISCARD int zt_pseudo_restore(const struct zt_pseudo *p, const char *text, size_t len,
                                   struct zt_buf *out);

/* Streaming restore: the result of a job arrives in pieces, and a
 * pseudonym may be split between two of them ("<EMA" + "IL_1>"). Each
 * feed appends what can be restored now and holds back a tail that could
 * still become a pseudonym (a '<' followed by at most
 * ZT_PSEUDO_PSEUDONYM_MAX - 2 characters of A-Z 0-9 _ and no '>'); the
 * next feed completes it, zt_pseudo_stream_end() flushes it as it is.
 * The held tail never holds a restored value (only the job's output). */
struct zt_pseudo_stream {
    const struct zt_pseudo *p;
    char held[ZT_PSEUDO_PSEUDONYM_MAX];
    size_t n_held;
};

void zt_pseudo_stream_init(struct zt_pseudo_stream *s, const struct zt_pseudo *p);
/* Append the restorable part of held || text[0..len) to out. Errors of
 * zt_pseudo_restore() (out unchanged, the stream unchanged). */
ZT_NODISCARD int zt_pseudo_stream_feed(struct zt_pseudo_stream *s, const char *text, size_t len,
                                       struct zt_buf *out);
/* Append the held tail (restored, though a partial pseudonym stays as it
 * is) and empty it. Errors as zt_pseudo_stream_feed(). */
ZT_NODISCARD int zt_pseudo_stream_end(struct zt_pseudo_stream *s, struct zt_buf *out);
/* Wipe the held tail. */
void zt_pseudo_stream_deinit(struct zt_pseudo_stream *s);

/* Distinct values held. */
size_t zt_pseudo_count(const struct zt_pseudo *p);

#endif
