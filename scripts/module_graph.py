#!/usr/bin/env python3
"""module_graph.py: which src/ directory includes which, and lines per
directory (ARCHITECTURE.md "The graph in the code"; issue 10).

A public header include/zentalk/zt_X.h belongs to the directory whose .c
files define (at the start of a line) most of the zt_ functions it
declares; a header that declares none (macros, inline functions) belongs to
core. Relative includes ("../server/x.h") name their directory. Prints a Markdown table of edges and of line counts
(.c and .h under src/DIR, its public headers counted apart).

  scripts/module_graph.py [--edges | --lines]   (both by default)
"""
import collections
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SRC = os.path.join(ROOT, "src")
INC = os.path.join(ROOT, "include", "zentalk")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
EXTS = (".c", ".h", ".cu", ".cuh")
DEFN = re.compile(r'^[A-Za-z_][^;(]*?\b(zt_[a-z0-9_]+)\(')
DECL = re.compile(r'\b(zt_[a-z0-9_]+)\s*\(')


def module_of(path):
    rel = os.path.relpath(path, SRC).split(os.sep)
    return rel[0]


def sources():
    for d, _, files in os.walk(SRC):
        for f in sorted(files):
            if f.endswith(EXTS):
                yield os.path.join(d, f)


def includes(path):
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            m = INCLUDE.match(line)
            if m:
                yield m.group(1)


def main():
    defined = {}
    for p in sources():
        if not p.endswith(".c"):
            continue
        with open(p, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                m = DEFN.match(line)
                if m and not line.rstrip().endswith(";"):
                    defined.setdefault(m.group(1), module_of(p))
    owner = {}
    for h in sorted(os.listdir(INC)):
        with open(os.path.join(INC, h), encoding="utf-8", errors="replace") as fh:
            votes = collections.Counter(defined[f] for f in DECL.findall(fh.read()) if f in defined)
        owner[h] = votes.most_common(1)[0][0] if votes else "core"
    # public headers a public header includes ("zt_x.h" or "zentalk/zt_x.h")
    hdr_inc = {}
    for h in owner:
        hdr_inc[h] = [i.split("/")[-1] for i in includes(os.path.join(INC, h)) if i.split("/")[-1] in owner]

    def closure(h, seen):
        if h in seen:
            return
        seen.add(h)
        for i in hdr_inc.get(h, ()):
            closure(i, seen)

    edges = collections.defaultdict(set)
    for p in sources():
        m = module_of(p)
        for inc in includes(p):
            if inc.startswith("zentalk/"):
                seen = set()
                closure(inc[len("zentalk/"):], seen)
                for h in seen:
                    if owner.get(h) and owner[h] != m:
                        edges[m].add(owner[h])
                continue
            if inc.startswith("../"):
                target = os.path.normpath(os.path.join(os.path.dirname(p), inc))
                t = module_of(target) if target.startswith(SRC + os.sep) else None
            else:
                t = None
            if t and t != m:
                edges[m].add(t)
    want = sys.argv[1:] or ["--edges", "--lines"]
    mods = sorted({module_of(p) for p in sources()})
    if "--edges" in want:
        print("| directory | includes |\n| --- | --- |")
        for m in mods:
            print(f"| {m} | {', '.join(sorted(edges[m])) or '(libc and libraries only)'} |")
    if "--lines" in want:
        lines = collections.Counter()
        files = collections.Counter()
        pub = collections.Counter()
        for p in sources():
            with open(p, encoding="utf-8", errors="replace") as fh:
                lines[module_of(p)] += sum(1 for _ in fh)
            files[module_of(p)] += 1
        for h in sorted(os.listdir(INC)):
            with open(os.path.join(INC, h), encoding="utf-8", errors="replace") as fh:
                pub[owner.get(h, "?")] += sum(1 for _ in fh)
        if "--edges" in want:
            print()
        print("| directory | files | lines in src/DIR | lines of its public headers |\n| --- | ---: | ---: | ---: |")
        for m in mods:
            print(f"| {m} | {files[m]} | {lines[m]} | {pub[m]} |")
        print(f"| **total** | {sum(files.values())} | {sum(lines.values())} | {sum(pub.values())} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
