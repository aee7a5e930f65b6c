/* intent_pool.c: intent batches off the caller's thread (POST
 * /v1/features/intents): a pool fair per caller (zt_fair.h) works a
 * batch 16 texts per step and hands the results to the caller's done. No
 * HTTP here. See zt_intent.h. */
#include <jansson.h>
#include <math.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_fair.h"
#include "zentalk/zt_intent.h"

#define INTENT_THREADS 2
#define INTENT_QUEUE 64     /* requests queued or running */
#define INTENT_PER_CALLER 8 /* of them, one caller's */
#define INTENT_STEP 16      /* texts per step */

struct zt_intent_pool {
    const struct zt_intent_model *m; /* borrowed */
    struct zt_fair *pool;
};

static json_t *num3(double v)
{
    return json_real(round(v * 1000.0) / 1000.0);
}

json_t *zt_intent_result_json(const struct zt_intent_result *r)
{
    json_t *labels = json_array();
    for (size_t i = 0; i < r->n && labels; i++)
        json_array_append_new(labels, json_pack("{s:s,s:o}", "intent", zt_intent_name(r->labels[i].intent), "confidence",
                                                num3(r->labels[i].confidence)));
    return json_pack("{s:s,s:o,s:o*,s:b}", "intent", zt_intent_name(r->labels[0].intent), "confidence",
                     num3(r->labels[0].confidence), "labels", labels, "has_time", r->has_time);
}

int zt_intent_pool_new(const struct zt_intent_model *m, struct zt_intent_pool **out)
{
    struct zt_intent_pool *p = zt_calloc(1, sizeof *p);
    if (!p) return ZT_ENOMEM;
    p->m = m;
    int rc = zt_fair_new(INTENT_THREADS, INTENT_QUEUE, INTENT_PER_CALLER, &p->pool);
    return ZT_HAND_OUT(rc, p, zt_free, out);
}

void zt_intent_pool_free(struct zt_intent_pool *p)
{
    if (!p) return;
    zt_fair_free(p->pool); /* what is queued ends stopped */
    zt_free(p);
}

/* A batch: INTENT_STEP texts per step on the pool. */
struct batch {
    const struct zt_intent_model *m;
    json_t *text, *texts; /* borrowed: the caller keeps them until done */
    size_t n, i;
    zt_intent_gone_fn gone;
    zt_intent_done_fn done;
    void *ud;
    struct zt_intent_batch b;
};

static bool batch_step(void *arg)
{
    struct batch *j = arg;
    struct zt_intent_batch *b = &j->b;
    if (j->gone && j->gone(j->ud)) { /* nobody reads the rest (the answer is dropped) */
        b->gone = true;
        return false;
    }
    for (size_t k = 0; k < INTENT_STEP && j->i < j->n && b->results && !b->rc; k++, j->i++) {
        json_t *t = j->text ? j->text : json_array_get(j->texts, j->i);
        struct zt_intent_result r;
        b->rc = zt_intent_detect(j->m, json_string_value(t), json_string_length(t), &r);
        if (!b->rc) json_array_append_new(b->results, zt_intent_result_json(&r));
    }
    return j->i < j->n && b->results && !b->rc;
}

static void batch_done(void *arg, bool stopped)
{
    struct batch *j = arg;
    j->b.stopped = stopped;
    j->done(j->ud, &j->b);
    json_decref(j->b.results);
    zt_free(j);
}

int zt_intent_pool_submit(struct zt_intent_pool *p, const char *caller, json_t *text, json_t *texts, size_t n,
                          zt_intent_gone_fn gone, zt_intent_done_fn done, void *ud)
{
    struct batch *j = zt_calloc(1, sizeof *j);
    if (!j) return ZT_ENOMEM;
    j->m = p->m;
    j->text = text;
    j->texts = texts;
    j->n = n;
    j->gone = gone;
    j->done = done;
    j->ud = ud;
    j->b.results = json_array();
    int rc = zt_fair_submit(p->pool, caller, j, batch_step, batch_done);
    if (rc) {
        json_decref(j->b.results);
        zt_free(j);
    }
    return rc;
}
