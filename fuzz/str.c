/* fuzz/str.c: the string parsers of src/core (numbers, booleans, host:port,
 * UTF-8 validation) and the log line formatter, which parses key=value
 * fields into JSON. Checks round-trip properties, not just "no crash". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int log_ready;
    if (!log_ready) {
        if (zt_log_open("/dev/null", ZT_LOG_DEBUG, ZT_LOG_JSON) != 0) abort();
        log_ready = 1;
    }
    if (size > 4096) return 0;
    char *s = zt_strndup((const char *)data, size);
    if (!s) return 0;

    int64_t i;
    if (zt_str_to_i64(s, &i) == 0) {
        char back[32];
        snprintf(back, sizeof back, "%lld", (long long)i);
        int64_t j;
        if (zt_str_to_i64(back, &j) != 0 || i != j) abort();
    }
    uint64_t u;
    zt_ignore(zt_str_to_u64(s, &u));
    double d;
    if (zt_str_to_double(s, &d) == 0 && d != d) abort(); /* never NaN */
    bool b;
    zt_ignore(zt_str_to_bool(s, &b));

    char host[256];
    uint16_t port;
    if (zt_str_split_hostport(s, host, sizeof host, &port) == 0 && strlen(host) >= sizeof host) abort();

    bool valid = zt_utf8_valid((const char *)data, size);
    if (valid && size > 0 && data[0] >= 0xF8) abort();

    zt_log_write(ZT_LOG_INFO, "fuzz", "%s", s);
    zt_free(s);
    return 0;
}
