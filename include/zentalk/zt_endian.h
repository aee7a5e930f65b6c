/* zt_endian.h: fixed-width integers to and from byte strings, independent
 * of the host's byte order. Big-endian for wire formats (envelopes, HPKE
 * labels, WebSocket), little-endian for the asset and model files. */
#ifndef ZT_ENDIAN_H
#define ZT_ENDIAN_H

#include <stdint.h>
#include <string.h>

static inline void zt_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void zt_put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static inline void zt_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static inline uint16_t zt_get_be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t zt_get_be32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v = v << 8 | p[i];
    return v;
}

static inline uint64_t zt_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

static inline void zt_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline void zt_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t zt_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t zt_get_le64(const uint8_t *p)
{
    return (uint64_t)zt_get_le32(p) | (uint64_t)zt_get_le32(p + 4) << 32;
}

/* IEEE-754 values stored as their little-endian bit patterns. */
static inline float zt_get_le_f32(const uint8_t *p)
{
    uint32_t v = zt_get_le32(p);
    float x;
    memcpy(&x, &v, sizeof x);
    return x;
}

static inline double zt_get_le_f64(const uint8_t *p)
{
    uint64_t v = zt_get_le64(p);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

static inline void zt_put_le_f64(uint8_t *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    zt_put_le64(p, v);
}

#endif
