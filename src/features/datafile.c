/* datafile.c: reading the features' line-oriented data files
 * (config/intents.txt, config/replies.txt): conv_util.h. */
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

bool zt__lines_next(struct zt__lines *r, size_t *line, const char **ln, const char **le)
{
    while (r->p < r->end) {
        const char *e = memchr(r->p, '\n', (size_t)(r->end - r->p));
        if (!e) e = r->end;
        const char *a = r->p, *b = e;
        r->p = e < r->end ? e + 1 : r->end;
        (*line)++;
        if (b > a && b[-1] == '\r') b--;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        if (a == b || *a == '#') continue;
        *ln = a;
        *le = b;
        return true;
    }
    return false;
}

const char *zt__line_problem(const char *ln, const char *le)
{
    if (!zt_utf8_valid(ln, (size_t)(le - ln))) return "invalid UTF-8";
    for (const char *c = ln; c < le; c++)
        if ((unsigned char)*c < 0x20 && *c != '\t') return "control character";
    return NULL;
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
