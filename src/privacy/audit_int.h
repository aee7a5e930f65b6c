/* audit_int.h: internals of src/privacy/audit.c shared with the tests and
 * the audit-line fuzzer; not part of the public API (zt_audit.h). */
#ifndef ZT_PRIVACY_AUDIT_INT_H
#define ZT_PRIVACY_AUDIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_audit.h"

/* ---- internal, for verify, tests and the fuzzer ---------------------- */
struct zt__audit_line {
    uint64_t seq;
    uint8_t prev[32];
    bool checkpoint;
    bool has_sig;
    int64_t ts_ms;            /* its "ts" (0: absent or not ours) */
    uint8_t sig[ZT_ED25519_SIG_LEN];
};
/* Parse one line (without its newline). 0 or ZT_EPARSE. */
ZT_NODISCARD int zt__audit_parse_line(const char *line, size_t len, struct zt__audit_line *out);
/* The message a checkpoint signs (written to out, NUL-terminated; returns its length). */
size_t zt__audit_cp_message(uint64_t seq, const uint8_t prev[32], char *out, size_t n);

#endif
