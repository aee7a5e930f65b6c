/* cmd_conv.h: `zentalk replies` and `zentalk summarize` (conv.c; internal to
 * src/cli). argv[0] is the command name. Exit status: 0, 1 (the node could
 * not be reached or answered an error), 2 (usage). */
#ifndef ZT_CLI_CONV_H
#define ZT_CLI_CONV_H

int zt__cli_replies(int argc, char **argv);
int zt__cli_summarize(int argc, char **argv);

#endif
