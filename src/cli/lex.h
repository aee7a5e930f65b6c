/* lex.h: `zentalk sentiment|moderate|language|intents [TEXT...]` (internal to
 * src/cli): POST the text (the arguments joined by spaces, or stdin when
 * there are none) to /v1/features/{sentiment,moderate,language,intents} and print
 * the answer (or the raw JSON with --json). */
#ifndef ZT_CLI_LEX_H
#define ZT_CLI_LEX_H

/* argv[0] is the command word; argv may hold -u/--url URL and --json
 * anywhere, and global ones before the command are in gargv[1..gargc).
 * Returns the exit status: 0, 1 (node error or unreachable), 2 (usage). */
int zt__cli_features(int gargc, char **gargv, int argc, char **argv);

#endif
