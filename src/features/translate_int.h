/* translate_int.h: a test hook of the translation pipelines (translate.c;
 * not installed; tests include it as ../../src/features/translate_int.h). */
#ifndef ZT_FEATURES_TRANSLATE_INT_H
#define ZT_FEATURES_TRANSLATE_INT_H

struct zt_translate;

/* The process id of the pair's pipeline number idx, or -1 when it is not
 * running. */
int zt_translate_debug_pid(struct zt_translate *t, const char *source3, const char *target3, unsigned idx);

#endif
