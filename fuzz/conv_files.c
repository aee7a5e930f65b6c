/* fuzz/conv_files.c: the data-file parsers of the conversation features:
 * the intent cue file (zt_intent_model_parse), the response bank
 * (zt_reply_bank_parse), the stopwords payload (zt_stopwords_parse) and the
 * translation rewrites (zt_translate_rules_parse, then applied to a probe
 * and the input, and zt_translate_tidy of the input); the first byte picks
 * one. Rewritten and tidied UTF-8 stays UTF-8. Properties: a refusal is ZT_EPARSE with a
 * "t.txt:LINE: ..." message (or the missing-section message) and no
 * result; an accepted cue file detects intents of any text; an accepted
 * bank always yields three distinct replies. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_intent.h"
#include "zentalk/zt_replies.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_summarize.h"
#include "zentalk/zt_translate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct zt_intent_model *builtin;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (!builtin && zt_intent_model_builtin(&builtin, err, sizeof err)) abort();
    if (size < 1 || size > 16384) return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    static const char probe[] = "Hi! Can you send the file by Friday? Thanks";
    switch (data[0] % 4) {
    case 0: {
        struct zt_intent_model *m = NULL;
        int rc = zt_intent_model_parse(s, n, "t.txt", &m, err, sizeof err);
        if (rc == 0) {
            struct zt_intent_result r;
            if (zt_intent_detect(m, probe, sizeof probe - 1, &r) != 0 || r.n == 0 || r.n > ZT_INTENT_COUNT) abort();
            if (zt_intent_detect(m, s, n, &r) == 0 && r.n == 0) abort();
            zt_intent_model_free(m);
        } else if (rc != ZT_ENOMEM && (rc != ZT_EPARSE || m || strncmp(err, "t.txt", 5) != 0)) {
            abort();
        }
        break;
    }
    case 1: {
        struct zt_reply_bank *b = NULL;
        int rc = zt_reply_bank_parse(s, n, "t.txt", &b, err, sizeof err);
        if (rc == 0) {
            struct zt_conv_msg m = {"a", 1, probe, sizeof probe - 1};
            struct zt_replies_result r;
            if (zt_replies_suggest(b, builtin, NULL, &m, 1, NULL, 0, 0.0, &r) != 0 || r.n != ZT_REPLIES_N) abort();
            zt_reply_bank_free(b);
        } else if (rc != ZT_ENOMEM && (rc != ZT_EPARSE || b || strncmp(err, "t.txt", 5) != 0)) {
            abort();
        }
        break;
    }
    case 3: {
        struct zt_translate_rules *rs = NULL;
        int rc = zt_translate_rules_parse(s, n, "t.txt", &rs, err, sizeof err);
        if (rc == 0) {
            struct zt_buf b;
            zt_buf_init(&b, 1u << 20);
            if (zt_translate_rules_apply(rs, false, "eng", probe, sizeof probe - 1, &b) != 0 || !zt_utf8_valid(b.data, b.len))
                abort();
            if (zt_utf8_valid(s, n)) {
                zt_buf_reset(&b);
                int r2 = zt_translate_rules_apply(rs, true, "spa", s, n, &b);
                if (r2 == 0 && !zt_utf8_valid(b.data ? b.data : "", b.len)) abort();
            }
            zt_buf_deinit(&b);
            zt_translate_rules_free(rs);
        } else if (rc != ZT_ENOMEM && (rc != ZT_EPARSE || rs || strncmp(err, "t.txt", 5) != 0)) {
            abort();
        }
        if (zt_utf8_valid(s, n)) {
            struct zt_buf b;
            zt_buf_init(&b, 1u << 20);
            if (zt_translate_tidy(probe, sizeof probe - 1, "spa", s, n, &b) == 0 && !zt_utf8_valid(b.data ? b.data : "", b.len))
                abort();
            zt_buf_deinit(&b);
        }
        break;
    }
    case 2: {
        struct zt_stopwords *sw = NULL;
        int rc = zt_stopwords_parse(s, n, &sw);
        if (rc == 0) {
            struct zt_conv_msg m = {"a", 1, probe, sizeof probe - 1};
            struct zt_summary sum;
            if (zt_summarize(builtin, sw, &m, 1, 0, 0.0, &sum) != 0) abort();
            zt_summary_deinit(&sum);
            zt_stopwords_free(sw);
        } else if (rc != ZT_EPARSE && rc != ZT_ENOMEM) {
            abort();
        }
        break;
    }
    }
    return 0;
}
