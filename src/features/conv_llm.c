/* conv_llm.c: the generative path of smart replies and summaries
 * (features.smart_replies.model, features.summarize.model): the prompt,
 * cut to the model's context, the chat job, and what the model's answer
 * makes of the classical result (its replies or abstract when usable,
 * otherwise the classical result with "fallback" saying why). No HTTP
 * here: the routes (src/server/conv_api.c) defer the answer and render it.
 * See zt_featset.h. */
#include <jansson.h>
#include <string.h>

#include "zentalk/zt_conv.h"
#include "zentalk/zt_featset.h"
#include "zentalk/zt_infer.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_replies.h"
#include "zentalk/zt_str.h"

#define REPLIES_MAX_TOKENS 64
#define SUMMARY_MAX_TOKENS 160
#define ABSTRACT_MAX 1200 /* bytes of an LLM summary kept */

int zt_convfeat_llm_start(struct zt_infer *ms, const char *model, bool summarize, const struct zt_conv_req *cr,
                          void (*cb)(void *ud, int err, const char *text, size_t len), void *ud, const char **why)
{
    static const char *const SYS_SUMMARY =
        "You summarise chat conversations. Write a short neutral summary of the conversation in two or three "
        "sentences: what was discussed, what was decided, what is left to do.";
    struct zt_buf sys, user, err;
    zt_buf_init(&sys, 4096);
    zt_buf_init(&user, 64u * 1024u);
    zt_buf_init(&err, 512);
    /* smaller windows (estimated tokens, zt_context.h) while the prompt
     * does not fit the model's context */
    static const size_t windows[] = {2048, 512, 128};
    int rc = ZT_ENOMEM;
    for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++) {
        zt_buf_reset(&sys);
        zt_buf_reset(&user);
        zt_buf_reset(&err);
        rc = summarize ? zt_buf_append_str(&sys, SYS_SUMMARY) : 0;
        if (!rc && summarize) rc = zt_buf_append_str(&user, "Conversation:\n");
        if (!rc) rc = summarize ? zt_replies_transcript(cr->msgs, cr->n, windows[w], &user)
                                : zt_replies_prompt(cr->msgs, cr->n, cr->me, cr->me_len, windows[w], &sys, &user);
        if (!rc && summarize) rc = zt_buf_append_str(&user, "Summary:\n");
        if (rc) break;
        json_t *msgs = json_pack("[{s:s,s:s},{s:s,s:s}]", "role", "system", "content", zt_buf_str(&sys), "role",
                                 "user", "content", zt_buf_str(&user));
        if (!msgs) {
            rc = ZT_ENOMEM;
            break;
        }
        rc = zt_infer_chat_run(ms, model, msgs, summarize ? SUMMARY_MAX_TOKENS : REPLIES_MAX_TOKENS, cb, ud, &err);
        json_decref(msgs);
        if (rc != ZT_ETOOBIG) break;
    }
    if (rc) {
        *why = rc == ZT_ETOOBIG     ? "the conversation does not fit the model's context"
               : rc == ZT_ENOTFOUND ? "the configured model is not in models.yaml"
               : rc == ZT_EBUSY     ? "the model is busy"
                                    : "the model could not be loaded";
        if (rc != ZT_ETOOBIG && rc != ZT_EBUSY)
            zt_log_rl(ZT_LOG_WARN, 1, "feature_llm_unavailable", "model=%s error=\"%s\"", model, zt_buf_str(&err));
    }
    zt_buf_deinit(&sys);
    zt_buf_deinit(&user);
    zt_buf_deinit(&err);
    return rc;
}

/* The model's answer: replies (three usable, unflagged ones) or an abstract;
 * NULL with *why set when it is not usable. */
static json_t *llm_result(const struct zt_convfeat *f, bool summarize, json_t *classical, int err, const char *text,
                          size_t len, const char **why)
{
    if (err) {
        *why = err == ZT_ECLOSED ? "the node is shutting down" : "inference failed";
        return NULL;
    }
    json_t *r = json_deep_copy(classical);
    if (!r) {
        *why = "out of memory";
        return NULL;
    }
    if (summarize) {
        const char *a = text, *b = text + len;
        while (a < b && (*a == ' ' || *a == '\n' || *a == '\r' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\n' || b[-1] == '\r' || b[-1] == '\t')) b--;
        size_t l = (size_t)(b - a);
        if (l > ABSTRACT_MAX) {
            l = ABSTRACT_MAX;
            while (l > 0 && ((unsigned char)a[l] & 0xC0) == 0x80) l--;
        }
        if (l == 0 || !zt_utf8_valid(a, l)) {
            json_decref(r);
            *why = "the model's answer was empty";
            return NULL;
        }
        json_object_set_new(r, "summary", json_stringn(a, l));
        json_object_set_new(r, "method", json_string("llm"));
        return r;
    }
    char out[ZT_REPLIES_N][ZT_REPLY_MAX + 1];
    size_t n = zt_replies_parse_llm(text, len, out);
    const struct zt_reply_hooks *h = zt_convfeat_hooks(f);
    json_t *arr = json_array();
    for (size_t i = 0; i < n && arr; i++) {
        if (h->is_flagged && h->is_flagged(out[i], strlen(out[i]), h->flag_ud)) continue;
        json_array_append_new(arr, json_pack("{s:s,s:n,s:n}", "text", out[i], "meaning", "tone"));
    }
    if (json_array_size(arr) < ZT_REPLIES_N) {
        json_decref(arr);
        json_decref(r);
        *why = n < ZT_REPLIES_N ? "the model did not give three distinct replies" : "moderation flagged the model's replies";
        return NULL;
    }
    json_object_set_new(r, "replies", arr);
    json_object_set_new(r, "method", json_string("llm"));
    json_object_del(r, "bank"); /* no bank chose these */
    return r;
}

json_t *zt_convfeat_llm_result(const struct zt_convfeat *f, bool summarize, json_t *classical, int err,
                               const char *text, size_t len)
{
    const char *why = NULL;
    json_t *r = llm_result(f, summarize, classical, err, text, len, &why);
    if (!r) {
        r = json_incref(classical);
        json_object_set_new(r, "fallback", json_string(why));
        zt_log(ZT_LOG_INFO, "feature_llm_fallback", "feature=%s reason=\"%s\"", summarize ? "summarize" : "smart_replies",
               why);
    }
    return r;
}
