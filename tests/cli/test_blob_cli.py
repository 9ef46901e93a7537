"""
test_blob_cli.py — `duro blob put|get|head|rm|ls` against a real durod over
the binary protocol (and once embedded, file://): binary files byte for byte
through a file, stdin and stdout, listing with prefix and delimiter, deletes,
conditions, the exit codes of errors, and that a 40 MiB object goes up and
down with a peak RSS of the `duro` process far below its size (streaming:
parts of 4 MiB).

Bytes on stdin/stdout are bytes here, so the runs go through run_bytes()
(subprocess with its own timeout; only the PIDs started here are killed).
"""

import hashlib
import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest  # noqa: E402

SRV = None
MiB = 1 << 20


def setUpModule():
    global SRV
    SRV = clitest.Server()


def tearDownModule():
    if SRV is not None:
        rc = SRV.stop()
        assert rc == 0, "durod exited with %r on SIGTERM: %s" % (rc, SRV.log_text())


def run_bytes(args, input=None, url=None, stdin=None, timeout=clitest.RUN_TIMEOUT):
    """Runs `duro -u URL args...` with input (bytes) or stdin (a file) on its
    stdin. Returns (exit status, stdout bytes, stderr text)."""
    argv = [clitest.cli_bin(), "-u", url or SRV.url] + list(args)
    p = subprocess.Popen(argv, stdin=stdin if stdin is not None else subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=clitest._pdeathsig)
    try:
        out, err = p.communicate(input=input if stdin is None else None, timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate(timeout=10)
        raise AssertionError("duro %s: still running after %.0f s" % (" ".join(args), timeout))
    return p.returncode, out, err.decode("utf-8", "replace")


def measure_rss(args, stdin_path=None, stdout_path=None, url=None):
    """Runs `duro args...` with stdin/stdout redirected to files and returns
    (exit status, stderr, peak RSS of the duro process in KiB). The peak is
    GNU time's %M (/usr/bin/time forks duro from itself, a small process: a
    child forked from this Python would inherit its high-water mark across
    exec), else the last VmHWM of /proc/PID/status read while it runs."""
    argv = [clitest.cli_bin(), "-u", url or SRV.url] + list(args)
    report = None
    if os.access("/usr/bin/time", os.X_OK):
        report = os.path.join(clitest.tempdir("duro-rss-"), "rss")
        argv = ["/usr/bin/time", "-f", "%M", "-o", report] + argv
    fin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    fout = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
    try:
        p = subprocess.Popen(argv, stdin=fin, stdout=fout, stderr=subprocess.PIPE,
                             preexec_fn=clitest._pdeathsig)
        peak = 0
        while report is None and p.poll() is None:
            try:
                with open("/proc/%d/status" % p.pid) as f:
                    status = f.read().splitlines()
                if "Name:\tduro" in status:  # exec'd already (not this fork's copy)
                    for line in status:
                        if line.startswith("VmHWM:"):
                            peak = max(peak, int(line.split()[1]))
            except OSError:
                pass
            time.sleep(0.005)
        err = p.stderr.read()
        p.stderr.close()
        rc = p.wait(timeout=clitest.RUN_TIMEOUT)
        if report is not None:
            with open(report) as f:
                peak = int(f.read().split()[-1])
        return rc, err.decode("utf-8", "replace"), peak
    finally:
        if stdin_path:
            fin.close()
        if stdout_path:
            fout.close()


def sanitized():
    """Is the duro binary built with AddressSanitizer? Its quarantine keeps
    freed memory resident, so peak RSS says nothing about streaming there."""
    with open(clitest.cli_bin(), "rb") as f:
        return b"__asan_init" in f.read()


class Blob(unittest.TestCase):
    def setUp(self):
        self.dir = clitest.tempdir("duro-blob-cli-")
        self.ns = "blobcli-" + self._testMethodName.replace("_", "-")[:40]

    def duro(self, *args, input=None, want=0):
        rc, out, err = run_bytes(args, input=input)
        self.assertEqual(rc, want, "duro %s: exit %d, stderr %r" % (" ".join(args), rc, err))
        if want != 0:
            self.assertEqual(out, b"", "a failed command printed on stdout")
            self.assertNotEqual(err.strip(), "", "a failed command said nothing on stderr")
        return out, err

    def json(self, *args, input=None):
        out, _ = self.duro(*args, input=input)
        return json.loads(out)

    def file(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_round_trip_binary_file(self):
        data = bytes(range(256)) * 64 + os.urandom(300000)
        path = self.file("in.bin", data)
        put = self.json("blob", "put", self.ns, "dir/a.bin", path, "--type",
                        "application/x-test", "--meta", '{"owner":"ada"}')
        self.assertEqual(put["size"], len(data))
        self.assertEqual(put["etag"], hashlib.sha256(data).hexdigest())
        self.assertEqual(put["md5"], hashlib.md5(data).hexdigest())
        self.assertEqual(put["contentType"], "application/x-test")
        self.assertEqual(put["metadata"], {"owner": "ada"})
        self.assertTrue(put["created"])
        self.assertRegex(put["uploaded"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        out, _ = self.duro("blob", "get", self.ns, "dir/a.bin")
        self.assertEqual(out, data)
        # --out: the bytes in the file, the fields on stdout
        dst = os.path.join(self.dir, "out.bin")
        got = self.json("blob", "get", self.ns, "dir/a.bin", "--out", dst)
        self.assertEqual(got["etag"], put["etag"])
        with open(dst, "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertFalse(os.path.exists(dst + ".part"))
        head = self.json("blob", "head", self.ns, "dir/a.bin")
        self.assertEqual(head, {k: v for k, v in put.items() if k != "created"})
        again = self.json("blob", "put", self.ns, "dir/a.bin", path)
        self.assertFalse(again["created"])
        self.assertEqual(again["contentType"], "application/octet-stream")

    def test_stdin_and_stdout(self):
        data = os.urandom(5 * MiB + 123)  # two parts up, two pieces down
        put = self.json("blob", "put", self.ns, "piped", "-", input=data)
        self.assertEqual(put["etag"], hashlib.sha256(data).hexdigest())
        put = self.json("blob", "put", self.ns, "implicit", input=b"no FILE: stdin")
        self.assertEqual(put["size"], 14)
        out, _ = self.duro("blob", "get", self.ns, "piped")
        self.assertEqual(out, data)
        # stdout into another process's stdin
        p1 = subprocess.Popen([clitest.cli_bin(), "-u", SRV.url, "blob", "get", self.ns,
                               "piped"], stdout=subprocess.PIPE, preexec_fn=clitest._pdeathsig)
        p2 = subprocess.Popen([sys.executable, "-c",
                               "import hashlib,sys;"
                               "print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())"],
                              stdin=p1.stdout, stdout=subprocess.PIPE)
        p1.stdout.close()
        digest, _ = p2.communicate(timeout=clitest.RUN_TIMEOUT)
        self.assertEqual(p1.wait(timeout=clitest.RUN_TIMEOUT), 0)
        self.assertEqual(digest.decode().strip(), hashlib.sha256(data).hexdigest())
        empty = self.json("blob", "put", self.ns, "empty", "-", input=b"")
        self.assertEqual(empty["size"], 0)
        out, _ = self.duro("blob", "get", self.ns, "empty")
        self.assertEqual(out, b"")

    def test_ls_prefix_delimiter_table_all(self):
        for k in ("a/1", "a/2", "a/b/3", "b/1", "c"):
            self.duro("blob", "put", self.ns, k, "-", input=k.encode())
        page = self.json("blob", "ls", self.ns)
        self.assertEqual([o["key"] for o in page["objects"]], ["a/1", "a/2", "a/b/3", "b/1", "c"])
        self.assertFalse(page["truncated"])
        page = self.json("blob", "ls", self.ns, "--prefix", "a/", "--delimiter", "/")
        self.assertEqual([o["key"] for o in page["objects"]], ["a/1", "a/2"])
        self.assertEqual(page["delimitedPrefixes"], ["a/b/"])
        page = self.json("blob", "ls", self.ns, "--limit", "2")
        self.assertTrue(page["truncated"])
        nxt = self.json("blob", "ls", self.ns, "--limit", "2", "--cursor", page["cursor"])
        self.assertEqual([o["key"] for o in nxt["objects"]], ["a/b/3", "b/1"])
        every = self.json("blob", "ls", self.ns, "--limit", "2", "--all")
        self.assertEqual([o["key"] for o in every["objects"]], ["a/1", "a/2", "a/b/3", "b/1", "c"])
        self.assertFalse(every["truncated"])
        out, _ = self.duro("-o", "table", "blob", "ls", self.ns, "--delimiter", "/")
        lines = out.decode().splitlines()
        self.assertEqual(lines[0].split(), ["KEY", "SIZE", "TYPE", "UPLOADED"])
        self.assertEqual(lines[1].split()[:3], ["c", "1", "application/octet-stream"])
        self.assertIn("(prefix)", out.decode())
        self.assertEqual(len(lines), 4)  # header, c, a/, b/
        self.duro("blob", "ls", self.ns, "--limit", "1001", want=2)
        self.duro("blob", "ls", self.ns, "--all", "--cursor", "x", want=2)

    def test_rm_head_and_conditions(self):
        put = self.json("blob", "put", self.ns, "k", "-", input=b"v1")
        _, err = self.duro("blob", "put", self.ns, "k", "-", "--if-none-match", "*",
                           input=b"v2", want=4)
        self.assertIn("If-None-Match", err)
        _, err = self.duro("blob", "put", self.ns, "k", "-", "--if-match", "0" * 64,
                           input=b"v2", want=4)
        v2 = self.json("blob", "put", self.ns, "k", "-", "--if-match", put["etag"], input=b"v2")
        self.assertNotEqual(v2["etag"], put["etag"])
        self.duro("blob", "rm", self.ns, "k", "--if-match", put["etag"], want=4)
        self.assertEqual(self.json("blob", "rm", self.ns, "k", "--if-match", v2["etag"]),
                         {"deleted": True})
        self.assertEqual(self.json("blob", "rm", self.ns, "k"), {"deleted": False})
        _, err = self.duro("blob", "head", self.ns, "k", want=1)
        self.assertIn("not found", err)

    def test_errors(self):
        _, err = self.duro("blob", "get", self.ns, "missing", want=1)
        self.assertIn("missing", err)
        self.assertIn("not found", err)
        dst = os.path.join(self.dir, "kept.bin")
        self.file("kept.bin", b"old")
        self.duro("blob", "get", self.ns, "missing", "--out", dst, want=1)
        with open(dst, "rb") as f:  # a failed download leaves the file as it was
            self.assertEqual(f.read(), b"old")
        self.assertFalse(os.path.exists(dst + ".part"))
        _, err = self.duro("blob", "put", self.ns, "k", os.path.join(self.dir, "nope"), want=2)
        self.assertIn("cannot open", err)
        _, err = self.duro("blob", "put", self.ns, "k", "-", "--meta", "[1]", input=b"x",
                           want=2)
        self.assertIn("--meta", err)
        self.duro("blob", "put", self.ns, "", "-", input=b"x", want=2)  # an empty key
        self.duro("blob", "put", self.ns, "k", "-", "--type", "bad\ntype", input=b"x", want=2)
        self.duro("blob", "get", self.ns, want=2)  # missing KEY
        self.duro("blob", "frob", self.ns, "k", want=2)
        rc, out, err = run_bytes(["blob", "head", self.ns, "k"],
                                 url="duro://127.0.0.1:%d" % clitest.closed_port())
        self.assertEqual(rc, 3, err)
        rc, out, _ = run_bytes(["help", "blob"])
        self.assertEqual(rc, 0)
        for sub in (b"put", b"get", b"head", b"rm", b"ls"):
            self.assertIn(sub, out)

    def test_large_file_streams(self):
        size = 40 * MiB
        src = os.path.join(self.dir, "big.bin")
        with open(src, "wb") as f:
            for i in range(40):
                f.write(hashlib.sha256(b"%d" % i).digest() * (MiB // 32))
        rc, err, rss_put = measure_rss(["blob", "put", self.ns, "big", src])
        self.assertEqual(rc, 0, err)
        dst = os.path.join(self.dir, "big.out")
        rc, err, rss_get = measure_rss(["blob", "get", self.ns, "big"], stdout_path=dst)
        self.assertEqual(rc, 0, err)
        with open(src, "rb") as a, open(dst, "rb") as b:
            self.assertEqual(hashlib.sha256(a.read()).digest(), hashlib.sha256(b.read()).digest())
        self.assertEqual(os.path.getsize(dst), size)
        # far below the 40 MiB: what a command needs anyway, plus a part or
        # piece of 4 MiB and its copies (the args, the frame)
        rc, err, base = measure_rss(["blob", "head", self.ns, "big"])
        self.assertEqual(rc, 0, err)
        print("  40 MiB: peak RSS put %d KiB, get %d KiB, head %d KiB"
              % (rss_put, rss_get, base), file=sys.stderr)
        if sanitized():
            return
        for what, peak in (("put", rss_put), ("get", rss_get)):
            if os.access("/usr/bin/time", os.X_OK):  # (sampling /proc misses head's peak)
                self.assertLess(peak, base + 16 * 1024,
                                "duro blob %s peaked at %d KiB" % (what, peak))
            self.assertLess(peak, size // 1024 // 2, "duro blob %s peaked at %d KiB" % (what, peak))

    def test_embedded(self):
        url = "file://" + clitest.tempdir("duro-blob-embedded-")
        data = os.urandom(6 * MiB)
        rc, out, err = run_bytes(["blob", "put", self.ns, "e", "-"], input=data, url=url)
        self.assertEqual(rc, 0, err)
        rc, out, err = run_bytes(["blob", "get", self.ns, "e"], url=url)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, data)


if __name__ == "__main__":
    clitest.main(watchdog_seconds=240)
