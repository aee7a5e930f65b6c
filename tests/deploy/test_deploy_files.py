#!/usr/bin/python3
"""test_deploy_files.py: the deployment files are well-formed and consistent.

Usage: test_deploy_files.py SOURCE_DIR ZENTALK_NODE

What a machine without a container engine or a cluster can check:
- every YAML file of deploy/ and docker-compose.yml parses;
- Dockerfile: multi-stage, bookworm base, a non-root USER in the final
  stage, a HEALTHCHECK on /healthz; .dockerignore keeps .git, build trees
  and data/ out of the context;
- docker-compose.yml: a gateway+orchestrator node, three workers,
  PostgreSQL and Redis, health checks on /healthz; every ZENTALK_ variable
  it sets is a configuration key's (or listed as not yet honoured), and each
  node's environment passes `zentalk-node --check-config`;
- deploy/kubernetes/: the kinds (Namespace, ConfigMap, Secret, Deployment,
  StatefulSet, Service, PodDisruptionBudget), probes on /healthz and
  /readyz, GPU requests on the workers, non-root security contexts, selectors
  that match their pods, references to the ConfigMap and Secret that exist,
  the ConfigMap equal to config/ (regenerate: scripts/deploy/setup_env.sh
  --k8s-configmap), the node environment passing --check-config;
- deploy/monitoring/: the Grafana dashboard is JSON with panels and queries
  (test_docs.py checks its metric names against a running node).

Exits 1 listing every problem, 0 when none, 77 without PyYAML.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from zt_checks import clean_env, dump_config, fail, finish, yaml

SRC, NODE = sys.argv[1], sys.argv[2]
# Variables the deployment files set ahead of the code that will read them.
NOT_YET_HONOURED = {}


def ok(msg):
    print("ok:", msg)


def path(rel):
    return os.path.join(SRC, rel)


def load_all(rel):
    with open(path(rel), encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def node_env_names():
    dump = dump_config(NODE)
    keys = set()
    if dump is None:
        return keys

    def walk(prefix, v):
        if isinstance(v, dict):
            for k, sub in v.items():
                walk(prefix + "_" + k if prefix else k, sub)
        else:
            keys.add("ZENTALK_" + prefix.upper())
    walk("", dump)
    keys.discard("ZENTALK_MODELS")  # a list of mappings: not settable from the environment
    return keys


ENV_NAMES = None


def check_node_env(where, env):
    """env: {name: value} of one node; the names are known and the values check."""
    zt = {k: str(v) for k, v in env.items() if k.startswith("ZENTALK_")}
    for k in sorted(zt):
        if k not in ENV_NAMES and k not in NOT_YET_HONOURED:
            fail("%s sets %s, which is no configuration key's variable" % (where, k))
    run_env = clean_env()
    tmp = tempfile.mkdtemp(prefix="zt-deploy-env-")
    for k, v in zt.items():
        if k in NOT_YET_HONOURED:
            continue
        v = re.sub(r"\$\{[^}]*\}", "x" * 32, v)          # compose ${VAR:?...} / ${VAR:-default}
        v = re.sub(r"\$\(([A-Z_]+)\)", "pod-0", v)       # kubernetes $(POD_NAME)
        run_env[k] = v
    run_env["ZENTALK_NODE_DATA_DIR"] = os.path.join(tmp, "data")
    p = subprocess.run([NODE, "--check-config"], capture_output=True, text=True, env=run_env, timeout=30)
    if p.returncode != 0:
        fail("%s: its environment does not pass zentalk-node --check-config: %s" % (where, (p.stdout + p.stderr).strip()))
    shutil.rmtree(tmp, ignore_errors=True)


# ---- YAML -------------------------------------------------------------------
def check_not_yet():
    for v in sorted(NOT_YET_HONOURED):
        if v in ENV_NAMES:
            fail("%s is a configuration key's variable now: drop it from NOT_YET_HONOURED and the 'not yet honoured' comments of docker-compose.yml and deploy/" % v)


def check_yaml_parses():
    files = sorted(glob.glob(path("deploy/**/*.y*ml"), recursive=True)) + [path("docker-compose.yml")]
    for f in files:
        rel = os.path.relpath(f, SRC)
        try:
            with open(f, encoding="utf-8") as fh:
                docs = [d for d in yaml.safe_load_all(fh) if d is not None]
            if not docs:
                fail("%s holds no YAML document" % rel)
        except yaml.YAMLError as e:
            fail("%s does not parse: %s" % (rel, e))
    ok("%d YAML files parse" % len(files))


# ---- Dockerfile ---------------------------------------------------------------
def check_dockerfile():
    with open(path("Dockerfile"), encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f]
    # join continuation lines, drop comments
    text, cur = [], ""
    for l in lines:
        if l.lstrip().startswith("#"):
            continue
        cur += l[:-1] + " " if l.endswith("\\") else l
        if not l.endswith("\\"):
            text.append(cur.strip())
            cur = ""
    instr = [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l else "") for l in text if l]
    args = {a.split("=", 1)[0]: a.split("=", 1)[1] for i, a in instr if i == "ARG" and "=" in a}
    froms = [a for i, a in instr if i == "FROM"]
    if len(froms) < 2:
        fail("Dockerfile is not multi-stage (%d FROM)" % len(froms))
    for fr in froms:
        base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), fr.split()[0])
        if "bookworm" not in base:
            fail("Dockerfile: FROM %s is not a bookworm base" % base)
    final = instr[max(i for i, (n, _) in enumerate(instr) if n == "FROM"):]
    users = [a.strip() for n, a in final if n == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        fail("Dockerfile: the final stage does not switch to a non-root USER")
    hc = [a for n, a in final if n == "HEALTHCHECK"]
    if not hc or "/healthz" not in hc[-1]:
        fail("Dockerfile: no HEALTHCHECK on /healthz in the final stage")
    if not any(n == "EXPOSE" for n, _ in final):
        fail("Dockerfile: no EXPOSE")
    with open(path(".dockerignore"), encoding="utf-8") as f:
        ign = {l.strip() for l in f if l.strip() and not l.startswith("#")}
    for need in (".git", "/build*/", "/data/"):
        if need not in ign:
            fail(".dockerignore does not exclude %s" % need)
    ok("Dockerfile: %d stages, final USER %s, HEALTHCHECK %s" % (len(froms), users[-1] if users else "-", "yes" if hc else "no"))


# ---- compose ----------------------------------------------------------------
def check_compose():
    c = load_all("docker-compose.yml")[0]
    services = c.get("services", {})
    roles = {}
    for name, s in services.items():
        env = s.get("environment", {}) or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) for e in env)
        is_node = "ZENTALK_NODE_ROLES" in env or (s.get("build") or {}).get("dockerfile") == "Dockerfile"
        if not is_node:
            continue
        roles[name] = set(str(env.get("ZENTALK_NODE_ROLES", "gateway,orchestrator,worker")).split(","))
        b = s.get("build") or {}
        if not os.path.isfile(os.path.join(SRC, b.get("context", "."), b.get("dockerfile", "Dockerfile"))):
            fail("compose service %s builds from a Dockerfile that does not exist" % name)
        test = " ".join(map(str, (s.get("healthcheck") or {}).get("test", [])))
        if "/healthz" not in test:
            fail("compose service %s has no health check on /healthz" % name)
        check_node_env("docker-compose.yml service " + name, env)
    gw = [n for n, r in roles.items() if {"gateway", "orchestrator"} <= r]
    workers = [n for n, r in roles.items() if r == {"worker"}]
    if len(gw) != 1:
        fail("docker-compose.yml: %d gateway+orchestrator services, expected 1" % len(gw))
    if len(workers) < 3:
        fail("docker-compose.yml: %d worker services, expected 3" % len(workers))
    images = " ".join(str(s.get("image", "")) for s in services.values())
    for db in ("postgres", "redis"):
        if db not in images:
            fail("docker-compose.yml has no %s service" % db)
    for name, s in services.items():
        for dep in (s.get("depends_on") or []):
            if dep not in services:
                fail("compose service %s depends on unknown service %s" % (name, dep))
    ok("docker-compose.yml: gateway+orchestrator %s, workers %s" % (gw, workers))


# ---- kubernetes ---------------------------------------------------------------
def pod_templates(objs):
    for o in objs:
        if o.get("kind") in ("Deployment", "StatefulSet", "DaemonSet"):
            yield o, o["spec"]["template"]


def labels_match(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def check_kubernetes():
    files = sorted(glob.glob(path("deploy/kubernetes/*.yaml")))
    objs = []
    for f in files:
        if os.path.basename(f) == "kustomization.yaml":
            continue
        for d in load_all(os.path.relpath(f, SRC)):
            for need in ("apiVersion", "kind", "metadata"):
                if need not in d:
                    fail("%s: an object without %s" % (os.path.relpath(f, SRC), need))
            objs.append(d)
    kinds = {o.get("kind") for o in objs}
    for k in ("Namespace", "ConfigMap", "Secret", "Deployment", "Service", "PodDisruptionBudget"):
        if k not in kinds:
            fail("deploy/kubernetes has no %s" % k)
    by = {(o["kind"], o["metadata"]["name"]): o for o in objs}

    kust = load_all("deploy/kubernetes/kustomization.yaml")[0]
    for r in kust.get("resources", []):
        if not os.path.isfile(path("deploy/kubernetes/" + r)):
            fail("kustomization.yaml lists %s, which does not exist" % r)

    # the ConfigMap is config/
    cms = [o for o in objs if o["kind"] == "ConfigMap"]
    for cm in cms:
        data = cm.get("data", {})
        want = sorted(os.path.basename(f) for f in glob.glob(path("config/*"))
                      if os.path.isfile(f) and os.path.basename(f) != "config.example.yaml")
        if sorted(data) != want:
            fail("ConfigMap %s holds %s, config/ has %s (regenerate: scripts/deploy/setup_env.sh --k8s-configmap > deploy/kubernetes/configmap.yaml)"
                 % (cm["metadata"]["name"], sorted(data), want))
        for k, v in data.items():
            fn = path("config/" + k)
            if os.path.isfile(fn):
                with open(fn, encoding="utf-8") as f:
                    if f.read() != v:
                        fail("ConfigMap %s: %s differs from config/%s (regenerate: scripts/deploy/setup_env.sh --k8s-configmap > deploy/kubernetes/configmap.yaml)"
                             % (cm["metadata"]["name"], k, k))
    secrets = {o["metadata"]["name"]: set((o.get("stringData") or {}) | (o.get("data") or {})) for o in objs if o["kind"] == "Secret"}

    gpu_workloads = 0
    for w, tpl in pod_templates(objs):
        name = "%s %s" % (w["kind"], w["metadata"]["name"])
        labels = tpl["metadata"].get("labels", {})
        if not labels_match(w["spec"]["selector"].get("matchLabels"), labels):
            fail("%s: selector does not match its pod labels" % name)
        spec = tpl["spec"]
        psc = spec.get("securityContext", {})
        if psc.get("runAsNonRoot") is not True:
            fail("%s: pod securityContext lacks runAsNonRoot: true" % name)
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        for v in vols.values():
            if "configMap" in v and ("ConfigMap", v["configMap"]["name"]) not in by:
                fail("%s: volume %s names ConfigMap %s, which is not defined" % (name, v["name"], v["configMap"]["name"]))
        claim_templates = {c["metadata"]["name"] for c in w["spec"].get("volumeClaimTemplates", [])}
        for c in spec["containers"]:
            cname = "%s container %s" % (name, c["name"])
            ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
            for probe, want in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
                g = (c.get(probe) or {}).get("httpGet") or {}
                if g.get("path") != want:
                    fail("%s: %s is not an HTTP GET of %s" % (cname, probe, want))
                elif g.get("port") not in ports and g.get("port") not in ports.values():
                    fail("%s: %s port %s is not a container port" % (cname, probe, g.get("port")))
            sc = c.get("securityContext", {})
            if sc.get("allowPrivilegeEscalation") is not False:
                fail("%s: allowPrivilegeEscalation is not false" % cname)
            if "ALL" not in (sc.get("capabilities") or {}).get("drop", []):
                fail("%s: capabilities are not all dropped" % cname)
            res = c.get("resources", {})
            if "nvidia.com/gpu" in (res.get("limits") or {}):
                gpu_workloads += 1
                if (res.get("requests") or {}).get("nvidia.com/gpu") != res["limits"]["nvidia.com/gpu"]:
                    fail("%s: nvidia.com/gpu request and limit differ (extended resources need both, equal)" % cname)
            for vm in c.get("volumeMounts", []):
                if vm["name"] not in vols and vm["name"] not in claim_templates:
                    fail("%s: mounts undefined volume %s" % (cname, vm["name"]))
            env = {}
            for e in c.get("env", []):
                ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    if ref["name"] not in secrets or ref["key"] not in secrets[ref["name"]]:
                        fail("%s: env %s reads secret %s key %s, which is not defined" % (cname, e["name"], ref["name"], ref["key"]))
                    env[e["name"]] = "x" * 32
                elif "value" in e:
                    env[e["name"]] = e["value"]
            roles = env.get("ZENTALK_NODE_ROLES", "")
            if "worker" in roles.split(",") and "nvidia.com/gpu" not in (res.get("requests") or {}):
                fail("%s: a worker without an nvidia.com/gpu request" % cname)
            check_node_env("deploy/kubernetes " + cname, env)
    if gpu_workloads == 0:
        fail("deploy/kubernetes: no workload requests nvidia.com/gpu")
    orch = [w for w, t in pod_templates(objs) if w["kind"] == "Deployment"
            and any("orchestrator" in e.get("value", "") for c in t["spec"]["containers"] for e in c.get("env", [])
                    if e["name"] == "ZENTALK_NODE_ROLES")]
    if not orch:
        fail("deploy/kubernetes: no Deployment runs the orchestrator role")

    all_pod_labels = [t["metadata"].get("labels", {}) for _, t in pod_templates(objs)]
    for o in objs:
        if o["kind"] == "Service":
            sel = o["spec"].get("selector")
            if not any(labels_match(sel, l) for l in all_pod_labels):
                fail("Service %s selects no pod" % o["metadata"]["name"])
        if o["kind"] == "PodDisruptionBudget":
            sel = o["spec"].get("selector", {}).get("matchLabels")
            if not any(labels_match(sel, l) for l in all_pod_labels):
                fail("PodDisruptionBudget %s selects no pod" % o["metadata"]["name"])
            if "minAvailable" not in o["spec"] and "maxUnavailable" not in o["spec"]:
                fail("PodDisruptionBudget %s sets neither minAvailable nor maxUnavailable" % o["metadata"]["name"])
    ok("deploy/kubernetes: %d objects, kinds %s" % (len(objs), sorted(kinds)))


# ---- monitoring ----------------------------------------------------------------
def check_monitoring():
    with open(path("deploy/monitoring/grafana-dashboard.json"), encoding="utf-8") as f:
        d = json.load(f)
    for k in ("title", "uid", "panels", "templating"):
        if k not in d:
            fail("grafana-dashboard.json has no %s" % k)
    n = sum(len(p.get("targets", [])) for p in d.get("panels", []))
    ids = [p.get("id") for p in d.get("panels", [])]
    if len(ids) != len(set(ids)):
        fail("grafana-dashboard.json: panel ids repeat")
    if n == 0:
        fail("grafana-dashboard.json has no queries")
    ok("grafana-dashboard.json: %d panels, %d queries" % (len(ids), n))


def main():
    global ENV_NAMES
    ENV_NAMES = node_env_names()
    check_not_yet()
    check_yaml_parses()
    check_dockerfile()
    check_compose()
    check_kubernetes()
    check_monitoring()
    return finish("deployment files: ok", "problem(s) in the deployment files")


if __name__ == "__main__":
    sys.exit(main())
