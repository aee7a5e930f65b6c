/* cmd_features.h: `zentalk spam`, `zentalk entities` (through the node's API)
 * and `zentalk train spam` (local) (internal to src/cli). */
#ifndef ZT_CLI_FEATURES_H
#define ZT_CLI_FEATURES_H

/* argv[0] is the command word. Return the process exit status. */
int zt__cli_spam(int argc, char **argv);
int zt__cli_entities(int argc, char **argv);
int zt__cli_train(int argc, char **argv);

#endif
