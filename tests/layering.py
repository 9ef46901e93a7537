#!/usr/bin/python3
"""The layer rules of the tree (docs/architecture.md): common -> runtime ->
objects -> transport / client / cli, never upwards, checked on the sources
themselves so that a change that breaks one fails the suite.

  common/     includes nothing of runtime/, objects/, transport/, client/, cli/
              and knows no threads, sockets or SQLite
  runtime/    includes nothing of objects/, transport/, client/, cli/
  objects/    includes nothing of transport/, client/, cli/
  client/     includes nothing of transport/ or cli/
  cli/        includes only the public headers (include/duro/) and common/
  transport/  never calls SQLite (storage is the runtime's and the objects')

Usage: layering.py [SOURCE_ROOT]; exits 1 and lists every breach."""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)

# dir -> (forbidden include prefixes, forbidden system headers, forbidden identifiers)
RULES = {
    "common": (("runtime/", "objects/", "transport/", "client/", "cli/"),
               ("pthread.h", "sqlite3.h", "sys/socket.h", "event2/"), ()),
    "runtime": (("objects/", "transport/", "client/", "cli/"), ("event2/",), ()),
    "objects": (("transport/", "client/", "cli/"), ("event2/",), ()),
    "client": (("transport/", "cli/"), (), ()),
    "cli": (("runtime/", "objects/", "transport/", "client/"), ("sqlite3.h",), ()),
    "transport": (("client/", "cli/"), ("sqlite3.h",), ("sqlite3_",)),
}


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def check(root):
    breaches = []
    seen = 0
    for d, (bad_local, bad_system, bad_idents) in RULES.items():
        top = os.path.join(root, d)
        if not os.path.isdir(top):
            continue
        for dirpath, _, files in os.walk(top):
            for f in sorted(files):
                if not f.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, root)
                seen += 1
                with open(path, encoding="utf-8") as fh:
                    text = strip_comments(fh.read())
                for m in INCLUDE.finditer(text):
                    kind, name = m.group(1), m.group(2)
                    line = text.count("\n", 0, m.start()) + 1
                    if kind == '"' and name.startswith(bad_local):
                        breaches.append("%s:%d includes \"%s\"" % (rel, line, name))
                    if kind == "<" and name.startswith(bad_system):
                        breaches.append("%s:%d includes <%s>" % (rel, line, name))
                for ident in bad_idents:
                    for m in re.finditer(r"\b%s\w*" % re.escape(ident), text):
                        line = text.count("\n", 0, m.start()) + 1
                        breaches.append("%s:%d calls %s" % (rel, line, m.group(0)))
    return seen, breaches


def self_test():
    """Each rule catches its breach (and a comment does not count)."""
    import tempfile
    cases = {
        "common/a.c": '#include "runtime/ns.h"\n',
        "common/b.c": "#include <sqlite3.h>\n",
        "runtime/a.c": '#include "objects/kv.h"\n',
        "objects/a.c": '#include "transport/io.h"\n',
        "client/a.c": '#include "transport/rpc.h"\n',
        "cli/a.c": '#include "runtime/runtime.h"\n',
        "transport/a.c": "int f(void) { return sqlite3_step(0); }\n",
    }
    with tempfile.TemporaryDirectory() as root:
        for rel, text in cases.items():
            os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as fh:
                fh.write("/* #include \"transport/x.h\" sqlite3_open */\n" + text)
        _, breaches = check(root)
    caught = {b.split(":")[0] for b in breaches}
    missed = sorted(set(cases) - caught)
    if missed or len(breaches) != len(cases):
        print("layering self-test: missed %s, got %s" % (missed, breaches))
        return 1
    print("layering self-test: %d breaches caught" % len(breaches))
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))
    seen, breaches = check(root)
    if seen < 20:
        print("layering: only %d sources under %s: wrong root?" % (seen, root))
        return 1
    for b in breaches:
        print("layering: " + b)
    print("layering: %d sources, %d breaches" % (seen, len(breaches)))
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main())
