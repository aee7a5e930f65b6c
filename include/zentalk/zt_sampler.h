/* zt_sampler.h: deterministic token sampling and the verification hash chain.
 *
 * Given the same logits, parameters and seed, the sampler picks the same
 * token on every machine: the random generator is our own (xoshiro256**
 * seeded with splitmix64 from (seed, position): the draw for generated
 * token N depends on nothing else, so a worker that resumes a stream or
 * verifies one reconstructs the state at N from the N ids), ties are broken
 * by token id, and probabilities are accumulated in a fixed order in double
 * precision. Exact definition: docs/architecture/WIRE.md.
 *
 * Order of transformations (as llama.cpp's default chain): logit_bias ->
 * repetition / frequency / presence penalties -> (temperature 0: argmax) ->
 * top-k -> top-p -> min-p -> temperature -> softmax -> draw.
 *
 * Hash chain: h0 = BLAKE2b-256("zentalk-seq-v1" || canonical params);
 * after each accepted token, h = BLAKE2b-256(h || token (u32 LE) || the top 8
 * raw logits as (id u32 LE, float bits u32 LE) sorted by value then id).
 * Two workers that ran the same job agree on h bit for bit; the verifier
 * compares them. */
#ifndef ZT_SAMPLER_H
#define ZT_SAMPLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

#define ZT_SAMPLER_HASH_LEN 32
#define ZT_SAMPLER_HASH_TOPK 8

struct zt_logit_bias {
    int32_t token;
    float bias;       /* added to the logit; -INFINITY bans the token */
};

struct zt_sampler_params {
    float temperature;        /* 0 = greedy (argmax) */
    int32_t top_k;            /* <= 0: off */
    float top_p;              /* >= 1: off */
    float min_p;              /* <= 0: off */
    float repeat_penalty;     /* 1: off; applied to tokens in the last repeat_last_n */
    int32_t repeat_last_n;    /* 0: off, -1: whole history */
    float frequency_penalty;  /* 0: off (OpenAI semantics) */
    float presence_penalty;   /* 0: off */
    uint64_t seed;
    const struct zt_logit_bias *logit_bias;
    size_t n_logit_bias;
};

/* Defaults: temperature 0.8, top_k 40, top_p 0.95, min_p 0.05, penalties off, seed 0. */
void zt_sampler_params_default(struct zt_sampler_params *p);

struct zt_sampler;

/* ZT_EINVAL for out-of-range parameters (negative temperature, top_p <= 0,
 * a logit_bias token outside the vocabulary, NaN anywhere). */
ZT_NODISCARD int zt_sampler_new(const struct zt_sampler_params *p, uint32_t n_vocab,
                                struct zt_sampler **out);
void zt_sampler_free(struct zt_sampler *s);

/* Pick a token from logits (n_vocab floats; the array is used as scratch and
 * modified). Does not record it: call zt_sampler_accept() with the token
 * actually used (the sampled one, or a forced one). Returns the token id,
 * or ZT_EINVAL when every token is banned or the logits hold NaN. */
ZT_NODISCARD int32_t zt_sampler_sample(struct zt_sampler *s, float *logits);
/* True when zt_sampler_sample() leaves the logits as they are (no logit
 * bias, no penalty): the caller may then sample the raw logits in place and
 * pass the same array to zt_sampler_accept() without a copy. */
bool zt_sampler_keeps_logits(const struct zt_sampler *s);

/* Record a token: penalties history and hash chain. raw_logits are the
 * model's logits for the step before any sampling transformation (NULL when
 * the token came from the prompt: only the token enters the chain then). */
ZT_NODISCARD int zt_sampler_accept(struct zt_sampler *s, int32_t token, const float *raw_logits);

void zt_sampler_hash(const struct zt_sampler *s, uint8_t out[static ZT_SAMPLER_HASH_LEN]);
size_t zt_sampler_n_accepted(const struct zt_sampler *s);
/* Tokens accepted with logits (generated, sampled or given): the position
 * of the next draw. */
uint64_t zt_sampler_n_generated(const struct zt_sampler *s);
/* The uniform draw in [0, 1) the sampler uses for generated position pos
 * under seed (a multiple of 2^-53; WIRE.md defines it; test vectors). */
double zt_sampler_draw(uint64_t seed, uint64_t pos);

#endif
