/* zt_test_servers.c: see zt_test_servers.h. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "zt_test_servers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct server {
    pid_t pid;
    char dir[256];
    uint16_t port;
    bool tried, ok;
    char why[512];
};

static struct server pg, rd;
static unsigned pg_dbs;
static bool at_exit_set;
static pid_t owner; /* the process that started them: a forked child never stops them */

static void why_set(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void why_set(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

static void rm_tree(const char *dir)
{
    if (dir[0]) nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* An unprivileged account to run a server as when we are root (initdb
 * refuses root); uid -1 when we are not root (run as ourselves). */
static void run_as(const char *pref, uid_t *uid, gid_t *gid)
{
    *uid = (uid_t)-1;
    *gid = (gid_t)-1;
    if (geteuid() != 0) return;
    struct passwd *pw = getpwnam(pref);
    if (!pw) pw = getpwnam("nobody");
    if (pw) {
        *uid = pw->pw_uid;
        *gid = pw->pw_gid;
    }
}

/* Start argv[0] (a path) as a child with stdout and stderr to log (append),
 * as uid/gid when not -1; with pdeath the child gets SIGTERM when this
 * process dies. -1 when fork fails. */
static pid_t spawn(char *const argv[], const char *log, uid_t uid, gid_t gid, bool pdeath)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) return pid;
    int null = open("/dev/null", O_RDWR);
    int out = log ? open(log, O_WRONLY | O_CREAT | O_APPEND, 0644) : null;
    if (null < 0 || out < 0) _exit(126);
    dup2(null, 0);
    dup2(out, 1);
    dup2(out, 2);
    setsid(); /* our own process group: a ^C of the test reaches us through pdeath only */
    if (gid != (gid_t)-1 && (setgroups(0, NULL) != 0 || setgid(gid) != 0)) _exit(126);
    if (uid != (uid_t)-1 && setuid(uid) != 0) _exit(126);
    /* set after the uid change (which clears it) */
    if (pdeath && (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)) _exit(126);
    execv(argv[0], argv);
    _exit(127);
}

/* Wait for pid's exit: its status (128 + signal when killed), -1 on error. */
static int wait_exit(pid_t pid)
{
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Stop a server child: sig, up to 10 s, then SIGKILL. */
static void stop_child(struct server *s, int sig)
{
    if (s->pid <= 0) return;
    kill(s->pid, sig);
    for (int i = 0; i < 1000; i++) {
        int st;
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid || (r < 0 && errno != EINTR)) {
            s->pid = 0;
            return;
        }
        sleep_ms(10);
    }
    kill(s->pid, SIGKILL);
    wait_exit(s->pid);
    s->pid = 0;
}

void zt_test_servers_stop(void)
{
    if (getpid() != owner) return;
    stop_child(&pg, SIGINT); /* PostgreSQL's fast shutdown */
    stop_child(&rd, SIGTERM);
    rm_tree(pg.dir);
    rm_tree(rd.dir);
    pg.dir[0] = rd.dir[0] = '\0';
    pg.ok = rd.ok = false;
}

static void ensure_atexit(void)
{
    owner = getpid();
    if (!at_exit_set) atexit(zt_test_servers_stop);
    at_exit_set = true;
}

/* A free loopback TCP port (bound and released: a small race, retried by
 * the callers). 0 on failure. */
static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    uint16_t port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static bool is_exec(const char *p) { return access(p, X_OK) == 0; }

/* The directory holding PostgreSQL's initdb and postgres. */
static bool pg_bindir(char *out, size_t cap)
{
    const char *env = getenv("ZT_PG_BINDIR");
    char p[512];
    if (env && env[0]) {
        snprintf(out, cap, "%s", env);
        snprintf(p, sizeof p, "%s/initdb", out);
        return is_exec(p);
    }
    /* Debian: /usr/lib/postgresql/<major>/bin, not on PATH; the newest */
    int best = -1;
    DIR *d = opendir("/usr/lib/postgresql");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char *end = NULL;
            long v = strtol(e->d_name, &end, 10);
            if (!end || *end || v <= best || v > 1000) continue;
            snprintf(p, sizeof p, "/usr/lib/postgresql/%ld/bin/postgres", v);
            if (is_exec(p)) best = (int)v;
        }
        closedir(d);
    }
    if (best >= 0) {
        snprintf(out, cap, "/usr/lib/postgresql/%d/bin", best);
        return true;
    }
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path ? path : "/usr/bin:/bin");
    char *save = NULL;
    for (char *t = strtok_r(buf, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
        snprintf(p, sizeof p, "%s/initdb", t);
        char q[512];
        snprintf(q, sizeof q, "%s/postgres", t);
        if (is_exec(p) && is_exec(q)) {
            snprintf(out, cap, "%s", t);
            return true;
        }
    }
    return false;
}

static void log_tail(const char *log, char *why, size_t cap)
{
    size_t used = strlen(why);
    FILE *f = fopen(log, "r");
    if (!f || used + 4 >= cap) {
        if (f) fclose(f);
        return;
    }
    char buf[2048];
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, n > 300 ? n - 300 : 0, SEEK_SET);
    size_t r = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[r] = '\0';
    for (char *c = buf; *c; c++)
        if (*c == '\n') *c = ' ';
    int w = snprintf(why + used, cap - used, " (log: ...%.300s)", buf);
    (void)w; /* a longer reason is cut: fine */
}

static bool pg_conninfo(char *out, size_t cap, const char *db)
{
    int n = snprintf(out, cap, "host=%s port=%u dbname=%s user=postgres connect_timeout=10", pg.dir,
                     (unsigned)pg.port, db);
    return n > 0 && (size_t)n < cap;
}

static bool pg_ready(void)
{
    char ci[600];
    pg_conninfo(ci, sizeof ci, "postgres");
    return PQping(ci) == PQPING_OK;
}

/* Start s's server (argv) as a child and poll ready() every 10 ms, up to
 * ms: false with the reason (and the log's tail) in s->why when it exits
 * or does not answer. */
static bool start_wait(struct server *s, char *const argv[], const char *log, uid_t uid, gid_t gid,
                       bool (*ready)(void), int ms)
{
    s->pid = spawn(argv, log, uid, gid, true);
    if (s->pid < 0) {
        s->pid = 0;
        why_set(s->why, sizeof s->why, "fork: %s", strerror(errno));
        return false;
    }
    for (int i = 0; i < ms / 10; i++) {
        if (ready()) return true;
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            why_set(s->why, sizeof s->why, "%s exited at start", argv[0]);
            log_tail(log, s->why, sizeof s->why);
            return false;
        }
        sleep_ms(10);
    }
    why_set(s->why, sizeof s->why, "%s did not answer within %d ms", argv[0], ms);
    log_tail(log, s->why, sizeof s->why);
    stop_child(s, SIGKILL);
    return false;
}

static bool pg_try(const char *bindir, uid_t uid, gid_t gid)
{
    char data[320], log[320], initdb[512], postgres[512], port[16];
    snprintf(data, sizeof data, "%s/data", pg.dir);
    snprintf(log, sizeof log, "%s/log", pg.dir);
    snprintf(initdb, sizeof initdb, "%s/initdb", bindir);
    snprintf(postgres, sizeof postgres, "%s/postgres", bindir);
    struct stat sb;
    if (stat(data, &sb) != 0) {
        char *iargv[] = {initdb, "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8",
                         "--locale=C", NULL};
        pid_t pid = spawn(iargv, log, uid, gid, true);
        int st = pid > 0 ? wait_exit(pid) : -1;
        if (st != 0) {
            why_set(pg.why, sizeof pg.why, "initdb failed (exit %d)", st);
            log_tail(log, pg.why, sizeof pg.why);
            return false;
        }
    }
    pg.port = free_port();
    snprintf(port, sizeof port, "%u", (unsigned)pg.port);
    char *pargv[] = {postgres, "-D", data, "-p", port, "-k", pg.dir, "-c", "listen_addresses=127.0.0.1",
                     "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                     "-c", "max_connections=60", "-c", "shared_buffers=16MB", NULL};
    return start_wait(&pg, pargv, log, uid, gid, pg_ready, 15000);
}

bool zt_test_pg_start(char *why, size_t cap)
{
    if (pg.tried) {
        if (!pg.ok) why_set(why, cap, "%s", pg.why);
        return pg.ok;
    }
    pg.tried = true;
    ensure_atexit();
    char bindir[400];
    if (!pg_bindir(bindir, sizeof bindir)) {
        why_set(pg.why, sizeof pg.why,
                "PostgreSQL server not installed (initdb/postgres not in /usr/lib/postgresql/*/bin, "
                "$ZT_PG_BINDIR or PATH; scripts/setup.sh installs postgresql)");
        why_set(why, cap, "%s", pg.why);
        return false;
    }
    uid_t uid;
    gid_t gid;
    run_as("postgres", &uid, &gid);
    if (geteuid() == 0 && uid == (uid_t)-1) {
        why_set(pg.why, sizeof pg.why, "running as root with no `postgres` or `nobody` account for initdb");
        why_set(why, cap, "%s", pg.why);
        return false;
    }
    snprintf(pg.dir, sizeof pg.dir, "/tmp/zt-pg-XXXXXX");
    if (!mkdtemp(pg.dir)) {
        why_set(pg.why, sizeof pg.why, "mkdtemp: %s", strerror(errno));
        pg.dir[0] = '\0';
        why_set(why, cap, "%s", pg.why);
        return false;
    }
    if (uid != (uid_t)-1 && chown(pg.dir, uid, gid) != 0) {
        why_set(pg.why, sizeof pg.why, "chown %s: %s", pg.dir, strerror(errno));
        why_set(why, cap, "%s", pg.why);
        return false;
    }
    for (int attempt = 0; attempt < 3 && !pg.ok; attempt++) pg.ok = pg_try(bindir, uid, gid);
    if (!pg.ok) why_set(why, cap, "cannot start PostgreSQL: %s", pg.why);
    return pg.ok;
}

uint16_t zt_test_pg_port(void) { return pg.ok ? pg.port : 0; }

void zt_test_shared_env(struct zt_test_shared_env *e, const char *db, const char *redis, int claim_ms)
{
    snprintf(e->db, sizeof e->db, "ZENTALK_DATABASE_POSTGRES_URL=%s", db);
    snprintf(e->redis, sizeof e->redis, "ZENTALK_DATABASE_REDIS_URL=%s", redis);
    snprintf(e->claim, sizeof e->claim, "ZENTALK_DATABASE_QUEUE_CLAIM_MS=%d", claim_ms);
    const char *v[] = {"ZENTALK_DATABASE_DRIVER=postgres", e->db, "ZENTALK_DATABASE_QUEUE=redis", e->redis, e->claim,
                       "ZENTALK_ORCHESTRATOR_HEARTBEAT_EXPIRY_MS=3000", "ZENTALK_ORCHESTRATOR_VERIFICATION_ENABLED=false",
                       NULL};
    memcpy(e->v, v, sizeof v);
}

long zt_test_pg_long(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) fprintf(stderr, "%s: %s\n", sql, PQerrorMessage(c));
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long v = PQntuples(r) > 0 ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    PQfinish(c);
    return v;
}

bool zt_test_pg_new_db(char *out, size_t cap)
{
    if (!zt_test_pg_start(out, cap)) return false;
    /* a schema per call in one database "zt" (much cheaper than CREATE
     * DATABASE): the conninfo sets search_path to it, so every table the
     * store creates lands there */
    char ci[600], name[32], sql[80];
    pg_conninfo(ci, sizeof ci, "postgres");
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK) {
        why_set(out, cap, "connect to the test PostgreSQL: %s", PQerrorMessage(c));
        PQfinish(c);
        return false;
    }
    bool ok = true;
    if (pg_dbs == 0) {
        PGresult *r = PQexec(c, "CREATE DATABASE zt");
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok) why_set(out, cap, "CREATE DATABASE: %s", PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    if (!ok) return false;
    pg_conninfo(ci, sizeof ci, "zt");
    c = PQconnectdb(ci);
    snprintf(name, sizeof name, "zt_%u", ++pg_dbs);
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", name);
    PGresult *r = PQexec(c, sql);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) why_set(out, cap, "CREATE SCHEMA: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    if (!ok) return false;
    int n = snprintf(out, cap, "%s options='-c search_path=%s'", ci, name);
    if (n < 0 || (size_t)n >= cap) {
        why_set(out, cap, "conninfo too long");
        return false;
    }
    return true;
}

static bool find_in_path(const char *name, char *out, size_t cap);

const char *zt_test_pg_data_dir(void)
{
    static char data[320];
    if (!pg.ok) return NULL;
    snprintf(data, sizeof data, "%s/data", pg.dir);
    return data;
}

bool zt_test_pg_dump(const char *file, char *why, size_t cap)
{
    char bindir[256], dump[512], port[16];
    if (!pg.ok) {
        why_set(why, cap, "no PostgreSQL running");
        return false;
    }
    if (!pg_bindir(bindir, sizeof bindir)) {
        why_set(why, cap, "PostgreSQL's bin directory not found");
        return false;
    }
    snprintf(dump, sizeof dump, "%s/pg_dump", bindir);
    if (!is_exec(dump) && !find_in_path("pg_dump", dump, sizeof dump)) {
        why_set(why, cap, "pg_dump not installed");
        return false;
    }
    char out[512];
    snprintf(port, sizeof port, "%u", (unsigned)pg.port);
    snprintf(out, sizeof out, "%s", file);
    char *argv[] = {dump, "-h", pg.dir, "-p", port, "-U", "postgres", "-d", "zt", "-f", out, NULL};
    pid_t pid = spawn(argv, NULL, (uid_t)-1, (gid_t)-1, true);
    int st = pid > 0 ? wait_exit(pid) : -1;
    if (st != 0) {
        why_set(why, cap, "pg_dump failed (exit %d)", st);
        return false;
    }
    return true;
}

int zt_test_pg_group(const char *name, const struct CMUnitTest *tests, size_t n)
{
    char why[1024];
    if (!zt_test_pg_start(why, sizeof why)) {
        zt_skip_part("the PostgreSQL group %s: %s", name, why);
        return 0;
    }
    return _cmocka_run_group_tests(name, tests, n, NULL, NULL);
}

/* ---- Redis ------------------------------------------------------------------ */

static bool find_in_path(const char *name, char *out, size_t cap)
{
    const char *path = getenv("PATH");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s:/usr/bin:/usr/sbin:/bin", path ? path : "");
    char *save = NULL;
    for (char *t = strtok_r(buf, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
        int n = snprintf(out, cap, "%s/%s", t, name);
        if (n > 0 && (size_t)n < cap && is_exec(out)) return true;
    }
    return false;
}

/* PING over a plain socket: true on +PONG. */
static bool redis_ping(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = false;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 && write(fd, "PING\r\n", 6) == 6) {
        char b[16] = {0};
        ssize_t r = read(fd, b, sizeof b - 1);
        ok = r >= 5 && memcmp(b, "+PONG", 5) == 0;
    }
    close(fd);
    return ok;
}

static bool redis_ready(void) { return redis_ping(rd.port); }

static bool redis_try(const char *bin, uid_t uid, gid_t gid)
{
    char log[320], port[16];
    snprintf(log, sizeof log, "%s/log", rd.dir);
    rd.port = free_port();
    snprintf(port, sizeof port, "%u", (unsigned)rd.port);
    char binc[512];
    snprintf(binc, sizeof binc, "%s", bin);
    char *argv[] = {binc, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--daemonize", "no", "--dir", rd.dir, "--logfile", "", NULL};
    return start_wait(&rd, argv, log, uid, gid, redis_ready, 10000);
}

bool zt_test_redis_start(char *url, size_t cap)
{
    if (!rd.tried) {
        rd.tried = true;
        ensure_atexit();
        char bin[512];
        const char *env = getenv("ZT_REDIS_SERVER");
        if (env && env[0]) snprintf(bin, sizeof bin, "%s", env);
        if (!(env && env[0] && is_exec(bin)) && !find_in_path("redis-server", bin, sizeof bin)) {
            why_set(rd.why, sizeof rd.why,
                    "redis-server not installed (scripts/setup.sh installs redis-server; or set ZT_REDIS_SERVER)");
        } else {
            uid_t uid;
            gid_t gid;
            run_as("redis", &uid, &gid);
            snprintf(rd.dir, sizeof rd.dir, "/tmp/zt-redis-XXXXXX");
            if (!mkdtemp(rd.dir)) {
                rd.dir[0] = '\0';
                why_set(rd.why, sizeof rd.why, "mkdtemp: %s", strerror(errno));
            } else if (uid != (uid_t)-1 && chown(rd.dir, uid, gid) != 0) {
                why_set(rd.why, sizeof rd.why, "chown %s: %s", rd.dir, strerror(errno));
            } else {
                for (int attempt = 0; attempt < 3 && !rd.ok; attempt++) rd.ok = redis_try(bin, uid, gid);
            }
        }
    }
    if (!rd.ok) {
        why_set(url, cap, "cannot start redis-server: %s", rd.why);
        return false;
    }
    snprintf(url, cap, "redis://127.0.0.1:%u", (unsigned)rd.port);
    return true;
}
