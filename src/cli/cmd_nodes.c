/* cmd_nodes.c: `zentalk nodes` (cmd_nodes.h). */
#include "cmd_nodes.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "http.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_str.h"

#define MAX_ANSWER (8u << 20)

/* The answer of GET path as a JSON object, or NULL (a message printed); or
 * printed as it is with as_json (*printed set). */
json_t *zt__cli_get_object(const char *url, const char *path, bool as_json, bool *printed)
{
    struct zt_buf body;
    zt_buf_init(&body, MAX_ANSWER);
    long status = 0;
    json_t *j = NULL;
    *printed = false;
    int rc = zt__cli_http_get(url, path, 15000L, &status, &body);
    if (zt__cli_check_answer(rc, status, &body) != 0) goto out;
    if (as_json) {
        fputs(zt_buf_str(&body), stdout);
        fputc('\n', stdout);
        *printed = true;
        goto out;
    }
    j = json_loads(zt_buf_str(&body), 0, NULL);
    if (!json_is_object(j)) {
        fprintf(stderr, "zentalk: the node's %s is not a JSON object\n", path);
        json_decref(j);
        j = NULL;
    }
out:
    zt_buf_deinit(&body);
    return j;
}

int zt__cli_nodes(const char *url, bool as_json)
{
    bool printed;
    json_t *j = zt__cli_get_object(url, "/v1/orchestrator/nodes", as_json, &printed);
    if (!j) return printed ? 0 : 1;
    int64_t now = (int64_t)json_integer_value(json_object_get(j, "now_ms"));
    json_t *nodes = json_object_get(j, "nodes");
    printf("%-36s %-8s %-5s %-9s %-20s %s\n", "NODE", "STATE", "REP", "LOAD", "MODELS", "LAST HEARTBEAT");
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n) {
        char models[64] = "", load[24];
        size_t k;
        json_t *m;
        json_array_foreach(json_object_get(n, "models"), k, m) {
            size_t l = strlen(models);
            snprintf(models + l, sizeof models - l, "%s%s", l ? "," : "", json_string_value(m));
        }
        json_t *ld = json_object_get(n, "load");
        snprintf(load, sizeof load, "%d/%d", (int)json_integer_value(json_object_get(ld, "busy")),
                 (int)json_integer_value(json_object_get(n, "slots")));
        int64_t seen = (int64_t)json_integer_value(json_object_get(n, "last_heartbeat_ms"));
        printf("%-36s %-8s %-5.2f %-9s %-20s %.1fs ago%s\n", json_string_value(json_object_get(n, "node_id")),
               json_string_value(json_object_get(n, "state")), json_number_value(json_object_get(n, "reputation")),
               load, models, (double)(now - seen) / 1000.0,
               json_is_true(json_object_get(n, "banned")) ? "  BANNED"
               : json_is_true(json_object_get(n, "eligible")) ? ""
                                                               : "  (no work)");
        if (zt_str_eq(json_string_value(json_object_get(n, "reachable")), "outbound"))
            printf("%-36s reached through its outbound connection (behind NAT)\n", "");
    }
    printf("%zu worker(s), %d live, %d job(s) queued\n", json_array_size(nodes),
           (int)json_integer_value(json_object_get(j, "live")), (int)json_integer_value(json_object_get(j, "queued")));
    json_decref(j);
    return 0;
}
