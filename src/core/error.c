/* error.c: zt_strerror(). */
#include "zentalk/zt_error.h"

static const char *const messages[ZT_ERR_COUNT] = {
    "success",
    "out of memory",
    "invalid argument",
    "size limit exceeded",
    "I/O error",
    "not found",
    "invalid configuration",
    "resource busy",
    "timed out",
    "value out of range",
    "malformed input",
    "already exists",
    "permission denied",
    "not supported",
    "cryptographic verification failed",
    "address already in use",
    "closed",
    "network error",
};

const char *zt_strerror(int err)
{
    if (err > 0 || err <= -ZT_ERR_COUNT) return "unknown error";
    return messages[-err];
}
