/* store_internal.h: helpers shared by the store's backends (not public;
 * tests include it by relative path). */
#ifndef ZT_STORE_INTERNAL_H
#define ZT_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "zentalk/zt_store.h"

/* The meta key of owner's version: "schema_version:<owner>". */
#define ZT__STORE_OWNER_KEY "schema_version:"

/* Owner names: [a-z][a-z0-9_]*, 1..ZT_STORE_OWNER_MAX bytes. */
bool zt__store_owner_valid(const char *owner);

/* Rewrite portable SQL's `?` parameters to PostgreSQL's $1, $2, ... into a
 * new zt_malloc'd string. Quoted strings ('..', E'..'), quoted identifiers
 * (".."), dollar-quoted bodies ($tag$..$tag$) and comments (-- and / *)
 * are copied as they are. ZT_EINVAL for `?NNN` or a `$n` parameter written
 * by hand (one style per statement), an unterminated quote or comment;
 * *n_params = the number of parameters. */
ZT_NODISCARD int zt__store_sql_to_pg(const char *sql, char **out, int *n_params);

#endif
