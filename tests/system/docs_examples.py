#!/usr/bin/python3
"""Runs or checks every example in README.md, docs/*.md and conf/.

Usage: docs_examples.py SRCDIR HOUND WORKDIR
Prints one "PASS|what" or "FAIL|what" line per example (docs_examples.sh
turns them into TAP).

- YAML blocks are hound configuration (whole, or a section, a target list or
  a rule list that is completed into a whole one) and must pass
  `hound check --no-files`; Prometheus rules must pass `promtool check rules`;
  Alertmanager fragments must parse and name a receiver.
- JSON blocks must parse.
- Shell blocks run with bash -e in WORKDIR, where `b/` is a real bundle and
  `hound.yaml` a valid config, unless the line before the fence marks them
  `<!-- example: not run, REASON -->` (they need a cluster, a bucket, a root
  install or an interactive program): those are syntax-checked with bash -n.
- In every block, each `hound SUBCOMMAND --option` must be a real subcommand
  and option (as `hound SUBCOMMAND --help` lists them).
"""
import glob
import json
import os
import re
import shlex
import subprocess
import sys

import yaml

SRC, HOUND, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
TOP_KEYS = {"interval", "history", "output", "max_disk", "labels", "api", "targets",
            "upload", "alerts", "user"}
ENV = dict(os.environ, CLUSTER="prod", POD_NAME="api-7c9d", POD_NAMESPACE="shop",
           NODE_NAME="node-1", HOUND_INSTANCE="nginx", AWS_ACCESS_KEY_ID="x",
           AWS_SECRET_ACCESS_KEY="x", MINIO_ACCESS_KEY="x", MINIO_SECRET_KEY="x",
           PATH=os.path.dirname(os.path.abspath(HOUND)) + ":" + os.environ.get("PATH", ""))
HELP = {}
failed = 0


def report(ok, what, detail=""):
    global failed
    if not ok:
        failed += 1
    detail = " ".join(str(detail).split())[:300]
    print(("PASS|" if ok else "FAIL|") + what + ("" if ok or not detail else ": " + detail))


def blocks(path):
    """(line, lang, body, marker) of each fenced block of a markdown file."""
    text = open(path).read()
    out = []
    for m in re.finditer(r"^```(\w*)[^\n]*\n(.*?)^```", text, re.M | re.S):
        line = text.count("\n", 0, m.start()) + 1
        before = text[:m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = re.match(r"\s*<!--\s*example:\s*(.*?)\s*-->", before)
        out.append((line, m.group(1), m.group(2), mark.group(1) if mark else None))
    return out


def help_of(sub):
    if sub not in HELP:
        p = subprocess.run([HOUND, sub, "--help"], capture_output=True, text=True, env=ENV)
        HELP[sub] = p.stdout if p.returncode == 0 else None
    return HELP[sub]


def hound_calls(text):
    """Argument lists of every `hound ...` command line in text."""
    calls = []
    for raw in text.split("\n"):
        line = re.sub(r"^\s*\$\s*", "", raw.split("#", 1)[0] if not raw.lstrip().startswith("$") else raw)
        for seg in re.split(r"\|\||&&|[|;&]|\$\(", line):
            try:
                words = shlex.split(seg, comments=True)
            except ValueError:
                words = seg.split()
            while words and ("=" in words[0] and not words[0].startswith("-") or words[0] in ("sudo", "setpriv", "exec") or words[0].startswith("--bounding")):
                words = words[1:]
            if words and os.path.basename(words[0]) == "hound":
                calls.append(words[1:])
    return calls


def subcommands():
    if "" not in HELP:
        p = subprocess.run([HOUND, "--help"], capture_output=True, text=True, env=ENV)
        HELP[""] = p.stdout
    return set(re.findall(r"^  ([a-z]+) ", HELP[""], re.M))


def check_calls(where, text, strict=True):
    """strict: a shell block, where any `hound WORD` must be a command; in output
    blocks and prose only lines naming a known command are checked."""
    for args in hound_calls(text):
        if not args or args[0].startswith("-"):
            continue
        sub = args[0]
        if sub == "help" or (not strict and sub not in subcommands()):
            continue
        h = help_of(sub)
        if h is None:
            report(False, "%s: `hound %s` is a subcommand" % (where, sub))
            continue
        for a in args[1:]:
            a = a.strip("[]")
            if not re.match(r"^--?[A-Za-z]", a):
                continue
            opt = a.split("=", 1)[0]
            if opt in ("-h", "--help"):
                continue
            report(re.search(r"(^|[\s,\[])" + re.escape(opt) + r"([\s,=\]]|$)", h, re.M) is not None,
                   "%s: `hound %s %s` is an option its --help lists" % (where, sub, opt))


def hound_check(where, cfg):
    path = os.path.join(WORK, "example.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    p = subprocess.run([HOUND, "check", "--no-files", "-c", path], capture_output=True, text=True,
                       env=ENV)
    report(p.returncode == 0, where + ": passes hound check --no-files", p.stderr)


def complete(cfg):
    """A section or two of a config, made whole: a target, an api for alerts."""
    cfg = dict(cfg)
    if "targets" not in cfg:
        names = {a.get("target") for a in cfg.get("alerts", []) if a.get("target")} or {"example"}
        cfg["targets"] = [{"name": n, "match": {"comm": n}} for n in sorted(names)]
    if "alerts" in cfg and "api" not in cfg:
        cfg["api"] = {"listen": "127.0.0.1:9155"}
    return cfg


def check_yaml(where, body):
    try:
        doc = yaml.safe_load(body)
    except yaml.YAMLError as e:
        report(False, where + ": parses as YAML", e)
        return
    if isinstance(doc, dict) and set(doc) <= TOP_KEYS:
        hound_check(where, complete(doc))
    elif isinstance(doc, dict) and set(doc) == {"rules"}:
        go = any(r.get("metric") in ("goroutines", "heap_inuse", "gc_pause", "gc_cpu")
                 for r in doc["rules"])
        t = {"name": "example", "match": {"comm": "example"}, "rules": doc["rules"]}
        if go:
            t["go"] = {"url": "http://127.0.0.1:6060"}
        hound_check(where + " (rules of a target)", {"targets": [t]})
    elif isinstance(doc, list) and doc and all(isinstance(x, dict) and "match" in x and "name" in x
                                               for x in doc):
        hound_check(where + " (a target list)", {"targets": doc})
    elif isinstance(doc, list) and doc and all(isinstance(x, dict) and "alert" in x for x in doc):
        path = os.path.join(WORK, "rules.yml")
        with open(path, "w") as f:
            yaml.safe_dump({"groups": [{"name": "example", "rules": doc}]}, f)
        p = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True)
        report(p.returncode == 0, where + ": passes promtool check rules", p.stdout + p.stderr)
    elif isinstance(doc, dict) and ("receivers" in doc or "route" in doc):
        names = [r.get("name") for r in doc.get("receivers", [])]
        hooks = [w.get("url", "") for r in doc.get("receivers", []) for w in r.get("webhook_configs", [])]
        report(all(names) and all(h.endswith("/v1/alerts") for h in hooks),
               where + ": an Alertmanager receiver posting to /v1/alerts", doc)
    else:
        report(False, where + ": a YAML example of a known shape (config, rules, targets, "
               "Prometheus rules, Alertmanager)", body[:80])


def check_sh(where, body, mark):
    p = subprocess.run(["bash", "-n"], input=body, capture_output=True, text=True)
    report(p.returncode == 0, where + ": shell syntax", p.stderr)
    if mark is not None:
        report(mark.startswith("not run,") and len(mark) > 12,
               where + ": marked not run, with the reason (%s)" % mark)
        return
    # its own session, so a timeout ends the example and everything it started
    proc = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", body], cwd=WORK, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.communicate()
        report(False, where + ": runs (exit 0) against a real bundle",
               "still running after 120 s: mark it not run, or make it finish")
        return
    p = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    report(p.returncode == 0 and "BAD" not in p.stdout,
           where + ": runs (exit 0) against a real bundle", (p.stdout + p.stderr)[-300:])


def main():
    files = [os.path.join(SRC, "README.md")] + sorted(glob.glob(os.path.join(SRC, "docs", "*.md")))
    for path in files:
        rel = os.path.relpath(path, SRC)
        for line, lang, body, mark in blocks(path):
            where = "%s:%d" % (rel, line)
            check_calls(where, body, strict=lang in ("sh", "bash", "console"))
            if lang == "yaml":
                check_yaml(where, body)
            elif lang == "json":
                try:
                    json.loads(body)
                    report(True, where + ": parses as JSON")
                except ValueError as e:
                    report(False, where + ": parses as JSON", e)
            elif lang in ("sh", "bash", "console"):
                check_sh(where, body, mark)
        # inline `hound ...` commands in the prose
        prose = re.sub(r"^```.*?^```", "", open(path).read(), flags=re.M | re.S)
        for m in re.finditer(r"`(hound [^`]+)`", prose):
            check_calls("%s (inline `%s`)" % (rel, m.group(1)[:40]), m.group(1), strict=False)
    for path in sorted(glob.glob(os.path.join(SRC, "conf", "*.yaml"))):
        p = subprocess.run([HOUND, "check", "--no-files", "-c", path], capture_output=True,
                           text=True, env=ENV)
        report(p.returncode == 0, os.path.relpath(path, SRC) + ": passes hound check --no-files",
               p.stderr)
    return 1 if failed else 0


sys.exit(main())
