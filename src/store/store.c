/* store.c: backend selection and the call-through wrappers (zt_store.h). */
#include <string.h>

#include "zentalk/zt_store.h"

int zt_store_open(const char *driver, const struct zt_store_opts *o, struct zt_store **out)
{
    if (!driver || strcmp(driver, "sqlite") == 0) return zt_store_sqlite.open(o, out);
    if (strcmp(driver, "postgres") == 0) return ZT_EUNSUPPORTED; /* not written yet */
    return ZT_EINVAL;
}

void zt_store_close(struct zt_store *st)
{
    if (st) st->ops->close(st);
}

int zt_store_schema_version(struct zt_store *st, int *out) { return st->ops->schema_version(st, out); }
int zt_store_begin(struct zt_store *st) { return st->ops->begin(st); }
int zt_store_commit(struct zt_store *st) { return st->ops->commit(st); }
int zt_store_rollback(struct zt_store *st) { return st->ops->rollback(st); }

int zt_store_key_get(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN], uint8_t *out,
                     size_t cap, size_t *len)
{
    return st->ops->key_get(st, user_ref, out, cap, len);
}

int zt_store_key_put(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                     const uint8_t *wrapped, size_t len)
{
    return st->ops->key_put(st, user_ref, wrapped, len);
}

int zt_store_doc_put(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                     const uint8_t id_ref[static ZT_STORE_REF_LEN], const uint8_t *payload,
                     size_t payload_len, const uint8_t *vec, size_t vec_len, const char *terms,
                     int64_t ts)
{
    return st->ops->doc_put(st, user_ref, id_ref, payload, payload_len, vec, vec_len, terms, ts);
}

int zt_store_doc_delete(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                        const uint8_t id_ref[static ZT_STORE_REF_LEN], bool *found)
{
    return st->ops->doc_delete(st, user_ref, id_ref, found);
}

int zt_store_user_delete(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                         size_t *n_docs)
{
    return st->ops->user_delete(st, user_ref, n_docs);
}

int zt_store_match(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN],
                   const char *fts_query, size_t limit, zt_store_hit_cb cb, void *ud)
{
    return st->ops->match(st, user_ref, fts_query, limit, cb, ud);
}

int zt_store_doc_get(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN], int64_t rowid,
                     zt_store_doc_cb cb, void *ud)
{
    return st->ops->doc_get(st, user_ref, rowid, cb, ud);
}

int zt_store_scan(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN], size_t limit,
                  zt_store_doc_cb cb, void *ud)
{
    return st->ops->scan(st, user_ref, limit, cb, ud);
}

int zt_store_count(struct zt_store *st, const uint8_t user_ref[static ZT_STORE_REF_LEN], size_t *n)
{
    return st->ops->count(st, user_ref, n);
}

int zt_store_salt_get(struct zt_store *st, const uint8_t ref[static ZT_STORE_REF_LEN], uint8_t *out, size_t len)
{
    return st->ops->salt_get(st, ref, out, len);
}

int zt_store_salt_put(struct zt_store *st, const uint8_t ref[static ZT_STORE_REF_LEN], const uint8_t *salt,
                      size_t len)
{
    return st->ops->salt_put(st, ref, salt, len);
}

int zt_store_salt_delete(struct zt_store *st, const uint8_t ref[static ZT_STORE_REF_LEN], bool *found)
{
    return st->ops->salt_delete(st, ref, found);
}

int zt_store_docs_expire(struct zt_store *st, int64_t before_ts, size_t *n_docs)
{
    return st->ops->docs_expire(st, before_ts, n_docs);
}
