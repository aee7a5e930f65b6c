/* progress.c: the CLI's progress bar (progress.h). */
#include "progress.h"

#include <stdio.h>
#include <unistd.h>

void zt__cli_bar_init(struct zt__cli_bar *b, const char *what, const char *unit)
{
    b->what = what;
    b->unit = unit;
    b->tty = isatty(STDERR_FILENO) != 0;
    b->last_pct = -1;
    b->drawn = false;
}

void zt__cli_bar_update(struct zt__cli_bar *b, uint64_t done, uint64_t total)
{
    if (!b->tty) return;
    if (done > total) done = total;
    int pct = total ? (int)(done * 100 / total) : 100;
    if (pct == b->last_pct) return;
    enum { W = 30 };
    int bar = pct * W / 100;
    fprintf(stderr, "\r%s [%.*s%*s] %3d%%", b->what, bar, "==============================", W - bar, "", pct);
    if (b->unit)
        fprintf(stderr, "  %llu/%llu %s", (unsigned long long)done, (unsigned long long)total, b->unit);
    fputs("\033[K", stderr);
    fflush(stderr);
    b->last_pct = pct;
    b->drawn = true;
}

void zt__cli_bar_end(struct zt__cli_bar *b)
{
    if (b->drawn) fputc('\n', stderr);
    b->drawn = false;
}
