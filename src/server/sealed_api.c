/* sealed_api.c: GET /v1/node/descriptor and POST /v1/jobs/sealed. See
 * sealed_api.h.
 *
 * Thin handlers over the worker side of sealed jobs (zt_sealed_worker.h,
 * src/jobs): the descriptor it caches; a job's envelope handed to it with
 * who sent it, its refusal rendered as a JSON error in clear (a relay sees
 * it: codes and messages name what was wrong, never any byte of the opened
 * body), or the job started with its sealed stream written to the
 * connection. After the stream started, a failure ends it without a final
 * chunk: the client's reader reports a truncated stream. */
#include <stdio.h>
#include <string.h>

#include "llm_api.h"
#include "openai.h"
#include "sealed_api.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_sealed.h"

void zt__sealed_h_descriptor(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)cx, (void)body;
    struct zt_sealed_worker *sj = ud;
    if (!sj) {
        zt_http_resp_error(resp, 503, "unavailable", "this node has no identity key to sign with");
        return;
    }
    int rc = zt_sealed_worker_descriptor(sj, &resp->body, NULL);
    if (rc) {
        zt_buf_reset(&resp->body);
        zt_http_resp_error(resp, 500, "internal", "cannot sign the node descriptor");
        return;
    }
    resp->status = 200;
    resp->content_type = "application/json";
}

/* The HTTP status of each refusal code (zt_sealed_worker.h). */
static int refusal_status(const char *code)
{
    static const struct {
        const char *code;
        int status;
    } map[] = {
        {"invalid_envelope", 400},           {"unsupported_envelope", 400},     {"wrong_recipient", 421},
        {"envelope_expired", 410},           {"envelope_not_yet_valid", 400},   {"envelope_replayed", 409},
        {"replay_cache_full", 503},          {"envelope_rejected", 400},        {"envelope_lifetime_too_long", 400},
        {"envelope_predates_restart", 409},  {"price_above_ceiling", 402},      {"invalid_job", 400},
        {"unsupported_job", 400},            {"model_unavailable", 503},        {"replay_share_exhausted", 429},
        {"overloaded", 503},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].code, code) == 0) return map[i].status;
    return 500; /* internal */
}

static void refuse(struct zt_http_req *req, struct zt_http_resp *resp, const struct zt_sealed_refusal *why)
{
    if (why->infer) {
        zt__openai_refuse(resp, &why->err);
        return;
    }
    int status = refusal_status(why->err.code);
    if (why->retry_after_s) {
        char v[16];
        snprintf(v, sizeof v, "%u", why->retry_after_s);
        zt_ignore(zt_http_resp_header(resp, "Retry-After", v));
    }
    zt_log_rl(ZT_LOG_DEBUG, 20, "sealed_job_refused", "status=%d code=%s request_id=%s", status, why->err.code,
              zt_http_req_id(req));
    zt_http_resp_error(resp, status, why->err.code, why->err.message);
}

/* The sealed stream's bytes go to the connection (the llm sink's data is
 * the run). */
static int conn_write(void *c, const void *p, size_t n)
{
    return zt_http_async_write(c, p, n);
}

static void conn_end(void *c)
{
    zt_http_async_end(c);
}

static const struct zt_sealed_conn CONN = {conn_write, conn_end};

static void sink_text(void *ud, struct zt_http_async *a, const struct zt_job_event *ev)
{
    zt_sealed_run_text(ud, ev, &CONN, a);
}

static void sink_done(void *ud, struct zt_http_async *a, const struct zt_job_event *ev)
{
    zt_sealed_run_done(ud, ev, &CONN, a);
}

static void sink_fail(void *ud, struct zt_http_async *a, int err)
{
    zt_sealed_run_fail(ud, err, &CONN, a);
}

static void sink_free(void *ud)
{
    zt_sealed_run_free(ud);
}

static const struct zt__llm_sink SINK = {sink_text, sink_done, sink_fail, sink_free};

void zt__sealed_h_job(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)body; /* the envelope's bytes are read from the request */
    struct zt_sealed_worker *sj = ud;
    struct zt_http_req *req = cx->req;
    const char *off = !sj                              ? "this node has no identity key to open jobs with"
                      : !zt_sealed_worker_runs_jobs(sj) ? "this node does not run the worker role (node.roles)"
                                                        : NULL;
    if (off) {
        zt_http_resp_error(resp, 503, sj ? "not_a_worker" : "unavailable", off);
        return;
    }
    size_t len;
    const uint8_t *env = (const uint8_t *)zt_http_req_body(req, &len);
    /* the replay share: an authenticated or signed caller by its identity,
     * anyone else by its address (zt_replay_share.h) */
    bool admitted = cx->principal.identity[0] != '\0';
    const char *caller = admitted ? cx->principal.identity : zt_http_req_client_addr(req);
    struct zt_sealed_run *run = NULL;
    struct zt_infer_job *ij = NULL;
    uint8_t head[ZT_ENV_STREAM_HDR_LEN];
    struct zt_sealed_refusal why;
    if (zt_sealed_worker_accept(sj, env, len, caller, admitted, zt_http_req_id(req), &run, &ij, head, &why) != 0) {
        refuse(req, resp, &why);
        return;
    }
    if (zt__llm_stream(ij, req, ZT_SEALED_MEDIA_RESULT, head, sizeof head, &SINK, run, resp) != 0) {
        zt_infer_job_free(ij);
        zt_sealed_run_free(run);
    }
}
