/* cmd_search.h: `zentalk search index|query|delete` and `zentalk categorize`
 * (internal to src/cli): thin clients of POST /v1/search/{index,query,delete} and
 * /v1/features/categorize. */
#ifndef ZT_CLI_SEARCH_H
#define ZT_CLI_SEARCH_H

int zt__cli_search(int argc, char **argv);
int zt__cli_categorize(int argc, char **argv);

#endif
