/* cmd_run.h: `zentalk run` and `zentalk chat`: local inference from the command
 * line, without a node (internal to the CLI). argv[0] is the command name.
 * Return the process exit status (0, 1 error, 2 usage, 130 interrupted). */
#ifndef ZT_CLI_RUN_H
#define ZT_CLI_RUN_H

int zt__cli_run(int argc, char **argv);
int zt__cli_chat(int argc, char **argv);

#endif
