#!/usr/bin/python3
"""Blobs (/api/storage/r2/{ns}/{key}, binary ops blob.*): the storage proxy's
curl examples verbatim, raw and JSON puts, the headers of GET and HEAD,
Range (206, suffix, 416), If-Match / If-None-Match (304, 412), Content-MD5
and x-content-sha256 checks, listing with prefix, delimiter, cursor and
startAfter, size bounds, a 64 MiB round trip, registry tracking, namespace
isolation, restart and SIGKILL survival (a kill during an upload leaves the
old object or the new one), removal of files no object names, a failing
write (fault injection), the memory bound while 8 clients upload 64 MiB each,
and the binary protocol."""
import base64
import glob
import hashlib
import http.client
import json
import os
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import St, Rpc, Server, ServerTestCase, assert_error, main, ok  # noqa: E402

MiB = 1 << 20
# under AddressSanitizer (make test-asan) freed memory is quarantined and each
# allocation carries shadow memory: the RSS bound is looser there
ASAN = "ASAN_OPTIONS" in os.environ


def r2(ns, key=None, **query):
    from urllib.parse import quote, urlencode
    p = "/api/storage/r2/" + ns
    if key is not None:
        p += "/" + quote(key, safe="/")
    if query:
        p += "?" + urlencode(query)
    return p


def sha(b):
    return hashlib.sha256(b).hexdigest()


def blob_files(data_dir, ns):
    return [f for f in glob.glob(os.path.join(data_dir, "ns", "*", ns + ".files", "blobs", "*"))]


def rss_peak_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def raw_put(port, path, body, headers=None, timeout=60):
    """A PUT on a connection of its own (for concurrent uploads)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {"Content-Type": "application/octet-stream"}
        h.update(headers or {})
        try:
            c.request("PUT", path, body=body, headers=h)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused (413, 503) before the whole body was sent: the answer may be there
        try:
            r = c.getresponse()
        except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError):
            return None, b""
        return r.status, r.read()
    finally:
        c.close()


class Blobs(ServerTestCase):
    server_args = ["--max-blob-bytes", str(65 * MiB)]

    def put(self, key, body, ctype="application/octet-stream", ns=None, headers=None):
        h = {"Content-Type": ctype}
        h.update(headers or {})
        return self.req("PUT", r2(ns or self.ns, key), body, headers=h)

    def test_seed_examples_verbatim(self):
        # the "R2 Operations" curl examples of the storage proxy's document
        r = self.req("PUT", "/api/storage/r2/app1/file.txt",
                     b'{"content": "SGVsbG8gV29ybGQh", "metadata": {"type": "text"}}',
                     headers={"Content-Type": "application/json"})
        d = ok(r, 201)
        self.assertEqual(d["size"], 12)
        self.assertEqual(d["metadata"], {"type": "text"})
        r = self.req("GET", "/api/storage/r2/app1/file.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.raw, b"Hello World!")
        self.assertEqual(r.headers["etag"], '"%s"' % sha(b"Hello World!"))
        self.put("uploads/a.txt", b"a", ns="app1")
        d = ok(self.req("GET", "/api/storage/r2/app1?prefix=uploads/&limit=100"))
        self.assertEqual([o["key"] for o in d["objects"]], ["uploads/a.txt"])
        self.assertFalse(d["truncated"])
        d = ok(self.req("DELETE", "/api/storage/r2/app1/file.txt"))
        self.assertEqual(d, {"deleted": True})
        self.assertEqual(self.req("GET", "/api/storage/r2/app1/file.txt").status, 404)
        ok(self.req("DELETE", "/api/storage/r2/app1/uploads/a.txt"))

    def test_raw_put_get_head(self):
        body = bytes(range(256)) * 100
        r = self.put("dir/x.bin", body, ctype="image/png", headers={"x-amz-meta-Owner": "ann"})
        d = ok(r, 201)
        self.assertEqual(d["etag"], sha(body))
        self.assertEqual(d["md5"], hashlib.md5(body).hexdigest())
        self.assertEqual(d["metadata"], {"owner": "ann"})
        self.assertEqual(r.headers["etag"], '"%s"' % sha(body))
        g = self.req("GET", r2(self.ns, "dir/x.bin"))
        self.assertEqual(g.status, 200)
        self.assertEqual(g.raw, body)
        self.assertEqual(g.headers["content-type"], "image/png")
        self.assertEqual(int(g.headers["content-length"]), len(body))
        self.assertEqual(g.headers["etag"], '"%s"' % sha(body))
        self.assertIn("GMT", g.headers["last-modified"])
        h = self.req("HEAD", r2(self.ns, "dir/x.bin"))
        self.assertEqual(h.status, 200)
        self.assertEqual(h.raw, b"")
        self.assertEqual(int(h.headers["content-length"]), len(body))
        self.assertEqual(h.headers["etag"], g.headers["etag"])
        # overwrite: 200, new bytes, new ETag
        d = ok(self.put("dir/x.bin", b"new", ctype="text/plain"), 200)
        self.assertEqual(self.req("GET", r2(self.ns, "dir/x.bin")).raw, b"new")
        # a percent-encoded key is the same key
        self.assertEqual(self.req("GET", "/api/storage/r2/%s/dir%%2Fx.bin" % self.ns).raw, b"new")
        # empty object
        ok(self.put("empty", b""), 201)
        g = self.req("GET", r2(self.ns, "empty"))
        self.assertEqual((g.status, g.raw), (200, b""))
        self.assertEqual(g.headers["etag"], '"%s"' % sha(b""))

    def test_json_body_of_another_shape_is_stored_raw(self):
        doc = b'{"name": "config", "debug": true}'
        ok(self.put("config.json", doc, ctype="application/json"), 201)
        g = self.req("GET", r2(self.ns, "config.json"))
        self.assertEqual(g.raw, doc)
        self.assertEqual(g.headers["content-type"], "application/json")
        # the JSON form with a content type of its own
        ok(self.req("PUT", r2(self.ns, "t.txt"),
                    {"content": base64.b64encode(b"hi").decode(), "contentType": "text/plain"}), 201)
        g = self.req("GET", r2(self.ns, "t.txt"))
        self.assertEqual((g.raw, g.headers["content-type"]), (b"hi", "text/plain"))
        assert_error(self.req("PUT", r2(self.ns, "bad"), {"content": "!!!"}), 400, "BAD_REQUEST",
                     "base64")
        self.assertEqual(self.req("GET", r2(self.ns, "bad")).status, 404)

    def test_range(self):
        body = bytes(range(100))
        self.put("r", body)
        for hdr, want in [("bytes=0-9", body[:10]), ("bytes=90-", body[90:]),
                          ("bytes=-5", body[-5:]), ("bytes=95-200", body[95:]),
                          ("bytes=-500", body)]:
            g = self.req("GET", r2(self.ns, "r"), headers={"Range": hdr})
            self.assertEqual(g.status, 206, hdr)
            self.assertEqual(g.raw, want, hdr)
            start = len(body) - len(want) if hdr.startswith("bytes=-") else int(hdr[6:].split("-")[0])
            self.assertEqual(g.headers["content-range"],
                             "bytes %d-%d/100" % (start, start + len(want) - 1))
        for hdr in ("bytes=100-", "bytes=-0", "bytes=500-600"):
            g = self.req("GET", r2(self.ns, "r"), headers={"Range": hdr})
            assert_error(g, 416, "RANGE_NOT_SATISFIABLE")
            self.assertEqual(g.headers["content-range"], "bytes */100")
        for hdr in ("bytes=0-1,5-6", "items=0-1", "bytes=9-3", "bytes=x-"):
            g = self.req("GET", r2(self.ns, "r"), headers={"Range": hdr})
            self.assertEqual((g.status, g.raw), (200, body), hdr)

    def test_conditions(self):
        self.put("c", b"one")
        tag = '"%s"' % sha(b"one")
        g = self.req("GET", r2(self.ns, "c"), headers={"If-None-Match": tag})
        self.assertEqual((g.status, g.raw), (304, b""))
        self.assertEqual(g.headers["etag"], tag)
        self.assertEqual(self.req("GET", r2(self.ns, "c"), headers={"If-None-Match": '"x"'}).status,
                         200)
        assert_error(self.put("c", b"two", headers={"If-None-Match": "*"}), 412,
                     "PRECONDITION_FAILED")
        assert_error(self.put("c", b"two", headers={"If-Match": '"nope"'}), 412,
                     "PRECONDITION_FAILED")
        # a weak tag never satisfies If-Match (RFC 9110); If-None-Match compares weakly
        assert_error(self.put("c", b"two", headers={"If-Match": "W/" + tag}), 412,
                     "PRECONDITION_FAILED")
        self.assertEqual(self.req("GET", r2(self.ns, "c"),
                                  headers={"If-None-Match": "W/" + tag}).status, 304)
        # HEAD answers as GET would
        self.assertEqual(self.req("HEAD", r2(self.ns, "c"), headers={"If-Match": '"x"'}).status,
                         412)
        ok(self.put("c", b"two", headers={"If-Match": tag}))
        assert_error(self.req("DELETE", r2(self.ns, "c"), headers={"If-Match": tag}), 412,
                     "PRECONDITION_FAILED")
        self.assertEqual(self.req("GET", r2(self.ns, "c")).raw, b"two")
        ok(self.put("new", b"x", headers={"If-None-Match": "*"}), 201)
        assert_error(self.put("absent", b"x", headers={"If-Match": "*"}), 412,
                     "PRECONDITION_FAILED")
        ok(self.req("DELETE", r2(self.ns, "c"), headers={"If-Match": '"%s"' % sha(b"two")}))

    def test_digests_checked(self):
        body = b"payload"
        good = base64.b64encode(hashlib.md5(body).digest()).decode()
        ok(self.put("d", body, headers={"Content-MD5": good, "x-content-sha256": sha(body)}), 201)
        bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
        assert_error(self.put("d", b"changed", headers={"Content-MD5": bad}), 400, "BAD_REQUEST",
                     "Content-MD5")
        assert_error(self.put("d", b"changed", headers={"x-content-sha256": sha(b"x")}), 400,
                     "BAD_REQUEST", "x-content-sha256")
        assert_error(self.put("d", b"changed", headers={"Content-MD5": "short"}), 400,
                     "BAD_REQUEST")
        self.assertEqual(self.req("GET", r2(self.ns, "d")).raw, body)
        time.sleep(0.05)
        self.assertEqual(len(blob_files(self.server.data_dir, self.ns)), 1)

    def test_list(self):
        keys = ["a", "b/1", "b/2", "b/3/x", "c", "d/e", "é"]
        for k in keys:
            self.put(k, k.encode())
        d = ok(self.req("GET", r2(self.ns)))
        self.assertEqual([o["key"] for o in d["objects"]], keys)
        self.assertEqual(d["delimitedPrefixes"], [])
        o = d["objects"][0]
        self.assertEqual((o["size"], o["etag"], o["contentType"]),
                         (1, sha(b"a"), "application/octet-stream"))
        d = ok(self.req("GET", r2(self.ns, delimiter="/")))
        self.assertEqual([o["key"] for o in d["objects"]], ["a", "c", "é"])
        self.assertEqual(d["delimitedPrefixes"], ["b/", "d/"])
        d = ok(self.req("GET", r2(self.ns, prefix="b/", delimiter="/")))
        self.assertEqual([o["key"] for o in d["objects"]], ["b/1", "b/2"])
        self.assertEqual(d["delimitedPrefixes"], ["b/3/"])
        d = ok(self.req("GET", r2(self.ns, startAfter="b/2")))
        self.assertEqual([o["key"] for o in d["objects"]], ["b/3/x", "c", "d/e", "é"])
        # pages of 2 follow the cursor to the end, with and without a delimiter
        for query, want in [({}, keys), ({"delimiter": "/"}, ["a", "b/", "c", "d/", "é"])]:
            got, cursor = [], None
            for _ in range(20):
                qq = dict(query, limit=2)
                if cursor:
                    qq["cursor"] = cursor
                d = ok(self.req("GET", r2(self.ns, **qq)))
                got += [o["key"] for o in d["objects"]] + d["delimitedPrefixes"]
                if not d["truncated"]:
                    self.assertIsNone(d["cursor"])
                    break
                cursor = d["cursor"]
            self.assertEqual(sorted(got), sorted(want))
        assert_error(self.req("GET", r2(self.ns, limit=0)), 400, "BAD_REQUEST", "limit")
        assert_error(self.req("GET", r2(self.ns, limit=1001)), 400, "BAD_REQUEST", "limit")
        assert_error(self.req("GET", r2(self.ns, cursor="zzz")), 400, "BAD_REQUEST", "cursor")
        assert_error(self.req("GET", r2(self.ns, bogus=1)), 400, "BAD_REQUEST", "bogus")

    def test_bad_requests(self):
        assert_error(self.req("POST", r2(self.ns, "k"), b"x"), 405, "METHOD_NOT_ALLOWED")
        assert_error(self.req("PUT", r2(self.ns), b"x"), 405, "METHOD_NOT_ALLOWED")
        assert_error(self.put("k" * 1025, b"x"), 400, "BAD_REQUEST", "1024")
        assert_error(self.req("GET", "/api/storage/r2/_bad/k"), 400, "BAD_REQUEST", "namespace")
        assert_error(self.req("GET", r2(self.ns, "missing")), 404, "NOT_FOUND")
        self.assertEqual(self.req("HEAD", r2(self.ns, "missing")).status, 404)
        self.assertEqual(ok(self.req("DELETE", r2(self.ns, "missing"))), {"deleted": False})
        assert_error(self.put("k", b"x", ctype="bad\x01type"), 400, "BAD_REQUEST")

    def test_too_large(self):
        r = self.put("big", b"\0" * (65 * MiB + 1))
        assert_error(r, 413, "PAYLOAD_TOO_LARGE", "--max-blob-bytes")
        self.assertEqual(self.req("GET", r2(self.ns, "big")).status, 404)

    def test_64mib_round_trip(self):
        body = os.urandom(64 * MiB)
        d = ok(self.put("huge", body), 201)
        self.assertEqual(d["etag"], sha(body))
        g = self.req("GET", r2(self.ns, "huge"), check_openapi=False)
        self.assertEqual(len(g.raw), len(body))
        self.assertEqual(sha(g.raw), sha(body))
        g = self.req("GET", r2(self.ns, "huge"), headers={"Range": "bytes=%d-" % (60 * MiB)},
                     check_openapi=False)
        self.assertEqual(g.raw, body[60 * MiB:])

    def test_registry_tracks_objects(self):
        self.put("reg/one", b"12345")
        rs = self.req("GET", "/api/resources/list?type=r2&namespace=%s" % self.ns).body
        self.assertEqual([(x["key"], x["size"]) for x in rs["resources"]], [("reg/one", 5)])
        self.put("reg/one", b"1234567")
        rs = self.req("GET", "/api/resources/list?type=r2&namespace=%s" % self.ns).body
        self.assertEqual([(x["key"], x["size"]) for x in rs["resources"]], [("reg/one", 7)])
        self.put("reg/two", b"12")
        d = ok(self.req("GET", "/api/namespaces/%s" % self.ns))
        self.assertEqual(d["blobs"], 2)
        ok(self.req("DELETE", r2(self.ns, "reg/one")))
        ok(self.req("DELETE", r2(self.ns, "reg/two")))
        rs = self.req("GET", "/api/resources/list?type=r2&namespace=%s" % self.ns).body
        self.assertEqual(rs["resources"], [])
        self.assertEqual(ok(self.req("GET", "/api/namespaces/%s" % self.ns))["blobs"], 0)

    def test_namespace_isolation(self):
        other = self.ns + "-b"
        self.put("iso", b"mine")
        self.assertEqual(self.req("GET", r2(other, "iso")).status, 404)
        self.assertEqual(ok(self.req("GET", r2(other)))["objects"], [])

    def test_namespace_delete_removes_files(self):
        self.put("f1", b"x" * 1000)
        self.assertEqual(len(blob_files(self.server.data_dir, self.ns)), 1)
        ok(self.req("DELETE", "/api/namespaces/%s" % self.ns))
        self.assertEqual(glob.glob(os.path.join(self.server.data_dir, "ns", "*",
                                                self.ns + ".files")), [])
        self.assertEqual(self.req("GET", r2(self.ns, "f1")).status, 404)

    def test_replaced_files_are_removed(self):
        for i in range(5):
            self.put("same", b"v%d" % i)
        ok(self.put("other", b"o"), 201)
        ok(self.req("DELETE", r2(self.ns, "other")))
        self.assertEqual(len(blob_files(self.server.data_dir, self.ns)), 1)


class Durability(unittest.TestCase):
    def test_restart_sigkill_and_orphans(self):
        srv = Server(["--max-blob-bytes", str(64 * MiB)])
        try:
            ns = "dur"
            old = os.urandom(3 * MiB)
            self.assertEqual(raw_put(srv.port, r2(ns, "obj"), old)[0], 201)
            srv.restart()
            g = srv.req("GET", r2(ns, "obj"))
            self.assertEqual(sha(g.raw), sha(old))
            # kill -9 in the middle of uploading a new version: the old one stays
            new = os.urandom(48 * MiB)
            done = {}

            def upload():
                try:
                    done["r"] = raw_put(srv.port, r2(ns, "obj"), new, timeout=30)
                except Exception as e:  # the kill cuts it off
                    done["e"] = e
            t = threading.Thread(target=upload)
            t.start()
            time.sleep(0.15)
            srv.kill()
            t.join(30)
            srv.start()
            g = srv.req("GET", r2(ns, "obj"))
            self.assertIn(sha(g.raw), (sha(old), sha(new)))
            if done.get("r", (0,))[0] in (200, 201):
                self.assertEqual(sha(g.raw), sha(new))  # acknowledged: the new one
            # files no object names (what a crash leaves) go on first use
            bdir = os.path.dirname(blob_files(srv.data_dir, ns)[0])
            orphan = os.path.join(bdir, "0" * 32)
            with open(orphan, "wb") as f:
                f.write(b"junk" * 1000)
            srv.restart(hard=True)
            srv.req("HEAD", r2(ns, "obj"))
            self.assertFalse(os.path.exists(orphan))
            self.assertEqual(len(blob_files(srv.data_dir, ns)), 1)
            self.assertEqual(sha(srv.req("GET", r2(ns, "obj")).raw), sha(g.raw))
        finally:
            srv.close()

    def test_registry_rebuilt_from_the_files(self):
        srv = Server()
        try:
            self.assertEqual(raw_put(srv.port, r2("rb", "a/x"), b"12345")[0], 201)
            self.assertEqual(raw_put(srv.port, r2("rb", "b"), b"1")[0], 201)
            srv.stop_ok()
            for sfx in ("", "-wal", "-shm"):
                p = os.path.join(srv.data_dir, "_registry.db" + sfx)
                if os.path.exists(p):
                    os.remove(p)
            srv.start()
            rs = srv.req("GET", "/api/resources/list?type=r2&namespace=rb&consistent=1").body
            self.assertEqual(sorted((x["key"], x["size"]) for x in rs["resources"]),
                             [("a/x", 5), ("b", 1)])
        finally:
            srv.close()

    def test_failed_write_keeps_old_object(self):
        srv = Server(["--errinj"])
        try:
            ns = "inj"
            self.assertEqual(raw_put(srv.port, r2(ns, "k"), b"old")[0], 201)
            ok(srv.req("POST", "/_errinj", {"point": "blob_write", "count": 1}))
            st, body = raw_put(srv.port, r2(ns, "k"), b"new" * 1000)
            self.assertEqual(st, 507, body)
            self.assertEqual(json.loads(body)["error"]["code"], "INSUFFICIENT_STORAGE")
            self.assertEqual(srv.req("GET", r2(ns, "k")).raw, b"old")
            self.assertEqual(len(blob_files(srv.data_dir, ns)), 1)
            self.assertEqual(raw_put(srv.port, r2(ns, "k"), b"new")[0], 200)
            self.assertEqual(srv.req("GET", r2(ns, "k")).raw, b"new")
        finally:
            srv.close()


class Memory(unittest.TestCase):
    def test_rss_bounded_with_8_uploads_of_64mib(self):
        budget = 160 * MiB
        srv = Server(["--max-blob-bytes", str(64 * MiB), "--max-inflight-bytes", str(budget)])
        try:
            body = os.urandom(64 * MiB)
            results = [None] * 8

            def client(i):
                for attempt in range(60):
                    st, out = raw_put(srv.port, r2("mem", "o%d" % i), body, timeout=60)
                    if st not in (503, None):  # None: cut off before the 503 was read
                        results[i] = st
                        return
                    if st == 503:
                        self.assertIn(b"--max-inflight-bytes", out)
                    time.sleep(0.2)
            ts = [threading.Thread(target=client, args=(i,)) for i in range(8)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(120)
            self.assertEqual(results, [201] * 8)
            peak = rss_peak_kib(srv.pid) * 1024
            sys.stderr.write("peak RSS %d MiB (budget %d MiB)\n" % (peak // MiB, budget // MiB))
            # the budget of bodies being received, plus what durod needs besides
            slack = 48 * MiB if not ASAN else budget + 320 * MiB
            self.assertLess(peak, budget + slack, "peak RSS %d MiB" % (peak // MiB))
            for i in (0, 7):
                g = srv.req("GET", r2("mem", "o%d" % i), check_openapi=False)
                self.assertEqual(sha(g.raw), sha(body))
        finally:
            srv.close()


class Protocol(unittest.TestCase):
    def test_blob_ops(self):
        srv = Server(rpc=True)
        try:
            with Rpc(srv.rpc_port) as c:
                data = bytes(range(256)) * 40
                st, body = c.call("blob.put", "rp", {"key": "k/1", "data": data,
                                                     "contentType": "text/x",
                                                     "metadata": {"a": 1}})
                self.assertEqual(st, St.CREATED, body)
                self.assertEqual(body["etag"], sha(data))
                st, body = c.call("blob.get", "rp", {"key": "k/1"})
                self.assertEqual(st, St.OK, body)
                self.assertEqual(body["data"], data)
                self.assertEqual((body["contentType"], body["metadata"]), ("text/x", {"a": 1}))
                st, body = c.call("blob.get", "rp", {"key": "k/1", "offset": 10, "length": 5})
                self.assertEqual((st, body["data"], body["offset"]), (St.OK, data[10:15], 10))
                st, body = c.call("blob.head", "rp", {"key": "k/1"})
                self.assertEqual((st, body["size"]), (St.OK, len(data)))
                self.assertNotIn("data", body)
                st, body = c.call("blob.list", "rp", {"prefix": "k/"})
                self.assertEqual([o["key"] for o in body["objects"]], ["k/1"])
                st, body = c.call("blob.put", "rp", {"key": "k/1", "data": b"x",
                                                     "ifNoneMatch": "*"})
                self.assertEqual(st, St.PRECONDITION_FAILED)
                st, body = c.call("blob.put", "rp", {"key": "k/1"})
                self.assertEqual(st, St.BAD_REQUEST)
                st, body = c.call("blob.delete", "rp", {"key": "k/1"})
                self.assertEqual((st, body), (St.OK, {"deleted": True}))
                st, body = c.call("blob.get", "rp", {"key": "k/1"})
                self.assertEqual(st, St.NOT_FOUND)
            # a put in parts: blob.append
            with Rpc(srv.rpc_port) as c:
                parts = [os.urandom(300000), os.urandom(5), b"", os.urandom(70000)]
                st, body = c.call("blob.append", "rp", {"key": "big", "data": parts[0]})
                self.assertEqual(st, St.OK, body)
                up = body["upload"]
                self.assertEqual(body["received"], len(parts[0]))
                # not visible before the last part
                self.assertEqual(c.call("blob.head", "rp", {"key": "big"})[0], St.NOT_FOUND)
                for p in parts[1:3]:
                    st, body = c.call("blob.append", "rp", {"key": "big", "upload": up, "data": p})
                    self.assertEqual(st, St.OK, body)
                st, body = c.call("blob.append", "rp", {"key": "other", "upload": up, "data": b"x"})
                self.assertEqual(st, St.BAD_REQUEST, body)
                st, body = c.call("blob.append", "rp", {"key": "big", "upload": "f" * 32,
                                                         "data": b"x"})
                self.assertEqual(st, St.NOT_FOUND, body)
                whole = b"".join(parts)
                st, body = c.call("blob.append", "rp", {"key": "big", "upload": up,
                                                         "data": parts[3], "final": True,
                                                         "contentType": "app/x",
                                                         "sha256": sha(whole)})
                self.assertEqual(st, St.CREATED, body)
                self.assertEqual((body["size"], body["etag"], body["md5"]),
                                 (len(whole), sha(whole), hashlib.md5(whole).hexdigest()))
                st, body = c.call("blob.append", "rp", {"key": "big", "upload": up,
                                                         "data": b"x"})
                self.assertEqual(st, St.NOT_FOUND, body)  # finished
                # a wrong digest stores nothing and ends the upload
                st, body = c.call("blob.append", "rp", {"key": "big", "data": b"zz"})
                up2 = body["upload"]
                st, body = c.call("blob.append", "rp", {"key": "big", "upload": up2, "final": True,
                                                         "sha256": sha(b"other")})
                self.assertEqual(st, St.BAD_REQUEST, body)
            g = srv.req("GET", r2("rp", "big"))
            self.assertEqual((sha(g.raw), g.headers["content-type"]), (sha(whole), "app/x"))
            self.assertEqual(len(blob_files(srv.data_dir, "rp")), 1)
            # the same object over HTTP
            with Rpc(srv.rpc_port) as c:
                c.call("blob.put", "rp", {"key": "shared", "data": b"both"})
            self.assertEqual(srv.req("GET", r2("rp", "shared")).raw, b"both")
        finally:
            srv.close()


class Uploads(unittest.TestCase):
    def test_open_uploads_are_bounded_per_namespace(self):
        srv = Server(rpc=True)
        try:
            with Rpc(srv.rpc_port) as c:
                ups = []
                for i in range(8):
                    st, body = c.call("blob.append", "up", {"key": "k%d" % i, "data": b"x"})
                    self.assertEqual(st, St.OK, body)
                    ups.append(body["upload"])
                st, body = c.call("blob.append", "up", {"key": "one-more", "data": b"x"})
                self.assertEqual(st, St.UNAVAILABLE, body)
                self.assertIn("8 uploads are open in this namespace", body["message"])
                # another namespace is not held up by this one
                st, body = c.call("blob.append", "other", {"key": "k", "data": b"x"})
                self.assertEqual(st, St.OK, body)
                # finishing one frees its slot
                st, body = c.call("blob.append", "up", {"key": "k0", "upload": ups[0],
                                                         "final": True})
                self.assertEqual(st, St.CREATED, body)
                st, body = c.call("blob.append", "up", {"key": "one-more", "data": b"x"})
                self.assertEqual(st, St.OK, body)
            # unfinished uploads' files, still in flight: a restart's sweep takes them
            self.assertEqual(len(blob_files(srv.data_dir, "up")), 9)
            srv.restart(hard=True)
            srv.req("HEAD", r2("up", "k0"))
            self.assertEqual(len(blob_files(srv.data_dir, "up")), 1)
        finally:
            srv.close()


if __name__ == "__main__":
    main(timeout=280)
