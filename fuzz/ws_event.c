/* fuzz/ws_event.c: the /v1/ws event handler (zt_annot_handle_event,
 * src/server/ws_api.c) on arbitrary text. Properties: every input gets exactly
 * one answer event, of type annotations (for a message with id and
 * conversation), pong or error; no crash, no leak across many events on
 * one connection (conversation table eviction included). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_annotate.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct zt_config cfg;
static struct zt_annot_engine *ws;
static struct zt_annot_convs *cv;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ws) {
        if (zt_config_init_defaults(&cfg) != 0 || zt_annot_new((size_t)cfg.server.ws_max_message_bytes, &ws) != 0 || !(cv = zt_annot_convs_new())) abort();
    }
    json_t *a = zt_annot_handle_event(ws, cv, (const char *)data, size);
    if (!a) return 0; /* out of memory */
    const char *type = json_string_value(json_object_get(a, "type"));
    if (!type) abort();
    if (zt_str_eq(type, "annotations")) {
        if (!json_is_string(json_object_get(a, "id")) || !json_is_object(json_object_get(a, "annotations"))) abort();
    } else if (zt_str_eq(type, "error")) {
        if (!json_is_string(json_object_get(json_object_get(a, "error"), "code"))) abort();
    } else if (!zt_str_eq(type, "pong")) {
        abort();
    }
    json_decref(a);
    return 0;
}
