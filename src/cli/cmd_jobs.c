/* cmd_jobs.c: `zentalk jobs` (cmd_jobs.h). */
#include "cmd_jobs.h"

#include <jansson.h>
#include <stdio.h>

#include "cmd.h"
#include "cmd_nodes.h"

int zt__cli_jobs(const char *url, bool as_json)
{
    bool printed;
    json_t *j = zt__cli_get_object(url, "/v1/orchestrator/jobs", as_json, &printed);
    if (!j) return printed ? 0 : 1;
    json_t *jobs = json_object_get(j, "jobs");
    printf("%-32s %-9s %-16s %-36s %-4s %-6s %s\n", "JOB", "STATE", "MODEL", "WORKER", "TRY", "TOKENS", "REASON");
    size_t i;
    json_t *x;
    json_array_foreach(jobs, i, x) {
        const char *w = json_string_value(json_object_get(x, "worker"));
        const char *why = json_string_value(json_object_get(x, "reason"));
        printf("%-32s %-9s %-16.16s %-36s %-4d %-6d %s\n", json_string_value(json_object_get(x, "job_id")),
               json_string_value(json_object_get(x, "state")), json_string_value(json_object_get(x, "model")),
               w && w[0] ? w : "-", (int)json_integer_value(json_object_get(x, "attempts")),
               (int)json_integer_value(json_object_get(x, "tokens")), why ? why : "");
    }
    printf("%zu job(s) shown, %d queued\n", json_array_size(jobs), (int)json_integer_value(json_object_get(j, "queued")));
    json_decref(j);
    return 0;
}
