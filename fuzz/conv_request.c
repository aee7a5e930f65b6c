/* fuzz/conv_request.c: the request parser of the conversation routes
 * (zt_conv_req_parse, src/features/conv_req.c) and, for what it accepts,
 * smart replies and summaries over the compiled-in data; the first byte
 * picks the route, or (0xff) the parser of a model's answer
 * (zt_replies_parse_llm). Properties: accepted requests hold 1..500
 * messages of valid UTF-8; the classical path always gives three distinct
 * replies; summary items lie inside their message; parsed LLM replies are
 * non-empty, bounded, NUL-terminated and distinct. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_conv.h"
#include "zentalk/zt_replies.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_summarize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct zt_intent_model *model;
static struct zt_reply_bank *bank;
static struct zt_stopwords *sw;

static void init(void)
{
    char err[256];
    static const char words[] = "en the\nen a\nen is\nen to\nen and\nen we\nen i\nen you\n";
    if (zt_intent_model_builtin(&model, err, sizeof err) || zt_reply_bank_builtin(&bank, err, sizeof err) ||
        zt_stopwords_parse(words, sizeof words - 1, &sw))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!model) init();
    if (size < 1 || size > 8192) return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] == 0xff) {
        char out[ZT_REPLIES_N][ZT_REPLY_MAX + 1];
        size_t k = zt_replies_parse_llm(s, n, out);
        if (k > ZT_REPLIES_N) abort();
        for (size_t i = 0; i < k; i++) {
            size_t l = strnlen(out[i], ZT_REPLY_MAX + 1);
            if (l == 0 || l > ZT_REPLY_MAX || !zt_utf8_valid(out[i], l)) abort();
            for (size_t j = 0; j < i; j++)
                if (zt_str_eq_ci(out[i], out[j])) abort();
        }
        return 0;
    }
    bool summarize = data[0] & 1;
    json_t *body = json_loadb(s, n, 0, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    struct zt_conv_req r;
    char err[256];
    if (zt_conv_req_parse(body, summarize, &r, err, sizeof err) == 0) {
        if (r.n == 0 || r.n > ZT_CONV_MAX_MESSAGES) abort();
        for (size_t i = 0; i < r.n; i++)
            if (r.msgs[i].len == 0 || !zt_utf8_valid(r.msgs[i].text, r.msgs[i].len)) abort();
        if (summarize) {
            struct zt_summary sm;
            int rc = zt_summarize(model, sw, r.msgs, r.n, (size_t)r.max_sentences, 0.5, &sm);
            if (rc == 0) {
                for (size_t i = 0; i < sm.n_key; i++)
                    if (sm.key[i].msg >= r.n || sm.key[i].off + sm.key[i].len > r.msgs[sm.key[i].msg].len) abort();
                for (size_t i = 0; i < sm.n_actions; i++)
                    if (sm.actions[i].msg >= r.n || (sm.actions[i].assignee != SIZE_MAX && sm.actions[i].assignee >= r.n))
                        abort();
                zt_summary_deinit(&sm);
            } else if (rc != ZT_ETOOBIG) {
                abort();
            }
        } else {
            struct zt_replies_result rr;
            if (zt_replies_suggest(bank, model, NULL, r.msgs, r.n, r.me, r.me_len, 0.5, &rr) != 0) abort();
            if (rr.n != ZT_REPLIES_N || rr.target >= r.n) abort();
        }
        zt_conv_req_deinit(&r);
    } else if (!err[0]) {
        abort(); /* every refusal says why */
    }
    json_decref(body);
    return 0;
}
