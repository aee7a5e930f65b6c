/* zt_time.h: clocks. Durations use the monotonic clock; wall time only for
 * timestamps shown to people. */
#ifndef ZT_TIME_H
#define ZT_TIME_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

uint64_t zt_time_mono_ns(void);   /* CLOCK_MONOTONIC in nanoseconds */
uint64_t zt_time_mono_ms(void);
int64_t zt_time_real_ms(void);    /* CLOCK_REALTIME, ms since the epoch */

/* UTC ISO-8601 with milliseconds, e.g. 2026-11-24T16:40:00.123Z.
 * out must hold at least ZT_TIME_ISO_LEN bytes. */
#define ZT_TIME_ISO_LEN 32
void zt_time_iso8601(char *out, size_t outsize, int64_t real_ms);

/* The time ms milliseconds from now on clock, normalised (tv_nsec below
 * one second): the deadline pthread_cond_timedwait takes. clock is the
 * condition variable's clock: CLOCK_REALTIME unless its attributes chose
 * CLOCK_MONOTONIC. */
struct timespec zt_time_after_ms(clockid_t clock, uint64_t ms);

/* Sleep for ms milliseconds (restarts after signals). */
void zt_time_sleep_ms(uint64_t ms);

#endif
