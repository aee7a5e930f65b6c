/* zt_chat.h: chat templates. Turns a list of messages into the prompt text a
 * model was trained on. The template is recognised from the GGUF metadata
 * tokenizer.chat_template (a Jinja string we do not execute) by its marker
 * strings; an unrecognised or absent template falls back to ChatML and
 * zt_chat_detect() says so (the caller logs a warning). */
#ifndef ZT_CHAT_H
#define ZT_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "zt_buf.h"
#include "zt_error.h"

enum zt_chat_tmpl {
    ZT_CHAT_CHATML = 0,
    ZT_CHAT_LLAMA2,
    ZT_CHAT_LLAMA3,
    ZT_CHAT_ZEPHYR,
    ZT_CHAT_MISTRAL,
};

struct zt_chat_msg {
    const char *role;    /* "system", "user", "assistant" */
    const char *content;
};

/* Recognise the template text (may be NULL). *fell_back is set when the
 * result is ChatML because nothing matched. */
enum zt_chat_tmpl zt_chat_detect(const char *tmpl, bool *fell_back);
const char *zt_chat_name(enum zt_chat_tmpl t);
/* "chatml", "llama2", "llama3", "zephyr", "mistral" -> template; ZT_EINVAL otherwise. */
ZT_NODISCARD int zt_chat_parse_name(const char *name, enum zt_chat_tmpl *out);

/* Append the formatted conversation to out, ending with the assistant's
 * turn opener when add_generation_prompt. Roles other than system, user and
 * assistant are ZT_EINVAL. The BOS token is not written: the tokenizer adds
 * it. */
ZT_NODISCARD int zt_chat_format(enum zt_chat_tmpl t, const struct zt_chat_msg *msgs, size_t n,
                                bool add_generation_prompt, struct zt_buf *out);

#endif
