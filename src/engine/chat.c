/* chat.c: chat templates recognised by marker strings. See zt_chat.h.
 * The formats follow each model family's published prompt format. */
#include <string.h>

#include "zentalk/zt_chat.h"
#include "zentalk/zt_str.h"

static const char *const names[] = {"chatml", "llama2", "llama3", "zephyr", "mistral"};

const char *zt_chat_name(enum zt_chat_tmpl t)
{
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "unknown";
}

int zt_chat_parse_name(const char *name, enum zt_chat_tmpl *out)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (zt_str_eq(name, names[i])) {
            *out = (enum zt_chat_tmpl)i;
            return 0;
        }
    return ZT_EINVAL;
}

enum zt_chat_tmpl zt_chat_detect(const char *t, bool *fell_back)
{
    *fell_back = false;
    if (t && strstr(t, "<|im_start|>")) return ZT_CHAT_CHATML;
    if (t && strstr(t, "<|start_header_id|>")) return ZT_CHAT_LLAMA3;
    if (t && strstr(t, "<|user|>")) return ZT_CHAT_ZEPHYR;
    if (t && strstr(t, "[INST]")) return strstr(t, "<<SYS>>") ? ZT_CHAT_LLAMA2 : ZT_CHAT_MISTRAL;
    *fell_back = true;
    return ZT_CHAT_CHATML;
}

enum role { SYSTEM, USER, ASSISTANT };

static int role_of(const char *r, enum role *out)
{
    if (zt_str_eq(r, "system")) *out = SYSTEM;
    else if (zt_str_eq(r, "user")) *out = USER;
    else if (zt_str_eq(r, "assistant")) *out = ASSISTANT;
    else return ZT_EINVAL;
    return 0;
}

#define TRY(x)                                                                        \
    do {                                                                              \
        int rc_ = (x);                                                                \
        if (rc_) return rc_;                                                          \
    } while (0)

int zt_chat_format(enum zt_chat_tmpl t, const struct zt_chat_msg *msgs, size_t n, bool gen,
                   struct zt_buf *out)
{
    enum role r;
    for (size_t i = 0; i < n; i++) TRY(role_of(msgs[i].role, &r));
    switch (t) {
    case ZT_CHAT_CHATML:
        for (size_t i = 0; i < n; i++)
            TRY(zt_buf_appendf(out, "<|im_start|>%s\n%s<|im_end|>\n", msgs[i].role, msgs[i].content));
        if (gen) TRY(zt_buf_append_str(out, "<|im_start|>assistant\n"));
        return 0;
    case ZT_CHAT_LLAMA3:
        for (size_t i = 0; i < n; i++)
            TRY(zt_buf_appendf(out, "<|start_header_id|>%s<|end_header_id|>\n\n%s<|eot_id|>", msgs[i].role,
                               msgs[i].content));
        if (gen) TRY(zt_buf_append_str(out, "<|start_header_id|>assistant<|end_header_id|>\n\n"));
        return 0;
    case ZT_CHAT_ZEPHYR:
        for (size_t i = 0; i < n; i++)
            TRY(zt_buf_appendf(out, "<|%s|>\n%s</s>\n", msgs[i].role, msgs[i].content));
        if (gen) TRY(zt_buf_append_str(out, "<|assistant|>\n"));
        return 0;
    case ZT_CHAT_LLAMA2: {
        /* [INST] <<SYS>>\nsys\n<</SYS>>\n\nuser [/INST] answer </s><s>[INST] user2 [/INST] */
        bool in_turn = true;
        TRY(zt_buf_append_str(out, "[INST] "));
        for (size_t i = 0; i < n; i++) {
            zt_ignore(role_of(msgs[i].role, &r));
            if (!in_turn) {
                TRY(zt_buf_append_str(out, "<s>[INST] "));
                in_turn = true;
            }
            if (r == SYSTEM) TRY(zt_buf_appendf(out, "<<SYS>>\n%s\n<</SYS>>\n\n", msgs[i].content));
            else if (r == USER) TRY(zt_buf_appendf(out, "%s [/INST]", msgs[i].content));
            else {
                TRY(zt_buf_appendf(out, " %s </s>", msgs[i].content));
                in_turn = false;
            }
        }
        (void)gen; /* the assistant answers right after [/INST] */
        return 0;
    }
    case ZT_CHAT_MISTRAL: {
        /* [INST]sys\n\nuser[/INST]answer</s>[INST]user2[/INST]; a system
         * message is folded into the next user turn */
        const char *pending_sys = NULL;
        for (size_t i = 0; i < n; i++) {
            zt_ignore(role_of(msgs[i].role, &r));
            if (r == SYSTEM) pending_sys = msgs[i].content;
            else if (r == USER) {
                TRY(zt_buf_append_str(out, "[INST]"));
                if (pending_sys) TRY(zt_buf_appendf(out, "%s\n\n", pending_sys));
                pending_sys = NULL;
                TRY(zt_buf_appendf(out, "%s[/INST]", msgs[i].content));
            } else {
                TRY(zt_buf_appendf(out, "%s</s>", msgs[i].content));
            }
        }
        if (pending_sys) TRY(zt_buf_appendf(out, "[INST]%s[/INST]", pending_sys));
        (void)gen;
        return 0;
    }
    }
    return ZT_EINVAL;
}
