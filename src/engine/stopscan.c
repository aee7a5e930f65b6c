/* stopscan.c: stop-string matching over streamed text. See stopscan.h. */
#include "stopscan.h"

#include <string.h>

static const char *find(const char *h, size_t hl, const char *n, size_t nl)
{
    for (size_t i = 0; nl && i + nl <= hl; i++)
        if (h[i] == n[0] && memcmp(h + i, n, nl) == 0) return h + i;
    return NULL;
}

bool zt__stop_scan(const char *t, size_t len, const char *const *stops, size_t n_stop, bool final,
                   size_t *emit)
{
    size_t cut = len;
    bool stopped = false;
    for (size_t s = 0; s < n_stop && len > 0; s++) {
        const char *hit = find(t, len, stops[s], strlen(stops[s]));
        if (hit && (size_t)(hit - t) < cut) {
            cut = (size_t)(hit - t);
            stopped = true;
        }
    }
    size_t keep_from = cut;
    if (!stopped && !final) {
        /* hold back the longest suffix that is a proper prefix of a stop string */
        for (size_t s = 0; s < n_stop && len > 0; s++) {
            size_t sl = strlen(stops[s]);
            for (size_t k = sl ? sl - 1 : 0; k > 0; k--) {
                if (k <= len && memcmp(t + len - k, stops[s], k) == 0) {
                    if (len - k < keep_from) keep_from = len - k;
                    break;
                }
            }
        }
    }
    *emit = keep_from;
    return stopped;
}
