/* lease.c: the orchestrator's leases, for a gateway in another process
 * (issue 11; docs/internals/orchestrator.md "Leases"). See zt_lease.h;
 * the HTTP routes that call it are src/server/orch_api.c's.
 *
 * A lease call places a job by its metadata (never a prompt) exactly as
 * the in-process gateway's zt_sched_submit does and answers the worker
 * chosen (node id, endpoint, keys: what the gateway seals to and checks
 * the receipt with), parking the call up to wait_ms for a free slot; with
 * "job_id" it waits for the job's next assignment (after the gateway
 * reported its worker failed: the failover loop's next pick). A report
 * tells the scheduler how the attempt went (started, ok with its tokens,
 * error, stalled, unreachable, cancel).
 *
 * The scheduler's events for leased jobs are taken here (never the local
 * router's: it would cancel an assignment no local request waits for): an
 * assignment answers the parked lease call, or is kept for the next one.
 * Leases end: one nobody asks about for opts.idle_ms (its gateway died;
 * a started job not yet done is never idle: it is running),
 * one whose assignment was handed out and not reported started within
 * opts.start_ms, and one open opts.max_ms, however often it is asked
 * about, are reclaimed by the sweep (the job cancelled unless done, the
 * worker's slot freed). Bounds: LEASE_MAX leased jobs open (past it 503),
 * opts.max_per_caller of them for one caller (past it 429 lease_limit):
 * the caller is the signed gateway, else the request's principal, else
 * its address, so that one caller opening leases as fast as it can leaves
 * the others room.
 *
 * A gateway may sign its calls (the node request signature of
 * zt_nodeauth.h, under the Zentalk-Gateway-* header names the route
 * reads), checked against the descriptors of the gateways registered
 * here. A job leased by a signed call is that gateway's: its row names it
 * (zt_job_req.gateway), only it may call about the job, and, when another
 * orchestrator of the shared store that placed it died (or cannot be
 * reached), it alone can have this one continue it: a call about a job id
 * this table does not know takes the job over from the store
 * (zt_sched_job_adopt) when the signer is the row's gateway. A stranger's
 * call is refused (403 not_job_gateway), a replayed or forged signature
 * too (401), and both are counted. */
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orch_int.h"
#include "orch_verdict.h"
#include "zentalk/zt_lease.h"
#include "zentalk/zt_registry.h"
#include "zentalk/zt_verifier.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_peers.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define LEASE_MAX ZT__LEASES_MAX /* the check-pick table holds all their picks (orch_verdict.h) */
#define LEASE_IDLE_MS 120000   /* defaults of struct zt_lease_opts */
#define LEASE_START_MS 60000
#define LEASE_AGE_MS 3600000
#define LEASE_PER_CALLER 1024
#define LEASE_CALLER_SIZE 200 /* "gw:", "id:" or "addr:" and the name (a principal: 127 bytes at most) */
#define SWEEP_BATCH 64 /* leases decided or cancelled outside the lock per pass */
#define WAIT_DEFAULT_MS 10000
#define WAIT_MAX_MS 60000
#define EVENTS "started, ok, error, stalled, unreachable, cancel, check, check_failed, verdict"
#define GATEWAYS_MAX 16 /* gateways vouched for to the workers */

#define LEASE_NODES_MAX ZT__VERDICT_NODES_MAX

/* A caller's share of the table: its leases open (key owned here). */
struct lease_caller {
    size_t n;
    char key[LEASE_CALLER_SIZE];
};

struct lease {
    struct lease *next;
    struct lease_caller *who;           /* whose share it counts against */
    uint64_t born, handed;              /* mono ms: opened; its assignment handed out (0: none pending start) */
    bool started, done;                 /* reported started (this attempt); reported ok */
    char job_id[ZT_JOB_ID_SIZE];
    char gateway[ZT_IDENTITY_ID_SIZE];  /* the signed gateway whose job it is ("" = any admin caller) */
    char assigned[ZT_IDENTITY_ID_SIZE]; /* an assignment not yet handed out ("" = none) */
    /* who may be named in its verdict: the workers it was assigned to, the
     * checkers picked for it here (orch_verdict.h) */
    char ran[LEASE_NODES_MAX][ZT_IDENTITY_ID_SIZE], picked[LEASE_NODES_MAX][ZT_IDENTITY_ID_SIZE];
    size_t n_ran, n_picked;
    size_t n_picking;                   /* check events between their place and their pick (check_pick_h) */
    uint64_t gen;                       /* which lease of its job this is (link_lease): a place held in
                                         * n_picking is given back to this lease only (review8 F10) */
    bool failed;
    bool taking;                        /* being taken over from the store for its gateway (take_lease) */
    struct zt_lease_waiter *waiter;     /* a lease call parked, or NULL */
    uint64_t wait_until, touched;       /* mono ms */
    /* the subject its checkers were picked for: the checked worker's signed
     * input_hash, sent with the first check event (orch_verdict.h) */
    uint8_t subject[ZT__CHECK_SUBJECT_LEN];
    bool has_subject;
    /* a verdict waiting for a picked checker's report (no thread held: its
     * call is deferred, decided when the report comes or at vuntil) */
    struct zt_lease_waiter *vwait;
    json_t *vbody;                      /* its body (a copy) */
    uint64_t vuntil;                    /* mono ms */
    bool deciding, recheck;             /* a thread decides it now; a report came meanwhile */
    /* the orchestrator's own verdict when the gateway's does not come
     * (own_verdict): the checked worker's signed FINAL checkpoint (the
     * first check event's, verified under wpk, the registry's key of
     * `checked`), the last check activity (a check event, a checker
     * failed, a report credited; mono ms), and what was decided */
    uint8_t wckpt[ZT_CKPT_MAX_LEN];
    size_t wckpt_len;
    uint8_t wpk[ZT_ED25519_PK_LEN];
    char checked[ZT_IDENTITY_ID_SIZE];
    uint64_t oact, onext;               /* onext: when a decision that waited on looks again */
    unsigned gw_busy;                   /* gateway verdict calls being decided now */
    bool owning;                        /* the sweep decides it now */
    const char *decided;                /* the orchestrator's own verdict (a static name), or NULL */
};

struct gateway {
    char id[ZT_IDENTITY_ID_SIZE];
    char *desc;      /* its signed descriptor, as it sent it */
    int64_t expires; /* unix s */
};

#define VERDICT_AWAITS 2 /* verdict_h/verdict_call: a picked checker's report may still come (no error code) */
#define VERDICT_EVIDENCE_BUSY 3 /* verdict_h: its evidence is held by a settlement now, or the set is full */
/* A verdict's evidence (its worker receipt's sealed-job id) is accepted
 * once: kept until EVIDENCE_TTL_MS past the receipt's finish, and a
 * receipt older than that (or dated more than the clock skew ahead) is
 * refused by its age, so no replay outlives its entry. The entries are
 * kept in the store too (evidence.c), so a restarted orchestrator, or
 * another one on the shared store, refuses them as well. At most
 * EVIDENCE_MAX kept (past it verdicts are 503 until some expire). */
#define EVIDENCE_TTL_MS 3600000
#define EVIDENCE_MAX 65536

struct zt_lease {
    pthread_mutex_t mu;
    struct zt__evidence *used;          /* the evidence verdicts used (EVIDENCE_TTL_MS; also in the store) */
    struct gateway gws[GATEWAYS_MAX];
    struct zt_registry *reg;
    struct zt_sched *sched;
    struct zt_verifier *vf; /* this orchestrator's: the checks of leased jobs */
    struct zt__check_reports *reports; /* the checkers' own answers (orch_verdict.h) */
    struct lease *all;
    size_t n;
    struct zt_peers *gw_peers;          /* gws as a peer registry, for the gateways' signatures */
    struct zt_nodeauth_verifier *nav;   /* their replay cache */
    uint64_t n_not_gateway, n_bad_sig;  /* calls refused: another gateway's job; a bad or replayed signature */
    uint64_t n_continued;               /* leases opened for jobs another orchestrator placed */
    uint64_t n_verdict_refused;         /* verdicts refused (422), at once or after their wait */
    uint64_t n_check_refused;           /* check events past a lease's pick limit (409) or a share (429) */
    uint64_t n_picks_full;              /* of those: the pick table full (429 check_picks_full) */
    uint64_t next_gen;                  /* the next lease's gen (link_lease) */
    uint64_t verdict_wait_ms;           /* a checked job's verdict missing this long: decided here */
    uint64_t idle_ms, start_ms, max_ms; /* when a lease is reclaimed (zt_lease_opts) */
    size_t max_per_caller;
    char msg_caller[160];               /* the 429 lease_limit message, naming the limit */
    struct orch_map callers;            /* key -> struct lease_caller, those holding a lease */
    uint64_t n_caller_limit, n_table_full; /* new leases refused */
    uint64_t n_reclaimed[ZT_LEASE_RECLAIM_N];
};

static uint64_t ms_or(int64_t v, uint64_t dflt) { return v > 0 ? (uint64_t)v : dflt; }

int zt_lease_new(struct zt_registry *reg, struct zt_sched *sched, struct zt_verifier *vf,
                 const struct zt_lease_opts *o, struct zt_lease **out)
{
    static const struct zt_lease_opts none;
    if (!o) o = &none;
    if (o->max_per_caller > LEASE_MAX) return ZT_EINVAL;
    struct zt_lease *l = zt_calloc(1, sizeof *l);
    if (!l) return ZT_ENOMEM;
    if (zt__check_reports_new(&l->reports) != 0) {
        zt_free(l);
        return ZT_ENOMEM;
    }
    if (zt_peers_new(&l->gw_peers) != 0 || zt_nodeauth_verifier_new(0, &l->nav) != 0 ||
        zt__evidence_open(reg, EVIDENCE_MAX, &l->used) != 0) {
        zt_peers_free(l->gw_peers);
        zt_nodeauth_verifier_free(l->nav);
        zt__check_reports_free(l->reports);
        zt_free(l);
        return ZT_ENOMEM;
    }
    pthread_mutex_init(&l->mu, NULL);
    l->reg = reg;
    l->sched = sched;
    l->vf = vf;
    l->verdict_wait_ms = ms_or(o->verdict_wait_ms, 30000);
    l->idle_ms = ms_or(o->idle_ms, LEASE_IDLE_MS);
    l->start_ms = ms_or(o->start_ms, LEASE_START_MS);
    l->max_ms = ms_or(o->max_ms, LEASE_AGE_MS);
    l->max_per_caller = o->max_per_caller ? o->max_per_caller : LEASE_PER_CALLER;
    snprintf(l->msg_caller, sizeof l->msg_caller,
             "this caller has as many leases open as one caller may (orchestrator.leases.max_per_caller = %zu); "
             "retry after Retry-After",
             l->max_per_caller);
    *out = l;
    return 0;
}

/* A lease call's "gateway": the caller's signed descriptor (role gateway),
 * kept so that the workers joining here admit its sealed jobs. */
static void note_gateway(struct zt_lease *l, const char *desc)
{
    struct zt_node_descriptor d;
    memset(&d, 0, sizeof d);
    if (zt_identity_descriptor_verify(desc, strlen(desc), zt_time_real_ms() / 1000, &d) != 0) return;
    bool gw = false;
    for (size_t i = 0; i < d.n_roles; i++) gw = gw || strcmp(d.roles[i], "gateway") == 0;
    char *copy = gw ? zt_strdup(desc) : NULL;
    if (copy) {
        pthread_mutex_lock(&l->mu);
        size_t slot = 0;
        bool same = false;
        for (size_t i = 0; i < GATEWAYS_MAX; i++) {
            if (strcmp(l->gws[i].id, d.node_id) == 0) {
                slot = i;
                same = l->gws[i].desc && strcmp(l->gws[i].desc, desc) == 0;
                break;
            }
            if (l->gws[i].expires < l->gws[slot].expires) slot = i; /* else the oldest (or a free one) */
        }
        zt_free(l->gws[slot].desc);
        zt_strlcpy(l->gws[slot].id, d.node_id, sizeof l->gws[slot].id);
        l->gws[slot].desc = copy;
        l->gws[slot].expires = d.expires;
        if (!same) { /* the registry their signatures are checked against */
            json_t *arr = json_array();
            for (size_t i = 0; arr && i < GATEWAYS_MAX; i++)
                if (l->gws[i].desc) json_array_append_new(arr, json_loads(l->gws[i].desc, 0, NULL));
            char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
            json_decref(arr);
            if (!text || zt_peers_load_text(l->gw_peers, text, strlen(text), zt_time_real_ms() / 1000, NULL, NULL,
                                            NULL) != 0)
                zt_log_rl(ZT_LOG_WARN, 10, "gateway_keys_not_loaded", "gateway=%s", d.node_id);
            zt_free(text);
        }
        pthread_mutex_unlock(&l->mu);
    }
    zt_node_descriptor_deinit(&d);
}

json_t *zt_lease_gateways(struct zt_lease *l)
{
    json_t *arr = json_array();
    if (!l || !arr) return arr;
    int64_t now = zt_time_real_ms() / 1000;
    pthread_mutex_lock(&l->mu);
    for (size_t i = 0; i < GATEWAYS_MAX; i++)
        if (l->gws[i].desc && l->gws[i].expires > now) json_array_append_new(arr, json_string(l->gws[i].desc));
    pthread_mutex_unlock(&l->mu);
    return arr;
}

/* Add id to a lease's list (once; a full list keeps its first ones). */
static void note_node(char (*list)[ZT_IDENTITY_ID_SIZE], size_t *n, const char *id)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(list[i], id) == 0) return;
    if (*n < LEASE_NODES_MAX) zt_strlcpy(list[(*n)++], id, ZT_IDENTITY_ID_SIZE);
}

static struct lease **find(struct zt_lease *l, const char *job_id)
{
    for (struct lease **pp = &l->all; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->job_id, job_id) == 0) return pp;
    return NULL;
}

/* job_id's lease if it is still the one numbered gen (not ended and
 * replaced by a new lease of the same job meanwhile). With l->mu. */
static struct lease **find_gen(struct zt_lease *l, const char *job_id, uint64_t gen)
{
    struct lease **pp = find(l, job_id);
    return pp && (*pp)->gen == gen ? pp : NULL;
}

/* The caller of a call signed by gateway gw (""= unsigned), as its share
 * is counted: "gw:<node id>", else "id:<principal>", else "addr:<address>". */
static void caller_key(const struct zt_lease_call *call, const char *gw, char out[static LEASE_CALLER_SIZE])
{
    if (gw && gw[0]) snprintf(out, LEASE_CALLER_SIZE, "gw:%s", gw);
    else if (call && call->principal && call->principal[0]) snprintf(out, LEASE_CALLER_SIZE, "id:%s", call->principal);
    else snprintf(out, LEASE_CALLER_SIZE, "addr:%s", call && call->client_addr ? call->client_addr : "-");
}

/* Why a place in the table was not taken (take_place). */
enum place_rc { PLACE_OK = 0, PLACE_FULL, PLACE_CALLER, PLACE_NOMEM };

/* With l->mu: a place for a new lease of caller `key`, counted in the
 * table and the caller's share before the lease exists (so that
 * concurrent calls of one caller cannot pass its share): *who the share.
 * capped: refused at the caller's max_per_caller (a new job); a lease that
 * continues a job placed before is refused only by the table's bound. */
static enum place_rc take_place(struct zt_lease *l, const char *key, bool capped, struct lease_caller **who)
{
    if (l->n >= LEASE_MAX) {
        l->n_table_full++;
        return PLACE_FULL;
    }
    struct lease_caller *c = orch_map_get(&l->callers, key);
    if (c && capped && c->n >= l->max_per_caller) {
        l->n_caller_limit++;
        return PLACE_CALLER;
    }
    if (!c) {
        c = zt_calloc(1, sizeof *c);
        if (!c) return PLACE_NOMEM;
        zt_strlcpy(c->key, key, sizeof c->key);
        if (orch_map_put(&l->callers, c->key, c) != 0) {
            zt_free(c);
            return PLACE_NOMEM;
        }
    }
    c->n++;
    l->n++;
    *who = c;
    return PLACE_OK;
}

/* With l->mu: a place of take_place given back (its lease never made, or
 * ended). */
static void give_place(struct zt_lease *l, struct lease_caller *c)
{
    l->n--;
    if (c && --c->n == 0) {
        orch_map_del(&l->callers, c->key);
        zt_free(c);
    }
}

/* A new lease into the table, numbered, in the place taken for it
 * (take_place). With l->mu. */
static void link_lease(struct zt_lease *l, struct lease *ls, struct lease_caller *who)
{
    ls->gen = ++l->next_gen;
    ls->who = who;
    ls->born = ls->touched = zt_time_mono_ms();
    ls->next = l->all;
    l->all = ls;
}

/* With l->mu: the lease *pp out of the table and freed (its place given
 * back). */
static void unlink_lease(struct zt_lease *l, struct lease **pp)
{
    struct lease *ls = *pp;
    *pp = ls->next;
    json_decref(ls->vbody);
    give_place(l, ls->who);
    zt_free(ls);
}

/* A worker as the gateway seals to it and checks its receipts. */
static json_t *worker_json(const struct zt_node_info *ni)
{
    char kem[2 * ZT_X25519_LEN + 1], sig[2 * ZT_ED25519_PK_LEN + 1];
    sodium_bin2hex(kem, sizeof kem, ni->kem_pk, sizeof ni->kem_pk);
    sodium_bin2hex(sig, sizeof sig, ni->ed25519_pk, sizeof ni->ed25519_pk);
    /* and its prices (its join record's: the gateway settles the job at them) */
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "node_id", ni->node_id, "endpoint", ni->endpoint, "kem_pk", kem,
                     "ed25519_pk", sig, "price_prompt_per_1k", ni->caps.price_prompt, "price_completion_per_1k",
                     ni->caps.price_completion);
}

/* The answer for job_id assigned to worker (or queued / failed), as JSON. */
static int answer(struct zt_lease *l, const char *job_id, const char *worker, bool failed, json_t **out)
{
    if (failed) {
        *out = json_pack("{s:s,s:s}", "job_id", job_id, "state", "failed");
        return 410;
    }
    if (!worker || !worker[0]) {
        *out = json_pack("{s:s,s:s}", "job_id", job_id, "state", "queued");
        return 202;
    }
    struct zt_node_info ni;
    if (zt_registry_get(l->reg, worker, zt_time_real_ms(), &ni) != 0) {
        *out = json_pack("{s:s,s:s}", "job_id", job_id, "state", "queued");
        return 202;
    }
    *out = json_pack("{s:s,s:s,s:o}", "job_id", job_id, "state", "assigned", "worker", worker_json(&ni));
    return 200;
}

void zt_lease_res_init(struct zt_lease_res *r) { memset(r, 0, sizeof *r); }

void zt_lease_res_deinit(struct zt_lease_res *r)
{
    json_decref(r->body);
    r->body = NULL;
}

static void res_error(struct zt_lease_res *r, int status, const char *code, const char *msg)
{
    json_decref(r->body);
    r->body = NULL;
    r->status = status;
    r->code = code;
    r->message = msg;
}

/* Takes j (NULL: out of memory, answered 500). */
static void res_json(struct zt_lease_res *r, int status, json_t *j)
{
    if (!j) {
        res_error(r, 500, "internal", "out of memory");
        return;
    }
    json_decref(r->body);
    r->body = j;
    r->status = status;
    r->code = r->message = NULL;
}

/* Answer a parked call with status and j (taken) and let it go. */
static void respond_async(struct zt_lease_waiter *w, int status, json_t *j)
{
    struct zt_lease_res res;
    zt_lease_res_init(&res);
    res_json(&res, status, j);
    w->answer(w, &res);
    zt_lease_res_deinit(&res);
}

/* A lease about to be freed: its verdict call still waiting is answered
 * (status, code, msg) and its body dropped. */
static void drop_verdict(struct lease *ls, int status, const char *code, const char *msg)
{
    if (ls->vwait) {
        struct zt_lease_res res;
        zt_lease_res_init(&res);
        res_error(&res, status, code, msg);
        ls->vwait->answer(ls->vwait, &res);
        zt_lease_res_deinit(&res);
        ls->vwait = NULL;
    }
    json_decref(ls->vbody);
    ls->vbody = NULL;
}

/* With l->mu held: hand the lease's state to its waiter, if any. */
static void wake(struct zt_lease *l, struct lease *ls)
{
    if (!ls->waiter || (!ls->assigned[0] && !ls->failed)) return;
    json_t *j = NULL;
    int st = answer(l, ls->job_id, ls->assigned, ls->failed, &j);
    if (st == 200) { /* handed out: to be reported started within start_ms */
        ls->assigned[0] = '\0';
        ls->handed = zt_time_mono_ms();
        ls->started = false;
    }
    respond_async(ls->waiter, st, j);
    ls->waiter = NULL;
    ls->touched = zt_time_mono_ms();
}

/* The signed gateway of a lease or report call: 1 and gw filled (the
 * Zentalk-Gateway-* headers verify under a registered gateway's key, for
 * this orchestrator, not seen before), 0 when it carries none (gw ""),
 * -1 with res filled (401, counted) otherwise. */
static int gateway_caller(struct zt_lease *l, const struct zt_lease_call *call, struct zt_lease_res *res,
                          char gw[static ZT_IDENTITY_ID_SIZE])
{
    gw[0] = '\0';
    const char *hn = call->sig_node, *hd = call->sig_date, *hno = call->sig_nonce, *hs = call->sig_sig;
    if (!hn && !hd && !hno && !hs) return 0;
    struct zt_nodeauth_parsed np;
    const char *why = "malformed or missing Zentalk-Gateway/-Date/-Nonce/-Signature header";
    int rc = zt_nodeauth_parse(hn, hd, hno, hs, &np);
    const char *self = zt_sched_self(l->sched);
    if (!rc && !self) rc = ZT_EINVAL;
    if (!rc)
        rc = zt_nodeauth_verify(l->nav, l->gw_peers, self, call->method, call->target, call->raw, call->raw_len, &np,
                                zt_time_real_ms() / 1000, &why);
    if (rc == ZT_EBUSY || rc == ZT_ENOMEM) {
        res->retry_after_s = 5;
        res_error(res, 503, "overloaded", why);
        return -1;
    }
    if (rc) {
        pthread_mutex_lock(&l->mu);
        l->n_bad_sig++;
        pthread_mutex_unlock(&l->mu);
        zt_log_rl(ZT_LOG_WARN, 10, "gateway_signature_refused", "node=%s why=\"%s\"",
                  hn && zt_identity_id_valid(hn) ? hn : "-", why ? why : "");
        res_error(res, 401, "invalid_gateway_signature", why ? why : "the gateway signature does not verify");
        return -1;
    }
    zt_strlcpy(gw, np.node, ZT_IDENTITY_ID_SIZE);
    return 1;
}

static void refuse_stranger(struct zt_lease *l, const char *job_id, const char *gw, struct zt_lease_res *res)
{
    pthread_mutex_lock(&l->mu);
    l->n_not_gateway++;
    pthread_mutex_unlock(&l->mu);
    zt_log_rl(ZT_LOG_WARN, 10, "lease_refused", "sched_job=%s caller=%s why=not_job_gateway", job_id,
              gw[0] ? gw : "unsigned");
    res_error(res, 403, "not_job_gateway", "this job was leased by another gateway");
}

/* With l->mu held: a new lease of job_id for gw, seeded with what the
 * scheduler says of the job (its worker may be named in a verdict; an
 * assignment not handed out yet is handed out to the next lease call). */
static void seed(struct lease *ls, const char *worker, enum zt_job_state st)
{
    if (!worker || !worker[0]) return;
    note_node(ls->ran, &ls->n_ran, worker);
    if (st == ZT_JOB_STATE_ASSIGNED && !ls->assigned[0]) zt_strlcpy(ls->assigned, worker, sizeof ls->assigned);
}

static void refuse_place(const struct zt_lease *l, enum place_rc pr, const char *key, struct zt_lease_res *res);

/* The lease of job_id for the caller gw ("" unsigned): 0 when this table
 * has it and gw may call about it, or when the job is another
 * orchestrator's on the shared store and gw is its gateway (taken over
 * here: zt_sched_job_adopt). -1 with res filled otherwise (404, 403
 * counted, 410 when the job ended failed, 503 with the table full). */
static int take_lease(struct zt_lease *l, const struct zt_lease_call *call, const char *job_id, const char *gw,
                      struct zt_lease_res *res)
{
    char key[LEASE_CALLER_SIZE];
    caller_key(call, gw, key);
    pthread_mutex_lock(&l->mu);
    struct lease **pp = find(l, job_id);
    if (pp) {
        bool ok = !(*pp)->gateway[0] || strcmp((*pp)->gateway, gw) == 0, taking = (*pp)->taking;
        pthread_mutex_unlock(&l->mu);
        if (!ok && taking) { /* another caller's takeover is being decided: not known to be refused yet */
            res->retry_after_s = 1;
            res_error(res, 503, "unavailable", "the job is being taken over; retry");
            return -1;
        }
        if (!ok) refuse_stranger(l, job_id, gw, res);
        return ok ? 0 : -1;
    }
    /* a job placed before, continued for its gateway: it counts against
     * the caller's share, but only the table's bound refuses it */
    struct lease_caller *who = NULL;
    struct lease *ls = gw[0] ? zt_calloc(1, sizeof *ls) : NULL;
    enum place_rc pr = PLACE_NOMEM;
    if (ls && (pr = take_place(l, key, false, &who)) != PLACE_OK) {
        zt_free(ls);
        ls = NULL;
    }
    if (!ls) {
        pthread_mutex_unlock(&l->mu);
        /* its gateway's, refused by the table's bound (counted table_full)
         * or memory: 503 with Retry-After, as a new lease (review11 F7) */
        if (gw[0]) refuse_place(l, pr, key, res);
        else res_error(res, 404, "unknown_job", "no leased job by that id (it ended, or another orchestrator has it)");
        return -1;
    }
    /* in the table before the scheduler has the job: its first assignment
     * (the pump may place it at once) comes here, never to the router */
    zt_strlcpy(ls->job_id, job_id, sizeof ls->job_id);
    zt_strlcpy(ls->gateway, gw, sizeof ls->gateway);
    ls->taking = true;
    link_lease(l, ls, who);
    pthread_mutex_unlock(&l->mu);
    struct zt_job_info ji;
    memset(&ji, 0, sizeof ji);
    int rc = zt_sched_job_adopt(l->sched, job_id, gw, zt_time_real_ms(), &ji);
    pthread_mutex_lock(&l->mu);
    pp = find(l, job_id);
    if (pp && rc == 0) {
        seed(*pp, ji.worker, ji.state);
        (*pp)->taking = false;
        l->n_continued++;
    } else if (pp) {
        struct lease *gone = *pp;
        if (gone->waiter) respond_async(gone->waiter, 410, json_pack("{s:s,s:s}", "job_id", job_id, "state", "failed"));
        unlink_lease(l, pp);
    }
    pthread_mutex_unlock(&l->mu);
    if (rc == 0 && pp) {
        zt_log(ZT_LOG_INFO, "lease_continued", "sched_job=%s gateway=%s state=%s worker=%s", job_id, gw,
               zt_job_state_name(ji.state), ji.worker[0] ? ji.worker : "-");
        return 0;
    }
    if (rc == ZT_EPERM) {
        refuse_stranger(l, job_id, gw, res);
    } else if (rc == ZT_EEXIST && ji.state == ZT_JOB_STATE_FAILED) {
        res_json(res, 410, json_pack("{s:s,s:s}", "job_id", job_id, "state", "failed"));
    } else if (rc == ZT_EBUSY || (rc && rc != ZT_ENOTFOUND && rc != ZT_EEXIST)) {
        res->retry_after_s = 1;
        res_error(res, 503, "unavailable", "the job's row could not be taken over now; retry");
    } else {
        res_error(res, 404, "unknown_job", "no leased job by that id (it ended, or another orchestrator has it)");
    }
    return -1;
}

/* A new lease refused (take_place's pr) for caller key: 429 at its share
 * (cap), 503 with the table full or out of memory; with Retry-After. */
static void refuse_place(const struct zt_lease *l, enum place_rc pr, const char *key, struct zt_lease_res *res)
{
    if (pr == PLACE_CALLER) {
        zt_log_rl(ZT_LOG_WARN, 10, "lease_refused", "caller=%s why=lease_limit open=%zu", key, l->max_per_caller);
        res->retry_after_s = 5;
        res_error(res, 429, "lease_limit", l->msg_caller);
    } else if (pr == PLACE_FULL) {
        zt_log_rl(ZT_LOG_WARN, 10, "lease_refused", "caller=%s why=table_full open=%d", key, LEASE_MAX);
        res->retry_after_s = 1;
        res_error(res, 503, "overloaded", "too many leased jobs open (4096, all callers); retry after Retry-After");
    } else {
        res->retry_after_s = 1;
        res_error(res, 503, "overloaded", "out of memory");
    }
}

/* job_id's assignment was answered to its gateway: it is to be reported
 * started within start_ms (the sweep). */
static void handed_out(struct zt_lease *l, const char *job_id)
{
    pthread_mutex_lock(&l->mu);
    struct lease **pp = find(l, job_id);
    if (pp) {
        (*pp)->handed = zt_time_mono_ms();
        (*pp)->started = false;
    }
    pthread_mutex_unlock(&l->mu);
}

void zt_lease_counts(struct zt_lease *l, struct zt_lease_counts *out)
{
    pthread_mutex_lock(&l->mu);
    out->not_gateway = l->n_not_gateway;
    out->bad_sig = l->n_bad_sig;
    out->continued = l->n_continued;
    out->verdict_refused = l->n_verdict_refused;
    out->check_refused = l->n_check_refused;
    out->picks_full = l->n_picks_full;
    out->open = l->n;
    out->callers = l->callers.n;
    out->caller_most = 0;
    for (size_t i = 0; i < l->callers.cap; i++) {
        const struct orch_map_slot *sl = &l->callers.slots[i];
        const struct lease_caller *c = sl->key && sl->key != orch_map_tomb ? sl->val : NULL;
        if (c && c->n > out->caller_most) out->caller_most = c->n;
    }
    out->caller_limit = l->n_caller_limit;
    out->table_full = l->n_table_full;
    memcpy(out->reclaimed, l->n_reclaimed, sizeof out->reclaimed);
    pthread_mutex_unlock(&l->mu);
}

static int m_refused(void *ud, struct zt_metrics_out *out)
{
    struct zt_lease_counts lc;
    zt_lease_counts(ud, &lc);
    int rc = zt_metrics_emit_u64(out, NULL, "reason=\"not_job_gateway\"", lc.not_gateway);
    if (!rc) rc = zt_metrics_emit_u64(out, NULL, "reason=\"gateway_signature\"", lc.bad_sig);
    if (!rc) rc = zt_metrics_emit_u64(out, NULL, "reason=\"check_limit\"", lc.check_refused - lc.picks_full);
    if (!rc) rc = zt_metrics_emit_u64(out, NULL, "reason=\"check_picks_full\"", lc.picks_full);
    /* verdicts refused at once or after their wait for a report */
    if (!rc) rc = zt_metrics_emit_u64(out, NULL, "reason=\"unproven_verdict\"", lc.verdict_refused);
    return rc;
}

/* The table's own families (zt_metrics_out_index tells them apart). */
static int m_leases(void *ud, struct zt_metrics_out *out)
{
    static const char *const reclaimed[ZT_LEASE_RECLAIM_N] = {"idle", "unstarted", "max_age"};
    struct zt_lease_counts lc;
    zt_lease_counts(ud, &lc);
    switch (zt_metrics_out_index(out)) {
    case 0:
        return zt_metrics_emit_u64(out, NULL, NULL, lc.open);
    case 1:
        return zt_metrics_emit_u64(out, NULL, NULL, lc.callers);
    case 2:
        return zt_metrics_emit_u64(out, NULL, NULL, lc.caller_most);
    case 3: {
        int rc = zt_metrics_emit_u64(out, NULL, "reason=\"caller_limit\"", lc.caller_limit);
        return rc ? rc : zt_metrics_emit_u64(out, NULL, "reason=\"table_full\"", lc.table_full);
    }
    default:
        for (size_t i = 0; i < ZT_LEASE_RECLAIM_N; i++) {
            int rc = zt_metrics_emitf_u64(out, NULL, lc.reclaimed[i], "reason=\"%s\"", reclaimed[i]);
            if (rc) return rc;
        }
        return 0;
    }
}

int zt_lease_register_metrics(struct zt_lease *l, struct zt_metrics *m)
{
    static const struct zt_metrics_fam fams[] = {
        {"zentalk_orchestrator_leases_open", "Leases of gateways in other processes open now (at most 4096).",
         ZT_METRIC_GAUGE, m_leases},
        {"zentalk_orchestrator_lease_callers", "Callers (gateways, principals, addresses) holding a lease now.",
         ZT_METRIC_GAUGE, m_leases},
        {"zentalk_orchestrator_lease_caller_most",
         "Leases the caller holding the most holds now (at most orchestrator.leases.max_per_caller).", ZT_METRIC_GAUGE,
         m_leases},
        {"zentalk_orchestrator_leases_refused_total",
         "New leases refused: caller_limit (the caller's share, 429), table_full (all 4096 open, 503).",
         ZT_METRIC_COUNTER, m_leases},
        {"zentalk_orchestrator_leases_reclaimed_total",
         "Leases ended by a deadline: idle (no call), unstarted (handed out, not started), max_age (open too long).",
         ZT_METRIC_COUNTER, m_leases},
    };
    if (!l) return ZT_EINVAL;
    int rc = zt_metrics_add_part(m, "zentalk_orchestrator_refusals_total", ZT_METRIC_COUNTER, m_refused, l);
    return rc ? rc : zt_metrics_add_fns(m, fams, sizeof fams / sizeof fams[0], l);
}

bool zt_lease_event(struct zt_lease *l, const struct zt_sched_event *ev)
{
    if (!l) return false;
    pthread_mutex_lock(&l->mu);
    struct lease **pp = find(l, ev->job_id);
    if (!pp && ev->kind == ZT_SCHED_EV_ADOPTED && ev->gateway[0] && l->n < LEASE_MAX) {
        /* a dead orchestrator's job, continued here: its gateway leases it
         * here next (or, gone too, leaves it to the idle sweep); in its
         * gateway's share, never refused by it */
        char key[LEASE_CALLER_SIZE];
        caller_key(NULL, ev->gateway, key);
        struct lease_caller *who = NULL;
        struct lease *ls = zt_calloc(1, sizeof *ls);
        if (ls && take_place(l, key, false, &who) != PLACE_OK) {
            zt_free(ls);
            ls = NULL;
        }
        if (ls) {
            zt_strlcpy(ls->job_id, ev->job_id, sizeof ls->job_id);
            zt_strlcpy(ls->gateway, ev->gateway, sizeof ls->gateway);
            struct zt_job_info ji;
            if (ev->worker[0] && zt_sched_job_get(l->sched, ev->job_id, &ji) == 0) seed(ls, ev->worker, ji.state);
            link_lease(l, ls, who);
            l->n_continued++;
            pthread_mutex_unlock(&l->mu);
            return true;
        }
    }
    if (pp) {
        struct lease *ls = *pp;
        if (ev->kind == ZT_SCHED_EV_ASSIGNED) {
            zt_strlcpy(ls->assigned, ev->worker, sizeof ls->assigned);
            note_node(ls->ran, &ls->n_ran, ev->worker);
        }
        else if (ev->kind == ZT_SCHED_EV_FAILED) ls->failed = true;
        wake(l, ls);
    }
    pthread_mutex_unlock(&l->mu);
    return pp != NULL;
}

static int64_t int_of(json_t *body, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(body, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

void zt_lease_place(struct zt_lease *l, const struct zt_lease_call *call, json_t *body, int64_t max_wait_ms,
                    struct zt_lease_res *res)
{
    const char *job_id = json_string_value(json_object_get(body, "job_id"));
    const char *gw_desc = json_string_value(json_object_get(body, "gateway"));
    if (gw_desc) note_gateway(l, gw_desc);
    char gw[ZT_IDENTITY_ID_SIZE];
    if (gateway_caller(l, call, res, gw) < 0) return;
    if (gw_desc && !job_id && !json_object_get(body, "model")) { /* a gateway saying it is there, nothing more */
        res_json(res, 200, json_pack("{s:b}", "registered", 1));
        return;
    }
    int64_t wait = int_of(body, "wait_ms", WAIT_DEFAULT_MS);
    if (wait < 0) wait = 0;
    if (wait > max_wait_ms) wait = max_wait_ms;
    if (wait > WAIT_MAX_MS) wait = WAIT_MAX_MS;
    char id[ZT_JOB_ID_SIZE], worker[ZT_IDENTITY_ID_SIZE] = "";
    bool failed = false;
    if (!job_id) {
        const char *model = json_string_value(json_object_get(body, "model"));
        const char *client = json_string_value(json_object_get(body, "client"));
        int64_t max_tokens = int_of(body, "max_tokens", 0), ctx = int_of(body, "ctx_tokens", 0);
        int64_t price = int_of(body, "price_ceiling", 0), deadline = int_of(body, "deadline_ms", 0);
        if (!model || max_tokens < 1 || max_tokens > UINT32_MAX || ctx < 0 || ctx > UINT32_MAX || price < 0 ||
            deadline < 0) {
            res_error(res, 400, "invalid_request",
                               "model (string) and max_tokens (1..2^32-1) are required; ctx_tokens, price_ceiling, "
                               "deadline_ms are non-negative integers");
            return;
        }
        /* its place in the table and in its caller's share, taken before
         * the job is placed (given back if it is not) */
        char key[LEASE_CALLER_SIZE];
        caller_key(call, gw, key);
        struct lease_caller *who = NULL;
        struct lease *ls = zt_calloc(1, sizeof *ls);
        pthread_mutex_lock(&l->mu);
        enum place_rc pr = ls ? take_place(l, key, true, &who) : PLACE_NOMEM;
        pthread_mutex_unlock(&l->mu);
        if (pr != PLACE_OK) {
            zt_free(ls);
            refuse_place(l, pr, key, res);
            return;
        }
        struct zt_job_req jr = {.client = client && client[0] ? client : call->client_addr,
                                .model = model,
                                .ctx_tokens = (uint32_t)ctx,
                                .max_tokens = (uint32_t)max_tokens,
                                .price_ceiling = (uint64_t)price,
                                .deadline_ms = deadline,
                                .gateway = gw};
        struct zt_sched_result sr;
        memset(&sr, 0, sizeof sr);
        int rc = zt_sched_submit(l->sched, &jr, zt_time_real_ms(), &sr);
        if (rc) {
            pthread_mutex_lock(&l->mu);
            give_place(l, who);
            pthread_mutex_unlock(&l->mu);
            zt_free(ls);
        }
        if (rc == ZT_EBUSY) {
            res->retry_after_s = sr.retry_after_s ? sr.retry_after_s : 1;
            res_error(res, 503, "queue_full", "the job queue is full; retry after Retry-After");
            return;
        }
        if (rc == ZT_ENOTFOUND || rc == ZT_ETIMEDOUT) {
            res_error(res, rc == ZT_ENOTFOUND ? 404 : 400, rc == ZT_ENOTFOUND ? "no_worker" : "deadline",
                               rc == ZT_ENOTFOUND ? "no live worker serves this model within the context and price"
                                                  : "the deadline has passed");
            return;
        }
        if (rc) {
            res_error(res, rc == ZT_EINVAL ? 400 : 503, rc == ZT_EINVAL ? "invalid_request" : "unavailable",
                               zt_strerror(rc));
            return;
        }
        zt_strlcpy(ls->job_id, sr.job_id, sizeof ls->job_id);
        zt_strlcpy(ls->gateway, gw, sizeof ls->gateway);
        if (sr.state == ZT_JOB_STATE_ASSIGNED) note_node(ls->ran, &ls->n_ran, sr.worker);
        pthread_mutex_lock(&l->mu);
        link_lease(l, ls, who);
        pthread_mutex_unlock(&l->mu);
        zt_strlcpy(id, sr.job_id, sizeof id);
        if (sr.state == ZT_JOB_STATE_ASSIGNED) zt_strlcpy(worker, sr.worker, sizeof worker);
    } else {
        if (strlen(job_id) >= sizeof id) {
            res_error(res, 404, "unknown_job", "no leased job by that id");
            return;
        }
        zt_strlcpy(id, job_id, sizeof id);
        if (take_lease(l, call, id, gw, res) < 0) return;
    }
    pthread_mutex_lock(&l->mu);
    struct lease **pp = find(l, id);
    struct lease *ls = pp ? *pp : NULL;
    if (!ls) {
        pthread_mutex_unlock(&l->mu);
        res_error(res, 404, "unknown_job", "no leased job by that id (it ended, or another orchestrator has it)");
        return;
    }
    ls->touched = zt_time_mono_ms();
    if (!worker[0] && ls->assigned[0]) {
        zt_strlcpy(worker, ls->assigned, sizeof worker);
        ls->assigned[0] = '\0';
    } else if (worker[0]) {
        ls->assigned[0] = '\0';
    }
    failed = ls->failed;
    if (!worker[0] && !failed && wait > 0 && !ls->waiter) {
        ls->waiter = call->defer ? call->defer(call->defer_ud) : NULL;
        if (ls->waiter) {
            ls->wait_until = zt_time_mono_ms() + (uint64_t)wait;
            pthread_mutex_unlock(&l->mu);
            return;
        }
    }
    pthread_mutex_unlock(&l->mu);
    json_t *j = NULL;
    int st = answer(l, id, worker, failed, &j);
    if (st == 200) handed_out(l, id);
    res_json(res, st, j);
}

#define CHECK_EXCLUDE_MAX 16 /* the workers that ran a job and the earlier rounds' checkers */
#define CHECK_REPORT_WAIT_MS 5000 /* a verdict waits this long for a picked checker's report it lacks */

/* The subject (input_hash) of a check of worker's answer: its signed FINAL
 * checkpoint ckpt verified under the registry's key for worker. 0, or
 * ZT_EPERM. */
static int check_subject(struct zt_lease *l, const char *worker, const uint8_t *ckpt, size_t ckpt_len,
                         uint8_t subject[static ZT__CHECK_SUBJECT_LEN], uint8_t pk[static ZT_ED25519_PK_LEN])
{
    struct zt_node_info w;
    struct zt_checkpoint c;
    if (!worker || !ckpt || zt_registry_get(l->reg, worker, zt_time_real_ms(), &w) != 0 ||
        zt_checkpoint_verify(ckpt, ckpt_len, w.ed25519_pk, &c) != 0 || !(c.flags & ZT_CKPT_FLAG_FINAL))
        return ZT_EPERM;
    memcpy(subject, c.subject, ZT__CHECK_SUBJECT_LEN);
    memcpy(pk, w.ed25519_pk, ZT_ED25519_PK_LEN);
    return 0;
}

/* A check event's place in its lease (n_picking) given back: no pick
 * made. Only to the lease it was taken in (gen): one of the same job
 * opened since holds places of its own events. */
static void unplace_pick(struct zt_lease *l, const char *job_id, uint64_t gen)
{
    pthread_mutex_lock(&l->mu);
    struct lease **pp = find_gen(l, job_id, gen);
    if (pp && (*pp)->n_picking) (*pp)->n_picking--;
    pthread_mutex_unlock(&l->mu);
}

/* "check": the checker of round `round` for a leased job the gateway was
 * told to verify (the keyed choice, zt_verifier_pick: never the gateway's);
 * worker is the one whose chain is checked (its engine build). Never a
 * worker the job was assigned to or an earlier checker, whatever the
 * gateway's exclude list says. */
static void check_pick_h(struct zt_lease *l, const char *job_id, const char *worker, json_t *body,
                         struct zt_lease_res *res)
{
    const char *ex[CHECK_EXCLUDE_MAX + 2 * LEASE_NODES_MAX];
    char seen[2 * LEASE_NODES_MAX][ZT_IDENTITY_ID_SIZE];
    size_t n = 0, n_seen = 0, i;
    json_t *v;
    json_array_foreach(json_object_get(body, "exclude"), i, v) {
        if (n == CHECK_EXCLUDE_MAX || !json_is_string(v)) {
            res_error(res, 400, "invalid_request", "exclude: up to 16 node ids");
            return;
        }
        ex[n++] = json_string_value(v);
    }
    pthread_mutex_lock(&l->mu);
    struct lease **lp = find(l, job_id);
    for (size_t k = 0; lp && k < (*lp)->n_ran; k++) zt_strlcpy(seen[n_seen++], (*lp)->ran[k], ZT_IDENTITY_ID_SIZE);
    for (size_t k = 0; lp && k < (*lp)->n_picked; k++)
        zt_strlcpy(seen[n_seen++], (*lp)->picked[k], ZT_IDENTITY_ID_SIZE);
    pthread_mutex_unlock(&l->mu);
    for (size_t k = 0; k < n_seen; k++) ex[n++] = seen[k];
    int64_t round = int_of(body, "round", -1), now = zt_time_real_ms();
    struct zt_job_info ji;
    struct zt_node_info w, ni;
    if (round < 0 || round > 64 || !worker || zt_sched_job_get(l->sched, job_id, &ji) != 0) {
        res_error(res, 400, "invalid_request", "a check needs round (0..64), worker and a known job");
        return;
    }
    /* the check's subject: the checked worker's signed FINAL checkpoint
     * (WIRE.md section 7), one worker this job ran on, one subject for
     * every check of the job; the checkers' reports are credited by it */
    const char *ck_hex = json_string_value(json_object_get(body, "checkpoint"));
    uint8_t ck[ZT_CKPT_MAX_LEN], subject[ZT__CHECK_SUBJECT_LEN], wpk[ZT_ED25519_PK_LEN];
    size_t ck_len = ck_hex ? strlen(ck_hex) / 2 : 0;
    if (!ck_hex || strlen(ck_hex) % 2 || ck_len == 0 || ck_len > sizeof ck ||
        zt_hex_decode(ck, ck_len, ck_hex, strlen(ck_hex), ZT_HEX_ANY_CASE) != 0 ||
        check_subject(l, worker, ck, ck_len, subject, wpk) != 0) {
        res_error(res, 400, "invalid_request",
                           "a check needs the checked worker's signed FINAL checkpoint (hex, \"checkpoint\")");
        return;
    }
    pthread_mutex_lock(&l->mu);
    lp = find(l, job_id);
    uint64_t gen = lp ? (*lp)->gen : 0; /* the lease whose place this event holds */
    bool ran = false, other = false;
    for (size_t k = 0; lp && k < (*lp)->n_ran; k++) ran = ran || strcmp((*lp)->ran[k], worker) == 0;
    /* a place in the lease is held before the pick is made, so that no
     * lease has more than LEASE_NODES_MAX picks in the table, concurrent
     * check events included: the table's bound (review7 F4, F9) */
    if (lp && ran && (*lp)->n_picked + (*lp)->n_picking >= LEASE_NODES_MAX) {
        l->n_check_refused++;
        pthread_mutex_unlock(&l->mu);
        zt_log_rl(ZT_LOG_WARN, 10, "check_refused", "sched_job=%s why=pick_limit picked=%d", job_id,
                  (int)LEASE_NODES_MAX);
        res_error(res, 409, "check_limit", "this job had as many checkers picked as a lease holds");
        return;
    }
    if (lp && ran) {
        other = (*lp)->has_subject && memcmp((*lp)->subject, subject, sizeof subject) != 0;
        if (!(*lp)->has_subject) { /* and the evidence of the orchestrator's own verdict */
            memcpy((*lp)->subject, subject, sizeof subject);
            memcpy((*lp)->wckpt, ck, ck_len);
            (*lp)->wckpt_len = ck_len;
            memcpy((*lp)->wpk, wpk, sizeof wpk);
            zt_strlcpy((*lp)->checked, worker, sizeof (*lp)->checked);
        }
        (*lp)->has_subject = true;
        (*lp)->oact = zt_time_mono_ms();
        if (!other) (*lp)->n_picking++;
    }
    pthread_mutex_unlock(&l->mu);
    if (!ran || other) {
        res_error(res, 400, "invalid_request",
                           !ran ? "the worker named did not run this job"
                                : "a check of another subject (input_hash) than this job's earlier checks");
        return;
    }
    const char *engine = zt_registry_get(l->reg, worker, now, &w) == 0 ? w.caps.engine : NULL;
    if (zt_verifier_pick(l->vf, job_id, (unsigned)round, ji.model, engine, ex, n, now, &ni) != 0) {
        unplace_pick(l, job_id, gen);
        res_error(res, 404, "no_checker", "no other live worker of the model is free to check");
        return;
    }
    /* it may report its answer here: a pick the gateway's share (or the
     * table) has no room for is refused, never another's evicted */
    char gateway[ZT_IDENTITY_ID_SIZE] = "";
    pthread_mutex_lock(&l->mu);
    struct lease **pp = find(l, job_id);
    if (pp) zt_strlcpy(gateway, (*pp)->gateway, sizeof gateway);
    pthread_mutex_unlock(&l->mu);
    int e = zt__check_reports_expect(l->reports, gateway, ni.node_id, job_id, subject, now);
    if (e) {
        unplace_pick(l, job_id, gen);
        pthread_mutex_lock(&l->mu);
        l->n_check_refused++;
        l->n_picks_full += e != ZT_ETOOBIG;
        pthread_mutex_unlock(&l->mu);
        zt_log_rl(ZT_LOG_WARN, 10, "check_refused", "sched_job=%s gateway=%s why=%s", job_id,
                  gateway[0] ? gateway : "-", e == ZT_ETOOBIG ? "gateway_picks" : "picks_full");
        res->retry_after_s = 30;
        if (e == ZT_ETOOBIG)
            res_error(res, 429, "check_picks_gateway",
                      "this gateway has as many checks open as one gateway may (1,024); retry after "
                      "Retry-After");
        else
            res_error(res, 429, "check_picks_full",
                      "the orchestrator has as many checks open as it holds; retry after Retry-After");
        return;
    }
    pthread_mutex_lock(&l->mu);
    pp = find(l, job_id);
    bool noted = false, full = false, gone = !pp;
    if (pp) { /* it may be named in the verdict */
        /* the place goes back to the lease it was held in only: one of
         * the same job opened since (taken over for its gateway) counts
         * its own events' places (review8 F10) */
        if ((*pp)->gen == gen && (*pp)->n_picking) (*pp)->n_picking--;
        size_t before = (*pp)->n_picked;
        note_node((*pp)->picked, &(*pp)->n_picked, ni.node_id);
        noted = (*pp)->n_picked > before;
        for (size_t k = 0; !noted && k < (*pp)->n_picked; k++) noted = strcmp((*pp)->picked[k], ni.node_id) == 0;
        full = !noted; /* a concurrent check took the last place (review7 F9) */
        if (full) l->n_check_refused++;
    }
    pthread_mutex_unlock(&l->mu);
    if (gone) { /* the lease ended meanwhile: its picks no longer count (review7 F9) */
        zt__check_reports_forget(l->reports, job_id);
        res_error(res, 404, "unknown_job", "no leased job by that id (it ended meanwhile)");
        return;
    }
    if (full) {
        res_error(res, 409, "check_limit", "this job had as many checkers picked as a lease holds");
        return;
    }
    res_json(res, 200, json_pack("{s:s,s:s,s:o}", "job_id", job_id, "state", "check", "worker",
                                           worker_json(&ni)));
}

static int registry_key(void *ud, const char *node_id, uint8_t pk[static ZT_ED25519_PK_LEN])
{
    struct zt_node_info ni;
    int rc = zt_registry_get(ud, node_id, zt_time_real_ms(), &ni);
    if (!rc) memcpy(pk, ni.ed25519_pk, ZT_ED25519_PK_LEN);
    return rc;
}

/* Takes a verdict's evidence (the worker receipt's sealed-job id; its
 * finish, unix s, or 0 for a checkpoint alone: the orchestrator's own
 * verdict, whose checkpoint came with the check event) for one
 * settlement, pending until its settlement commits with it
 * (zt__verifier_settle_evidence) or release_evidence: 0 taken; ZT_EPERM a
 * verdict (the gateway's or the orchestrator's own) already used it, or the
 * receipt is too old or dated in the future to be kept until it stops
 * counting; ZT_EBUSY another verdict's settlement holds it now, or the set
 * is full (*why, static). Shared by verdict_h and own_verdict. */
static int use_evidence(struct zt_lease *l, const uint8_t id[static 16], uint64_t finished_s, const char **why)
{
    int64_t now = zt_time_real_ms(), until = now + EVIDENCE_TTL_MS;
    if (finished_s) {
        int64_t fin = finished_s > (uint64_t)INT64_MAX / 2000 ? INT64_MAX / 2 : (int64_t)finished_s * 1000;
        if (fin + EVIDENCE_TTL_MS <= now) {
            *why = "the worker's receipt is older than verdict evidence is accepted (1 hour)";
            return ZT_EPERM;
        }
        if (fin > now + ZT__CHECK_REPORT_SKEW_MS) {
            *why = "the worker's receipt is dated in the future (past the clock skew allowed)";
            return ZT_EPERM;
        }
        until = fin + EVIDENCE_TTL_MS;
        if (until < now + ZT__CHECK_REPORT_SKEW_MS) until = now + ZT__CHECK_REPORT_SKEW_MS;
    }
    switch (zt__evidence_take(l->used, id, until, now)) {
    case ZT__ONCE_TAKEN:
        return 0;
    case ZT__ONCE_USED:
        *why = "this evidence (the worker's receipt) was already used by a verdict";
        return ZT_EPERM;
    case ZT__ONCE_PENDING:
        *why = "this evidence is being settled by another verdict now; retry";
        return ZT_EBUSY;
    case ZT__ONCE_STORE:
        *why = "the store could not record this evidence now; retry";
        return ZT_EBUSY;
    case ZT__ONCE_FULL:
    default:
        *why = "too many verdicts' evidence held; retry later";
        return ZT_EBUSY;
    }
}

/* Settles evidence use_evidence took: kept (used), or given back after a
 * settlement that failed (a busy store): the retried verdict may use it. */
static void release_evidence(struct zt_lease *l, const uint8_t id[static 16], bool used)
{
    zt__evidence_settle(l->used, id, used);
}

/* "verdict": what the gateway's checks decided (zt_job_check_run), with
 * the signed checkpoints and receipts: checked and recomputed here
 * (orch_verdict.h), then charged as zt_verifier_settle charges for the
 * in-process gateway, committed with the evidence marked used
 * (zt__verifier_settle_evidence); a verdict the evidence does not prove is refused
 * (ZT_EPERM, *why). "unavailable": no checker was found, "none": nothing
 * checked. Ends the lease. VERDICT_AWAITS (only when may_wait): a picked
 * checker's report the verdict lacks may still come; nothing was done
 * (the caller decides it again when it comes, or without waiting).
 * ZT_EBUSY: the store was busy (checking or settling); the evidence is
 * given back (the gateway retries). VERDICT_EVIDENCE_BUSY: the evidence is
 * held by another verdict's settlement now, or the evidence set is full
 * (*why; nothing done, the gateway retries). */
static int verdict_h(struct zt_lease *l, const char *job_id, json_t *body, bool may_wait,
                     enum zt_job_state *st, const char **why)
{
    const char *v = json_string_value(json_object_get(body, "verdict"));
    if (!v) return ZT_EINVAL;
    bool nothing = strcmp(v, "unavailable") == 0 || strcmp(v, "none") == 0, awaiting = false;
    if (nothing && zt__check_reports_for_job(l->reports, job_id, &awaiting)) {
        *why = "a checker picked for this job reported its signed answer: the verdict must bring it";
        return ZT_EPERM; /* a gateway hiding every answer it got */
    }
    if (nothing && awaiting && may_wait) return VERDICT_AWAITS;
    if (strcmp(v, "unavailable") == 0) zt_verifier_note_unavailable(l->vf);
    if (nothing) return 0; /* nothing charged */
    struct zt_job_info ji;
    if (zt_sched_job_get(l->sched, job_id, &ji) != 0) return ZT_EINVAL;
    /* what this lease saw, copied out of the lock */
    char ran[LEASE_NODES_MAX][ZT_IDENTITY_ID_SIZE], picked[LEASE_NODES_MAX][ZT_IDENTITY_ID_SIZE];
    const char *ranp[LEASE_NODES_MAX], *pickedp[LEASE_NODES_MAX];
    size_t n_ran = 0, n_picked = 0;
    uint8_t subject[ZT__CHECK_SUBJECT_LEN];
    bool has_subject = false;
    pthread_mutex_lock(&l->mu);
    struct lease **pp = find(l, job_id);
    if (pp) {
        n_ran = (*pp)->n_ran;
        n_picked = (*pp)->n_picked;
        memcpy(ran, (*pp)->ran, sizeof ran);
        memcpy(picked, (*pp)->picked, sizeof picked);
        has_subject = (*pp)->has_subject;
        memcpy(subject, (*pp)->subject, sizeof subject);
    }
    pthread_mutex_unlock(&l->mu);
    for (size_t i = 0; i < n_ran; i++) ranp[i] = ran[i];
    for (size_t i = 0; i < n_picked; i++) pickedp[i] = picked[i];
    struct zt__verdict_job job = {.worker = ji.worker,
                                  .attempts = ji.attempts,
                                  .ran = ranp,
                                  .n_ran = n_ran,
                                  .picked = pickedp,
                                  .n_picked = n_picked,
                                  .key = registry_key,
                                  .key_ud = l->reg,
                                  .reports = l->reports,
                                  .subject = has_subject ? subject : NULL,
                                  .awaiting = &awaiting};
    struct zt__verdict out;
    int rc = zt__orch_verdict_check(&job, body, &out, why);
    if (awaiting && may_wait) return VERDICT_AWAITS;
    if (rc) return rc; /* ZT_EBUSY (a busy store): nothing used, answered 503 */
    /* the same signed evidence twice (an earlier job's, replayed): refused */
    rc = use_evidence(l, out.env_job_id, out.env_finished, why);
    if (rc) return rc == ZT_EBUSY ? VERDICT_EVIDENCE_BUSY : rc;
    if (!out.settle) { /* only the gateway's unsigned refusals disagree: nothing proven, nothing charged */
        release_evidence(l, out.env_job_id, true);
        zt_log(ZT_LOG_WARN, "verification_unproven", "sched_job=%s claimed=%s refused=%zu", job_id, v,
               out.n_refused);
        *st = ji.state;
        return 0;
    }
    /* settled with the evidence marked used in one store transaction; not
     * settled: given back, the retry may use it */
    const struct zt__settle_req q = {.v = l->vf, .s = l->sched, .job_id = job_id, .verdict = out.verdict,
                                     .workers = out.workers, .n_workers = out.n_workers, .checkers = out.checkers,
                                     .wrong = out.wrong, .n_checkers = out.n_checkers, .now_ms = zt_time_real_ms()};
    rc = zt__verifier_settle_evidence(l->used, out.env_job_id, &q);
    if (rc == ZT_EEXIST) { /* this settlement ran past its claim's deadline: another one took it over */
        *why = "this evidence is being settled by another verdict now; retry";
        return VERDICT_EVIDENCE_BUSY;
    }
    if (rc == 0 && zt_sched_job_get(l->sched, job_id, &ji) == 0) *st = ji.state;
    return rc;
}

/* With l->mu: the lease of job_id leaves the table (its waiters answered). */
static void end_lease(struct zt_lease *l, struct lease **pp)
{
    struct lease *ls = *pp;
    if (ls->waiter) {
        ls->failed = true;
        wake(l, ls);
    }
    drop_verdict(ls, 409, "verdict_pending", "the job's lease ended while this verdict waited");
    zt__check_reports_forget(l->reports, ls->job_id); /* its picks: no report is needed any more */
    unlink_lease(l, pp);
}

/* A verdict event (verdict_h) answered in res: 1 refused (422, counted),
 * 0 answered otherwise (a busy store: 503 + Retry-After, the lease kept),
 * VERDICT_AWAITS (may_wait only) a picked checker's report may still
 * come: nothing done, res untouched. */
static int verdict_call(struct zt_lease *l, const char *job_id, json_t *body, bool may_wait,
                        struct zt_lease_res *res)
{
    enum zt_job_state st = ZT_JOB_STATE_DONE;
    const char *why = NULL;
    int rc = verdict_h(l, job_id, body, may_wait, &st, &why);
    if (rc == VERDICT_AWAITS) return VERDICT_AWAITS;
    if (rc == VERDICT_EVIDENCE_BUSY) { /* nothing used up: the gateway's sender retries */
        zt_log_rl(ZT_LOG_WARN, 10, "verdict_evidence_busy", "sched_job=%s why=\"%s\"", job_id, why ? why : "");
        res->retry_after_s = 1;
        res_error(res, 503, "evidence_busy", why ? why : "this verdict's evidence is held now; retry");
        return 0;
    }
    if (rc == ZT_EBUSY) { /* the store was busy settling: nothing used up, the gateway's sender retries */
        zt_log_rl(ZT_LOG_WARN, 10, "verdict_store_busy", "sched_job=%s", job_id);
        res->retry_after_s = 1;
        res_error(res, 503, "store_busy",
                           "the store was busy settling this verdict; retry after Retry-After");
        return 0;
    }
    if (rc == ZT_EPERM) { /* not proven: refused, charged to nobody; the lease stays for its sweep */
        pthread_mutex_lock(&l->mu);
        l->n_verdict_refused++;
        pthread_mutex_unlock(&l->mu);
        zt_log(ZT_LOG_WARN, "verdict_refused", "sched_job=%s why=\"%s\"", job_id, why ? why : "");
        res_error(res, 422, "verdict_refused", why ? why : "the evidence does not prove the verdict");
        return 1;
    }
    if (rc == ZT_EINVAL) {
        res_error(res, 400, "invalid_request",
                           "a verdict needs verdict, workers, checkers, and the signed checkpoint and receipt of "
                           "each (hex)");
        return 0;
    }
    pthread_mutex_lock(&l->mu);
    struct lease **pp = find(l, job_id);
    if (pp) end_lease(l, pp);
    pthread_mutex_unlock(&l->mu);
    if (rc)
        res_error(res, 409, "illegal_transition", "the job is not in a state this event applies to");
    else
        res_json(res, 200, json_pack("{s:s,s:s}", "job_id", job_id, "state", zt_job_state_name(st)));
    return 0;
}

/* Decide job_id's waiting verdict again (a report came, a check failed,
 * or its wait ended: expired), answering its deferred call once decided;
 * still awaiting, it waits on. Never holds l->mu while deciding. */
static void resume_verdict(struct zt_lease *l, const char *job_id, bool expired)
{
    pthread_mutex_lock(&l->mu);
    struct lease **pp = find(l, job_id);
    struct lease *ls = pp ? *pp : NULL;
    if (!ls || !ls->vwait) {
        if (ls && ls->deciding) ls->recheck = true; /* the thread deciding it looks again */
        pthread_mutex_unlock(&l->mu);
        return;
    }
    struct zt_lease_waiter *a = ls->vwait;
    json_t *b = ls->vbody;
    uint64_t until = ls->vuntil;
    ls->vwait = NULL;
    ls->vbody = NULL;
    ls->deciding = true;
    ls->recheck = false;
    pthread_mutex_unlock(&l->mu);
    struct zt_lease_res res;
    zt_lease_res_init(&res);
    for (;;) {
        if (verdict_call(l, job_id, b, !expired && zt_time_mono_ms() < until, &res) != VERDICT_AWAITS) break;
        pthread_mutex_lock(&l->mu);
        pp = find(l, job_id);
        ls = pp ? *pp : NULL;
        if (ls && !ls->recheck) { /* still awaiting: back to wait */
            ls->vwait = a;
            ls->vbody = b;
            ls->deciding = false;
            pthread_mutex_unlock(&l->mu);
            zt_lease_res_deinit(&res);
            return;
        }
        if (ls) ls->recheck = false;
        else expired = true; /* the lease ended meanwhile: decided as it stands */
        pthread_mutex_unlock(&l->mu);
    }
    pthread_mutex_lock(&l->mu);
    pp = find(l, job_id);
    if (pp) (*pp)->deciding = (*pp)->recheck = false;
    pthread_mutex_unlock(&l->mu);
    zt_log(ZT_LOG_INFO, "verdict_wait_over", "sched_job=%s status=%d expired=%d", job_id, res.status, expired);
    a->answer(a, &res);
    zt_lease_res_deinit(&res);
    json_decref(b);
}

/* A verdict that awaits a picked checker's report: its call is deferred (no
 * server thread waits) until the report comes or CHECK_REPORT_WAIT_MS
 * passed (the sweep). 1 refused at once (counted), 0 otherwise. */
static int verdict_event(struct zt_lease *l, const struct zt_lease_call *call, const char *job_id, json_t *body,
                         struct zt_lease_res *res)
{
    pthread_mutex_lock(&l->mu);
    struct lease **pp = find(l, job_id);
    struct lease *ls = pp ? *pp : NULL;
    if (ls && ls->owning) { /* the orchestrator decides it itself now */
        pthread_mutex_unlock(&l->mu);
        res_error(res, 409, "verdict_pending", "the orchestrator decides this job's verdict now");
        return 0;
    }
    if (ls) ls->gw_busy++; /* no own verdict meanwhile (one settlement per job) */
    pthread_mutex_unlock(&l->mu);
    int v = verdict_call(l, job_id, body, true, res);
    pthread_mutex_lock(&l->mu);
    pp = find(l, job_id);
    ls = pp ? *pp : NULL;
    if (ls && ls->gw_busy) ls->gw_busy--;
    if (v != VERDICT_AWAITS) {
        pthread_mutex_unlock(&l->mu);
        return v;
    }
    if (ls && (ls->vwait || ls->deciding)) {
        pthread_mutex_unlock(&l->mu);
        res_error(res, 409, "verdict_pending", "a verdict for this job waits for its checkers' reports");
        return 0;
    }
    json_t *copy = ls ? json_deep_copy(body) : NULL;
    struct zt_lease_waiter *a = copy && call->defer ? call->defer(call->defer_ud) : NULL;
    if (!a) { /* out of memory (or the lease ended): decided now, without the wait */
        if (ls) ls->gw_busy++;
        pthread_mutex_unlock(&l->mu);
        json_decref(copy);
        v = verdict_call(l, job_id, body, false, res);
        pthread_mutex_lock(&l->mu);
        pp = find(l, job_id);
        if (pp && (*pp)->gw_busy) (*pp)->gw_busy--;
        pthread_mutex_unlock(&l->mu);
        return v;
    }
    ls->vwait = a;
    ls->vbody = copy;
    ls->vuntil = zt_time_mono_ms() + CHECK_REPORT_WAIT_MS;
    ls->touched = zt_time_mono_ms();
    pthread_mutex_unlock(&l->mu);
    zt_log(ZT_LOG_INFO, "verdict_waits", "sched_job=%s for=check_report max_ms=%d", job_id, CHECK_REPORT_WAIT_MS);
    resume_verdict(l, job_id, false); /* a report that came since it was decided */
    return 0;
}

/* The orchestrator's own verdict on job_id, whose gateway sent none it
 * could prove within verdict_wait_ms of the last check activity (it
 * colludes with its worker, or died): decided from the worker's signed
 * checkpoint of the check event and the checkers' own reports
 * (zt__orch_verdict_own), settled as a gateway's proven verdict is
 * (zt__verifier_settle_evidence: the ledger's hook, then the job and the
 * registry committed with the evidence marked used). With a
 * picked checker's report still awaited it waits on, until `last` (the
 * lease's idle limit); nothing held but the worker's: "unverified",
 * nothing charged. A gateway verdict after it is answered 409
 * verdict_decided with this one. */
static void own_verdict(struct zt_lease *l, const char *job_id, bool last)
{
    static const char *const names[] = {"agreed", "worker_wrong", "checker_wrong", "undecided"};
    struct {
        uint8_t wckpt[ZT_CKPT_MAX_LEN], wpk[ZT_ED25519_PK_LEN];
        size_t wckpt_len, n_ran, n_picked;
        char checked[ZT_IDENTITY_ID_SIZE], gateway[ZT_IDENTITY_ID_SIZE];
        char ran[LEASE_NODES_MAX][ZT_IDENTITY_ID_SIZE], picked[LEASE_NODES_MAX][ZT_IDENTITY_ID_SIZE];
    } *c = zt_malloc(sizeof *c);
    if (!c) return;
    pthread_mutex_lock(&l->mu);
    struct lease **pp = find(l, job_id);
    struct lease *ls = pp ? *pp : NULL;
    if (!ls || ls->decided || ls->owning || ls->vwait || ls->deciding || ls->gw_busy || !ls->wckpt_len) {
        pthread_mutex_unlock(&l->mu);
        zt_free(c);
        return;
    }
    ls->owning = true;
    memcpy(c->wckpt, ls->wckpt, ls->wckpt_len);
    c->wckpt_len = ls->wckpt_len;
    memcpy(c->wpk, ls->wpk, sizeof c->wpk);
    zt_strlcpy(c->checked, ls->checked, sizeof c->checked);
    zt_strlcpy(c->gateway, ls->gateway[0] ? ls->gateway : "-", sizeof c->gateway);
    memcpy(c->ran, ls->ran, sizeof c->ran);
    memcpy(c->picked, ls->picked, sizeof c->picked);
    c->n_ran = ls->n_ran;
    c->n_picked = ls->n_picked;
    pthread_mutex_unlock(&l->mu);
    const char *workers[LEASE_NODES_MAX + 1], *picked[LEASE_NODES_MAX];
    size_t nw = 0;
    workers[nw++] = c->checked; /* the worker checked first, then the others the job ran on */
    for (size_t i = 0; i < c->n_ran; i++)
        if (strcmp(c->ran[i], c->checked) != 0) workers[nw++] = c->ran[i];
    for (size_t i = 0; i < c->n_picked; i++) picked[i] = c->picked[i];
    struct zt__verdict v;
    bool awaiting = false;
    int ev = 0;
    const char *ev_why = NULL;
    int rc = zt__orch_verdict_own(l->reports, c->wckpt, c->wckpt_len, c->wpk, picked, c->n_picked, &v, &awaiting);
    const char *decided = NULL;
    if (rc == 0 && awaiting && !last) {
        decided = NULL; /* a picked checker may still report: wait on */
    } else if (rc == 0 && v.settle && (ev = use_evidence(l, v.env_job_id, 0, &ev_why)) == ZT_EBUSY) {
        decided = NULL; /* another settlement holds the evidence now: looked at again */
    } else if (rc == 0 && v.settle && ev) {
        decided = "unverified"; /* the worker's receipt already settled a verdict: not charged twice */
        zt_log(ZT_LOG_WARN, "verdict_decided_here",
               "sched_job=%s gateway=%s worker=%s verdict=unverified why=evidence_already_used", job_id, c->gateway,
               c->checked);
    } else if (rc == 0 && v.settle) {
        decided = names[v.verdict];
        /* settled with the evidence marked used, one transaction; a failed
         * one gives it back (nothing of it was kept): a later verdict
         * with it settles the job */
        const struct zt__settle_req q = {.v = l->vf, .s = l->sched, .job_id = job_id, .verdict = v.verdict,
                                         .workers = workers, .n_workers = nw, .checkers = v.checkers,
                                         .wrong = v.wrong, .n_checkers = v.n_checkers,
                                         .now_ms = zt_time_real_ms()};
        int e = zt__verifier_settle_evidence(l->used, v.env_job_id, &q);
        if (e && e != ZT_EEXIST && !last) decided = NULL; /* nothing kept (a busy store): looked at again */
        zt_log(ZT_LOG_WARN, decided ? "verdict_decided_here" : "verdict_settle_retry",
               "sched_job=%s gateway=%s worker=%s verdict=%s checkers=%zu why=no_verdict_in_time settle=%s", job_id,
               c->gateway, c->checked, names[v.verdict], v.n_checkers, e ? zt_strerror(e) : "ok");
    } else {
        decided = "unverified"; /* nothing to compare with: nothing charged */
        zt_log(ZT_LOG_WARN, "verdict_decided_here",
               "sched_job=%s gateway=%s worker=%s verdict=unverified why=no_verdict_in_time checker_reports=0",
               job_id, c->gateway, c->checked);
    }
    pthread_mutex_lock(&l->mu);
    pp = find(l, job_id);
    if (pp) {
        (*pp)->owning = false;
        if (decided) {
            (*pp)->decided = decided;
            (*pp)->touched = zt_time_mono_ms(); /* kept a while to answer a late verdict */
        } else {
            (*pp)->onext = zt_time_mono_ms() + 1000;
        }
    }
    pthread_mutex_unlock(&l->mu);
    zt_free(c);
}

int zt_lease_expect_check(struct zt_lease *l, const char *checker, const char *job_id,
                          const uint8_t subject[static ZT__CHECK_SUBJECT_LEN], int64_t now_ms)
{
    return zt__check_reports_expect(l->reports, "", checker, job_id, subject, now_ms);
}

/* A check of job_id moved (a pick, a checker failed, a report credited):
 * the orchestrator's own verdict waits verdict_wait_ms from now. */
static void check_moved(struct zt_lease *l, const char *job_id)
{
    pthread_mutex_lock(&l->mu);
    struct lease **pp = find(l, job_id);
    if (pp) (*pp)->oact = zt_time_mono_ms();
    pthread_mutex_unlock(&l->mu);
}

void zt_lease_check_failed(struct zt_lease *l, const char *checker, const char *job_id)
{
    zt__check_reports_failed(l->reports, checker, job_id);
    check_moved(l, job_id);
    resume_verdict(l, job_id, false); /* its report is awaited no more */
}

void zt_lease_check_done(struct zt_lease *l, const char *job_id)
{
    zt__check_reports_forget(l->reports, job_id);
}

int zt_lease_check_report(struct zt_lease *l, json_t *body, const char **why)
{
    char job[ZT_JOB_ID_SIZE] = "";
    int rc = zt__check_reports_put(l->reports, registry_key, l->reg, body, zt_time_real_ms(), job, why);
    if (rc == 0 && job[0]) {
        check_moved(l, job);
        resume_verdict(l, job, false); /* a verdict waiting for it */
    }
    return rc;
}

bool zt_lease_report(struct zt_lease *l, const struct zt_lease_call *call, json_t *body,
                             struct zt_lease_res *res)
{
    const char *job_id = json_string_value(json_object_get(body, "job_id"));
    const char *worker = json_string_value(json_object_get(body, "worker"));
    const char *ev = json_string_value(json_object_get(body, "event"));
    int64_t tokens = int_of(body, "tokens", 0);
    const char *gw_desc = json_string_value(json_object_get(body, "gateway"));
    if (gw_desc) note_gateway(l, gw_desc);
    char gw[ZT_IDENTITY_ID_SIZE];
    if (gateway_caller(l, call, res, gw) < 0) return false;
    if (!job_id || strlen(job_id) >= ZT_JOB_ID_SIZE) {
        res_error(res, 404, "unknown_job", "no leased job by that id");
        return false;
    }
    if (!ev || tokens < 0 || tokens > UINT32_MAX) {
        res_error(res, 400, "invalid_request", "event is one of " EVENTS);
        return false;
    }
    if (take_lease(l, call, job_id, gw, res) < 0) return false;
    pthread_mutex_lock(&l->mu);
    struct lease **dp = find(l, job_id);
    const char *decided = dp ? (*dp)->decided : NULL;
    if (dp) (*dp)->touched = zt_time_mono_ms(); /* a report is a call about the job: not idle */
    pthread_mutex_unlock(&l->mu);
    if (decided) { /* its verdict came too late: the orchestrator decided it (own_verdict) */
        res_json(res, 409,
                          json_pack("{s:{s:s,s:s,s:s},s:s,s:s}", "error", "code", "verdict_decided", "message",
                                    "the orchestrator decided this job's verdict itself: none came in time",
                                    "type", "invalid_request_error",
                                    "job_id", job_id, "verdict", decided));
        return false;
    }
    if (worker) { /* the gateway has this worker: an assignment of it kept for the next lease call is stale */
        pthread_mutex_lock(&l->mu);
        struct lease **lp = find(l, job_id);
        if (lp && strcmp((*lp)->assigned, worker) == 0) (*lp)->assigned[0] = '\0';
        pthread_mutex_unlock(&l->mu);
    }
    int64_t now = zt_time_real_ms();
    int rc;
    enum zt_job_state st = ZT_JOB_STATE_FAILED;
    bool ends = false;
    const char *verify = NULL;
    if (strcmp(ev, "check") == 0) {
        check_pick_h(l, job_id, worker, body, res);
        return false;
    } else if (strcmp(ev, "check_failed") == 0) { /* a checker that failed its check: charged as a failed job */
        if (worker) zt_lease_check_failed(l, worker, job_id); /* and its report awaited no more */
        rc = worker ? zt_registry_report(l->reg, worker,
                                         json_is_true(json_object_get(body, "stalled")) ? ZT_OUTCOME_TIMED_OUT
                                                                                         : ZT_OUTCOME_FAILED,
                                         now)
                    : ZT_EINVAL;
        if (rc == 0) st = ZT_JOB_STATE_DONE;
    } else if (strcmp(ev, "verdict") == 0) {
        return verdict_event(l, call, job_id, body, res) == 1;
    } else if (strcmp(ev, "started") == 0) {
        rc = worker ? zt_sched_job_started(l->sched, job_id, worker, now) : ZT_EINVAL;
        st = ZT_JOB_STATE_RUNNING;
    } else if (strcmp(ev, "ok") == 0) {
        rc = worker ? zt_sched_job_finished(l->sched, job_id, worker, ZT_SCHED_OK, (uint32_t)tokens, now, &st)
                    : ZT_EINVAL;
        struct zt_job_info dj;
        if (rc == ZT_ENOTFOUND && zt_sched_job_get(l->sched, job_id, &dj) == 0 && dj.state == ZT_JOB_STATE_DONE &&
            strcmp(dj.worker, worker) == 0)
            rc = 0, st = ZT_JOB_STATE_DONE; /* done before (its orchestrator died before answering): taken over done */
        ends = rc == 0;
        /* the orchestrator's draw (zt_verifier_sample): the gateway checks
         * the answer on the checkers this orchestrator picks ("check") and
         * reports the verdict; the lease stays open until then */
        enum zt_verify_reason why = rc == 0 ? zt_verifier_sample(l->vf, job_id, worker, now) : ZT_VERIFY_NONE;
        if (why != ZT_VERIFY_NONE) {
            verify = zt_verify_reason_name(why);
            ends = false;
        }
        /* the request asked for replicated execution: the gateway runs it on
         * the replicas this orchestrator picks ("check", rounds 2...) */
        if (rc == 0 && json_is_true(json_object_get(body, "replicas"))) {
            verify = "replicas";
            ends = false;
        }
    } else if (strcmp(ev, "error") == 0 || strcmp(ev, "stalled") == 0 || strcmp(ev, "unreachable") == 0) {
        /* one that cannot be reached at all is dropped until it joins again */
        if (worker && ev[0] == 'u' && zt_registry_drop(l->reg, worker, now) == 0)
            zt_log(ZT_LOG_WARN, "worker_unreachable", "worker=%s action=dropped_until_rejoin", worker);
        rc = worker ? zt_sched_job_finished(l->sched, job_id, worker,
                                            ev[1] == 't' ? ZT_SCHED_STALLED : ZT_SCHED_ERROR, 0, now, &st)
                    : ZT_EINVAL;
        if (rc) { /* the drop requeued it already, or it had moved */
            struct zt_job_info ji;
            if (zt_sched_job_get(l->sched, job_id, &ji) == 0) st = ji.state, rc = 0;
        }
        ends = rc == 0 && st == ZT_JOB_STATE_FAILED;
    } else if (strcmp(ev, "cancel") == 0) {
        rc = zt_sched_job_cancel(l->sched, job_id, now);
        ends = true;
    } else {
        res_error(res, 400, "invalid_request", "event is one of " EVENTS);
        return false;
    }
    if (rc == 0 || ends) { /* what the lease's deadlines look at (reclaim_why) */
        pthread_mutex_lock(&l->mu);
        struct lease **pp = find(l, job_id);
        if (pp && ends) {
            end_lease(l, pp);
        } else if (pp && strcmp(ev, "started") == 0) {
            (*pp)->started = true;
        } else if (pp && strcmp(ev, "ok") == 0) { /* done: its verification (if drawn) follows */
            (*pp)->done = true;
        } else if (pp && rc == 0 && st == ZT_JOB_STATE_QUEUED) { /* requeued: the next assignment has its own deadline */
            (*pp)->handed = 0;
            (*pp)->started = false;
        }
        pthread_mutex_unlock(&l->mu);
    }
    if (rc) {
        res_error(res, rc == ZT_EPERM ? 403 : 409, rc == ZT_EPERM ? "not_its_worker" : "illegal_transition",
                           "the job is not in a state this event applies to");
        return false;
    }
    res_json(res, 200, json_pack("{s:s,s:s,s:s?}", "job_id", job_id, "state", zt_job_state_name(st),
                                           "verify", verify));
    return false;
}

/* With l->mu: why the sweep reclaims ls at now (mono ms), or
 * ZT_LEASE_RECLAIM_N to keep it. A lease whose verdict is being decided
 * (pending, parked or in a thread) is kept until that is done; then: an
 * assignment handed out and not reported started within start_ms, a
 * lease open max_ms (both however often it is asked about), one nobody
 * called about (a lease call or a report) for idle_ms, no call parked,
 * unless its job is started and not done (running: never idle). A stamp later than now
 * (a call since the clock was read) is not past, rather than wrapped
 * around. */
static enum zt_lease_reclaim reclaim_why(const struct zt_lease *l, const struct lease *ls, uint64_t now)
{
    bool pending = ls->wckpt_len && !ls->decided;
    if (pending || ls->vwait || ls->deciding || ls->gw_busy || ls->owning || ls->taking) return ZT_LEASE_RECLAIM_N;
    if (ls->handed && !ls->started && !ls->done && now > ls->handed && now - ls->handed >= l->start_ms)
        return ZT_LEASE_UNSTARTED;
    if (now > ls->born && now - ls->born >= l->max_ms) return ZT_LEASE_MAX_AGE;
    /* a started job not yet done is running on its worker: a remote gateway
     * makes no call about it until it ends (its "ok" may come minutes
     * later), so it is left to max_ms and the scheduler's stall handling */
    if (ls->started && !ls->done) return ZT_LEASE_RECLAIM_N;
    if (!ls->waiter && now > ls->touched && now - ls->touched >= l->idle_ms) return ZT_LEASE_IDLE;
    return ZT_LEASE_RECLAIM_N;
}

/* One pass of zt_lease_sweep: true when its cancel list filled up (more
 * leases may be due: the caller runs another pass). */
static bool sweep_pass(struct zt_lease *l, bool all)
{
    static const char *const why_names[ZT_LEASE_RECLAIM_N] = {"idle", "unstarted", "max_age"};
    uint64_t now = zt_time_mono_ms();
    char cancel[SWEEP_BATCH][ZT_JOB_ID_SIZE], decide[16][ZT_JOB_ID_SIZE], own[16][ZT_JOB_ID_SIZE];
    size_t n_cancel = 0, n_decide = 0, n_own = 0;
    bool own_last[16];
    pthread_mutex_lock(&l->mu);
    for (struct lease **pp = &l->all; *pp;) {
        struct lease *ls = *pp;
        /* a verdict whose wait for its checkers' reports ended: decided
         * now with what is held (stopping: answered 503) */
        if (ls->vwait && all) drop_verdict(ls, 503, "unavailable", "the orchestrator is stopping");
        else if (ls->vwait && now >= ls->vuntil && n_decide < 16)
            zt_strlcpy(decide[n_decide++], ls->job_id, sizeof decide[0]);
        if (ls->waiter && (all || now >= ls->wait_until)) {
            json_t *j = NULL;
            int st = answer(l, ls->job_id, NULL, false, &j); /* 202 queued: ask again */
            respond_async(ls->waiter, st, j);
            ls->waiter = NULL;
            ls->touched = now;
        }
        /* a checked job whose verdict has not come (or none proven):
         * decided here from the signed chains held (own_verdict) */
        bool pending = ls->wckpt_len && !ls->decided;
        if (!all && pending && !ls->vwait && !ls->deciding && !ls->gw_busy && !ls->owning && now > ls->oact &&
            now - ls->oact >= l->verdict_wait_ms && now >= ls->onext && n_own < 16) {
            own_last[n_own] = now - ls->oact >= l->idle_ms;
            zt_strlcpy(own[n_own++], ls->job_id, sizeof own[0]);
        }
        if (all && !ls->waiter) { /* stopping: the jobs stay in the store for the next start */
            zt__check_reports_forget(l->reports, ls->job_id);
            unlink_lease(l, pp);
            continue;
        }
        enum zt_lease_reclaim why = all || n_cancel == SWEEP_BATCH ? ZT_LEASE_RECLAIM_N : reclaim_why(l, ls, now);
        if (why != ZT_LEASE_RECLAIM_N) {
            /* its slot given back: the job cancelled, unless it was done
             * (a verdict decided here settled it already); a call parked
             * on it answered failed (410) */
            l->n_reclaimed[why]++;
            zt_log_rl(ZT_LOG_WARN, 10, "lease_reclaimed", "sched_job=%s gateway=%s why=%s", ls->job_id,
                      ls->gateway[0] ? ls->gateway : "-", why_names[why]);
            if (!ls->decided && !ls->done) zt_strlcpy(cancel[n_cancel++], ls->job_id, sizeof cancel[0]);
            end_lease(l, pp);
            continue;
        }
        pp = &ls->next;
    }
    pthread_mutex_unlock(&l->mu);
    for (size_t i = 0; i < n_decide; i++) resume_verdict(l, decide[i], true);
    for (size_t i = 0; i < n_own; i++) own_verdict(l, own[i], own_last[i]);
    for (size_t i = 0; i < n_cancel; i++) zt_ignore(zt_sched_job_cancel(l->sched, cancel[i], zt_time_real_ms()));
    return n_cancel == SWEEP_BATCH;
}

void zt_lease_sweep(struct zt_lease *l, bool all)
{
    if (!l) return;
    while (sweep_pass(l, all)) {}
}

void zt_lease_free(struct zt_lease *l)
{
    if (!l) return;
    zt_lease_sweep(l, true);
    for (size_t i = 0; i < GATEWAYS_MAX; i++) zt_free(l->gws[i].desc);
    zt_peers_free(l->gw_peers);
    zt_nodeauth_verifier_free(l->nav);
    zt__check_reports_free(l->reports);
    zt__evidence_free(l->used);
    orch_map_deinit(&l->callers); /* empty: every lease gave its place back */
    pthread_mutex_destroy(&l->mu);
    zt_free(l);
}

int zt_lease_settle_local(struct zt_lease *l, const char *job_id, enum zt_verify_verdict verdict,
                          const char *const *workers, size_t n_workers, const char *const *checkers,
                          const bool *wrong, size_t n_checkers, int64_t now_ms)
{
    if (!l) return ZT_EINVAL;
    const struct zt__settle_req q = {.v = l->vf, .s = l->sched, .job_id = job_id, .verdict = verdict,
                                     .workers = workers, .n_workers = n_workers, .checkers = checkers,
                                     .wrong = wrong, .n_checkers = n_checkers, .now_ms = now_ms};
    return zt__verifier_settle_local(l->used, &q);
}

void zt_lease_outbox_sweep(struct zt_lease *l)
{
    if (!l || !zt__evidence_sweep_due(l->used, (int64_t)zt_time_mono_ms())) return;
    size_t ran = 0;
    int rc = zt__verifier_outbox_sweep(l->used, l->vf, l->sched, 64, &ran);
    if (rc) zt_log_rl(ZT_LOG_WARN, 10, "settle_outbox_sweep_failed", "error=%s", zt_strerror(rc));
}
