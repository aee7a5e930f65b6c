/* zt_json_num.h: numbers printed in their shortest form that reads back
 * exactly (0.8, not jansson's %.17g 0.80000000000000004). No jansson here:
 * the JSON helper works on the text json_dumps() produced. */
#ifndef ZT_JSON_NUM_H
#define ZT_JSON_NUM_H

#include <stddef.h>

#include "zt_buf.h"
#include "zt_error.h"

/* The shortest decimal form of d that strtod() reads back as exactly d
 * (trying 1..17 significant digits); a whole number below 1e15 as "10.0"
 * rather than %g's "1e+01". out_size >= 32 holds any double. */
void zt_fmt_double(char *out, size_t out_size, double d);

/* Append the JSON text json (len bytes, as json_dumps wrote it) to out with
 * every real number (one with a '.' or an exponent, outside strings) in
 * zt_fmt_double()'s form; integers and everything else unchanged. A real
 * stays a real (a '.' or exponent is kept). ZT_ENOMEM, ZT_ETOOBIG (out->max). */
ZT_NODISCARD int zt_json_shorten_reals(const char *json, size_t len, struct zt_buf *out);

#endif
