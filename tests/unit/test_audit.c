/* test_audit.c: the audit log (zt_audit.h): chain, checkpoints, rotation,
 * restart after a crash, retention, and verify naming every kind of
 * tampering (edit, delete, insert, swap, truncation, forged checkpoint,
 * rotation gap). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_audit.h"
#include "../../src/privacy/audit_int.h"
#include "zentalk/zt_identity.h"
#include "zt_test.h"

struct fx {
    char dir[256];
    struct zt_identity *id;
    struct zt_identity *other;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/zt_audit_XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    if (zt_identity_generate(&f->id) != 0 || zt_identity_generate(&f->other) != 0) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char cmd[300];
    for (unsigned i = 1; i < 20; i++) {
        snprintf(cmd, sizeof cmd, "%s/audit-%06u.jsonl", f->dir, i);
        unlink(cmd);
    }
    rmdir(f->dir);
    zt_identity_free(f->id);
    zt_identity_free(f->other);
    free(f);
    return 0;
}

static struct zt_audit *open_log(struct fx *f, uint64_t max_bytes, uint64_t cp_every)
{
    struct zt_audit_opts o = {.dir = f->dir, .id = f->id, .max_bytes = max_bytes, .checkpoint_entries = cp_every,
                              .checkpoint_ms = 3600000, .fsync = ZT_AUDIT_FSYNC_NEVER};
    struct zt_audit *a = NULL;
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    int rc = zt_audit_open(&o, &a, &err);
    if (rc) fprintf(stderr, "open: %s %s\n", zt_strerror(rc), zt_buf_str(&err));
    assert_int_equal(rc, 0);
    zt_buf_deinit(&err);
    return a;
}

static void write_entries(struct zt_audit *a, int n)
{
    const char *pii[] = {"EMAIL", "PHONE"};
    for (int i = 0; i < n; i++) {
        char rid[32];
        snprintf(rid, sizeof rid, "%016x", i);
        struct zt_audit_event ev = {.identity = "user-1", .role = "user", .route = "/v1/privacy/pii",
                                    .method = "POST", .feature = "pii", .request_id = rid, .pii = pii,
                                    .n_pii = (size_t)(i % 3), .decision = "none", .status = 200, .outcome = "ok"};
        assert_int_equal(zt_audit_record(a, &ev), 0);
    }
}

static void path_of(struct fx *f, unsigned i, char *out, size_t n)
{
    snprintf(out, n, "%s/audit-%06u.jsonl", f->dir, i);
}

/* Verify files 1..nfiles; returns rc, report text in out. */
static int verify(struct fx *f, unsigned first, unsigned nfiles, const struct zt_identity *key,
                  struct zt_audit_report *rep, struct zt_buf *out)
{
    char paths[8][300];
    const char *pp[8];
    for (unsigned i = 0; i < nfiles; i++) {
        path_of(f, first + i, paths[i], sizeof paths[i]);
        pp[i] = paths[i];
    }
    zt_buf_reset(out);
    return zt_audit_verify(pp, nfiles, zt_identity_sign_pk(key), rep, out);
}

/* Lines of a file, to tamper with. */
struct lines {
    char *v[256];
    size_t n;
};

static void load_lines(const char *path, struct lines *l)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    char buf[8192];
    l->n = 0;
    while (fgets(buf, sizeof buf, fp) && l->n < 256) l->v[l->n++] = strdup(buf);
    fclose(fp);
}

static void save_lines(const char *path, struct lines *l)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    for (size_t i = 0; i < l->n; i++) fputs(l->v[i], fp);
    fclose(fp);
}

static void free_lines(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    l->n = 0;
}

static void fresh(struct fx *f)
{
    char p[300];
    for (unsigned i = 1; i < 20; i++) {
        path_of(f, i, p, sizeof p);
        unlink(p);
    }
}

static void test_chain_and_checkpoints(void **state)
{
    struct fx *f = *state;
    fresh(f);
    struct zt_audit *a = open_log(f, 1 << 20, 4);
    write_entries(a, 10);
    assert_true(zt_audit_seq(a) >= 11 + 2); /* start + 10 + checkpoints */
    zt_audit_close(a);
    char p[300];
    path_of(f, 1, p, sizeof p);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(f->dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    struct zt_audit_report rep;
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    assert_int_equal(verify(f, 1, 1, f->id, &rep, &out), 0);
    assert_int_equal(rep.problems, 0);
    assert_int_equal(rep.first_seq, 1);
    assert_true(rep.checkpoint_seq == rep.last_seq); /* close wrote a final checkpoint */
    assert_true(rep.checkpoint_clean);
    /* another node's key: every checkpoint is refused */
    assert_int_equal(verify(f, 1, 1, f->other, &rep, &out), ZT_ECRYPTO);
    assert_non_null(strstr(zt_buf_str(&out), "checkpoint signature invalid"));
    /* no content, no secrets: only the fields we gave */
    struct lines l;
    load_lines(p, &l);
    assert_non_null(strstr(l.v[1], "\"route\":\"/v1/privacy/pii\""));
    free_lines(&l);
    zt_buf_deinit(&out);
}

/* One kind of tampering per case; each is found and named by line. */
static void test_tampering(void **state)
{
    struct fx *f = *state;
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    struct zt_audit_report rep;
    char p[300];
    path_of(f, 1, p, sizeof p);
    for (int kind = 0; kind < 6; kind++) {
        fresh(f);
        struct zt_audit *a = open_log(f, 1 << 20, 100);
        write_entries(a, 8); /* lines 1 (start) .. 9, checkpoint at 10 on close */
        zt_audit_close(a);
        struct lines l;
        load_lines(p, &l);
        assert_int_equal(l.n, 10);
        const char *want = NULL;
        switch (kind) {
        case 0: { /* edit a field of line 4 */
            char *s = strstr(l.v[3], "\"status\":200");
            assert_non_null(s);
            s[10] = '4';
            want = ":4: seq 4: entry altered";
            break;
        }
        case 1: /* delete line 5 */
            free(l.v[4]);
            memmove(&l.v[4], &l.v[5], (l.n - 5) * sizeof l.v[0]);
            l.n--;
            want = ":5: seq 6: entries 5..5 deleted";
            break;
        case 2: /* insert a copy of line 3 after line 6 */
            memmove(&l.v[7], &l.v[6], (l.n - 6) * sizeof l.v[0]);
            l.v[6] = strdup(l.v[2]);
            l.n++;
            want = ":7: seq 3: seq repeated (also at";
            break;
        case 3: { /* swap lines 5 and 6 */
            char *t = l.v[4];
            l.v[4] = l.v[5];
            l.v[5] = t;
            want = ":5: seq 6: entries out of order";
            break;
        }
        case 4: /* truncate mid-line */
            l.v[l.n - 1][strlen(l.v[l.n - 1]) / 2] = '\0';
            want = ":10: truncated tail";
            break;
        case 5: { /* forge the checkpoint's signature */
            char *s = strstr(l.v[9], "\"sig\":\"");
            assert_non_null(s);
            s[7] = s[7] == 'a' ? 'b' : 'a';
            want = ":10: seq 10: checkpoint signature invalid";
            break;
        }
        }
        save_lines(p, &l);
        free_lines(&l);
        assert_int_equal(verify(f, 1, 1, f->id, &rep, &out), ZT_ECRYPTO);
        if (!strstr(zt_buf_str(&out), want)) fprintf(stderr, "kind %d: want \"%s\" in:\n%s", kind, want, zt_buf_str(&out));
        assert_non_null(strstr(zt_buf_str(&out), want));
        assert_true(rep.problems >= 1);
        if (kind == 4) assert_true(rep.truncated_tail);
    }
    zt_buf_deinit(&out);
}

/* A crash mid-write leaves a torn line; the logger cuts it on restart,
 * records it, and the chain verifies. */
static void test_crash_restart(void **state)
{
    struct fx *f = *state;
    fresh(f);
    struct zt_audit *a = open_log(f, 1 << 20, 100);
    write_entries(a, 5);
    uint64_t seq = zt_audit_seq(a);
    /* simulate the crash: no close (no final checkpoint), a partial line */
    zt_audit_close(a);
    char p[300];
    path_of(f, 1, p, sizeof p);
    FILE *fp = fopen(p, "ab");
    const char *torn = "{\"kind\":\"request\",\"prev\":\"00";
    fputs(torn, fp);
    fclose(fp);
    struct zt_audit_report rep;
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    assert_int_equal(verify(f, 1, 1, f->id, &rep, &out), ZT_ECRYPTO);
    assert_true(rep.truncated_tail);
    a = open_log(f, 1 << 20, 100);
    assert_int_equal(zt_audit_seq(a), seq + 2); /* the final checkpoint, then start */
    write_entries(a, 3);
    zt_audit_close(a);
    assert_int_equal(verify(f, 1, 1, f->id, &rep, &out), 0);
    struct lines l;
    load_lines(p, &l);
    char want[64];
    snprintf(want, sizeof want, "\"torn_bytes\":%zu", strlen(torn));
    assert_non_null(strstr(l.v[seq + 1], want));
    free_lines(&l);
    zt_buf_deinit(&out);
}

/* Rotation by size keeps one chain over files; a missing middle file is a
 * rotation gap; retention removes old files and what is left verifies from
 * its first checkpoint. */
static void test_rotation_and_retention(void **state)
{
    struct fx *f = *state;
    fresh(f);
    struct zt_audit *a = open_log(f, 4096, 1000);
    write_entries(a, 60);
    zt_audit_close(a);
    char p[300];
    unsigned nfiles = 0;
    for (unsigned i = 1; i < 20; i++) {
        path_of(f, i, p, sizeof p);
        if (access(p, F_OK) == 0) nfiles = i;
    }
    assert_true(nfiles >= 3);
    struct zt_audit_report rep;
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    assert_int_equal(verify(f, 1, nfiles, f->id, &rep, &out), 0);
    /* each file after the first starts with a checkpoint */
    struct lines l;
    path_of(f, 2, p, sizeof p);
    load_lines(p, &l);
    assert_non_null(strstr(l.v[0], "\"kind\":\"checkpoint\""));
    free_lines(&l);
    /* a gap: leave file 2 out */
    char paths[3][300];
    const char *pp[3];
    path_of(f, 1, paths[0], sizeof paths[0]);
    path_of(f, 3, paths[1], sizeof paths[1]);
    pp[0] = paths[0];
    pp[1] = paths[1];
    zt_buf_reset(&out);
    assert_int_equal(zt_audit_verify(pp, 2, zt_identity_sign_pk(f->id), &rep, &out), ZT_ECRYPTO);
    assert_non_null(strstr(zt_buf_str(&out), "rotation gap"));
    /* retention: everything is old at now + 10 days; the newest file stays */
    unsigned removed = 0;
    assert_int_equal(zt_audit_sweep(f->dir, 5, (int64_t)time(NULL) + 10 * 86400, &removed), 0);
    assert_int_equal(removed, nfiles - 1);
    path_of(f, nfiles, p, sizeof p);
    assert_int_equal(access(p, F_OK), 0);
    assert_int_equal(verify(f, nfiles, 1, f->id, &rep, &out), 0);
    assert_true(rep.starts_at_checkpoint);
    /* nothing is removed at days 0 or when files are recent */
    assert_int_equal(zt_audit_sweep(f->dir, 0, (int64_t)time(NULL) + 10 * 86400, &removed), 0);
    assert_int_equal(removed, 0);
    /* the node goes on in the newest file */
    a = open_log(f, 4096, 1000);
    write_entries(a, 2);
    zt_audit_close(a);
    zt_buf_deinit(&out);
}

static void test_parse_line(void **state)
{
    (void)state;
    struct zt__audit_line l;
    const char *ok = "{\"kind\":\"request\",\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"seq\":1}";
    assert_int_equal(zt__audit_parse_line(ok, strlen(ok), &l), 0);
    assert_int_equal(l.seq, 1);
    const char *bad[] = {"", "{}", "[1]", "{\"kind\":\"request\",\"prev\":\"00\",\"seq\":1}",
                         "{\"kind\":\"checkpoint\",\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"seq\":2}",
                         "{\"kind\":\"request\",\"prev\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"seq\":0}",
                         "{\"seq\":1,\"seq\":2}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(zt__audit_parse_line(bad[i], strlen(bad[i]), &l), ZT_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_and_checkpoints),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_crash_restart),
        cmocka_unit_test(test_rotation_and_retention),
        cmocka_unit_test(test_parse_line),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, setup, teardown));
}
