/* cmd_gpus.h: `zentalk gpus`: the compute devices this binary's GPU
 * backends see (internal to the CLI). Returns the exit status. */
#ifndef ZT_CLI_GPUS_H
#define ZT_CLI_GPUS_H

int zt__cli_gpus(int argc, char **argv);

#endif
