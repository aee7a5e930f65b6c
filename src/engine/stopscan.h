/* stopscan.h: where a stream of generated text may be cut for stop strings
 * (internal to the engine; the runner uses it, fuzz/stop_scan.c fuzzes it). */
#ifndef ZT_ENGINE_STOPSCAN_H
#define ZT_ENGINE_STOPSCAN_H

#include <stdbool.h>
#include <stddef.h>

/* Scan the decoded, not yet emitted text t[0..len) (t may be NULL when len
 * is 0) against n_stop non-empty stop strings. *emit is how many leading
 * bytes are certainly output. Returns true when a stop string starts at
 * *emit (the rest is dropped); otherwise, unless final, *emit stops short
 * of the longest tail that is a proper prefix of a stop string, since
 * more text could complete it. Pure: no allocation, no side effects. */
bool zt__stop_scan(const char *t, size_t len, const char *const *stops, size_t n_stop, bool final,
                   size_t *emit);

#endif
