/* annotate.c: the live annotation protocol: events in, annotations out,
 * the annotators and each connection's conversations. See zt_annotate.h,
 * docs/api.md and docs/internals/websocket.md. */
#include "zentalk/zt_annotate.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define MAX_CONVS 32          /* conversations with annotator state per connection */
#define MAX_ID_BYTES 256      /* conversation, id, from */

struct conv {
    char *id;                 /* NULL: free slot */
    uint64_t last_used;
    void *state[ZT_ANNOTATORS_MAX];
};

struct zt_annot_convs {
    struct conv c[MAX_CONVS];
    uint64_t clock;
};

struct zt_annot_engine {
    struct zt_annotator ann[ZT_ANNOTATORS_MAX];
    size_t n_ann;
    size_t max_message;
};

/* ---- the "basic" annotator ---------------------------------------------- */

static int basic_annotate(void *ud, const struct zt_annot_msg *m, void **conv_state, json_t *a)
{
    (void)ud, (void)conv_state;
    size_t chars = 0, lines = m->text_len ? 1 : 0;
    for (size_t i = 0; i < m->text_len; i++) {
        unsigned char c = (unsigned char)m->text[i];
        if ((c & 0xc0) != 0x80) chars++; /* count lead bytes: code points */
        if (c == '\n') lines++;
    }
    char iso[ZT_TIME_ISO_LEN];
    zt_time_iso8601(iso, sizeof iso, m->received_ms);
    int rc = json_object_set_new(a, "bytes", json_integer((json_int_t)m->text_len));
    rc |= json_object_set_new(a, "chars", json_integer((json_int_t)chars));
    rc |= json_object_set_new(a, "lines", json_integer((json_int_t)lines));
    rc |= json_object_set_new(a, "received_at", json_string(iso));
    rc |= json_object_set_new(a, "received_at_ms", json_integer((json_int_t)m->received_ms));
    return rc ? ZT_ENOMEM : 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

int zt_annot_new(size_t max_message, struct zt_annot_engine **out)
{
    struct zt_annot_engine *e = zt_calloc(1, sizeof *e);
    if (!e) return ZT_ENOMEM;
    e->max_message = max_message;
    struct zt_annotator basic = {.name = "basic", .annotate = basic_annotate};
    zt_ignore(zt_annot_add(e, &basic));
    *out = e;
    return 0;
}

void zt_annot_free(struct zt_annot_engine *e)
{
    zt_free(e);
}

size_t zt_annot_names(const struct zt_annot_engine *e, const char **names, size_t cap)
{
    for (size_t i = 0; i < e->n_ann && i < cap; i++) names[i] = e->ann[i].name;
    return e->n_ann;
}

size_t zt_annot_max_message(const struct zt_annot_engine *e)
{
    return e->max_message;
}

json_t *zt_annot_hello_event(const struct zt_annot_engine *e)
{
    const char *nv[ZT_ANNOTATORS_MAX];
    size_t n = zt_annot_names(e, nv, ZT_ANNOTATORS_MAX);
    json_t *names = json_array();
    for (size_t i = 0; i < n && names; i++) json_array_append_new(names, json_string(nv[i]));
    return json_pack("{s:s,s:i,s:I,s:o*}", "type", "hello", "version", ZT_ANNOT_PROTOCOL_VERSION, "max_message_bytes",
                     (json_int_t)zt_annot_max_message(e), "annotators", names);
}

json_t *zt_annot_error_event(const char *id, const char *code, const char *msg)
{
    return json_pack("{s:s,s:s*,s:{s:s,s:s}}", "type", "error", "id", id, "error", "code", code, "message", msg);
}

int zt_annot_add(struct zt_annot_engine *ws, const struct zt_annotator *a)
{
    if (!a || !a->name || !a->name[0] || !a->annotate) return ZT_EINVAL;
    if (ws->n_ann >= ZT_ANNOTATORS_MAX) return ZT_ETOOBIG;
    ws->ann[ws->n_ann++] = *a;
    return 0;
}

struct zt_annot_convs *zt_annot_convs_new(void)
{
    return zt_calloc(1, sizeof(struct zt_annot_convs));
}

static void conv_clear(struct zt_annot_engine *ws, struct conv *c)
{
    for (size_t i = 0; i < ws->n_ann; i++)
        if (c->state[i] && ws->ann[i].conv_free) ws->ann[i].conv_free(ws->ann[i].ud, c->state[i]);
    zt_free(c->id);
    memset(c, 0, sizeof *c);
}

void zt_annot_convs_free(struct zt_annot_engine *ws, struct zt_annot_convs *cv)
{
    if (!cv) return;
    for (size_t i = 0; i < MAX_CONVS; i++)
        if (cv->c[i].id) conv_clear(ws, &cv->c[i]);
    zt_free(cv);
}

/* The conversation's slot, created (evicting the least recently used) when
 * new. NULL when out of memory. */
static struct conv *conv_get(struct zt_annot_engine *ws, struct zt_annot_convs *cv, const char *id)
{
    struct conv *lru = &cv->c[0], *freec = NULL;
    for (size_t i = 0; i < MAX_CONVS; i++) {
        struct conv *c = &cv->c[i];
        if (c->id && strcmp(c->id, id) == 0) {
            c->last_used = ++cv->clock;
            return c;
        }
        if (!c->id && !freec) freec = c;
        if (c->id && c->last_used < lru->last_used) lru = c;
    }
    struct conv *c = freec ? freec : lru;
    if (c->id) conv_clear(ws, c);
    c->id = zt_strdup(id);
    if (!c->id) return NULL;
    c->last_used = ++cv->clock;
    return c;
}

/* ---- events ------------------------------------------------------------- */

/* A required or optional string field of at most max bytes. */
static bool str_field(json_t *ev, const char *name, bool required, size_t max, const char **out, char *msg,
                      size_t ml)
{
    json_t *v = json_object_get(ev, name);
    *out = NULL;
    if (!v && !required) return true;
    if (!json_is_string(v) || (required && json_string_length(v) == 0) || json_string_length(v) > max ||
        memchr(json_string_value(v), '\0', json_string_length(v))) {
        snprintf(msg, ml, "\"%s\" must be a %sstring of at most %zu bytes", name, required ? "non-empty " : "",
                 max);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

static json_t *on_message(struct zt_annot_engine *ws, struct zt_annot_convs *cv, json_t *ev)
{
    char msg[160];
    const char *conv_id, *id, *from, *text, *lang, *to;
    if (!str_field(ev, "id", true, MAX_ID_BYTES, &id, msg, sizeof msg))
        return zt_annot_error_event(NULL, "invalid_event", msg);
    if (!str_field(ev, "conversation", true, MAX_ID_BYTES, &conv_id, msg, sizeof msg) ||
        !str_field(ev, "from", false, MAX_ID_BYTES, &from, msg, sizeof msg) ||
        !str_field(ev, "text", false, ws->max_message, &text, msg, sizeof msg) ||
        !str_field(ev, "lang", false, 16, &lang, msg, sizeof msg) ||
        !str_field(ev, "translate_to", false, 16, &to, msg, sizeof msg))
        return zt_annot_error_event(id, "invalid_event", msg);
    if (!text) return zt_annot_error_event(id, "invalid_event", "\"text\" is required (a string)");
    struct conv *c = conv_get(ws, cv, conv_id);
    if (!c) return zt_annot_error_event(id, "internal", "out of memory");
    struct zt_annot_msg m = {
        .conversation = conv_id,
        .id = id,
        .from = from ? from : "",
        .text = text,
        .text_len = json_string_length(json_object_get(ev, "text")),
        .lang = lang,
        .translate_to = to,
        .received_ms = zt_time_real_ms(),
        .event = ev,
    };
    json_t *a = json_object(), *errors = json_object();
    if (!a || !errors) {
        json_decref(a);
        json_decref(errors);
        return zt_annot_error_event(id, "internal", "out of memory");
    }
    for (size_t i = 0; i < ws->n_ann; i++) {
        int rc = ws->ann[i].annotate(ws->ann[i].ud, &m, &c->state[i], a);
        if (rc) json_object_set_new(errors, ws->ann[i].name, json_string(zt_strerror(rc)));
    }
    if (json_object_size(errors)) json_object_set_new(a, "errors", errors);
    else json_decref(errors);
    return json_pack("{s:s,s:s,s:s,s:o}", "type", "annotations", "conversation", conv_id, "id", id, "annotations",
                     a);
}

json_t *zt_annot_handle_event(struct zt_annot_engine *ws, struct zt_annot_convs *cv, const char *text, size_t len)
{
    json_error_t err;
    json_t *ev = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!ev) {
        char msg[256];
        snprintf(msg, sizeof msg, "invalid JSON at line %d, column %d: %s", err.line, err.column, err.text);
        return zt_annot_error_event(NULL, "invalid_json", msg);
    }
    json_t *out;
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!json_is_object(ev)) out = zt_annot_error_event(NULL, "invalid_event", "an event is a JSON object");
    else if (!type) out = zt_annot_error_event(NULL, "invalid_event", "\"type\" is required (\"message\" or \"ping\")");
    else if (zt_str_eq(type, "message")) out = on_message(ws, cv, ev);
    else if (zt_str_eq(type, "ping")) out = json_pack("{s:s}", "type", "pong");
    else out = zt_annot_error_event(NULL, "unknown_type", "unknown event type; known: message, ping");
    json_decref(ev);
    return out;
}

