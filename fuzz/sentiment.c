/* fuzz/sentiment.c: VADER scoring (zt_sentiment_score) over arbitrary
 * bytes, and the lexicon payload reader. The first byte picks the target.
 * Invariants: valid UTF-8 is always scored; compound in [-1, 1]; the
 * proportions are in [0, 1] and sum to about 1 (or are all 0). A small
 * built-in lexicon with the words the rules look at keeps the harness
 * independent of `make data`. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_sentiment.h"
#include "zentalk/zt_str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char lexicon[] =
    "good\t1.9\t0\t[]\nbad\t-2.5\t0\t[]\nlove\t3.2\t0\t[]\nhate\t-2.7\t0\t[]\nkind\t2.4\t0\t[]\n"
    "funny\t1.9\t0\t[]\nhorrible\t-2.5\t0\t[]\n:)\t2.0\t0\t[]\n:(\t-1.9\t0\t[]\nlol\t1.8\t0\t[]\n"
    "sux\t-1.5\t0\t[]\nshit\t-2.6\t0\t[]\nbomb\t-2.2\t0\t[]\nright\t0.9\t0\t[]\ndeath\t-2.9\t0\t[]\n"
    ":d\t2.3\t0\t[]\n<3\t1.9\t0\t[]\nsad\t-2.1\t0\t[]\n";

static struct zt_sentiment *lex;

static void check(const struct zt_sentiment_result *r)
{
    if (!(r->compound >= -1 && r->compound <= 1)) abort();
    if (!(r->pos >= 0 && r->pos <= 1 && r->neu >= 0 && r->neu <= 1 && r->neg >= 0 && r->neg <= 1)) abort();
    double s = r->pos + r->neu + r->neg;
    if (s != 0 && fabs(s - 1) > 0.01) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!lex) {
        uint8_t *p = NULL;
        size_t n = 0;
        if (zt_sentiment_build_payload(lexicon, sizeof lexicon - 1, &p, &n, NULL) != 0 ||
            zt_sentiment_from_payload(p, n, &lex) != 0)
            abort();
        zt_free(p);
    }
    if (size == 0 || size > 16384) return 0;
    const char *s = (const char *)data + 1;
    size_t len = size - 1;
    struct zt_sentiment_result r;
    if (data[0] & 1) {
        struct zt_sentiment *x = NULL;
        if (zt_sentiment_from_payload(s, len, &x) == 0) {
            if (zt_sentiment_score(x, "not so good :) but BAD!!", 24, &r) != 0) abort();
            check(&r);
            zt_sentiment_free(x);
        }
        uint8_t *p = NULL;
        size_t n = 0;
        if (zt_sentiment_build_payload(s, len, &p, &n, NULL) == 0) {
            if (zt_sentiment_from_payload(p, n, &x) != 0) abort(); /* what we build, we read */
            zt_sentiment_free(x);
            zt_free(p);
        }
        return 0;
    }
    int rc = zt_sentiment_score(lex, s, len, &r);
    if (zt_utf8_valid(s, len) && rc != 0) abort();
    if (rc == 0) check(&r);
    return 0;
}
