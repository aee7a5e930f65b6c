#ifndef ZT_CLI_WEBHOOKS_H
#define ZT_CLI_WEBHOOKS_H

/* argv[0] is "webhooks". Returns the exit status: 0, 1 error, 2 usage. */
int zt__cli_webhooks(int argc, char **argv);

#endif
