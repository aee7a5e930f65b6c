/* cmd_jobs.h: `zentalk jobs` (internal to the CLI): an orchestrator's most
 * recent jobs and their states (GET /v1/orchestrator/jobs, role admin).
 * The caller has called json_set_alloc_funcs(). */
#ifndef ZT_CLI_JOBS_H
#define ZT_CLI_JOBS_H

#include <stdbool.h>

/* One line per job (id, state, model, worker, attempts, tokens), or the
 * answer as JSON. Returns the exit status: 0, 1. */
int zt__cli_jobs(const char *url, bool as_json);

#endif
