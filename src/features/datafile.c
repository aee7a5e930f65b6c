/* datafile.c: reading the features' line-oriented data files
 * (config/intents.txt, config/replies.txt, config/translate.txt):
 * conv_util.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "conv_util.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_str.h"

int zt__feat_read_file(const char *path, char **out, size_t *len, char *err, size_t err_size)
{
    if (err_size) err[0] = '\0';
    int rc = zt_file_read(path, ZT__DATA_FILE_MAX, out, len);
    if (rc == ZT_ETOOBIG)
        snprintf(err, err_size, "%s: larger than 1 MiB", path);
    else if (rc == ZT_ENOTFOUND || rc == ZT_EIO)
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
    return rc;
}

/* NULL, or why ln..le cannot be a line of a data file. */
static const char *line_problem(const char *ln, const char *le)
{
    if (!zt_utf8_valid(ln, (size_t)(le - ln))) return "invalid UTF-8";
    for (const char *c = ln; c < le; c++)
        if ((unsigned char)*c < 0x20 && *c != '\t') return "control character";
    return NULL;
}

int zt__dfile_next(struct zt__dfile *d, const char **ln, const char **le)
{
    while (d->p < d->end) {
        const char *e = memchr(d->p, '\n', (size_t)(d->end - d->p));
        if (!e) e = d->end;
        const char *a = d->p, *b = e;
        d->p = e < d->end ? e + 1 : d->end;
        d->line++;
        if (b > a && b[-1] == '\r') b--;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        if (a == b || *a == '#') continue;
        *ln = a;
        *le = b;
        int rc = 1;
        const char *why = line_problem(a, b);
        if (why) ZT__DATA_FAIL("%s", why);
    out:
        return rc;
    }
    return 0;
}

const char *zt__first_field(const char *ln, const char *le, const char **f, size_t *fl)
{
    const char *s = ln;
    *f = ln;
    *fl = 0;
    zt_ignore(zt__next_field(&s, le, f, fl));
    return s;
}

bool zt__next_field(const char **s, const char *e, const char **f, size_t *fl)
{
    const char *p = *s;
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    if (p == e) return false;
    const char *q = p;
    while (q < e && *q != ' ' && *q != '\t') q++;
    *f = p;
    *fl = (size_t)(q - p);
    *s = q;
    return true;
}
