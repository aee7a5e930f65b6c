"""zt_checks.py: what the Python checks of tests/deploy share.

fail(msg) records a failure and prints it; finish(ok_text, noun) prints the
verdict and returns the exit status; dump_config(node, cfg_dir) is the
parsed `zentalk-node --dump-config` (None after a recorded failure), run
without the caller's ZENTALK_ variables. Importing it without PyYAML exits
77 (ctest: skipped) with the reason."""
import os
import subprocess
import sys

try:
    import yaml  # noqa: F401  (re-exported for the checks)
except ImportError:
    print("SKIP: /usr/bin/python3 has no PyYAML (apt-get install python3-yaml; scripts/setup.sh installs it)")
    sys.exit(77)

FAILS = []


def fail(msg):
    FAILS.append(msg)
    print("FAIL:", msg)


def clean_env(keep=()):
    """The environment without ZENTALK_ variables (except those in keep)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ZENTALK_") or k in keep}


def dump_config(node, cfg_dir=None):
    cmd = [node] + (["--config", cfg_dir] if cfg_dir else []) + ["--dump-config"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=clean_env(), timeout=30)
    if p.returncode != 0:
        fail("%s exited %d: %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
        return None
    return yaml.safe_load(p.stdout)


def finish(ok_text, what):
    if FAILS:
        print("%d %s" % (len(FAILS), what))
        return 1
    print(ok_text)
    return 0
