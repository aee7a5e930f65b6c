/* cmd_job.h: `zentalk job run`: seal a job to a worker and verify the sealed
 * result and its receipt (internal to the CLI). The caller has called
 * zt_net_client_global_init() and json_set_alloc_funcs(). argv[0] is "job".
 * Returns the exit status: 0 verified, 1 descriptor/transport/refusal,
 * 2 usage, 3 the result did not verify, 130 interrupted. */
#ifndef ZT_CLI_JOB_H
#define ZT_CLI_JOB_H

int zt__cli_job(int argc, char **argv);

#endif
