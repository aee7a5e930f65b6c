/* conv_req.c: the schema of a conversation request (the body of POST
 * /v1/features/smart-replies and /v1/features/summarize). See zt_conv.h. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_conv.h"
#include "zentalk/zt_str.h"

int zt_conv_req_parse(json_t *body, bool summarize, struct zt_conv_req *out, char *err, size_t err_size)
{
    memset(out, 0, sizeof *out);
    json_t *msgs = json_object_get(body, "messages");
    if (!json_is_array(msgs)) {
        snprintf(err, err_size, "messages must be an array of {\"from\": string, \"text\": string}");
        return ZT_EINVAL;
    }
    size_t n = json_array_size(msgs);
    if (n == 0) {
        snprintf(err, err_size, "messages is empty; at least one message is required");
        return ZT_EINVAL;
    }
    if (n > ZT_CONV_MAX_MESSAGES) {
        snprintf(err, err_size, "too many messages: %zu (at most %d)", n, ZT_CONV_MAX_MESSAGES);
        return ZT_ETOOBIG;
    }
    json_t *me = json_object_get(body, "me");
    if (me && !json_is_null(me)) {
        if (summarize || !json_is_string(me) || json_string_length(me) > ZT_CONV_MAX_FROM) {
            snprintf(err, err_size, summarize ? "me is not a field of this route"
                                              : "me must be a string of at most %d bytes", ZT_CONV_MAX_FROM);
            return ZT_EINVAL;
        }
        out->me = json_string_value(me);
        out->me_len = json_string_length(me);
    }
    json_t *ms = json_object_get(body, "max_sentences");
    if (ms && !json_is_null(ms)) {
        if (!summarize || !json_is_integer(ms) || json_integer_value(ms) < 1 || json_integer_value(ms) > 20) {
            snprintf(err, err_size, summarize ? "max_sentences must be an integer from 1 to 20"
                                              : "max_sentences is not a field of this route");
            return ZT_EINVAL;
        }
        out->max_sentences = (long)json_integer_value(ms);
    }
    out->msgs = zt_calloc(n, sizeof *out->msgs);
    if (!out->msgs) return ZT_ENOMEM;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        json_t *text = json_object_get(m, "text"), *from = json_object_get(m, "from");
        int rc = ZT_EINVAL;
        if (!json_is_object(m)) snprintf(err, err_size, "messages[%zu] must be an object", i);
        else if (!text) snprintf(err, err_size, "messages[%zu].text is missing", i);
        else if (!json_is_string(text)) snprintf(err, err_size, "messages[%zu].text must be a string", i);
        else if (json_string_length(text) == 0) snprintf(err, err_size, "messages[%zu].text is empty", i);
        else if (json_string_length(text) > ZT_CONV_MAX_TEXT) {
            snprintf(err, err_size, "messages[%zu].text is %zu bytes (at most %u)", i, json_string_length(text),
                     ZT_CONV_MAX_TEXT);
            rc = ZT_ETOOBIG;
        } else if (from && !json_is_null(from) && !json_is_string(from))
            snprintf(err, err_size, "messages[%zu].from must be a string", i);
        else if (json_is_string(from) && json_string_length(from) > ZT_CONV_MAX_FROM)
            snprintf(err, err_size, "messages[%zu].from is longer than %d bytes", i, ZT_CONV_MAX_FROM);
        else if (!zt_utf8_valid(json_string_value(text), json_string_length(text)) ||
                 (json_is_string(from) && !zt_utf8_valid(json_string_value(from), json_string_length(from))))
            snprintf(err, err_size, "messages[%zu] is not valid UTF-8 (no NUL characters)", i);
        else rc = 0;
        if (rc) {
            zt_conv_req_deinit(out);
            return rc;
        }
        out->msgs[i] = (struct zt_conv_msg){json_is_string(from) ? json_string_value(from) : "",
                                            json_is_string(from) ? json_string_length(from) : 0,
                                            json_string_value(text), json_string_length(text)};
    }
    out->n = n;
    return 0;
}

void zt_conv_req_deinit(struct zt_conv_req *r)
{
    zt_free(r->msgs);
    memset(r, 0, sizeof *r);
}
