/* translate_req.c: the schema of a translation request (the body of
 * POST /v1/features/translate). See zt_translate.h. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_str.h"
#include "zentalk/zt_translate.h"

static int bad(const char **code, const char *c, char *msg, size_t ml, const char *m, int status)
{
    *code = c;
    zt_strlcpy(msg, m, ml);
    return status;
}

static int lang_field(json_t *body, const char *name, bool required, const char **out, const char **code,
                      char *msg, size_t ml)
{
    json_t *v = json_object_get(body, name);
    *out = NULL;
    if (!v) {
        if (!required) return 0;
        snprintf(msg, ml, "\"%s\" is required: a language code such as \"spa\" or \"es\"", name);
        *code = "missing_field";
        return 400;
    }
    const char *s = json_string_value(v);
    const char *l3 = s ? zt_translate_lang3(s) : NULL;
    if (!l3) {
        snprintf(msg, ml, "\"%s\" must be an ISO 639-1 or 639-3 language code (such as \"en\" or \"eng\")",
                 name);
        *code = "invalid_language";
        return 400;
    }
    *out = l3;
    return 0;
}

int zt_translate_req_parse(json_t *body, size_t max_bytes, struct zt_translate_req *out, const char **code, char *msg,
                 size_t ml)
{
    struct zt_translate_req r;
    memset(&r, 0, sizeof r);
    if (!json_is_object(body)) return bad(code, "invalid_request", msg, ml, "body must be a JSON object", 400);
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (!zt_str_eq(key, "text") && !zt_str_eq(key, "texts") && !zt_str_eq(key, "source") &&
            !zt_str_eq(key, "target") && !zt_str_eq(key, "keep_unknown_marks"))
            return bad(code, "invalid_request", msg, ml,
                       "unknown field; accepted: text, texts, source, target, keep_unknown_marks", 400);
    }
    json_t *text = json_object_get(body, "text"), *texts = json_object_get(body, "texts");
    if ((text != NULL) == (texts != NULL))
        return bad(code, "missing_field", msg, ml, "give exactly one of \"text\" (a string) or \"texts\" (an array)",
                   400);
    if (text) {
        if (!json_is_string(text)) return bad(code, "invalid_text", msg, ml, "\"text\" must be a string", 400);
        r.texts[0] = json_string_value(text);
        r.lens[0] = json_string_length(text);
        r.n = 1;
    } else {
        size_t n = json_array_size(texts);
        if (!json_is_array(texts) || n == 0)
            return bad(code, "invalid_text", msg, ml, "\"texts\" must be a non-empty array of strings", 400);
        if (n > ZT_TRANSLATE_REQ_MAX_TEXTS)
            return bad(code, "too_many_texts", msg, ml, "\"texts\" holds at most 64 strings", 400);
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(texts, i);
            if (!json_is_string(e))
                return bad(code, "invalid_text", msg, ml, "\"texts\" must be a non-empty array of strings", 400);
            r.texts[i] = json_string_value(e);
            r.lens[i] = json_string_length(e);
        }
        r.n = n;
        r.batch = true;
    }
    for (size_t i = 0; i < r.n; i++) {
        if (r.lens[i] == 0) return bad(code, "invalid_text", msg, ml, "text is empty", 400);
        if (r.lens[i] > max_bytes) {
            snprintf(msg, ml, "text is %zu bytes; features.translate.max_bytes allows %zu", r.lens[i], max_bytes);
            *code = "text_too_large";
            return 413;
        }
        /* jansson gives valid UTF-8; a \u0000 escape is the one thing left */
        if (memchr(r.texts[i], '\0', r.lens[i]) || !zt_utf8_valid(r.texts[i], r.lens[i]))
            return bad(code, "invalid_text", msg, ml, "text must be UTF-8 without NUL characters", 400);
    }
    int st = lang_field(body, "target", true, &r.target3, code, msg, ml);
    if (!st) st = lang_field(body, "source", false, &r.source3, code, msg, ml);
    if (st) return st;
    json_t *km = json_object_get(body, "keep_unknown_marks");
    if (km && !json_is_boolean(km))
        return bad(code, "invalid_request", msg, ml, "\"keep_unknown_marks\" must be true or false", 400);
    r.keep_marks = json_is_true(km);
    *out = r;
    return 0;
}

/* "cat-eng, eng-cat, ..." */
