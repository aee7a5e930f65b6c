/* context.c: conversation context under a token budget (zt_context.h). */
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_context.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_text.h"

long zt_context_estimate(const char *text, size_t len)
{
    if (!zt_utf8_valid(text, len)) return ZT_EPARSE;
    if (len == 0) return 0;
    struct zt_token stack[256], *toks = stack;
    size_t n = 0;
    int rc = zt_text_tokenize_all(text, len, stack, 256, &toks, &n);
    if (rc) return rc;
    size_t words = 0, other = 0;
    for (size_t i = 0; i < n; i++) {
        enum zt_tok_kind k = toks[i].kind;
        if (k == ZT_TOK_WORD || k == ZT_TOK_NUMBER || k == ZT_TOK_URL) words++;
        else other++;
    }
    if (toks != stack) zt_free(toks);
    return (long)((words * 13 + 9) / 10 + other);
}

static long est_cb(const char *text, size_t len, void *ud)
{
    (void)ud;
    return zt_context_estimate(text, len);
}

/* "FROM: " + text[0..tlen) + "\n" into b */
static int line(struct zt_buf *b, const struct zt_ctx_msg *m, size_t tlen)
{
    int rc = zt_buf_append_str(b, m->from ? m->from : "");
    if (!rc) rc = zt_buf_append(b, ": ", 2);
    if (!rc && tlen) rc = zt_buf_append(b, m->text, tlen);
    if (!rc) rc = zt_buf_append_byte(b, '\n');
    return rc;
}

static long line_tokens(struct zt_buf *b, const struct zt_ctx_msg *m, size_t tlen, zt_ctx_count_fn count, void *ud)
{
    zt_buf_reset(b);
    int rc = line(b, m, tlen);
    if (rc) return rc;
    return count(b->data, b->len, ud);
}

int zt_context_build(const struct zt_ctx_msg *msgs, size_t n, size_t budget, zt_ctx_count_fn count, void *ud,
                     struct zt_ctx_result *r)
{
    struct zt_ctx_result res = {0};
    struct zt_buf b;
    zt_buf_init(&b, (size_t)1 << 30);
    int rc = 0;
    if (!count) count = est_cb;
    for (size_t i = 0; i < n; i++) {
        const char *from = msgs[i].from ? msgs[i].from : "";
        if (!zt_utf8_valid(msgs[i].text, msgs[i].len) || !zt_utf8_valid(from, strlen(from))) {
            rc = ZT_EPARSE;
            goto out;
        }
    }
    size_t used = 0;
    for (size_t k = n; k > 0; k--) {
        const struct zt_ctx_msg *m = &msgs[k - 1];
        long t = line_tokens(&b, m, m->len, count, ud);
        if (t < 0) {
            rc = (int)t;
            goto out;
        }
        if (used + (size_t)t <= budget) {
            used += (size_t)t;
            res.first = k - 1;
            res.n++;
            if (k == n) res.last_len = m->len;
            continue;
        }
        if (k == n) {
            /* the newest alone is too long: the longest prefix whose line
             * fits, by bisection over code-point boundaries */
            size_t lo = 0, hi = m->len; /* lo fits (checked below), hi does not */
            long t0 = line_tokens(&b, m, 0, count, ud);
            if (t0 < 0) {
                rc = (int)t0;
                goto out;
            }
            if ((size_t)t0 > budget) break;
            size_t lo_tokens = (size_t)t0;
            while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                while (mid > lo && ((uint8_t)m->text[mid] & 0xC0) == 0x80) mid--;
                if (mid == lo) {
                    mid = lo + 1;
                    while (mid < hi && ((uint8_t)m->text[mid] & 0xC0) == 0x80) mid++;
                    if (mid >= hi) break;
                }
                long tm = line_tokens(&b, m, mid, count, ud);
                if (tm < 0) {
                    rc = (int)tm;
                    goto out;
                }
                if ((size_t)tm <= budget) lo = mid, lo_tokens = (size_t)tm;
                else hi = mid;
            }
            used = lo_tokens;
            res.first = n - 1;
            res.n = 1;
            res.truncated = true;
            res.last_len = lo;
        }
        break;
    }
    res.tokens = used;
    *r = res;
out:
    zt_buf_deinit(&b);
    return rc;
}

int zt_context_render(const struct zt_ctx_msg *msgs, const struct zt_ctx_result *r, struct zt_buf *out)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct zt_ctx_msg *m = &msgs[r->first + i];
        int rc = line(out, m, i + 1 == r->n ? r->last_len : m->len);
        if (rc) return rc;
    }
    return 0;
}
