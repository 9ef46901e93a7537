#!/usr/bin/python3
"""The storage proxy's "Direct API Access" curl examples (shared/seeds/
000_17b89dd425982a2a.txt), run as written against durod: one test per
section of the page (KV, D1, R2), each block copied verbatim below. Only
the address changes (localhost:8787 → this test's server), and curl gets
-sS plus -w/-D so that the test can read status and headers. A section whose
kind this build does not route (404 "no such route" on its first example) is
skipped, so the D1 and R2 sections start checking as soon as those kinds land.

Uses the real curl (/usr/bin/curl); without it the module is skipped."""

import json
import os
import shlex
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import ServerTestCase, main  # noqa: E402

CURL = shutil.which("curl")
SEED_BASE = "http://localhost:8787"

KV_BLOCK = r"""
# Set value
curl -X PUT http://localhost:8787/api/storage/kv/app1/mykey \
  -H "Content-Type: application/json" \
  -d '{"value": "Hello", "metadata": {"version": 1}}'

# Get value
curl http://localhost:8787/api/storage/kv/app1/mykey

# List keys
curl "http://localhost:8787/api/storage/kv/app1?prefix=user:&limit=100"

# Delete key
curl -X DELETE http://localhost:8787/api/storage/kv/app1/mykey
"""

D1_BLOCK = r"""
# Execute statement
curl -X POST http://localhost:8787/api/storage/d1/app1/exec \
  -H "Content-Type: application/json" \
  -d '{
    "sql": "CREATE TABLE users (id INTEGER, name TEXT)",
    "params": []
  }'

# Query
curl -X POST http://localhost:8787/api/storage/d1/app1/query \
  -H "Content-Type: application/json" \
  -d '{
    "sql": "SELECT * FROM users WHERE id = ?",
    "params": [123]
  }'
"""

R2_BLOCK = r"""
# Put object (base64 encoded content)
curl -X PUT http://localhost:8787/api/storage/r2/app1/file.txt \
  -H "Content-Type: application/json" \
  -d '{"content": "SGVsbG8gV29ybGQh", "metadata": {"type": "text"}}'

# Get object
curl http://localhost:8787/api/storage/r2/app1/file.txt

# List objects
curl "http://localhost:8787/api/storage/r2/app1?prefix=uploads/&limit=100"

# Delete object
curl -X DELETE http://localhost:8787/api/storage/r2/app1/file.txt
"""


def commands(block):
    """The block's curl commands: (comment above it, argv), continuation
    lines joined, split as a shell would."""
    out, comment, cur = [], None, ""
    for line in block.strip("\n").split("\n"):
        if not cur and line.startswith("#"):
            comment = line.lstrip("# ").strip()
            continue
        if not cur and not line.strip():
            continue
        cur += line[:-1] + " " if line.endswith("\\") else line + "\n"
        if not line.endswith("\\"):
            try:
                argv = shlex.split(cur)
            except ValueError:  # a quoted string spanning lines: keep reading
                continue
            out.append((comment, argv))
            cur = ""
    return out


class Reply:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw
        ctype = headers.get("content-type", "").split(";")[0]
        self.body = json.loads(raw) if ctype == "application/json" and raw else raw

    def __repr__(self):
        return "<Reply %d %r %r>" % (self.status, self.headers.get("content-type"), self.raw[:300])


@unittest.skipUnless(CURL, "curl is not installed")
class SeedExamples(ServerTestCase):

    def run_block(self, block):
        """Runs every example of block in order; the replies, by comment."""
        base = "http://127.0.0.1:%d" % self.server.port
        replies = []
        for comment, argv in commands(block):
            self.assertEqual(argv[0], "curl")
            args = [a.replace(SEED_BASE, base) for a in argv[1:]]
            self.assertTrue(any(a.startswith(base) for a in args), argv)
            hdr = os.path.join(self.server.log_dir, "seed-headers")
            p = subprocess.run([CURL, "-sS", "--max-time", "10", "-D", hdr] + args,
                               capture_output=True, timeout=20)
            self.assertEqual(p.returncode, 0, (argv, p.stderr))
            with open(hdr, "rb") as f:
                lines = f.read().decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {}
            for h in lines[1:]:
                if ":" in h:
                    k, v = h.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            replies.append((comment, Reply(status, headers, p.stdout)))
        return replies

    def ok(self, reply, status=200):
        self.assertEqual(reply.status, status, reply)
        self.assertIsInstance(reply.body, dict, reply)
        self.assertIs(reply.body.get("success"), True, reply)
        return reply.body["data"]

    def skip_unless_routed(self, reply, kind):
        if (reply.status == 404 and isinstance(reply.body, dict) and
                reply.body.get("error", {}).get("message") == "no such route"):
            self.skipTest("this build does not route /api/storage/%s" % kind)

    def test_kv_operations(self):
        # keys the list example's prefix matches, and one it does not
        for k in ("user:1", "user:2", "other"):
            r = self.server.req("PUT", "/api/storage/kv/app1/" + k, {"value": k})
            self.assertEqual(r.status, 200, r)
        (c1, put), (c2, get), (c3, lst), (c4, dele) = self.run_block(KV_BLOCK)
        self.assertEqual((c1, c2, c3, c4), ("Set value", "Get value", "List keys", "Delete key"))
        ver = self.ok(put)["version"]
        self.assertIsInstance(ver, int)
        self.assertEqual(put.headers.get("etag"), '"%d"' % ver)
        self.assertEqual(self.ok(get), "Hello")
        self.assertEqual(get.headers.get("etag"), '"%d"' % ver)
        self.assertEqual(self.ok(lst), {"keys": ["user:1", "user:2"], "cursor": None,
                                        "list_complete": True})
        self.assertEqual(self.ok(dele), {"deleted": True})
        r = self.server.req("GET", "/api/storage/kv/app1/mykey")
        self.assertEqual(r.status, 404, r)

    def test_kv_set_keeps_metadata_and_registers(self):
        (_, put), = self.run_block(KV_BLOCK.split("\n# Get value")[0])
        self.ok(put)
        m = self.server.req("GET", "/api/storage/kv/app1/mykey?meta=1").body["data"]
        self.assertEqual((m["value"], m["metadata"]), ("Hello", {"version": 1}))
        # the registry saw the write (the page's "Troubleshooting": automatic)
        r = self.server.req("GET", "/api/resources/list?type=kv&namespace=app1&key_prefix=mykey"
                            "&consistent=1")
        self.assertEqual([(x["key"], x["metadata"]) for x in r.body["resources"]],
                         [("mykey", {"version": 1})])
        st = self.server.req("GET", "/api/resources/stats?namespace=app1&consistent=1").body
        # (the D1 and R2 examples of this module may have left a table or an object in app1)
        self.assertEqual(sum(st["by_type"].values()), st["total"])
        kv = self.server.req("GET", "/api/resources/list?type=kv&namespace=app1&consistent=1")
        self.assertEqual(st["by_type"]["kv"], kv.body["total"])
        self.assertNotIn("success", st)
        self.server.req("DELETE", "/api/storage/kv/app1/mykey")

    def test_d1_operations(self):
        replies = self.run_block(D1_BLOCK)
        self.skip_unless_routed(replies[0][1], "d1")
        (c1, ex), (c2, qy) = replies
        self.assertEqual((c1, c2), ("Execute statement", "Query"))
        self.assertIsInstance(self.ok(ex)["meta"], dict)
        d = self.ok(qy)
        self.assertEqual(d["results"], [])
        self.assertIsInstance(d["meta"], dict)

    def test_r2_operations(self):
        replies = self.run_block(R2_BLOCK)
        self.skip_unless_routed(replies[0][1], "r2")
        (c1, put), (c2, get), (c3, lst), (c4, dele) = replies
        self.assertEqual((c1, c2, c3, c4),
                         ("Put object (base64 encoded content)", "Get object", "List objects",
                          "Delete object"))
        self.assertIn(put.status, (200, 201), put)
        self.assertEqual((get.status, get.raw), (200, b"Hello World!"))
        self.assertEqual(self.ok(lst)["objects"], [])  # nothing under uploads/
        self.assertEqual(dele.status, 200, dele)


if __name__ == "__main__":
    main()
