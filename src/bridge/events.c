/* events.c: the bodies of the gateway's job events (zt_bridge.h):
 * job.completed and payout.settled, built here and written to the outbox
 * through zt_bridge_emit. See docs/internals/bridge.md. */
#include <stdio.h>

#include "zentalk/zt_bridge.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_str.h"

json_t *zt_bridge_job_completed_data(const char *job_id, const char *user, const char *model, const char *worker,
                                     const char *outcome, uint32_t prompt_tokens, uint32_t completion_tokens,
                                     uint64_t duration_ms, char key[static ZT_BRIDGE_KEY_MAX + 1])
{
    if (!job_id || !job_id[0] || !outcome) return NULL;
    snprintf(key, ZT_BRIDGE_KEY_MAX + 1, "job.completed:%s", job_id);
    return json_pack("{s:s,s:s?,s:s,s:s,s:s,s:b,s:I,s:I,s:I}", "job_id", job_id, "user",
                     user && user[0] ? user : NULL, "model", model, "worker", worker, "outcome", outcome, "ok",
                     zt_str_eq(outcome, "ok") || zt_str_eq(outcome, "cache"), "prompt_tokens",
                     (json_int_t)prompt_tokens, "completion_tokens", (json_int_t)completion_tokens, "duration_ms",
                     (json_int_t)duration_ms);
}

void zt_bridge_job_completed(struct zt_bridge *b, const char *job_id, const char *user, const char *model,
                             const char *worker, const char *outcome, uint32_t prompt_tokens,
                             uint32_t completion_tokens, uint64_t duration_ms)
{
    if (!b) return;
    char key[ZT_BRIDGE_KEY_MAX + 1];
    json_t *d = zt_bridge_job_completed_data(job_id, user, model, worker, outcome, prompt_tokens, completion_tokens,
                                             duration_ms, key);
    if (d) zt_ignore(zt_bridge_emit(b, "job.completed", key, d));
    json_decref(d);
}

json_t *zt_bridge_payout_settled_data(const struct zt_ledger_prices *p, const char *job_id, const char *user,
                                      const char *worker, uint32_t prompt_tokens, uint32_t completion_tokens,
                                      char key[static ZT_BRIDGE_KEY_MAX + 1])
{
    zt_u128 cost, fee;
    if (!p || !job_id || !job_id[0] || zt_ledger_job_cost(p, prompt_tokens, completion_tokens, &cost, &fee))
        return NULL;
    char cs[ZT_U128_STR_LEN], fs[ZT_U128_STR_LEN];
    snprintf(key, ZT_BRIDGE_KEY_MAX + 1, "payout.settled:%s", job_id);
    zt_u128_format(cost, cs);
    zt_u128_format(fee, fs);
    return json_pack("{s:s,s:s?,s:s,s:s,s:s,s:I,s:I}", "job_id", job_id, "user", user && user[0] ? user : NULL,
                     "worker", worker, "amount", cs, "fee", fs, "prompt_tokens", (json_int_t)prompt_tokens,
                     "completion_tokens", (json_int_t)completion_tokens);
}

void zt_bridge_payout_settled(struct zt_bridge *b, const struct zt_ledger_prices *p, const char *job_id,
                              const char *user, const char *worker, uint32_t prompt_tokens,
                              uint32_t completion_tokens)
{
    if (!b) return;
    char key[ZT_BRIDGE_KEY_MAX + 1];
    json_t *d = zt_bridge_payout_settled_data(p, job_id, user, worker, prompt_tokens, completion_tokens, key);
    if (d) zt_ignore(zt_bridge_emit(b, "payout.settled", key, d));
    json_decref(d);
}
