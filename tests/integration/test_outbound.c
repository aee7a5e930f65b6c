/* test_outbound.c: a worker behind NAT (node.outbound, --outbound;
 * docs/internals/orchestrator.md "Workers behind NAT").
 * - The test runs itself in a private network namespace (netns_rerun); the
 *   outbound worker runs in a namespace of its own behind a veth pair
 *   (10.231.0.2, the gateway's side 10.231.0.1) whose firewall drops every
 *   new inbound connection (iptables INPUT policy DROP, only loopback and
 *   established connections accepted): it can connect out, nobody can
 *   connect to it. The worker listens on 0.0.0.0, and a direct connection
 *   to its port on 10.231.0.2 fails while its jobs complete.
 * - A gateway+orchestrator and that worker started with --outbound --join:
 *   the worker's advertised endpoint is the orchestrator's relay
 *   (/v1/orchestrator/relay/<its id>), the orchestrator's view says
 *   reachable: outbound, and nothing but its own long-poll reaches it: the
 *   gateway never learns its listener's address;
 * - plain and streamed chats run on it through the relay (ran_on, a
 *   receipt, the relay counter grows by one per chat), the streamed text
 *   is the same as the plain one (greedy, same seed), and eight chats at
 *   once all complete;
 * - a gateway in a process of its own (--roles gateway --orchestrator),
 *   started after the worker joined, gets its chats completed by that
 *   worker: the worker learns the gateways leasing at its orchestrator
 *   from its polls' answers, not only from its join;
 * - a second, direct worker joins: the view shows one outbound and one
 *   direct; the outbound one stopped with SIGKILL goes out of the view
 *   as outbound and the chats go on (on the direct one).
 * Where no namespace, veth pair or iptables rule can be made, the same runs
 * on loopback and the namespace part is a counted skip with the reason.
 * Usage: test_outbound PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

static const char *cli_bin;
static struct node gw, rgw, wk[2];
static char wk_id[2][64];
static char cfg[256];

/* The worker's namespace (nat: it exists), and the URL it joins by. */
#define NAT_GW "10.231.0.1"
#define NAT_WK "10.231.0.2"
static bool nat;
static char nat_ns[64], join_url[128], wrapper[320];

/* Make the worker's namespace: a veth pair from this (private) namespace,
 * the firewall that accepts no new inbound connection. False (and why in
 * why) when something is missing. */
static bool nat_setup(char *why, size_t cap)
{
    snprintf(nat_ns, sizeof nat_ns, "ztnat%ld", (long)getpid());
    char cmd[2048], out[400];
    snprintf(cmd, sizeof cmd,
             "set -e; exec 2>&1; command -v iptables >/dev/null || { echo 'iptables not installed'; exit 1; }; "
             "ip netns add %s; "
             "ip link add ztnat0 type veth peer name ztnat1 netns %s; "
             "ip addr add " NAT_GW "/24 dev ztnat0; ip link set ztnat0 up; "
             "ip -n %s link set lo up; ip -n %s addr add " NAT_WK "/24 dev ztnat1; ip -n %s link set ztnat1 up; "
             "ip netns exec %s iptables -P INPUT DROP; "
             "ip netns exec %s iptables -A INPUT -i lo -j ACCEPT; "
             "ip netns exec %s iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
             nat_ns, nat_ns, nat_ns, nat_ns, nat_ns, nat_ns, nat_ns, nat_ns);
    if (run_shell(cmd, out, sizeof out) != 0) {
        out[strcspn(out, "\n")] = '\0';
        snprintf(why, cap, "cannot make the worker's namespace (veth pair, iptables): %s", out);
        snprintf(cmd, sizeof cmd, "ip netns del %s 2>/dev/null", nat_ns);
        zt_ignore(run_shell(cmd, out, sizeof out));
        return false;
    }
    return true;
}

static void nat_teardown(void)
{
    if (!nat) return;
    nat = false;
    char cmd[200], out[256];
    snprintf(cmd, sizeof cmd, "ip netns del %s 2>&1", nat_ns); /* its end of the veth pair goes with it */
    zt_ignore(run_shell(cmd, out, sizeof out));
}

/* A TCP connection to NAT_WK:port from here: true when it was accepted
 * within timeout_ms. */
static bool nat_connects(uint16_t port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET, NAT_WK, &a.sin_addr), 1);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (!ok && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int err = 0;
        socklen_t len = sizeof err;
        ok = poll(&p, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    close(fd);
    return ok;
}

static json_t *view(const char *id) { return orch_node(gw.port, id); }

static bool wait_view(const char *id, const char *key, const char *want, int timeout_ms)
{
    uint64_t until = zt_time_mono_ms() + (uint64_t)timeout_ms;
    do {
        json_t *n = view(id);
        bool ok = n && zt_str_eq(json_string_value(json_object_get(n, key)), want);
        json_decref(n);
        if (ok) return true;
        zt_time_sleep_ms(100);
    } while (zt_time_mono_ms() < until);
    return false;
}

static const char CHAT[] = "{\"model\":\"stories\",\"max_tokens\":12,\"seed\":3,%s"
                           "\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}]}";

/* A chat's answer text and the worker it ran on. */
static long chat(bool stream, struct zt_buf *text, char *ran_on, size_t cap)
{
    char body[300];
    snprintf(body, sizeof body, CHAT, stream ? "\"stream\":true," : "");
    return chat_text(gw.port, body, stream, text, ran_on, cap);
}

struct call {
    long status;
    char ran_on[64];
};

static void *chat_thread(void *arg)
{
    struct call *c = arg;
    struct zt_buf t;
    zt_buf_init(&t, 1 << 16);
    c->status = chat(false, &t, c->ran_on, sizeof c->ran_on);
    zt_buf_deinit(&t);
    return NULL;
}

/* The outbound worker runs in its namespace (nat), through a wrapper that
 * enters it, listening on every address of it; its id is then read from
 * the orchestrator's view (this namespace cannot reach its listener). */
static void spawn_worker(int i, bool outbound)
{
    const char *const out_args[] = {"--config", cfg,          "--roles",  "worker",
                                    "--join",   join_url,     "--outbound", "--listen",
                                    nat ? "0.0.0.0:0" : "127.0.0.1:0", NULL};
    const char *const dir_args[] = {"--config", cfg, "--roles", "worker", "--join", gw.url, NULL};
    /* on 0.0.0.0 of its own namespace (behind the firewall): no JWT needed */
    const char *const env[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=1000",
                               nat && outbound ? "ZENTALK_ENCRYPTION_REQUIRE_AUTH=false" : NULL, NULL};
    const char *real = node_bin;
    if (outbound && nat) node_bin = wrapper;
    node_spawn(&wk[i], outbound ? out_args : dir_args, env, true, NULL);
    node_bin = real;
    if (!(outbound && nat)) {
        node_id_of(wk[i].port, wk_id[i], sizeof wk_id[i], NULL);
        return;
    }
    wk_id[i][0] = '\0';
    for (int t = 0; t < 200 && !wk_id[i][0]; t++) { /* the only node until the direct one joins */
        struct resp r;
        http(gw.port, "GET", "/v1/orchestrator/nodes", NULL, NULL, &r);
        json_t *j = resp_json(&r);
        resp_free(&r);
        const char *id = json_string_value(json_object_get(json_array_get(json_object_get(j, "nodes"), 0), "node_id"));
        if (id) zt_strlcpy(wk_id[i], id, sizeof wk_id[i]);
        json_decref(j);
        if (!wk_id[i][0]) zt_time_sleep_ms(100);
    }
    assert_true(wk_id[i][0] != '\0');
}

static void test_outbound_worker(void **state)
{
    (void)state;
    char model[1024], yaml[1400];
    if (!find_test_model("stories260K.gguf", model, sizeof model)) zt_skip("stories260K.gguf not found (tests/models)");
    tmp_dir(cfg, sizeof cfg, "outbound");
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  default_model: stories\n"
             "models:\n  - id: stories\n    path: %s\n    context_size: 256\n    max_tokens: 16\n",
             model);
    put_file(cfg, "models.yaml", yaml);
    put_file(cfg, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 4\n");
    char why[600];
    nat = getenv("ZT_TEST_NETNS") && nat_setup(why, sizeof why);
    if (!getenv("ZT_TEST_NETNS")) zt_skip_part("no private network namespace: the outbound worker runs on loopback");
    else if (!nat) zt_skip_part("%s", why);
    if (nat) {
        snprintf(wrapper, sizeof wrapper, "%s/in-nat.sh", cfg);
        char text[1400];
        snprintf(text, sizeof text, "#!/bin/sh\nexec ip netns exec %s %s \"$@\"\n", nat_ns, node_bin);
        put_file(cfg, "in-nat.sh", text);
        assert_int_equal(chmod(wrapper, 0755), 0);
    }
    /* the gateway on every address of this namespace: the worker's side
     * of the veth pair reaches it on NAT_GW */
    const char *const gargs[] = {"--roles", "gateway,orchestrator", "--listen", nat ? "0.0.0.0:0" : "127.0.0.1:0",
                                 NULL};
    /* (on 0.0.0.0 of the test's private namespace: no JWT needed) */
    const char *const genv[] = {"ZENTALK_ORCHESTRATOR_HEARTBEAT_EXPIRY_MS=3000",
                                nat ? "ZENTALK_ENCRYPTION_REQUIRE_AUTH=false" : NULL, NULL};
    node_spawn(&gw, gargs, genv, true, NULL);
    if (nat) snprintf(join_url, sizeof join_url, "http://" NAT_GW ":%u", (unsigned)gw.port);
    else zt_strlcpy(join_url, gw.url, sizeof join_url);
    spawn_worker(0, true);
    assert_true(wait_view(wk_id[0], "state", "live", 20000));
    assert_true(wait_view(wk_id[0], "reachable", "outbound", 5000));
    json_t *n = view(wk_id[0]);
    char relay[512];
    snprintf(relay, sizeof relay, "%s/v1/orchestrator/relay/%s", join_url, wk_id[0]);
    assert_string_equal(json_string_value(json_object_get(n, "endpoint")), relay);
    json_decref(n);
    /* `zentalk nodes` says so too */
    const char *const cargs[] = {"nodes", "--url", gw.url, NULL};
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    assert_int_equal(run_prog(cli_bin, cargs, NULL, NULL, &out, 0), 0);
    assert_non_null(strstr(zt_buf_str(&out), "reached through its outbound connection"));
    zt_buf_deinit(&out);

    /* chats through the relay */
    long long before = metric_value(gw.port, "zentalk_orchestrator_relay_requests_total{result=\"relayed\"}");
    struct zt_buf plain, streamed;
    zt_buf_init(&plain, 1 << 16);
    zt_buf_init(&streamed, 1 << 16);
    char ran[64];
    assert_int_equal(chat(false, &plain, ran, sizeof ran), 200);
    assert_string_equal(ran, wk_id[0]);
    assert_int_equal(chat(true, &streamed, ran, sizeof ran), 200);
    assert_true(plain.len > 0);
    assert_string_equal(zt_buf_str(&plain), zt_buf_str(&streamed));
    assert_int_equal(metric_value(gw.port, "zentalk_orchestrator_relay_requests_total{result=\"relayed\"}"),
                     before + 2);
    zt_buf_deinit(&plain);
    zt_buf_deinit(&streamed);
    /* nobody can connect to it: its listener on 0.0.0.0 of its namespace
     * is behind the firewall (while the chats above ran on it) */
    if (nat) assert_false(nat_connects(wk[0].port, 1500));

    struct call c[8];
    pthread_t t[8];
    for (int i = 0; i < 8; i++) assert_int_equal(pthread_create(&t[i], NULL, chat_thread, &c[i]), 0);
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(c[i].status, 200);
        assert_string_equal(c[i].ran_on, wk_id[0]);
    }

    /* a gateway that came after the worker's join: its chats run on the
     * outbound worker, which admits its sealed jobs because its polls'
     * answers name it (the join answer did not) */
    char orch_id[64], pinned[300];
    node_id_of(gw.port, orch_id, sizeof orch_id, NULL);
    snprintf(pinned, sizeof pinned, "%s#%s", gw.url, orch_id);
    const char *const rargs[] = {"--roles", "gateway", "--orchestrator", pinned, NULL};
    const char *const renv[] = {"ZENTALK_ENCRYPTION_REMOTE_TIMEOUT_S=20", NULL};
    node_spawn(&rgw, rargs, renv, true, NULL);
    for (int i = 0; i < 2; i++) {
        struct zt_buf x;
        zt_buf_init(&x, 1 << 16);
        char body[300];
        snprintf(body, sizeof body, CHAT, i ? "\"stream\":true," : "");
        assert_int_equal(chat_text(rgw.port, body, i != 0, &x, ran, sizeof ran), 200);
        assert_string_equal(ran, wk_id[0]);
        assert_true(x.len > 0);
        zt_buf_deinit(&x);
    }
    node_stop(&rgw, 20000);

    /* a direct worker beside it; the outbound one dies */
    spawn_worker(1, false);
    assert_true(wait_view(wk_id[1], "state", "live", 20000));
    assert_true(wait_view(wk_id[1], "reachable", "direct", 5000));
    assert_int_equal(kill(wk[0].pid, SIGKILL), 0);
    assert_int_equal(node_wait(&wk[0], 10000), 128 + SIGKILL);
    assert_true(wait_view(wk_id[0], "reachable", "direct", 10000)); /* no poll any more */
    for (int i = 0; i < 3; i++) {
        struct zt_buf x;
        zt_buf_init(&x, 1 << 16);
        assert_int_equal(chat(false, &x, ran, sizeof ran), 200);
        assert_string_equal(ran, wk_id[1]);
        zt_buf_deinit(&x);
    }

    node_stop(&wk[1], 20000);
    node_cleanup(&wk[0]);
    rm_rf(wk[0].dir);
    node_stop(&gw, 20000);
    nat_teardown();
    rm_rf(cfg);
}

/* The namespace's name is the host's (/run/netns): removed after a failure too. */
static int group_teardown(void **state)
{
    (void)state;
    if (wk[0].pid > 0) node_cleanup(&wk[0]);
    if (rgw.pid > 0) node_cleanup(&rgw);
    nat_teardown();
    return 0;
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_outbound")) return 2;
    cli_bin = argv[2];
    /* in a private namespace when one can be made (-1: this is the run
     * inside it), else on loopback with the namespace part a counted skip */
    int outer = netns_available() ? netns_rerun(argc, argv) : -1;
    if (outer >= 0) return outer;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outbound_worker),
    };
    return zt_test_exit(cmocka_run_group_tests_name("outbound", tests, NULL, group_teardown));
}
