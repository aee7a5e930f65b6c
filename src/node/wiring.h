/* wiring.h: the features that use one another, connected at start-up
 * (internal to src/node, the composition root; docs/internals/wiring.md).
 *
 *  - translation without "source": the language identifier detects it;
 *  - smart replies: ranked by the conversation's sentiment, and a
 *    suggestion moderation would flag is never offered;
 *  - the WebSocket /v1/ws annotates each message live with its language,
 *    sentiment, spam verdict, moderation verdict and three smart replies
 *    (per conversation, from the last messages of that conversation).
 * A feature whose data is missing (asset not installed) or that is
 * disabled in features.yaml is simply not wired: the annotation is absent
 * and the other features work without it. Everything wired is read-only
 * after start-up and safe to call from every thread. */
#ifndef ZT_NODE_WIRING_H
#define ZT_NODE_WIRING_H

#include "zentalk/zt_config.h"
#include "zentalk/zt_error.h"

struct zt_lexfeat;
struct zt_spamfeat;
struct zt_convfeat;
struct zt_translate;
struct zt_annot_engine;
struct zt__wiring;

/* Wire the features together (all borrowed; they must outlive the
 * wiring). ZT_ENOMEM, or the annotator table's ZT_ETOOBIG. */
ZT_NODISCARD int zt__wiring_new(const struct zt_config *cfg, struct zt_lexfeat *lex, struct zt_spamfeat *spam,
                                struct zt_convfeat *conv, struct zt_translate *tr, struct zt_annot_engine *eng,
                                struct zt__wiring **out);
/* Which hooks and annotators were wired, for the start-up log. */
const char *zt__wiring_summary(const struct zt__wiring *w);
void zt__wiring_free(struct zt__wiring *w);

#endif
