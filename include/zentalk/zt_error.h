/* zt_error.h: error codes shared by every subsystem.
 *
 * Fallible functions return int: 0 on success or a negative ZT_E* code.
 * zt_strerror() maps a code to a short, static, human-readable string. */
#ifndef ZT_ERROR_H
#define ZT_ERROR_H

#if defined(__GNUC__) || defined(__clang__)
#define ZT_NODISCARD __attribute__((warn_unused_result))
#define ZT_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define ZT_UNUSED __attribute__((unused))
#else
#define ZT_NODISCARD
#define ZT_PRINTF(fmt, args)
#define ZT_UNUSED
#endif

/* Discard the result of a ZT_NODISCARD call on purpose (a best-effort
 * action whose failure changes nothing), which a (void) cast cannot do with gcc. */
#define zt_ignore(expr)                                                              \
    do {                                                                             \
        if ((expr) != 0) { /* deliberately ignored */                                \
        }                                                                            \
    } while (0)

enum zt_err {
    ZT_OK = 0,
    ZT_ENOMEM = -1,      /* allocation failed */
    ZT_EINVAL = -2,      /* invalid argument or input */
    ZT_ETOOBIG = -3,     /* a size limit was exceeded */
    ZT_EIO = -4,         /* I/O error (errno has details) */
    ZT_ENOTFOUND = -5,   /* no such file, key, route or object */
    ZT_ECONFIG = -6,     /* configuration is invalid */
    ZT_EBUSY = -7,       /* resource busy or queue full */
    ZT_ETIMEDOUT = -8,   /* deadline passed */
    ZT_ERANGE = -9,      /* value out of range */
    ZT_EPARSE = -10,     /* malformed input */
    ZT_EEXIST = -11,     /* already exists */
    ZT_EPERM = -12,      /* permission denied */
    ZT_EUNSUPPORTED = -13, /* feature or format not supported */
    ZT_ECRYPTO = -14,    /* cryptographic verification failed */
    ZT_EADDRINUSE = -15, /* listen address already in use */
    ZT_ECLOSED = -16,    /* object is shut down */
    ZT_ENET = -17,       /* network or HTTP error */
};
#define ZT_ERR_COUNT 18

/* Return a static string describing err (never NULL, also for unknown codes). */
const char *zt_strerror(int err);

#endif
