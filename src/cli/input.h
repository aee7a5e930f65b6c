/* input.h: the text a CLI command works on (internal to src/cli). */
#ifndef ZT_CLI_INPUT_H
#define ZT_CLI_INPUT_H

#include <stddef.h>

#include "zentalk/zt_buf.h"

/* Append all of stdin to b (bounded by b's maximum). Trailing newlines
 * ("\n", "\r\n": what `echo text |` adds) are not part of the text.
 * Returns 0; 1 on a read error; 2 when stdin is longer than b allows (the
 * reason printed, "zentalk: ..."). */
int zt__cli_read_stdin(struct zt_buf *b);

/* The text of a command: argv[0..argc) joined by single spaces, or stdin
 * when there are none (or the only one is "-"). Returns 0 with a
 * non-empty, valid UTF-8 text in b; 2 (usage: empty, too long, not UTF-8)
 * or 1 (read error), the reason printed. */
int zt__cli_read_text(int argc, char **argv, struct zt_buf *b);

#endif
