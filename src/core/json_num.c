/* json_num.c: shortest round-trip numbers (zt_json_num.h). */
#include "zentalk/zt_json_num.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void zt_fmt_double(char *out, size_t n, double d)
{
    if (!n) return;
    if (isfinite(d) && fabs(d) < 1e15 && d == floor(d)) {
        snprintf(out, n, "%.1f", d);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, n, "%.*g", prec, d);
        if (strtod(out, NULL) == d) return;
    }
}

static bool num_char(char c)
{
    return (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
}

int zt_json_shorten_reals(const char *s, size_t len, struct zt_buf *out)
{
    size_t i = 0, from = 0;
    while (i < len) {
        char c = s[i];
        if (c == '"') { /* skip the string, escapes included */
            for (i++; i < len && s[i] != '"'; i++)
                if (s[i] == '\\') i++;
            i++;
            continue;
        }
        if (!(c == '-' || (c >= '0' && c <= '9'))) {
            i++;
            continue;
        }
        size_t start = i;
        bool real = false;
        while (i < len && num_char(s[i])) {
            if (s[i] == '.' || s[i] == 'e' || s[i] == 'E') real = true;
            i++;
        }
        size_t tl = i - start;
        if (!real || tl >= 64) continue;
        char tok[64], best[40];
        memcpy(tok, s + start, tl);
        tok[tl] = '\0';
        char *end = NULL;
        double d = strtod(tok, &end);
        if (!end || *end || !isfinite(d)) continue;
        zt_fmt_double(best, sizeof best, d);
        if (!strpbrk(best, ".eE")) { /* stays a real */
            size_t bl = strlen(best);
            if (bl + 2 < sizeof best) memcpy(best + bl, ".0", 3);
        }
        size_t bl = strlen(best);
        if (bl >= tl) continue; /* never longer than jansson's */
        int rc = zt_buf_append(out, s + from, start - from);
        if (!rc) rc = zt_buf_append(out, best, bl);
        if (rc) return rc;
        from = i;
    }
    return from < len ? zt_buf_append(out, s + from, len - from) : 0;
}
