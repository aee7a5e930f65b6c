#!/usr/bin/python3
"""test_docs.py: the documentation says what the code does, both ways.

Usage: test_docs.py SOURCE_DIR ZENTALK_NODE

- Routes: every route of the node (string literals "/v1/...", "/healthz",
  "/readyz", "/metrics" in src/server/*.c, and "/" and "/ui/..." on
  route-table lines; the methods and minimum role from
  the route-table line that holds the literal, in either of the table's
  layouts) has a "### `METHOD /path`" heading in docs/api.md and exactly one
  row of its role table, with the role of the code; every route docs/api.md
  names (headings, the role table, any backticked "METHOD /path") exists.
- Configuration keys: the keys of `zentalk-node --dump-config` (run with one
  entry in every list of mappings, so their sub-keys show) are exactly the
  keys of docs/configuration.md's key reference; every key or ZENTALK_
  variable that docs/*.md, docs/getting-started.md or README.md names in
  backticks exists (placeholders such as NAME and globs such as chain.* are
  matched as patterns).
- Metrics: the families a started node serves on /metrics are the ones
  docs/api.md's /metrics table lists, and every series that the Grafana
  dashboard (deploy/monitoring/grafana-dashboard.json) queries is served.

Exits 1 listing every mismatch, 0 when none.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from zt_checks import clean_env, dump_config, fail, finish

SRC, NODE = sys.argv[1], sys.argv[2]


def read(rel):
    with open(os.path.join(SRC, rel), encoding="utf-8") as f:
        return f.read()


# ---- routes -----------------------------------------------------------------
ROUTE_LIT = re.compile(r'"(/(?:v1/[A-Za-z0-9_./{}:-]*|healthz|readyz|metrics))"')
# the dashboard's routes ("/", "/ui/..."): counted only on route-table lines
WEB_LIT = re.compile(r'"(/(?:ui/[A-Za-z0-9_./-]*)?)"')
METHODS = re.compile(r"\bM_(GET|POST|PUT|DELETE|PATCH)\b(?:\s*\|\s*M_(GET|POST|PUT|DELETE|PATCH)\b)*")
ROLE = re.compile(r"AUTH_(NONE|USER|PROVIDER|ADMIN)\b")


def source_routes():
    """{path: {"methods": set or None, "role": str or None}} from src/server."""
    routes = {}
    files = sorted(glob.glob(os.path.join(SRC, "src/server/**/*.c"), recursive=True))
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for line in fh:
                code = line.split("//", 1)[0]
                lits = list(ROUTE_LIT.finditer(code))
                if METHODS.search(code) and ROLE.search(code):
                    lits += list(WEB_LIT.finditer(code))
                for m in lits:
                    path = m.group(1)
                    if path in ("/v1/", "/v1"):
                        continue  # a prefix test, not a route
                    r = routes.setdefault(path, {"methods": None, "role": None})
                    mm = METHODS.search(code)
                    rr = ROLE.search(code)
                    if mm and rr:  # a route-table entry
                        r["methods"] = set(re.findall(r"M_([A-Z]+)", mm.group(0)))
                        r["role"] = rr.group(1).lower()
    return routes


def doc_path_matches(doc_path, src_path):
    """A documented path names a source route: equal, a {param} template over
    a prefix literal ("/v1/models/" ~ "/v1/models/{id}"), or a glob."""
    doc_path = doc_path.split("?", 1)[0]
    if doc_path == src_path:
        return True
    if doc_path.endswith("/*"):
        return src_path.startswith(doc_path[:-1])
    if re.search(r"/[A-Z][A-Z_]*(/|$)", doc_path):  # /v1/features/NAME: a placeholder segment
        pat = re.sub(r"[A-Z][A-Z_]*", "[a-z0-9_-]+", re.escape(doc_path).replace("\\/", "/"))
        return re.fullmatch(pat, src_path) is not None
    if "{" in doc_path and src_path.endswith("/"):  # one {param} segment or more (/v1/rewards/proofs/{batch}/{address})
        rest = doc_path[len(src_path):] if doc_path.startswith(src_path) else ""
        return bool(rest) and all(re.fullmatch(r"\{[a-z_]+\}", seg) for seg in rest.split("/"))
    return False


def check_routes():
    api = read("docs/api.md")
    routes = source_routes()
    if len(routes) < 10:
        fail("found only %d routes in src/server/*.c: the parser no longer matches the route table" % len(routes))
    table_routes = {p: r for p, r in routes.items() if r["methods"]}
    if len(table_routes) < 10:
        fail("found only %d route-table entries (methods and role): the parser no longer matches" % len(table_routes))

    # headings: ### `GET /a`, `PUT /a`
    headings = set()
    for line in api.splitlines():
        if line.startswith("### "):
            for meth, path in re.findall(r"`(GET|POST|PUT|DELETE|PATCH) (/[^`\s]*)", line):
                headings.add((meth, path.split("?", 1)[0]))
    for path, r in sorted(routes.items()):
        methods = r["methods"] or {None}
        for meth in sorted(methods, key=str):
            ok = any(doc_path_matches(hp, path) and (meth is None or hm == meth) for hm, hp in headings)
            if not ok:
                fail("route %s %s has no '### `%s %s`' heading in docs/api.md" % (meth or "?", path, meth or "METHOD", path))

    # every backticked METHOD /path or /v1/... in api.md exists
    documented = set(re.findall(r"`(?:(?:GET|POST|PUT|DELETE|PATCH|HEAD|OPTIONS) )?(/(?:v1/[^`\s]*|healthz|readyz|metrics|ui/[^`\s]*))`", api))
    documented |= {p for _, p in headings}
    for dp in sorted(documented):
        if not any(doc_path_matches(dp, sp) for sp in routes):
            fail("docs/api.md names %s, which is no route of the node" % dp)

    # the role table: one row per route, the code's role
    rows = []
    for line in api.splitlines():
        m = re.match(r"\|\s*(`/.*?)\s*\|\s*(.*?)\s*\|\s*$", line)
        if m and "`/" in m.group(1):
            paths = re.findall(r"`(/[^`]*)`", m.group(1))
            role_cell = m.group(2)
            rm = re.match(r"`?(none|user|provider|admin)\b", role_cell)
            rows.append((paths, rm.group(1) if rm else None, line))
    if not rows:
        fail("docs/api.md has no role table (| routes | role |)")
    for path, r in sorted(table_routes.items()):
        hits = [(ps, role) for ps, role, _ in rows if any(doc_path_matches(p, path) for p in ps)]
        if len(hits) == 0:
            fail("route %s is in no row of docs/api.md's role table" % path)
        elif len(hits) > 1:
            fail("route %s is in %d rows of docs/api.md's role table (one row per route)" % (path, len(hits)))
        elif hits[0][1] != r["role"]:
            fail("route %s: role table says %s, the code says %s" % (path, hits[0][1], r["role"]))
    print("ok: %d routes (%d table entries) checked against docs/api.md" % (len(routes), len(table_routes)))


# ---- configuration keys -----------------------------------------------------
LISTS_CFG = {
    "models.yaml": "models:\n  - id: m\n    path: models/m.gguf\n",
    "privacy.yaml": "privacy:\n  extra_patterns:\n    - type: TICKET\n      regex: \"T-[0-9]+\"\n"
                    "  policies:\n    - feature: chat\n      type: EMAIL\n      action: allow\n",
    "features.yaml": "features:\n  categorize:\n    categories:\n      - name: x\n        seeds: [a]\n",
}


def flatten(prefix, v, out):
    if isinstance(v, dict):
        for k, sub in v.items():
            flatten(prefix + "." + k if prefix else k, sub, out)
    elif isinstance(v, list) and v and isinstance(v[0], dict):
        out.add(prefix)
        for k, sub in v[0].items():
            flatten(prefix + "[]." + k, sub, out)
    else:
        out.add(prefix)


def code_keys(tmp):
    cfg = os.path.join(tmp, "cfg")
    os.mkdir(cfg)
    for name, text in LISTS_CFG.items():
        with open(os.path.join(cfg, name), "w") as f:
            f.write(text)
    dump = dump_config(NODE, cfg)
    keys = set()
    if dump is not None:
        flatten("", dump, keys)
    return keys


def key_pattern(tok):
    """`features.NAME.enabled`, `chain.*`, `models[].x` -> a regex over keys;
    a mention of a subtree (`features.spam`, `features.NAME`) matches its keys."""
    out = ""
    for part in re.split(r"(\*|\b[A-Z][A-Z0-9_]*\b|\[\])", tok):
        if part == "*":
            out += r"[a-z0-9_.\[\]]+"
        elif part == "[]":
            out += r"\[\]"
        elif part and re.fullmatch(r"[A-Z][A-Z0-9_]*", part):
            out += r"[a-z0-9_]+"
        else:
            out += re.escape(part)
    return re.compile(out + r"(\..+|\[\]\..+)?$")


SECTIONS = "node|server|log|encryption|gpu_pool|database|chain|integration|privacy|model_cache|models|features"
KEY_TOKEN = re.compile(r"`((?:%s)(?:\[\])?(?:\.(?:[a-z0-9_]+|[A-Z][A-Z0-9_]*|\*)(?:\[\])?)+)`" % SECTIONS)
ENV_TOKEN = re.compile(r"\bZENTALK_[A-Z0-9_]+\b")
# ZENTALK_ variables that are not configuration keys, each with where it is read
ENV_NOT_KEYS = {
    "ZENTALK_URL": "zentalk CLI: node address",
    "ZENTALK_TOKEN": "zentalk CLI and scripts: bearer token",
    "ZENTALK_CONFIG": "zentalk CLI: configuration directory",
    "ZENTALK_CONFIG_DIR": "scripts and deployments: configuration directory",
    "ZENTALK_ASSETS_DIR": "features: where the data assets are",
    "ZENTALK_NODE_BIN": "scripts: the node binary",
    "ZENTALK_CLI_BIN": "scripts: the CLI binary",
    "ZENTALK_JWT_SECRET": "docker-compose.yml: the value of ZENTALK_ENCRYPTION_JWT_SECRET",
}


# Keys the docs name ahead of the code, each marked "not honoured yet" where
# it appears; when the key lands, this test fails until the entry goes.
KEYS_NOT_YET = {
}


def env_of(key):
    return "ZENTALK_" + key.upper().replace(".", "_")


def check_config(tmp):
    keys = code_keys(tmp)
    if not keys:
        return
    doc = read("docs/configuration.md")
    ref = doc.split("<!-- BEGIN key reference", 1)
    if len(ref) < 2:
        fail("docs/configuration.md has no '<!-- BEGIN key reference' section")
        return
    table = set(re.findall(r"^\| `([a-z0-9_.\[\]]+)` \|", ref[1], re.M))
    for k in sorted(keys - table):
        fail("config key %s (zentalk-node --dump-config) is not in docs/configuration.md's key reference" % k)
    for k in sorted(table - keys):
        fail("docs/configuration.md documents %s, which zentalk-node does not have" % k)
    envs = {env_of(k) for k in keys if "[]" not in k}
    for k in sorted(KEYS_NOT_YET):
        if k in keys:
            fail("%s exists now: drop it from KEYS_NOT_YET in tests/deploy/test_docs.py and the 'not yet honoured' notes" % k)
    for v in sorted(ENV_NOT_KEYS):
        if v in envs:
            fail("%s is a key's variable now: drop it from ENV_NOT_KEYS in tests/deploy/test_docs.py" % v)
    docs = [p for p in glob.glob(os.path.join(SRC, "docs/*.md"))] + [os.path.join(SRC, "README.md")]
    n = 0
    for path in sorted(docs):
        if not os.path.exists(path):
            continue
        rel = os.path.relpath(path, SRC)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for tok in sorted(set(KEY_TOKEN.findall(text))):
            last = tok.rsplit(".", 1)[-1]
            if last in ("yaml", "yml", "txt", "md", "json") or len(last) == 1:
                continue  # a file name (models.yaml), or a placeholder (models[].x)
            n += 1
            pat = key_pattern(tok)
            if tok in KEYS_NOT_YET:
                continue
            if not any(pat.match(k) for k in keys):
                fail("%s names `%s`, which is no configuration key" % (rel, tok))
        for var in sorted(set(ENV_TOKEN.findall(text))):
            if var.endswith("_") or var in envs or var in ENV_NOT_KEYS:
                continue
            fail("%s names %s, which is neither a key's variable nor a known ZENTALK_ variable" % (rel, var))
    print("ok: %d keys match docs/configuration.md; %d key mentions in docs checked" % (len(keys), n))


# ---- metrics ----------------------------------------------------------------
def start_node(tmp):
    data = os.path.join(tmp, "data")
    env = clean_env(keep=("ZENTALK_ASSETS_DIR",))
    p = subprocess.Popen([NODE, "--listen", "127.0.0.1:0", "--data-dir", data], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env, text=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        line = p.stdout.readline()
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if m:
            return p, m.group(1)
        if not line and p.poll() is not None:
            break
    p.kill()
    fail("the node did not start")
    return None, None


def check_metrics(tmp):
    p, url = start_node(tmp)
    if not p:
        return
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
            text = r.read().decode()
    finally:
        p.terminate()
        p.wait(timeout=20)
    families = dict(re.findall(r"^# TYPE (\S+) (\S+)", text, re.M))
    if len(families) < 5:
        fail("/metrics served only %d families" % len(families))
    api = read("docs/api.md")
    sect = api.split("### `GET /metrics`", 1)[-1].split("\n### ", 1)[0]
    documented = set(re.findall(r"`((?:zentalk|process)_[a-z0-9_]+)`", sect))
    for f in sorted(set(families) - documented):
        fail("/metrics family %s is not in docs/api.md's /metrics table" % f)
    for f in sorted(documented - set(families)):
        fail("docs/api.md's /metrics table lists %s, which the node does not serve" % f)

    dash_path = os.path.join(SRC, "deploy/monitoring/grafana-dashboard.json")
    with open(dash_path, encoding="utf-8") as f:
        dash = json.load(f)
    exprs = []

    def walk(panels):
        for pnl in panels:
            walk(pnl.get("panels", []))
            for t in pnl.get("targets", []):
                exprs.append((pnl.get("title", "?"), t.get("expr", "")))
    walk(dash.get("panels", []))
    if len(exprs) < 10:
        fail("the dashboard has only %d queries" % len(exprs))
    used = set()
    for title, e in exprs:
        for name in re.findall(r"\b((?:zentalk|process)_[a-z0-9_]+)\b", e):
            base = name
            for suf in ("_bucket", "_sum", "_count"):
                if name.endswith(suf) and families.get(name[: -len(suf)]) == "histogram":
                    base = name[: -len(suf)]
            used.add(base)
            if base not in families:
                fail("dashboard panel '%s' queries %s, which the node does not serve" % (title, name))
    for f in sorted(set(families) - used):
        print("note: the dashboard shows no panel for %s" % f)
    print("ok: %d metric families, %d dashboard queries" % (len(families), len(exprs)))


def main():
    tmp = tempfile.mkdtemp(prefix="zt-docs-test-")
    try:
        check_routes()
        check_config(tmp)
        check_metrics(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return finish("docs agree with the code", "mismatch(es) between the docs and the code")


if __name__ == "__main__":
    sys.exit(main())
