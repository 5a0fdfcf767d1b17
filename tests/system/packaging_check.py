#!/usr/bin/python3
"""Structural checks of packaging/kubernetes and packaging/container.

  packaging_check.py k8s SRCDIR HOUND WORKDIR
  packaging_check.py container SRCDIR HOUND

The Kubernetes check materializes each pod's volumes (ConfigMap, Secret,
emptyDir, hostPath) under WORKDIR, sets the container's environment as the
manifest would (downward API, secretRef), and runs the real `hound check` on
the embedded hound.yaml, then `hound run` to probe the liveness endpoint.
Each check prints "PASS|what" or "FAIL|what"; other lines start with "#".
"""
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import yaml

N = 0
FAILED = 0


def ok(cond, what, detail=""):
    global N, FAILED
    N += 1
    if not cond:
        FAILED += 1
    print(("PASS|" if cond else "FAIL|") + what)
    if not cond and detail:
        for line in str(detail).splitlines()[:20]:
            print("#   " + line)
    sys.stdout.flush()
    return cond


def docs_of(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def one(docs, kind):
    found = [d for d in docs if d["kind"] == kind]
    return found[0] if len(found) == 1 else None


def hound_container(pod):
    return next(c for c in pod["containers"] if c["name"] == "hound")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def materialize(name, docs, pod, c, work):
    """Writes the hound container's volumes under work/root; returns (config path, env, remap)."""
    root = os.path.join(work, name, "root")
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    remap = {}
    for m in c.get("volumeMounts", []):
        v = vols[m["name"]]
        dst = root + m["mountPath"]
        os.makedirs(dst, exist_ok=True)
        remap[m["mountPath"]] = dst
        if "configMap" in v:
            cm = next(d for d in docs if d["kind"] == "ConfigMap"
                      and d["metadata"]["name"] == v["configMap"]["name"])
            for k, val in cm["data"].items():
                with open(os.path.join(dst, k), "w") as f:
                    f.write(val)
        elif "secret" in v:
            sec = next(d for d in docs if d["kind"] == "Secret"
                       and d["metadata"]["name"] == v["secret"]["secretName"])
            for k, val in sec["stringData"].items():
                with open(os.path.join(dst, k), "w") as f:
                    f.write(val)
                # as the kubelet projects it (Kubernetes' default mode is 0644)
                os.chmod(os.path.join(dst, k), v["secret"].get("defaultMode", 0o644))
    env = dict(os.environ)
    fake = {"metadata.name": "api-7c9d-x2kq", "metadata.namespace": "shop",
            "spec.nodeName": "node-1"}
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        else:
            env[e["name"]] = fake[e["valueFrom"]["fieldRef"]["fieldPath"]]
    for ef in c.get("envFrom", []):
        sec = next(d for d in docs if d["kind"] == "Secret"
                   and d["metadata"]["name"] == ef["secretRef"]["name"])
        env.update(sec["stringData"])
    args = c["args"]
    cfg = args[args.index("-c") + 1]
    cfg_dir = os.path.dirname(cfg)
    text = open(remap[cfg_dir] + "/" + os.path.basename(cfg)).read()
    # Paths in the config point into the container's mounts: follow them.
    for mp in sorted(remap, key=len, reverse=True):
        text = re.sub(r"(?<=[ :])" + re.escape(mp) + r"(?=[/\s]|$)", remap[mp], text)
    local = os.path.join(work, name, "hound.yaml")
    with open(local, "w") as f:
        f.write(text)
    return local, env


def check_pod_common(name, docs, pod, c, caps):
    ok(pod.get("automountServiceAccountToken") is False,
       name + ": no service account token is mounted (hound does not use the Kubernetes API)")
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    secrets = [vols[m["name"]]["secret"] for m in c.get("volumeMounts", [])
               if "secret" in vols[m["name"]]]
    ok(secrets and all(s.get("defaultMode") == 0o400 for s in secrets),
       name + ": the token Secret is mounted 0400", secrets)
    sc = c.get("securityContext", {})
    ok(sc.get("capabilities", {}).get("drop") == ["ALL"], name + ": hound drops ALL capabilities")
    ok(sorted(sc.get("capabilities", {}).get("add", [])) == sorted(caps),
       name + ": hound adds exactly " + ",".join(caps), sc.get("capabilities"))
    ok(sc.get("allowPrivilegeEscalation") is False, name + ": allowPrivilegeEscalation false")
    for cc in pod["containers"]:
        r = cc.get("resources", {})
        ok(all(k in r.get(w, {}) for w in ("requests", "limits") for k in ("cpu", "memory")),
           name + ": container %s has cpu/memory requests and limits" % cc["name"])
    probe = c.get("livenessProbe", {}).get("httpGet", {})
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    port = ports.get(probe.get("port"), probe.get("port"))
    cm = yaml.safe_load(open(materialized_cfg(name)))
    listen = cm["api"]["listen"]
    ok(probe.get("path") == "/healthz" and str(port) == listen.rsplit(":", 1)[1],
       name + ": livenessProbe GETs /healthz on the api.listen port", (probe, listen))
    ok(not listen.startswith("127.") and "token_file" in cm["api"],
       name + ": the API listens beyond loopback (the kubelet probes the pod IP) with a token")
    return cm


MATERIALIZED = {}


def materialized_cfg(name):
    return MATERIALIZED[name]


def hound_check_and_run(name, hound, path, env, cm):
    r = subprocess.run([hound, "check", "-c", path], env=env, capture_output=True, text=True)
    ok(r.returncode == 0, name + ": hound check accepts the ConfigMap's hound.yaml", r.stderr)
    eff = yaml.safe_load(r.stdout) if r.returncode == 0 else {}
    labels = (eff or {}).get("labels", {})
    ok(all("${" not in str(v) for v in labels.values()) and labels,
       name + ": labels expanded from the downward API env", labels)
    # The liveness probe against the real agent (without upload: no network here).
    port = free_port()
    cm = dict(cm)
    cm.pop("upload", None)
    cm["api"]["listen"] = "127.0.0.1:%d" % port
    run_cfg = path.replace(".yaml", "-run.yaml")
    with open(run_cfg, "w") as f:
        yaml.safe_dump(cm, f)
    log = open(path.replace(".yaml", ".log"), "w")
    p = subprocess.Popen([hound, "run", "-c", run_cfg], env=env, stderr=log)
    status = None
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=2) as resp:
                    status = resp.status
                    break
            except Exception:
                time.sleep(0.1)
    finally:
        p.terminate()
        p.wait(timeout=30)
    ok(status == 200, name + ": the running agent answers the liveness probe with 200", status)


def k8s(src, hound, work):
    d = os.path.join(src, "packaging", "kubernetes")

    docs = docs_of(os.path.join(d, "sidecar.yaml"))
    dep = one(docs, "Deployment")
    ok(dep is not None, "sidecar: one Deployment")
    pod = dep["spec"]["template"]["spec"]
    ok(pod.get("shareProcessNamespace") is True, "sidecar: shareProcessNamespace: true")
    c = hound_container(pod)
    vols = {v["name"]: v for v in pod["volumes"]}
    spool = [m for m in c["volumeMounts"] if "emptyDir" in vols[m["name"]]]
    envs = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in c["env"]}
    ok(envs.get("POD_NAME") == "metadata.name" and envs.get("POD_NAMESPACE") == "metadata.namespace",
       "sidecar: POD_NAME and POD_NAMESPACE from the downward API", envs)
    path, env = materialize("sidecar", docs, pod, c, work)
    MATERIALIZED["sidecar"] = path
    raw = yaml.safe_load(open(path))
    ok("${POD_NAME}" in json.dumps(docs) and "pod" in raw.get("labels", {}),
       "sidecar: labels use ${POD_NAME}")
    ok(len(spool) == 1 and raw["output"].endswith(spool[0]["mountPath"]),
       "sidecar: output is the emptyDir spool")
    cm = check_pod_common("sidecar", docs, pod, c, ["SYS_PTRACE", "PERFMON"])
    hound_check_and_run("sidecar", hound, path, env, cm)

    docs = docs_of(os.path.join(d, "node-agent.yaml"))
    ds = one(docs, "DaemonSet")
    ok(ds is not None, "node-agent: one DaemonSet")
    pod = ds["spec"]["template"]["spec"]
    ok(pod.get("hostPID") is True, "node-agent: hostPID: true")
    c = hound_container(pod)
    path, env = materialize("node-agent", docs, pod, c, work)
    MATERIALIZED["node-agent"] = path
    raw = yaml.safe_load(open(path))
    ok(all("cgroup" in t["match"] for t in raw["targets"]),
       "node-agent: every target is selected by a cgroup pattern")
    ok(raw.get("alerts"), "node-agent: alert routes are configured")
    tok_mounts = [m["mountPath"] for m in c["volumeMounts"]
                  if "secret" in {v["name"]: v for v in pod["volumes"]}[m["name"]]]
    api = yaml.safe_load([x for x in docs if x["kind"] == "ConfigMap"
                          and "hound.yaml" in x["data"]][0]["data"]["hound.yaml"])["api"]
    ok(any(api["token_file"].startswith(m + "/") for m in tok_mounts),
       "node-agent: api.token_file comes from a mounted Secret", (api, tok_mounts))
    vols = {v["name"]: v for v in pod["volumes"]}
    cg = [m for m in c["volumeMounts"] if m["mountPath"] == "/sys/fs/cgroup"]
    ok(len(cg) == 1 and cg[0].get("readOnly") is True
       and vols[cg[0]["name"]].get("hostPath", {}).get("path") == "/sys/fs/cgroup",
       "node-agent: the host's /sys/fs/cgroup is mounted read-only (pod memory limits)", cg)
    ns = one(docs, "Namespace")
    ok(ns and ns["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") == "privileged",
       "node-agent: its namespace enforces the privileged Pod Security level hostPID needs")
    cm = check_pod_common("node-agent", docs, pod, c, ["SYS_PTRACE", "PERFMON", "DAC_READ_SEARCH"])
    hound_check_and_run("node-agent", hound, path, env, cm)

    am_cm = [x for x in docs if x["kind"] == "ConfigMap" and "alertmanager.yml" in x["data"]]
    ok(len(am_cm) == 1, "node-agent: an Alertmanager configuration example")
    am = yaml.safe_load(am_cm[0]["data"]["alertmanager.yml"])
    recv = {r["name"]: r for r in am["receivers"]}
    hooks = recv.get("hound", {}).get("webhook_configs", [])
    port = c["ports"][0]["hostPort"]
    ok(hooks and all(h["url"].endswith(":%d/v1/alerts" % port) for h in hooks),
       "node-agent: the hound receiver posts to each agent's /v1/alerts on the hostPort")
    ok(all(h["http_config"]["authorization"]["type"] == "Bearer" for h in hooks),
       "node-agent: the receiver sends the bearer token")
    ok(any(r["receiver"] == "hound" for r in am["route"]["routes"]),
       "node-agent: a route leads to the hound receiver")
    am_path = os.path.join(work, "alertmanager.yml")
    with open(am_path, "w") as f:
        f.write(am_cm[0]["data"]["alertmanager.yml"])
    return am_path


def needed_packages(hound):
    """The Debian packages of the libraries hound links directly (readelf -d NEEDED)."""
    dyn = subprocess.run(["readelf", "-d", hound], capture_output=True, text=True).stdout
    # A sanitizer build also links the sanitizer runtimes: not part of a release.
    needed = [l for l in re.findall(r"Shared library: \[(.+?)\]", dyn)
              if not re.match(r"lib(a|ub|l|t|hwa)san\.", l)]
    ldd = subprocess.run(["ldd", hound], capture_output=True, text=True).stdout
    where = dict(re.findall(r"^\s*(\S+) => (\S+)", ldd, re.M))
    pkgs = {}
    for lib in needed:
        real = os.path.realpath(where[lib])
        for cand in (real, re.sub(r"^/usr", "", real), where[lib]):
            r = subprocess.run(["dpkg", "-S", cand], capture_output=True, text=True)
            if r.returncode == 0:
                pkgs[lib] = r.stdout.split(":")[0]
                break
        else:
            pkgs[lib] = None
    return pkgs


def container(src, hound):
    text = open(os.path.join(src, "packaging", "container", "Containerfile")).read()
    text = re.sub(r"\\\n", " ", text)
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
    stages = []
    for l in lines:
        if l.upper().startswith("FROM "):
            stages.append({"from": l.split()[1], "as": l.split()[3] if " AS " in l.upper() else None,
                           "lines": []})
        elif stages:
            stages[-1]["lines"].append(l)
    ok(len(stages) == 2 and stages[0]["from"] == "debian:12" and stages[0]["as"] == "builder"
       and stages[1]["from"] == "debian:12-slim",
       "container: a debian:12 builder stage and a debian:12-slim runtime stage",
       [(s["from"], s["as"]) for s in stages])
    build = " ".join(stages[0]["lines"])
    ok(all(w in build for w in ("autoreconf", "./configure", "make")),
       "container: the builder runs autoreconf, configure and make")
    run = " ".join(stages[1]["lines"])
    m = re.search(r"apt-get install -y --no-install-recommends (.*?)(&&|$)", run)
    listed = set(m.group(1).split()) if m else set()
    ok(not [p for p in listed if p.endswith("-dev") or p == "build-essential"],
       "container: the runtime stage installs no build tools", listed)
    pkgs = needed_packages(hound)
    ok(all(pkgs.values()), "container: every library hound links belongs to a package", pkgs)
    # libcurl, libmicrohttpd and libcrypto are loaded with dlopen (not NEEDED): listed by name.
    want = (set(pkgs.values()) - {"libc6"}) | {"libcurl4", "libmicrohttpd12", "libssl3"}
    if "--without-systemd" in build:
        want.discard("libsystemd0")
    extra = listed - want - {"ca-certificates"}
    ok(listed >= want and not extra,
       "container: the runtime packages are exactly hound's libraries (+ca-certificates)",
       "missing: %s\nextra: %s" % (sorted(want - listed), sorted(extra)))
    ok(re.search(r"COPY --from=builder \S*/usr/bin/hound /usr/bin/hound", run) is not None,
       "container: the runtime stage copies only the built binary from the builder")
    ok('ENTRYPOINT ["/usr/bin/hound"]' in run and '"run"' in run,
       "container: the entrypoint runs hound")


def main():
    mode, src, hound = sys.argv[1:4]
    if mode == "k8s":
        am = k8s(src, hound, sys.argv[4])
        print("# alertmanager config: " + am)
    else:
        container(src, hound)
    print("# %s: %d checks, %d failed" % (mode, N, FAILED))


if __name__ == "__main__":
    main()
