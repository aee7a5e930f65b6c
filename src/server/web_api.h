/* web_api.h: the dashboard (internal to src/server). GET / and GET
 * /ui/{file} answer the static files of src/server/web/, embedded in the
 * binary at build time (cmake/ZtEmbedWeb.cmake writes web_assets.c). The
 * files are public (role none): they hold no data; the page reads the
 * node through the API with the caller's own token (docs/dashboard.md). */
#ifndef ZT_SERVER_WEB_API_H
#define ZT_SERVER_WEB_API_H

#include <stddef.h>

#include "req.h"

/* One embedded file (web_assets.c, generated). */
struct zt__web_asset {
    const char *name;         /* file name under src/server/web/ */
    const char *content_type;
    const unsigned char *data;
    size_t len;
};
extern const struct zt__web_asset zt__web_assets[];
extern const size_t zt__web_n_assets;

/* GET / (index.html) and GET /ui/{file}; ud unused. 404 for a file that
 * is not embedded. */
void zt__web_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
