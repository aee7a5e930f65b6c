/* fuzz/gdpr_request.c: the parsers of POST /v1/privacy/{export,erase}
 * (src/privacy/gdpr.c): the request body (zt_gdpr_parse) and the audit
 * line matcher that export and erase run over every audit line
 * (zt_gdpr_audit_match; the lines are the node's own, but a damaged or
 * hand-edited file is untrusted input). Properties: an accepted body has
 * no identity or one of 1..ZT_AUTH_ID_MAX-1 bytes without control
 * characters; a refusal always says why; the matcher answers 0, 1 or 2,
 * gives an entry exactly when it matches, 1 only for an entry whose
 * identity or subject is the pseudonym and 2 only for one whose identity
 * is the identity; nothing leaks. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_auth.h"
#include "zentalk/zt_gdpr.h"
#include "zentalk/zt_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char PS[] = "p:0123456789abcdef0123456789abcdef";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 16)) return 0;
    int64_t live = zt_alloc_live();
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (j) {
        const char *id = (const char *)1;
        char why[160] = "";
        int rc = zt_gdpr_parse(j, &id, why, sizeof why);
        if (rc) {
            if (rc != ZT_EINVAL || why[0] == '\0') abort();
        } else if (id) {
            size_t n = strlen(id);
            if (n == 0 || n >= ZT_AUTH_ID_MAX) abort();
            for (size_t i = 0; i < n; i++)
                if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f) abort();
        }
        json_decref(j);
    }
    /* the input as an audit line, against a fixed pseudonym and identities
     * that are plain or need escaping */
    static const char *const ids[] = {"alice", "wallet:0xabc", "\xc3\xa9l\"a", NULL};
    for (size_t k = 0; k < 4; k++) {
        json_t *e = NULL;
        int m = zt_gdpr_audit_match((const char *)data, size, PS, ids[k], &e);
        if (m < 0 || m > 2) abort();
        if ((m != 0) != (e != NULL)) abort();
        if (m == 1) { /* the entry really names the pseudonym */
            const char *w = json_string_value(json_object_get(e, "identity"));
            const char *sj = json_string_value(json_object_get(e, "subject"));
            if (!(w && strcmp(w, PS) == 0) && !(sj && strcmp(sj, PS) == 0)) abort();
        }
        if (m == 2 && strcmp(json_string_value(json_object_get(e, "identity")), ids[k]) != 0) abort();
        json_decref(e);
        if (zt_gdpr_audit_match((const char *)data, size, NULL, ids[k], NULL) == 1) abort();
    }
    if (zt_alloc_live() != live) abort();
    return 0;
}
