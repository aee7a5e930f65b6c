/* progress.h: a progress bar on stderr for long CLI work (internal to src/cli). */
#ifndef ZT_CLI_PROGRESS_H
#define ZT_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

/* A bar redrawn in place: "WHAT [=====     ]  42%  DONE/TOTAL UNIT". It draws
 * only when stderr is a terminal (scripts and logs never see it) and only
 * when the percentage moved. */
struct zt__cli_bar {
    const char *what; /* "loading", "indexing" */
    const char *unit; /* "messages"; NULL: no counts, percent only */
    bool tty;
    int last_pct;
    bool drawn;
};

void zt__cli_bar_init(struct zt__cli_bar *b, const char *what, const char *unit);
void zt__cli_bar_update(struct zt__cli_bar *b, uint64_t done, uint64_t total);
/* Ends the line when a bar was drawn. */
void zt__cli_bar_end(struct zt__cli_bar *b);

#endif
