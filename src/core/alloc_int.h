/* alloc_int.h: core's allocation fault injection, for tests only (not
 * installed; tests include it as ../../src/core/alloc_int.h, most through
 * tests/common/zt_test.h). */
#ifndef ZT_CORE_ALLOC_INT_H
#define ZT_CORE_ALLOC_INT_H

#include <stdint.h>

/* Make the allocation n calls from now fail (1 = the next one), then every
 * later one succeeds again. n = 0 disables injection. */
void zt_alloc_fail_after(int64_t n);

#endif
