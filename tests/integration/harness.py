"""harness.py: the Python side of harness.c, for the black-box tests written
in Python (test_ws.py). Same contract as the C harness:

- the node binary is argv[1] (tests/integration/CMakeLists.txt passes
  $<TARGET_FILE:zentalk-node>, as for the C tests);
- a node runs in its own temp dir /tmp/zt-node-XXXXXX with data in
  DIR/data, started with --listen 127.0.0.1:0 --data-dir DIR/data; its port
  is read from the first line it prints ("listening on
  http://127.0.0.1:PORT"), within 15 s;
- skips print "SKIP: reason" and count; the exit status is 1 when a check
  failed, else 77 (ZT_TEST_SKIPPED, the SKIP_RETURN_CODE of every test) when
  anything was skipped, else 0 (tests/common/zt_test.h)."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIPPED = 77
_skips = 0


def node_bin():
    if len(sys.argv) < 2:
        print("usage: %s ZENTALK_NODE" % sys.argv[0])
        sys.exit(2)
    return sys.argv[1]


def skip_part(reason):
    """A part of the test that cannot run: say why, count it, go on."""
    global _skips
    _skips += 1
    print("SKIP: %s" % reason, flush=True)


def skip_all(reason):
    """The whole test cannot run."""
    skip_part(reason)
    sys.exit(SKIPPED)


def exit_status(failures):
    if failures:
        return 1
    if _skips:
        print("%d skip(s): reported to ctest as skipped (exit %d); everything that ran passed" % (_skips, SKIPPED))
        return SKIPPED
    return 0


class Node:
    """A running zentalk-node (see node_spawn in harness.c)."""

    def __init__(self, env_extra=None, extra_args=()):
        self.dir = tempfile.mkdtemp(prefix="zt-node-")
        self.data_dir = os.path.join(self.dir, "data")
        env = dict(os.environ)
        env.update(env_extra or {})
        self.proc = subprocess.Popen([node_bin(), "--listen", "127.0.0.1:0", "--data-dir", self.data_dir]
                                     + list(extra_args), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.port = self._read_port(15)

    def _read_port(self, seconds):
        want = "listening on http://127.0.0.1:"
        deadline = time.time() + seconds
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode(errors="replace")
            if want in line:
                return int(line.split(want, 1)[1].split()[0].rstrip("/"))
            if not line and self.proc.poll() is not None:
                break
        self.stop()
        raise SystemExit("node did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
