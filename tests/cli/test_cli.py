"""
test_cli.py — every `duro` command against a real durod over the binary
protocol, and its exit codes: 0 ok, 1 not found, 2 usage, 3 server or
connection error, 4 precondition failed, 5 rate limited (`ratelimit check`
denied), 6 unauthorized or forbidden. Also users and password login (`auth
register|login|session|logout|password`, passwords from stdin or the
environment only), the embedded (file://) mode, the namespace snapshot (`snapshot
get|patch`) and the resource registry (`resources list|stats|register|unregister`).
"""

import base64
import json
import os
import re
import select
import shlex
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest  # noqa: E402
from clitest import duro  # noqa: E402
import durotest  # noqa: E402
from durotest import jwt  # noqa: E402

SRV = None


def setUpModule():
    global SRV
    SRV = clitest.Server(extra_args=["--ttl-sweep-ms", "100", "--pwhash-min"])


def tearDownModule():
    if SRV is not None:
        rc = SRV.stop()
        assert rc == 0, "durod exited with %r on SIGTERM: %s" % (rc, SRV.log_text())


class Base(unittest.TestCase):
    ns = "cli-test"

    def duro(self, *args, input=None, env=None, want=0):
        """Runs duro -u SRV -n self.ns args; asserts the exit status; returns
        (stdout parsed as JSON when it is JSON, else the text, stderr)."""
        rc, out, err = duro(SRV, "-n", self.ns, *args, input=input, env=env)
        self.assertEqual(rc, want, "duro %s: exit %d, stdout %r, stderr %r"
                         % (" ".join(args), rc, out, err))
        if want == 0:
            try:
                return json.loads(out), err
            except ValueError:
                return out, err
        self.assertEqual(out, "", "a failed command printed on stdout")
        self.assertNotEqual(err.strip(), "", "a failed command said nothing on stderr")
        return None, err

    def setUp(self):
        self.duro("clear")


class HelpAndUsage(unittest.TestCase):
    def test_help(self):
        rc, out, err = duro(None, "--help")
        self.assertEqual(rc, 0)
        for cmd in ("get", "put", "del", "ls", "batch-get", "batch-set", "clear", "stats",
                    "bench", "ratelimit", "session", "snapshot", "resources", "ns", "info"):
            self.assertIn(cmd, out)
        self.assertIn("duro://127.0.0.1:7070", out)
        self.assertIn("5 rate limited", out)
        self.assertIn("6 unauthorized", out)
        for args in (["get", "--help"], ["help", "put"], ["ls", "-h"], ["bench", "--help"],
                     ["help", "bench"], ["help"], ["ratelimit", "--help"],
                     ["ratelimit", "check", "--help"], ["help", "ratelimit", "reset"],
                     ["session", "-h"], ["help", "session"], ["session", "create", "--help"],
                     ["help", "session", "revoke"], ["auth", "--help"],
                     ["help", "auth", "login"], ["auth", "password", "-h"], ["snapshot", "--help"],
                     ["help", "snapshot", "patch"], ["resources", "-h"],
                     ["resources", "list", "--help"], ["help", "resources", "register"]):
            rc, out, err = duro(None, *args)
            self.assertEqual(rc, 0, args)
            self.assertIn("usage: duro", out, args)
        # a group's help shows every subcommand
        rc, out, err = duro(None, "ratelimit", "--help")
        for sub in ("ratelimit check KEY", "ratelimit get KEY", "ratelimit reset KEY",
                    "--limit", "--window", "--cost", "5 denied"):
            self.assertIn(sub, out)
        rc, out, err = duro(None, "help", "session")
        for sub in ("session create", "session get ID", "session put ID", "session del ID",
                    "session list USER", "session revoke USER", "--except", "--rolling"):
            self.assertIn(sub, out)
        rc, out, err = duro(None, "help", "auth")
        for sub in ("auth register EMAIL", "auth login EMAIL [--ttl DUR]", "auth session ID",
                    "auth logout ID", "auth password ID", "DURO_PASSWORD", "DURO_NEW_PASSWORD",
                    "stdin", "without echo"):
            self.assertIn(sub, out)
        rc, out, err = duro(None, "help", "snapshot")
        for sub in ("snapshot get [--meta]", "snapshot patch OPS_JSON", "--if-match ETAG",
                    "exit 4"):
            self.assertIn(sub, out)
        rc, out, err = duro(None, "resources", "--help")
        for sub in ("resources list [--type T] [--namespace NS] [--prefix P] [--limit N] "
                    "[--offset N]", "resources stats", "resources register TYPE KEY",
                    "--size BYTES", "--metadata JSON", "resources unregister TYPE KEY"):
            self.assertIn(sub, out)

    def test_every_command_has_an_example(self):
        rc, out, err = duro(None, "--help")
        section = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
        names = [line.split()[0] for line in section.splitlines() if line.strip()]
        self.assertIn("get", names)
        self.assertIn("ns", names)
        walked = []
        for name in names:
            rc, out, err = duro(None, "help", name)
            self.assertEqual(rc, 0, name)
            self.check_example(out, [name])
            walked.append(name)
            rc2, out2, _ = duro(None, name, "--help")
            self.assertEqual((rc2, out2), (rc, out), name)
            if "duro help %s SUBCOMMAND" % name not in out:
                continue
            # a group: its subcommands are the indented "  name  summary" lines
            subs = re.findall(r"^  (\S+) {2,}\S", out.split("\n\n")[2], re.M)
            self.assertTrue(subs, name)
            for sub in subs:
                rc, out, err = duro(None, "help", name, sub)
                self.assertEqual(rc, 0, (name, sub))
                self.check_example(out, [name, sub])
                walked.append(name + " " + sub)
        self.assertIn("session create", walked)
        self.assertIn("bench", walked)

    def check_example(self, out, words):
        self.assertRegex(out, r"\nExamples?:\n", words)
        block = re.split(r"\nExamples?:\n", out)[1]
        lines = [l.strip() for l in block.splitlines() if l.startswith("  ")]
        self.assertTrue(lines, words)
        for line in lines:
            argv = shlex.split(line.split("|")[-1])
            argv = argv[argv.index("duro") + 1:]
            while argv and argv[0] in ("-u", "-n", "-o", "-t", "--raw"):
                argv = argv[1:] if argv[0] == "--raw" else argv[2:]
            self.assertEqual(argv[:len(words)], words, line)

    def test_completion(self):
        rc, out, err = duro(None, "--help")
        section = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
        names = [line.split()[0] for line in section.splitlines() if line.strip()]
        rc, script, err = duro(None, "completion", "bash")
        self.assertEqual(rc, 0, err)
        self.assertIn("_duro() {", script)
        self.assertIn("complete -o default -F _duro duro", script)
        listed = re.search(r'local commands="([^"]*)"', script).group(1).split()
        self.assertEqual(listed, names)
        # bash runs it: words complete from the table
        probe = ('source /dev/stdin; for w in "duro ses" "duro session c" "duro -n x get k --m"'
                 ' "duro -o t"; do read -ra COMP_WORDS <<< "$w"; COMP_CWORD=$((${#COMP_WORDS[@]}'
                 ' - 1)); _duro; echo "${COMPREPLY[*]}"; done')
        rc, out, err = clitest.run(["/bin/bash", "-c", probe], input=script)
        self.assertEqual((rc, out.splitlines()), (0, ["session", "create", "--meta", "table"]),
                         err)
        rc, zsh, err = duro(None, "completion", "zsh")
        self.assertEqual(rc, 0, err)
        self.assertTrue(zsh.startswith("#compdef duro\n"))
        self.assertIn("bashcompinit", zsh)
        self.assertIn("_duro() {", zsh)
        for bad in (["completion"], ["completion", "fish"]):
            rc, out, err = duro(None, *bad)
            self.assertEqual((rc, out), (2, ""), bad)

    def test_usage_errors_exit_2(self):
        cases = [
            [],                                  # no command
            ["frobnicate"],                      # unknown command
            ["--bogus", "get", "k"],             # unknown global option
            ["get"],                             # missing key
            ["get", "a", "b"],                   # too many arguments
            ["get", "k", "--bogus"],             # unknown option of the command
            ["put", "k"],                        # missing value
            ["put", "k", "1", "--ttl", "soon"],  # bad number
            ["put", "k", "1", "--ttl"],          # missing option value
            ["put", "k", "1", "--if-match", "1", "--if-none-match"],
            ["ls", "--limit", "0"],
            ["ls", "--limit", "10001"],
            ["ls", "extra"],
            ["ls", "--all", "--cursor", "abc"],
            ["del", "k", "--if-match", "x"],
            ["batch-get"],
            ["batch-set"],
            ["batch-set", "not json"],
            ["batch-set", '{"entries": 5, "x": ['],  # (an object is {key: value})
            ["batch-set", '"a string"'],
            ["help", "nosuch"],
            ["-u"],
            ["ratelimit"],                       # a group needs a subcommand
            ["ratelimit", "frob", "k"],
            ["ratelimit", "check"],
            ["ratelimit", "check", "a", "b"],
            ["ratelimit", "check", "k", "--limit", "x"],
            ["ratelimit", "check", "k", "--limit", "0"],
            ["ratelimit", "check", "k", "--cost", "-1"],
            ["ratelimit", "check", "k", "--ttl", "5"],  # another command's option
            ["ratelimit", "get", "k", "--cost", "1"],
            ["ratelimit", "reset"],
            ["session"],
            ["session", "nope"],
            ["session", "create", "{}"],         # --ttl is required
            ["session", "create", "--ttl", "1000"],
            ["session", "create", "{}", "--ttl", "soon"],
            ["session", "get"],
            ["session", "put", "someid"],
            ["session", "del"],
            ["session", "list"],
            ["session", "revoke"],
            ["session", "revoke", "u", "--except"],
            ["help", "session", "nosuch"],
            ["auth"],
            ["auth", "nope"],
            ["auth", "register"],
            ["auth", "login"],
            ["auth", "login", "a@b.c", "--ttl", "soon"],
            ["auth", "login", "a@b.c", "--ttl", "0"],
            ["auth", "session"],
            ["auth", "session", "a", "b"],
            ["auth", "logout"],
            ["auth", "password"],
            ["auth", "register", "a@b.c", "--ttl", "1000"],
            ["snapshot"],
            ["snapshot", "frob"],
            ["snapshot", "get", "extra"],
            ["snapshot", "get", "--if-match", "1"],
            ["snapshot", "patch"],
            ["snapshot", "patch", "not json"],
            ["snapshot", "patch", '{"no":"ops"}'],
            ["snapshot", "patch", "[]", "--if-match", "x"],
            ["snapshot", "patch", "[]", "--if-match", "-1"],
            ["resources"],
            ["resources", "frob"],
            ["resources", "list", "extra"],
            ["resources", "list", "--limit", "1001"],    # bad limit: 0..1000
            ["resources", "list", "--limit", "-1"],
            ["resources", "list", "--limit", "many"],
            ["resources", "list", "--offset", "1000000001"],
            ["resources", "list", "--size", "1"],
            ["resources", "stats", "--type", "do"],
            ["resources", "register", "do"],
            ["resources", "register", "do", "k", "extra"],
            ["resources", "register", "do", "k", "--size", "big"],
            ["resources", "register", "do", "k", "--size", "-3"],
            ["resources", "unregister", "do"],
            ["resources", "unregister", "do", "k", "--size", "1"],
        ]
        for args in cases:
            rc, out, err = duro(SRV, *args)
            self.assertEqual(rc, 2, "duro %s: exit %d (%r)" % (args, rc, err))
            self.assertEqual(out, "", args)
            self.assertIn("duro", err, args)

    def test_server_down_exits_3(self):
        url = "duro://127.0.0.1:%d?connect_timeout_ms=1000&timeout_ms=2000" \
              % clitest.closed_port()
        for args in (["get", "k"], ["put", "k", "1"], ["del", "k"], ["ls"], ["clear"],
                     ["stats"], ["ping"], ["batch-get", "a"],
                     ["batch-set", '[{"key":"a","value":1}]'], ["ratelimit", "check", "k"],
                     ["ratelimit", "reset", "k"], ["session", "get", "x"],
                     ["session", "create", "{}", "--ttl", "1000"], ["session", "list", "u"],
                     ["auth", "session", "x"], ["auth", "logout", "x"],
                     ["snapshot", "get"], ["snapshot", "patch", "[]"], ["resources", "list"],
                     ["resources", "stats"], ["resources", "register", "do", "k"],
                     ["resources", "unregister", "do", "k"]):
            t0 = time.monotonic()
            rc, out, err = duro(url, *args)
            self.assertEqual(rc, 3, "duro %s against a closed port: exit %d (%r)"
                             % (args, rc, err))
            self.assertEqual(out, "")
            self.assertNotEqual(err, "")
            self.assertLess(time.monotonic() - t0, 15)

    def test_protocol_1_server_exits_3(self):
        # a durod of binary protocol 1 answers HTTP-like statuses: libduro says so
        ls = socket.create_server(("127.0.0.1", 0))
        ls.settimeout(10)

        def serve():
            try:
                s, _ = ls.accept()
                with s:
                    (n,) = struct.unpack(">I", s.recv(4, socket.MSG_WAITALL))
                    msgid = s.recv(n, socket.MSG_WAITALL)[1]  # a fixint msgid
                    reply = b"\x93" + bytes([msgid]) + b"\xcc\xc8\xa4pong"  # [msgid, 200, "pong"]
                    s.sendall(struct.pack(">I", len(reply)) + reply)
                    s.recv(1)
            except OSError:
                pass

        t = threading.Thread(target=serve)
        t.start()
        try:
            rc, out, err = duro("duro://127.0.0.1:%d?timeout_ms=5000" % ls.getsockname()[1], "ping")
        finally:
            t.join(10)
            ls.close()
        self.assertEqual((rc, out), (3, ""), err)
        self.assertIn("binary protocol 1, not 2", err)

    def test_bad_url_exits_2(self):
        rc, out, err = duro("gopher://nowhere", "get", "k")
        self.assertEqual(rc, 2, err)


class AccessControl(unittest.TestCase):
    def test_refused_exits_6(self):
        # a server with access control on: libduro sends no token, so every
        # call is UNAUTHORIZED, which is neither "server down" (3) nor "usage" (2)
        srv = clitest.Server(["--auth-token", "cli-secret-token"])
        try:
            for args in (["get", "k"], ["put", "k", "1"], ["session", "list", "u"]):
                rc, out, err = duro(srv, *args)
                self.assertEqual((rc, out), (6, ""), "duro %s: %r" % (args, err))
                self.assertIn("unauthorized", err)
        finally:
            self.assertEqual(srv.stop(), 0, srv.log_text())


ADMIN = "cli-admin-" + "t" * 32
JWT_SECRET = "j" * 40


class Tokens(unittest.TestCase):
    """The CLI against a server with access control: -t/--token, DURO_TOKEN
    and the URL's token= all authenticate; a read-only JWT reads and is
    refused writes; a wrong token is exit 6 and no message repeats it."""

    @classmethod
    def setUpClass(cls):
        cls.srv = clitest.Server(["--auth-token", ADMIN, "--jwt-secret", JWT_SECRET])

    @classmethod
    def tearDownClass(cls):
        assert cls.srv.stop() == 0, cls.srv.log_text()

    def ok(self, *args, env=None, url=None):
        rc, out, err = duro(url or self.srv, *args, env=env)
        self.assertEqual(rc, 0, "duro %s: %s" % (args, err))
        return json.loads(out) if out.strip() else None

    def test_flag_env_and_url(self):
        self.ok("-t", ADMIN, "put", "tok", '"a"')
        self.assertEqual(self.ok("--token=" + ADMIN, "get", "tok"), "a")
        self.assertEqual(self.ok("--token", ADMIN, "get", "tok"), "a")
        self.assertEqual(self.ok("get", "tok", env={"DURO_TOKEN": ADMIN}), "a")
        self.assertEqual(self.ok("get", "tok", url=self.srv.url + "?token=" + ADMIN), "a")
        # the flag wins over the environment
        rc, _, err = duro(self.srv, "-t", "wrong-token", "get", "tok", env={"DURO_TOKEN": ADMIN})
        self.assertEqual(rc, 6, err)
        # and duro bench authenticates the same way
        rc, out, err = duro(self.srv, "bench", "--op", "set", "--clients", "1", "--requests",
                            "20", "--json", env={"DURO_TOKEN": ADMIN})
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["errors"], 0)

    def test_read_only_jwt(self):
        self.ok("-t", ADMIN, "-n", "ro", "put", "k", "1")
        ro = jwt(JWT_SECRET, {"ns": "ro", "scope": "read"})
        self.assertEqual(self.ok("-n", "ro", "get", "k", env={"DURO_TOKEN": ro}), 1)
        rc, out, err = duro(self.srv, "-n", "ro", "put", "k", "2", env={"DURO_TOKEN": ro})
        self.assertEqual((rc, out), (6, ""), err)
        self.assertIn("forbidden", err)
        rc, out, err = duro(self.srv, "-n", "other", "get", "k", env={"DURO_TOKEN": ro})
        self.assertEqual(rc, 6, err)

    def test_wrong_token_is_exit_6_and_never_echoed(self):
        for args, url in ((["-t", "wrong-secret-value"], None),
                          ([], self.srv.url + "?token=wrong-secret-value")):
            rc, out, err = duro(url or self.srv, *args, "get", "k")
            self.assertEqual((rc, out), (6, ""), err)
            self.assertIn("unauthorized", err)
            self.assertNotIn("wrong-secret-value", err)
            self.assertNotIn(ADMIN, err)


class Friendly(Base):
    """What a redis-cli user types first: text values, durations with units,
    and errors that say where and what to do."""

    def test_string_values(self):
        _, err = self.duro("put", "greet", "hello", want=2)
        self.assertIn("not valid JSON", err)
        self.assertIn("line 1 column", err)
        self.assertIn("-s", err)
        self.duro("put", "greet", "hello world", "-s")
        self.assertEqual(self.duro("get", "greet")[0], "hello world")
        self.duro("put", "greet2", "-", "--string", input="from stdin")
        self.assertEqual(self.duro("get", "greet2")[0], "from stdin")
        self.duro("put", "quoted", '"already JSON"')
        self.assertEqual(self.duro("get", "quoted")[0], "already JSON")
        _, err = self.duro("put", "bad", '{"a":\n [1,', want=2)
        self.assertIn("line 2 column", err)

    def test_durations_take_units(self):
        for ttl, ms in (("1500", 1500), ("100ms", 100), ("60s", 60000), ("5m", 300000),
                        ("1h", 3600000), ("7d", 604800000)):
            self.duro("put", "t", "1", "--ttl", ttl)
            meta = self.duro("get", "t", "--meta")[0]
            self.assertEqual(meta["expiresAt"] - meta["updatedAt"], ms, ttl)
        for bad in ("5x", "m", "-1s", "1.5s", "0s"):
            _, err = self.duro("put", "t", "1", "--ttl", bad, want=2)
            self.assertIn("duration", err)
        out, _ = self.duro("ratelimit", "check", "u", "--limit", "2", "--window", "1m")
        self.assertEqual((out["limit"], out["allowed"]), (2, True))
        self.assertLessEqual(out["resetMs"], 60000)
        self.assertGreater(out["resetMs"], 20000)


class Limits(unittest.TestCase):
    """Over a server's limits the CLI says which limit, not 'connection reset'."""

    @classmethod
    def setUpClass(cls):
        cls.srv = clitest.Server(["--max-body-bytes", "5000", "--max-value-bytes", "1000"])

    @classmethod
    def tearDownClass(cls):
        assert cls.srv.stop() == 0, cls.srv.log_text()

    def test_payload_too_large_names_the_limit(self):
        rc, out, err = duro(self.srv, "put", "v", "-", input='"%s"' % ("x" * 2000))
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("payload too large", err)
        self.assertIn("1000 bytes", err)
        rc, out, err = duro(self.srv, "put", "f", "-", input='"%s"' % ("x" * 9000))
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("payload too large", err)
        self.assertIn("the limit is 5000 (--max-body-bytes)", err)
        self.assertNotIn("I/O error", err)
        self.assertEqual(err.count("payload too large"), 1, err)  # said once

    def test_batch_errors_name_the_entry(self):
        rc, out, err = duro(self.srv, "batch-set", '[{"key":"a","value":1},{"key":"","value":2}]')
        self.assertEqual(rc, 2, err)
        self.assertIn("entries[1]: invalid key", err)


class Version(unittest.TestCase):
    def test_version(self):
        for flag in ("--version", "-V"):
            rc, out, err = duro(None, flag)
            self.assertEqual(rc, 0, err)
            self.assertRegex(out, r"^duro \d+\.\d+\.\d+ \(libduro \d+\.\d+\.\d+\)\n$")
        self.assertIn("--version", duro(None, "--help")[1])


class Commands(Base):
    def test_put_get(self):
        out, _ = self.duro("put", "user:1", '{"name":"Ada","n":[1,2.5,null,true]}')
        self.assertIsInstance(out["version"], int)
        self.assertGreater(out["version"], 0)
        out, _ = self.duro("get", "user:1")
        self.assertEqual(out, {"name": "Ada", "n": [1, 2.5, None, True]})
        # scalar values, a negative number and a value from stdin
        self.duro("put", "s", '"text"')
        self.assertEqual(self.duro("get", "s")[0], "text")
        self.duro("put", "neg", "-5")
        self.assertEqual(self.duro("get", "neg")[0], -5)
        self.duro("put", "in", "-", input='{"from":"stdin"}\n')
        self.assertEqual(self.duro("get", "in")[0], {"from": "stdin"})
        # keys that look like options go after --
        self.duro("put", "--", "-dash", "1")
        self.assertEqual(self.duro("get", "--", "-dash")[0], 1)

    def test_get_missing_exits_1(self):
        _, err = self.duro("get", "nope", want=1)
        self.assertIn("not found", err.lower())

    def test_put_invalid_json_exits_2(self):
        self.duro("put", "k", "{bad json", want=2)
        self.duro("put", "k", "{\"value\":", want=2)
        self.duro("get", "k", want=1)

    def test_namespaces(self):
        self.duro("put", "k", "1")
        rc, out, err = duro(SRV, "-n", "cli-other", "get", "k")
        self.assertEqual(rc, 1, err)
        # -n after the command, --ns=, and DURO_NS
        rc, out, err = duro(SRV, "put", "k", "2", "-n", "cli-other")
        self.assertEqual(rc, 0, err)
        rc, out, err = duro(SRV, "--ns=cli-other", "get", "k")
        self.assertEqual((rc, json.loads(out)), (0, 2), err)
        rc, out, err = duro(SRV, "get", "k", env={"DURO_NS": "cli-other"})
        self.assertEqual((rc, json.loads(out)), (0, 2), err)
        rc, out, err = duro(SRV, "-n", "cli-other", "clear")
        self.assertEqual(rc, 0, err)
        self.duro("get", "k")
        # an invalid namespace name is the user's error
        rc, out, err = duro(SRV, "-n", "bad/name", "get", "k")
        self.assertEqual(rc, 2, err)

    def test_url_from_environment(self):
        rc, out, err = clitest.run([clitest.cli_bin(), "-n", self.ns, "put", "env", "7"],
                                   env={"DURO_URL": SRV.url})
        self.assertEqual(rc, 0, err)
        rc, out, err = clitest.run([clitest.cli_bin(), "-n", self.ns, "get", "env"],
                                   env={"DURO_URL": SRV.url})
        self.assertEqual((rc, out), (0, "7\n"), err)

    def test_ttl(self):
        self.duro("put", "short", '"x"', "--ttl", "2000")
        self.duro("put", "long", '"y"', "--ttl", "600000")
        meta, _ = self.duro("get", "long", "--meta")
        self.assertGreater(meta["expiresAt"], int(time.time() * 1000))
        self.assertEqual(self.duro("get", "short")[0], "x")
        time.sleep(2.3)
        self.duro("get", "short", want=1)
        self.assertEqual(self.duro("get", "long")[0], "y")

    def test_metadata_and_meta(self):
        v, _ = self.duro("put", "m", "[1,2]", "--metadata", '{"owner":"me"}')
        meta, _ = self.duro("get", "m", "--meta")
        self.assertEqual(meta["value"], [1, 2])
        self.assertEqual(meta["metadata"], {"owner": "me"})
        self.assertEqual(meta["version"], v["version"])
        self.assertIsNone(meta["expiresAt"])
        self.assertGreater(meta["createdAt"], 0)
        self.assertGreaterEqual(meta["updatedAt"], meta["createdAt"])
        self.duro("get", "nope", "--meta", want=1)

    def test_cas(self):
        v1 = self.duro("put", "c", "1")[0]["version"]
        v2 = self.duro("put", "c", "2", "--if-match", str(v1))[0]["version"]
        self.assertGreater(v2, v1)
        _, err = self.duro("put", "c", "3", "--if-match", str(v1), want=4)
        self.assertIn("precondition", err.lower())
        self.assertEqual(self.duro("get", "c")[0], 2)
        self.duro("put", "c", "4", "--if-none-match", want=4)
        self.duro("put", "fresh", "5", "--if-none-match")
        self.duro("del", "c", "--if-match", str(v1), want=4)
        self.assertEqual(self.duro("get", "c")[0], 2)
        self.assertEqual(self.duro("del", "c", "--if-match", str(v2))[0], {"deleted": True})

    def test_del(self):
        self.duro("put", "d", "true")
        self.assertEqual(self.duro("del", "d")[0], {"deleted": True})
        self.assertEqual(self.duro("del", "d")[0], {"deleted": False})
        self.duro("get", "d", want=1)

    def test_batch(self):
        out, _ = self.duro("batch-set", '[{"key":"a","value":1},{"key":"b","value":{"x":2}},'
                           '{"key":"t","value":3,"ttlMs":60000,"metadata":{"m":1}}]')
        self.assertEqual(out["count"], 3)
        self.assertGreater(out["version"], 0)
        out, _ = self.duro("batch-get", "a", "b", "t", "missing")
        self.assertEqual(out, {"a": 1, "b": {"x": 2}, "t": 3})
        # stdin, and the HTTP body shape {"entries": [...]}
        entries = [{"key": "s%d" % i, "value": i} for i in range(50)]
        out, _ = self.duro("batch-set", "-", input=json.dumps(entries))
        self.assertEqual(out["count"], 50)
        out, _ = self.duro("batch-set", "-", input=json.dumps({"entries": entries[:2]}))
        self.assertEqual(out["count"], 2)
        out, _ = self.duro("batch-get", *["s%d" % i for i in range(50)])
        self.assertEqual(out, {"s%d" % i: i for i in range(50)})
        self.assertEqual(self.duro("batch-get", "none1", "none2")[0], {})
        out, _ = self.duro("batch-del", "a", "b", "missing")
        self.assertEqual(out, {"deleted": 2})
        self.duro("get", "a", want=1)
        # an entry without a key is the user's error; nothing is written
        self.duro("batch-set", '[{"key":"ok","value":1},{"value":2}]', want=2)
        self.duro("get", "ok", want=1)

    def test_batch_set_takes_what_batch_get_prints(self):
        self.duro("batch-set", '{"m1": 1, "m2": {"x": [2]}, "m3": "three"}')
        out, _ = self.duro("batch-get", "m1", "m2", "m3")
        self.assertEqual(out, {"m1": 1, "m2": {"x": [2]}, "m3": "three"})
        # batch-get | batch-set - copies the keys to another namespace
        rc, printed, err = duro(SRV, "-n", self.ns, "batch-get", "m1", "m2", "m3")
        self.assertEqual(rc, 0, err)
        rc, out, err = duro(SRV, "-n", self.ns + "-copy", "batch-set", "-", input=printed)
        self.assertEqual((rc, json.loads(out)["count"]), (0, 3), err)
        rc, out, err = duro(SRV, "-n", self.ns + "-copy", "batch-get", "m1", "m2", "m3")
        self.assertEqual(json.loads(out), {"m1": 1, "m2": {"x": [2]}, "m3": "three"})
        duro(SRV, "-n", self.ns + "-copy", "clear")
        # {"entries": [...]} alone stays the HTTP body; with another key it is a map
        self.duro("batch-set", '{"entries": [{"key": "e1", "value": 1}]}')
        self.assertEqual(self.duro("get", "e1")[0], 1)
        self.duro("batch-set", '{"entries": [1], "other": 2}')
        self.assertEqual(self.duro("get", "entries")[0], [1])
        self.assertEqual(self.duro("batch-set", "{}")[0]["count"], 0)

    def test_ls_paging(self):
        keys = ["p:%02d" % i for i in range(25)]
        self.duro("batch-set", "-", input=json.dumps([{"key": k, "value": k} for k in keys]))
        self.duro("put", "q:other", "0")
        seen, cursor, pages = [], None, 0
        while True:
            args = ["ls", "--prefix", "p:", "--limit", "10"]
            if cursor:
                args += ["--cursor", cursor]
            page, _ = self.duro(*args)
            pages += 1
            self.assertLessEqual(len(page["keys"]), 10)
            seen += page["keys"]
            if page["list_complete"]:
                self.assertIsNone(page["cursor"])
                break
            cursor = page["cursor"]
            self.assertIsInstance(cursor, str)
            self.assertLess(pages, 10)
        self.assertEqual(seen, keys)
        self.assertEqual(pages, 3)
        page, _ = self.duro("ls", "--prefix", "p:", "--reverse", "--limit", "3")
        self.assertEqual(page["keys"], ["p:24", "p:23", "p:22"])
        page, _ = self.duro("ls", "--prefix", "p:", "--values", "--limit", "2")
        self.assertEqual([(e["key"], e["value"]) for e in page["keys"]],
                         [("p:00", "p:00"), ("p:01", "p:01")])
        page, _ = self.duro("ls", "--start", "p:10", "--end", "p:13")
        self.assertEqual(page["keys"], ["p:10", "p:11", "p:12"])
        page, _ = self.duro("ls", "--start-after", "p:23")
        self.assertEqual(page["keys"], ["p:24", "q:other"])
        page, _ = self.duro("ls")
        self.assertEqual(page["keys"], keys + ["q:other"])
        page, _ = self.duro("ls", "--all", "--prefix", "p:", "--limit", "4")
        self.assertEqual(page, {"keys": keys, "cursor": None, "list_complete": True})
        self.duro("ls", "--start", "a", "--start-after", "b", want=2)

    def test_clear_and_stats(self):
        self.assertEqual(self.duro("stats")[0], {"namespace": self.ns, "keys": 0})
        self.duro("batch-set", "-", input=json.dumps(
            [{"key": "k%04d" % i, "value": i} for i in range(1000)]))
        self.duro("batch-set", "-", input=json.dumps(
            [{"key": "j%04d" % i, "value": i} for i in range(500)]))
        self.assertEqual(self.duro("stats")[0], {"namespace": self.ns, "keys": 1500})
        self.assertEqual(self.duro("stats", "--prefix", "j")[0],
                         {"namespace": self.ns, "keys": 500, "prefix": "j"})
        self.assertEqual(self.duro("clear")[0], {"deleted": 1500})
        self.assertEqual(self.duro("clear")[0], {"deleted": 0})
        self.assertEqual(self.duro("stats")[0]["keys"], 0)

    def test_ping(self):
        self.assertEqual(self.duro("ping")[0], "pong")

    def test_large_value(self):
        big = json.dumps({"blob": "x" * 500000})
        self.duro("put", "big", "-", input=big)
        self.assertEqual(len(self.duro("get", "big")[0]["blob"]), 500000)


class RateLimitCommands(Base):
    def check(self, *args, want=0):
        """duro ratelimit check ARGS: the JSON result is printed whether the
        check was allowed (exit 0) or denied (exit 5)."""
        rc, out, err = duro(SRV, "-n", self.ns, "ratelimit", "check", *args)
        self.assertEqual(rc, want, "ratelimit check %s: exit %d, %r %r" % (args, rc, out, err))
        return json.loads(out)

    def test_check_get_reset(self):
        for i in range(3):
            r = self.check("login:ada", "--limit", "3", "--window", "60000")
            self.assertEqual(r["allowed"], True)
            self.assertEqual((r["remaining"], r["limit"], r["retryAfterMs"]), (2 - i, 3, 0))
            self.assertGreater(r["resetMs"], 0)
        r = self.check("login:ada", "--limit", "3", "--window", "60000", want=5)
        self.assertEqual(r["allowed"], False)
        self.assertEqual(r["remaining"], 0)
        self.assertGreater(r["retryAfterMs"], 0)
        self.assertLessEqual(r["retryAfterMs"], 20000)
        # get looks with the key's last parameters and takes nothing
        r, _ = self.duro("ratelimit", "get", "login:ada")
        self.assertEqual((r["limit"], r["remaining"]), (3, 0))
        self.assertEqual(self.duro("ratelimit", "reset", "login:ada")[0], {"deleted": True})
        self.assertEqual(self.duro("ratelimit", "reset", "login:ada")[0], {"deleted": False})
        r = self.check("login:ada", "--limit", "3", "--window", "60000")
        self.assertEqual(r["remaining"], 2)
        # options may come as --opt=value, and --cost takes several tokens
        r = self.check("bulk", "--limit=10", "--window=60000", "--cost=7")
        self.assertEqual((r["allowed"], r["remaining"]), (True, 3))
        r = self.check("bulk", "--limit=10", "--window=60000", "--cost=4", want=5)
        self.assertEqual(r["remaining"], 3)
        r = self.check("bulk", "--limit=10", "--window=60000", "--cost=0")
        self.assertEqual(r["remaining"], 3)

    def test_defaults_and_namespaces(self):
        r = self.check("fresh")                       # the server's default: 30/60s
        self.assertEqual((r["limit"], r["remaining"]), (30, 29))
        rc, out, err = duro(SRV, "-n", "cli-rl-other", "ratelimit", "check", "fresh")
        self.assertEqual((rc, json.loads(out)["remaining"]), (0, 29), err)
        # rate-limit keys are not KV keys
        self.duro("get", "fresh", want=1)

    def test_window_refill(self):
        self.check("w", "--limit", "1", "--window", "300")
        r = self.check("w", "--limit", "1", "--window", "300", want=5)
        time.sleep(r["retryAfterMs"] / 1000.0 + 0.05)
        self.check("w", "--limit", "1", "--window", "300")

    def test_bad_input_exits_2(self):
        _, err = self.duro("ratelimit", "check", "k", "--limit", "5", "--cost", "6", want=2)
        self.assertIn("cost", err)
        self.duro("ratelimit", "check", "k", "--limit", "2000000000", want=2)
        self.duro("ratelimit", "get", "k", "--window", "999999999999999", want=2)
        rc, out, err = duro(SRV, "-n", "bad/ns", "ratelimit", "check", "k")
        self.assertEqual(rc, 2, err)


class SessionCommands(Base):
    def session(self, *args, want=0, input=None):
        # ids may begin with '-': options first, then --, then the arguments
        return self.duro("session", *args, want=want, input=input)

    def test_lifecycle(self):
        t0 = int(time.time() * 1000)
        s1, _ = self.session("create", '{"cart":[1,2]}', "--ttl", "600000", "--user", "ada")
        self.assertRegex(s1["id"], r"^[A-Za-z0-9_-]{43}$")
        self.assertGreaterEqual(s1["expiresAt"], t0 + 600000 - 1000)
        got, _ = self.session("get", "--", s1["id"])
        self.assertEqual(got, {"data": {"cart": [1, 2]}, "userId": "ada",
                               "expiresAt": s1["expiresAt"]})
        put, _ = self.session("put", "--ttl", "900000", "--", s1["id"], '{"cart":[]}')
        self.assertGreater(put["expiresAt"], s1["expiresAt"])
        got, _ = self.session("get", "--", s1["id"])
        self.assertEqual((got["data"], got["expiresAt"]), ({"cart": []}, put["expiresAt"]))
        # data from stdin; a rolling session; one without a user
        s2, _ = self.session("create", "-", "--ttl", "600000", "--user", "ada", "--rolling",
                             input='{"n":2}')
        anon, _ = self.session("create", "{}", "--ttl", "60000")
        self.assertIsNone(self.session("get", "--", anon["id"])[0]["userId"])
        time.sleep(0.02)
        self.assertGreater(self.session("get", "--", s2["id"])[0]["expiresAt"], s2["expiresAt"])
        listing, _ = self.session("list", "ada")
        self.assertEqual(listing["count"], 2)
        self.assertEqual(sorted(s["rolling"] for s in listing["sessions"]), [False, True])
        self.assertNotIn(s1["id"], json.dumps(listing))
        self.assertEqual(self.session("list", "nobody")[0], {"sessions": [], "count": 0})
        # revoke all of ada's but s1 (the --except value may begin with '-')
        self.assertEqual(self.session("revoke", "ada", "--except", s1["id"])[0], {"deleted": 1})
        self.session("get", "--", s2["id"], want=1)
        self.session("get", "--", s1["id"])
        self.assertEqual(self.session("del", "--", s1["id"])[0], {"deleted": True})
        self.assertEqual(self.session("del", "--", s1["id"])[0], {"deleted": False})
        _, err = self.session("get", "--", s1["id"], want=1)
        self.assertIn("not found", err)
        self.assertNotIn(s1["id"], err)                  # ids are not echoed
        self.session("put", "--", s1["id"], "{}", want=1)
        self.assertEqual(self.session("revoke", "ada")[0], {"deleted": 0})
        self.session("del", "--", anon["id"])

    def test_not_found_and_bad_input(self):
        self.session("get", "garbage", want=1)
        self.session("get", "A" * 43, want=1)            # well-formed, never issued
        self.assertEqual(self.session("del", "garbage")[0], {"deleted": False})
        self.session("create", "[1]", "--ttl", "1000", want=2)      # not an object
        self.session("create", "{bad", "--ttl", "1000", want=2)     # not JSON
        self.session("create", "{}", "--ttl", "315360000001", want=2)
        self.session("create", "{}", "--ttl", "1000", "--user", "", want=2)
        self.session("create", "-", "--ttl", "1000", want=2,
                     input=json.dumps({"big": "x" * 70000}))       # 413: the user's error
        self.session("revoke", "u", "--except", "not-an-id", want=2)
        s, _ = self.session("create", "{}", "--ttl", "60000")
        self.session("put", "--", s["id"], "7", want=2)
        self.session("put", "--ttl", "-5", "--", s["id"], "{}", want=2)


class SnapshotCommands(Base):
    ns = "cli-snap"

    def test_get_patch(self):
        self.assertEqual(self.duro("snapshot", "get")[0], {})
        self.assertEqual(self.duro("snapshot", "get", "--meta")[0], {"version": 0, "data": {}})
        # create under --if-match 0 ("empty")
        out, _ = self.duro("snapshot", "patch",
                           '[{"op":"set","key":"a","value":1},'
                           '{"op":"set","key":"b","value":{"x":[2]},"ttlMs":600000,'
                           '"metadata":{"m":1}}]', "--if-match", "0")
        self.assertEqual(out["created"], True)
        v1 = out["version"]
        self.assertGreater(v1, 0)
        self.assertEqual(self.duro("snapshot", "get")[0], {"a": 1, "b": {"x": [2]}})
        self.assertEqual(self.duro("snapshot", "get", "--meta")[0],
                         {"version": v1, "data": {"a": 1, "b": {"x": [2]}}})
        meta, _ = self.duro("get", "b", "--meta")           # ordinary KV keys
        self.assertEqual((meta["metadata"], meta["version"]), ({"m": 1}, v1))
        self.assertIsNotNone(meta["expiresAt"])
        # a stale --if-match: exit 4, nothing applied
        _, err = self.duro("snapshot", "patch", '[{"op":"del","key":"a"}]', "--if-match", "0",
                           want=4)
        self.assertIn("precondition", err.lower())
        self.duro("snapshot", "patch", '[{"op":"del","key":"a"}]', "--if-match", str(v1 + 99),
                  want=4)
        self.assertEqual(self.duro("get", "a")[0], 1)
        # the current one, as --opt=value; the {"ops": [...]} shape from stdin
        out, _ = self.duro("snapshot", "patch", "--if-match=%d" % v1, "-",
                           input=json.dumps({"ops": [{"op": "del", "key": "a"},
                                                     {"op": "set", "key": "c", "value": "s"}]}))
        self.assertEqual(out["created"], False)
        self.assertGreater(out["version"], v1)
        self.duro("get", "a", want=1)
        # without a condition; every KV write moves the ETag
        self.duro("snapshot", "patch", '[{"op":"set","key":"d","value":null}]')
        put, _ = self.duro("put", "e", "5")
        snap, _ = self.duro("snapshot", "get", "--meta")
        self.assertEqual(snap["version"], put["version"])
        self.assertEqual(snap["data"], {"b": {"x": [2]}, "c": "s", "d": None, "e": 5})
        # bad ops: exit 2, all or nothing
        for ops in ('[{"op":"set","key":"ok","value":1},{"op":"set","key":"","value":2}]',
                    '[{"op":"frob","key":"k"}]', '[{"op":"set","key":"k"}]', "[1]"):
            self.duro("snapshot", "patch", ops, want=2)
        self.duro("get", "ok", want=1)
        self.assertEqual(self.duro("snapshot", "get", "--meta")[0]["version"], snap["version"])
        # deleting every key: ETag 0 again
        out, _ = self.duro("snapshot", "patch", json.dumps(
            [{"op": "del", "key": k} for k in ("b", "c", "d", "e")]))
        self.assertEqual(out, {"version": 0, "created": False})
        rc, out, err = duro(SRV, "-n", "bad/ns", "snapshot", "get")
        self.assertEqual(rc, 2, err)


class NamespaceCommands(Base):
    ns = "cli-nsc"

    def test_ls_info_rm(self):
        for n in ("a", "b", "c"):
            rc, _, err = duro(SRV, "-n", "cli-nsl-" + n, "put", "k", "1")
            self.assertEqual(rc, 0, err)
        page, _ = self.duro("ns", "ls", "--prefix", "cli-nsl-", "--limit", "2")
        self.assertEqual([r["namespace"] for r in page["namespaces"]], ["cli-nsl-a", "cli-nsl-b"])
        self.assertEqual((page["total"], page["has_more"], page["next"]), (3, True, "cli-nsl-b"))
        page, _ = self.duro("ns", "ls", "--prefix", "cli-nsl-", "--after", page["next"])
        self.assertEqual([r["namespace"] for r in page["namespaces"]], ["cli-nsl-c"])
        rec, _ = self.duro("ns", "info", "cli-nsl-a")
        self.assertEqual((rec["namespace"], rec["keys"], rec["tables"], rec["blobs"]),
                         ("cli-nsl-a", 1, 0, 0))
        # rm wants --yes (exit 2, nothing deleted)
        _, err = self.duro("ns", "rm", "cli-nsl-a", want=2)
        self.assertIn("--yes", err)
        self.duro("ns", "info", "cli-nsl-a")
        out, _ = self.duro("ns", "rm", "cli-nsl-a", "--yes")
        self.assertEqual(out, {"deleted": True})
        self.duro("ns", "info", "cli-nsl-a", want=1)
        self.duro("ns", "rm", "cli-nsl-a", "--yes", want=1)
        self.duro("ns", "ls", "--limit", "1001", want=2)
        self.duro("ns", "info", want=2)

    def test_info(self):
        info, _ = self.duro("info")
        for field in ("version", "uptime_ms", "sync", "actors", "namespaces_open",
                      "namespaces_total", "cache_bytes", "cache_hit_rate", "commits",
                      "data_bytes", "disk_free_bytes"):
            self.assertIn(field, info)
        self.assertEqual(info["sync"], "full")


class ResourceCommands(Base):
    ns = "cli-res"

    def names(self, listing):
        return ["%s/%s/%s" % (r["namespace"], r["type"], r["key"])
                for r in listing["resources"]]

    def test_register_list_stats_unregister(self):
        before, _ = self.duro("resources", "stats")
        for field in ("total", "by_type", "by_namespace", "total_size"):
            self.assertIn(field, before)
        rec, _ = self.duro("resources", "register", "do", "counter:1", "--size", "12",
                           "--metadata", '{"class":"Counter"}')
        self.assertEqual({k: rec[k] for k in ("type", "namespace", "key", "size", "metadata")},
                         {"type": "do", "namespace": self.ns, "key": "counter:1", "size": 12,
                          "metadata": {"class": "Counter"}})
        self.assertRegex(rec["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(rec["updated_at"], rec["created_at"])
        # again: updated (size given as --size=, no metadata: replaced by null)
        rec2, _ = self.duro("resources", "register", "do", "counter:1", "--size=20")
        self.assertEqual((rec2["size"], rec2["metadata"], rec2["created_at"]),
                         (20, None, rec["created_at"]))
        self.duro("resources", "register", "r2", "bucket", "--metadata", "{}")
        # --namespace before the command is the global namespace (like -n)
        rc, out, err = duro(SRV, "--namespace", "cli-res2", "resources", "register", "do", "x")
        self.assertEqual((rc, json.loads(out)["namespace"]), (0, "cli-res2"), err)
        self.duro("put", "kvkey", '"v"')                   # KV keys are tracked as "kv"
        # list: (namespace, type, key) order; after the command --namespace
        # filters, whatever -n says
        listing, _ = self.duro("resources", "list", "--namespace", self.ns)
        self.assertEqual(self.names(listing), ["cli-res/do/counter:1", "cli-res/kv/kvkey",
                                               "cli-res/r2/bucket"])
        self.assertEqual((listing["total"], listing["offset"], listing["limit"],
                          listing["has_more"]), (3, 0, 100, False))
        listing, _ = self.duro("resources", "list", "--namespace=cli-res2")
        self.assertEqual(self.names(listing), ["cli-res2/do/x"])
        listing, _ = self.duro("resources", "list", "--namespace", self.ns, "--limit", "1",
                               "--offset", "1")
        self.assertEqual(self.names(listing), ["cli-res/kv/kvkey"])
        self.assertEqual((listing["total"], listing["has_more"]), (3, True))
        listing, _ = self.duro("resources", "list", "--namespace", self.ns, "--limit", "0")
        self.assertEqual((listing["resources"], listing["total"]), ([], 3))
        listing, _ = self.duro("resources", "list", "--type", "do", "--prefix", "counter")
        self.assertIn("cli-res/do/counter:1", self.names(listing))
        self.assertNotIn("cli-res2/do/x", self.names(listing))
        listing, _ = self.duro("resources", "list", "--type", "do", "--namespace", "cli-res2",
                               "--prefix", "x")
        self.assertEqual(self.names(listing), ["cli-res2/do/x"])
        # stats: what was added
        after, _ = self.duro("resources", "stats")
        self.assertEqual(after["total"], before["total"] + 4)
        self.assertEqual(after["by_type"]["do"], before["by_type"]["do"] + 2)
        self.assertEqual(after["by_type"]["r2"], before["by_type"]["r2"] + 1)
        self.assertEqual(after["by_namespace"][self.ns], 3)
        self.assertEqual(after["by_namespace"]["cli-res2"], 1)
        self.assertGreaterEqual(after["total_size"], before["total_size"] + 20)
        # bad input: exit 2, nothing registered
        _, err = self.duro("resources", "register", "kv", "kvkey", want=2)
        self.assertIn("kv", err)
        self.duro("resources", "register", "bad type", "k", want=2)
        self.duro("resources", "register", "do", "k", "--metadata", "[1]", want=2)
        self.duro("resources", "register", "do", "k", "--metadata", "{bad", want=2)
        self.duro("resources", "register", "do", "k", "--size", "9007199254740992", want=2)
        self.duro("resources", "unregister", "kv", "kvkey", want=2)
        self.duro("resources", "list", "--namespace", "bad/ns", want=2)
        self.duro("resources", "list", "--type", "no spaces", want=2)
        rc, out, err = duro(SRV, "-n", "bad/ns", "resources", "register", "do", "k")
        self.assertEqual(rc, 2, err)
        self.assertEqual(self.duro("resources", "list", "--namespace", self.ns)[0]["total"], 3)
        # unregister
        self.assertEqual(self.duro("resources", "unregister", "do", "counter:1")[0],
                         {"deleted": True})
        self.assertEqual(self.duro("resources", "unregister", "do", "counter:1")[0],
                         {"deleted": False})
        self.duro("resources", "unregister", "r2", "bucket")
        rc, out, err = duro(SRV, "-n", "cli-res2", "resources", "unregister", "do", "x")
        self.assertEqual((rc, json.loads(out)), (0, {"deleted": True}), err)
        self.duro("del", "kvkey")
        listing, _ = self.duro("resources", "list", "--namespace", self.ns)
        self.assertEqual((listing["resources"], listing["total"]), ([], 0))

NO_ENV_PASSWORDS = {"DURO_PASSWORD": "", "DURO_NEW_PASSWORD": ""}  # empty: unset


class Auth(Base):
    ns = "cli-auth"

    def auth(self, *args, stdin=None, env=None, want=0):
        """duro auth args with stdin and env (the password variables empty,
        i.e. unset, unless given)."""
        full = dict(NO_ENV_PASSWORDS)
        full.update(env or {})
        return self.duro("auth", *args, input=stdin, env=full, want=want)

    def test_register_login_session_password_logout(self):
        out, _ = self.auth("register", "Ada@Example.com", stdin="correct horse\n")
        uid = out["userId"]
        self.assertRegex(uid, r"^[0-9a-f]{32}$")
        _, err = self.auth("register", "ada@example.com", stdin="another one\n", want=4)
        self.assertIn("conflict", err)
        # a wrong password: exit 6, the server's message, and never the password
        _, err = self.auth("login", "ada@example.com", stdin="wrong horse\n", want=6)
        self.assertIn("invalid email or password", err)
        self.assertNotIn("wrong horse", err)
        _, err = self.auth("login", "nobody@example.com", stdin="wrong horse\n", want=6)
        self.assertIn("invalid email or password", err)
        # the password from the environment; --ttl
        t0 = int(time.time() * 1000)
        s1, _ = self.auth("login", "ada@example.com", env={"DURO_PASSWORD": "correct horse"})
        self.assertEqual(list(s1), ["sessionId", "expiresAt", "userId"])
        self.assertEqual(s1["userId"], uid)
        self.assertRegex(s1["sessionId"], r"^[A-Za-z0-9_-]{43}$")
        self.assertGreater(s1["expiresAt"], t0 + 86400000 - 5000)
        s2, _ = self.auth("login", "ada@example.com", "--ttl", "60000", stdin="correct horse\n")
        self.assertLess(s2["expiresAt"], t0 + 60000 + 30000)
        out, _ = self.auth("session", "--", s2["sessionId"])
        self.assertEqual(out["userId"], uid)
        self.assertGreaterEqual(out["expiresAt"], s2["expiresAt"])
        # a password change from s1: two lines of stdin; s2 ends
        out, _ = self.auth("password", "--", s1["sessionId"],
                           stdin="correct horse\nbattery staple\n")
        self.assertEqual(out, {"deleted": 1})
        _, err = self.auth("session", "--", s2["sessionId"], want=6)
        self.assertIn("no such session", err)
        self.assertNotIn(s2["sessionId"], err)
        self.auth("login", "ada@example.com", stdin="correct horse\n", want=6)
        self.auth("login", "ada@example.com", stdin="battery staple\n")
        # both from the environment, or the current one from it and the new from stdin
        out, _ = self.auth("password", "--", s1["sessionId"],
                           env={"DURO_PASSWORD": "battery staple",
                                "DURO_NEW_PASSWORD": "correct horse"})
        self.assertEqual(out, {"deleted": 1})
        out, _ = self.auth("password", "--", s1["sessionId"],
                           env={"DURO_PASSWORD": "correct horse"}, stdin="third password\n")
        self.assertEqual(out, {"deleted": 0})
        _, err = self.auth("password", "--", s1["sessionId"],
                           stdin="correct horse\nfourth password\n", want=6)
        self.assertIn("current password is wrong", err)
        # logout, twice
        self.assertEqual(self.auth("logout", "--", s1["sessionId"])[0], {"deleted": True})
        self.assertEqual(self.auth("logout", "--", s1["sessionId"])[0], {"deleted": False})
        self.auth("session", "--", s1["sessionId"], want=6)
        self.auth("password", "--", s1["sessionId"], stdin="third password\nxxxxxxxxx\n",
                  want=6)

    def test_password_input(self):
        # a CRLF line, a last line without a newline, lines past the ones needed
        self.auth("register", "crlf@example.com", stdin="crlf password\r\n")
        self.auth("login", "crlf@example.com", env={"DURO_PASSWORD": "crlf password"})
        self.auth("register", "eof@example.com", stdin="no newline")
        self.auth("login", "eof@example.com", stdin="no newline\nignored\n")
        # an empty variable is unset: stdin is read
        self.auth("login", "eof@example.com", env={"DURO_PASSWORD": ""}, stdin="no newline\n")
        # nothing to read, too long, too short (the server's check), a bad email
        _, err = self.auth("register", "none@example.com", stdin="", want=2)
        self.assertIn("no password", err)
        self.assertIn("DURO_PASSWORD", err)
        _, err = self.auth("register", "long@example.com", stdin="p" * 1025 + "\n", want=2)
        self.assertIn("over 1024 bytes", err)
        _, err = self.auth("register", "long@example.com", stdin="p" * 1025 + "\r\n", want=2)
        self.assertIn("over 1024 bytes", err)
        self.auth("register", "long@example.com", stdin="p" * 1024 + "\r\n")
        self.auth("login", "long@example.com", env={"DURO_PASSWORD": "p" * 1024})
        _, err = self.auth("register", "long@example.com", want=2,
                           env={"DURO_PASSWORD": "p" * 1025})
        self.assertIn("DURO_PASSWORD is over 1024 bytes", err)
        _, err = self.auth("register", "short@example.com", stdin="short\n", want=2)
        self.assertIn("\"password\"", err)
        _, err = self.auth("register", "not-an-email", stdin="long enough\n", want=2)
        self.assertIn("\"email\"", err)
        # password: the new one missing
        sid = self.auth("login", "eof@example.com", stdin="no newline\n")[0]["sessionId"]
        _, err = self.auth("password", "--", sid, stdin="no newline\n", want=2)
        self.assertIn("no new password", err)
        self.assertIn("DURO_NEW_PASSWORD", err)
        self.auth("session", "--", sid)  # nothing changed

    def test_passwords_are_never_arguments(self):
        # no subcommand takes a password argument or option: usage errors,
        # before any connection (a closed port would be exit 3), that do not
        # repeat the password
        url = "duro://127.0.0.1:%d?connect_timeout_ms=1000" % clitest.closed_port()
        for args in (["register", "a@b.c", "hunter2hunter2"],
                     ["login", "a@b.c", "hunter2hunter2"],
                     ["login", "a@b.c", "--password", "hunter2hunter2"],
                     ["login", "a@b.c", "--password=hunter2hunter2"],
                     ["password", "someid", "hunter2hunter2", "hunter3hunter3"],
                     ["session", "someid", "hunter2hunter2"]):
            rc, out, err = duro(url, "auth", *args, input="pw from stdin\n",
                                env=NO_ENV_PASSWORDS)
            self.assertEqual((rc, out), (2, ""), "duro auth %s: %r" % (args, err))
            self.assertNotIn("hunter", err, args)
            self.assertIn("usage: duro", err, args)
        rc, out, err = duro(None, "help", "auth")
        self.assertNotIn("PASSWORD ", re.sub(r"\$DURO_(NEW_)?PASSWORD", "", out))

    def test_terminal_prompt_without_echo(self):
        # stdin a terminal: the prompt on stderr, echo off while the line is typed
        master, slave = os.openpty()
        env = dict(os.environ)
        env.update(NO_ENV_PASSWORDS)
        p = subprocess.Popen([clitest.cli_bin(), "-u", SRV.url, "-n", self.ns, "auth",
                              "register", "tty@example.com"], stdin=slave,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                             preexec_fn=clitest._pdeathsig)
        os.close(slave)
        try:
            seen = b""
            deadline = time.monotonic() + 30
            while b"Password: " not in seen and time.monotonic() < deadline:
                if select.select([p.stderr], [], [], 1)[0]:
                    chunk = os.read(p.stderr.fileno(), 256)
                    if not chunk:
                        break
                    seen += chunk
            self.assertIn(b"Password: ", seen)
            os.write(master, b"typed password\n")
            out, err = p.communicate(timeout=30)
        except BaseException:
            p.kill()
            p.wait(10)
            raise
        finally:
            echoed = b""
            try:
                while select.select([master], [], [], 0.2)[0]:
                    echoed += os.read(master, 1024)
            except OSError:  # EIO once the terminal has no process left
                pass
            os.close(master)
        self.assertEqual(p.returncode, 0, err)
        self.assertRegex(json.loads(out)["userId"], r"^[0-9a-f]{32}$")
        self.assertNotIn(b"typed password", echoed)
        self.auth("login", "tty@example.com", stdin="typed password\n")


class AuthThrottle(Base):
    ns = "cli-auth-throttle"

    def test_throttled_login_exits_5(self):
        env = NO_ENV_PASSWORDS
        self.duro("auth", "register", "tim@example.com", input="correct horse\n", env=env)
        for _ in range(5):
            self.duro("auth", "login", "tim@example.com", input="wrong horse\n", env=env, want=6)
        _, err = self.duro("auth", "login", "tim@example.com", input="correct horse\n", env=env,
                           want=5)
        self.assertIn("rate limited", err)


class OutputModes(Base):
    ns = "cli-output"

    def run_raw(self, *args):
        rc, out, err = duro(SRV, "-n", self.ns, *args)
        self.assertEqual(rc, 0, err)
        return out

    def test_raw_json_and_table(self):
        self.duro("put", "greet", "hello", "-s")
        self.duro("put", "esc", '"tab\\there \\"q\\""')
        self.duro("put", "obj", '{"a": [1, 2]}')
        # piped, no -o: compact JSON as ever
        self.assertEqual(self.run_raw("get", "greet"), '"hello"\n')
        self.assertEqual(self.run_raw("get", "obj"), '{"a":[1,2]}\n')
        for args in (("get", "greet", "--raw"), ("--raw", "get", "greet"),
                     ("-o", "raw", "get", "greet"), ("get", "greet", "--output=raw")):
            self.assertEqual(self.run_raw(*args), "hello\n", args)
        self.assertEqual(self.run_raw("get", "esc", "--raw"), 'tab\there "q"\n')
        self.assertEqual(self.run_raw("get", "obj", "--raw"), '{"a":[1,2]}\n')
        self.assertEqual(self.run_raw("-o", "json", "get", "obj"), '{"a":[1,2]}\n')
        # table: a header and a row per key
        lines = self.run_raw("ls", "-o", "table").splitlines()
        self.assertEqual(lines, ["KEY", "esc", "greet", "obj"])
        lines = self.run_raw("ls", "--values", "-o", "table").splitlines()
        self.assertEqual(lines[0].split(), ["KEY", "VALUE", "EXPIRESAT"])
        self.assertEqual(lines[2].split(), ["greet", "hello", "null"])
        self.assertEqual(lines[3].split(), ["obj", '{"a":[1,2]}', "null"])
        lines = self.run_raw("-o", "table", "ns", "ls", "--prefix", self.ns).splitlines()
        self.assertEqual(lines[0].split()[:2], ["NAMESPACE", "KEYS"])
        self.assertEqual(lines[1].split()[:2], [self.ns, "3"])
        lines = self.run_raw("-o", "table", "resources", "list", "--namespace",
                             self.ns).splitlines()
        self.assertEqual(lines[0].split()[:3], ["TYPE", "NAMESPACE", "KEY"])
        self.assertEqual(len(lines), 4)
        lines = self.run_raw("-o", "table", "session", "list", "nobody").splitlines()
        self.assertEqual(len(lines), 1)  # the header only
        # table on a reply that is not a list: as json
        self.assertEqual(self.run_raw("-o", "table", "get", "obj"), '{"a":[1,2]}\n')
        for bad in (("-o", "yaml", "get", "obj"), ("get", "obj", "-o")):
            rc, out, err = duro(SRV, "-n", self.ns, *bad)
            self.assertEqual((rc, out), (2, ""), bad)

    def test_terminal_gets_indented_json(self):
        self.duro("put", "obj", '{"a": [1, 2]}')
        master, slave = os.openpty()
        p = subprocess.Popen([clitest.cli_bin(), "-u", SRV.url, "-n", self.ns, "get", "obj"],
                             stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE,
                             preexec_fn=clitest._pdeathsig)
        os.close(slave)
        seen = b""
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if select.select([master], [], [], 1)[0]:
                    try:
                        chunk = os.read(master, 4096)
                    except OSError:  # EIO: the process has gone
                        break
                    if not chunk:
                        break
                    seen += chunk
                elif p.poll() is not None:
                    break
            p.wait(30)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(10)
            os.close(master)
            err = p.stderr.read()
            p.stderr.close()
        self.assertEqual(p.returncode, 0, err)
        text = seen.decode().replace("\r\n", "\n")
        self.assertIn('{\n  "a": [\n    1,\n    2\n  ]\n}\n', text)
        self.assertEqual(json.loads(text), {"a": [1, 2]})


class ExportImport(Base):
    ns = "cli-export"

    def test_export_then_import_elsewhere(self):
        dst = self.ns + "-dst"
        duro(SRV, "-n", dst, "clear")
        entries = [{"key": "k%04d" % i, "value": {"i": i}} for i in range(2500)]
        self.duro("batch-set", "-", input=json.dumps(entries[:1000]))
        self.duro("batch-set", "-", input=json.dumps(entries[1000:2000]))
        self.duro("batch-set", "-", input=json.dumps(entries[2000:]))
        self.duro("put", "meta", '"m"', "--metadata", '{"owner":"ada"}', "--ttl", "1h")
        self.duro("put", "other:x", "[1]")
        rc, dump, err = duro(SRV, "-n", self.ns, "export")
        self.assertEqual(rc, 0, err)
        lines = [json.loads(l) for l in dump.splitlines()]
        self.assertEqual(len(lines), 2502)
        self.assertEqual(lines[0], {"key": "k0000", "value": {"i": 0}})
        meta = [l for l in lines if l["key"] == "meta"][0]
        self.assertEqual(meta["metadata"], {"owner": "ada"})
        self.assertGreater(meta["expiresAt"], time.time() * 1000)
        path = os.path.join(clitest.tempdir(), "dump.jsonl")
        with open(path, "w") as f:
            f.write(dump)
        rc, out, err = duro(SRV, "-n", dst, "import", path)
        self.assertEqual((rc, json.loads(out)), (0, {"imported": 2502, "expired": 0,
                                                      "skipped": 0}), err)
        rc, again, err = duro(SRV, "-n", dst, "export")
        strip = lambda l: {k: v for k, v in json.loads(l).items() if k != "expiresAt"}
        self.assertEqual([strip(l) for l in again.splitlines()],
                         [strip(l) for l in dump.splitlines()])
        rc, out, err = duro(SRV, "-n", dst, "get", "meta", "--meta")
        self.assertEqual(json.loads(out)["metadata"], {"owner": "ada"})
        self.assertIsNotNone(json.loads(out)["expiresAt"])
        # --prefix, and stdin
        rc, out, err = duro(SRV, "-n", self.ns, "export", "--prefix", "other:")
        self.assertEqual(out, '{"key":"other:x","value":[1]}\n')
        duro(SRV, "-n", dst, "clear")
        rc, out, err = duro(SRV, "-n", dst, "import", "-", input=out)
        self.assertEqual((rc, json.loads(out)["imported"]), (0, 1), err)
        duro(SRV, "-n", dst, "clear")

    def test_export_import_bytes(self):
        # a bin value leaves as {"$bytes": base64} and comes back as bytes
        src, dst = self.ns + "-b", self.ns + "-b-dst"
        duro(SRV, "-n", dst, "clear")
        with durotest.Rpc(SRV.rpc_port) as c:
            st, _ = c.call("kv.put", src, {"key": "raw", "value": bytes(range(256))})
            self.assertEqual(st, 0)
            st, _ = c.call("kv.put", src, {"key": "nested", "value": {"a": [b"\x00", 1]}})
            self.assertEqual(st, 0)
        rc, dump, err = duro(SRV, "-n", src, "export")
        self.assertEqual(rc, 0, err)
        lines = {l["key"]: l["value"] for l in map(json.loads, dump.splitlines())}
        self.assertEqual(lines, {"raw": {"$bytes": base64.b64encode(bytes(range(256))).decode()},
                                 "nested": {"a": [{"$bytes": "AA=="}, 1]}})
        rc, out, err = duro(SRV, "-n", dst, "import", "-", input=dump)
        self.assertEqual((rc, json.loads(out)["imported"]), (0, 2), err)
        with durotest.Rpc(SRV.rpc_port) as c:
            self.assertEqual(c.call("kv.get", dst, {"key": "raw"}), (0, bytes(range(256))))
            self.assertEqual(c.call("kv.get", dst, {"key": "nested"}), (0, {"a": [b"\x00", 1]}))
        duro(SRV, "-n", dst, "clear")
        duro(SRV, "-n", src, "clear")

    def test_malformed_line_and_skip(self):
        text = ('{"key":"a","value":1}\n'
                '\n'
                '{"key":"b","value":"two","metadata":{"m":2}}\n'
                '{"key":"c"}\n'
                '{"key":"d","value":4}\n'
                '{"key":"gone","value":0,"expiresAt":1000}\n')
        rc, out, err = duro(SRV, "-n", self.ns, "import", "-", input=text)
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("line 4", err)
        self.assertIn("--skip 3", err)
        self.assertEqual(self.duro("ls")[0]["keys"], ["a", "b"])
        rc, out, err = duro(SRV, "-n", self.ns, "import", "-", "--skip", "4", input=text)
        self.assertEqual((rc, json.loads(out)), (0, {"imported": 1, "expired": 1,
                                                      "skipped": 4}), err)
        self.assertEqual(self.duro("ls")[0]["keys"], ["a", "b", "d"])
        rc, out, err = duro(SRV, "-n", self.ns, "import", "-",
                            input='{"key":"e","value":5}\n{"key":"f","value":6,"ttl":1}\n')
        self.assertEqual((rc, out), (2, ""), err)
        self.assertIn("line 2", err)
        self.assertEqual(self.duro("get", "e")[0], 5)
        # stderr a terminal: a progress line; stdout (a pipe) still gets the JSON
        path = os.path.join(clitest.tempdir(), "p.jsonl")
        with open(path, "w") as f:
            f.write("".join('{"key":"p%d","value":%d}\n' % (i, i) for i in range(1500)))
        master, slave = os.openpty()
        p = subprocess.Popen([clitest.cli_bin(), "-u", SRV.url, "-n", self.ns, "import", path],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                             preexec_fn=clitest._pdeathsig)
        os.close(slave)
        seen = b""
        try:
            out, _ = p.communicate(timeout=60)
            while select.select([master], [], [], 0.2)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the process has gone
                    break
                if not chunk:
                    break
                seen += chunk
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(10)
            os.close(master)
        self.assertEqual((p.returncode, json.loads(out)["imported"]), (0, 1500), seen)
        self.assertIn(b"1000 lines, 1000 keys", seen)
        self.assertIn(b"1500 lines, 1500 keys", seen)
        for bad in (["import"], ["import", "/nonexistent/x.jsonl"], ["import", "-", "--skip", "x"],
                    ["export", "extra"]):
            rc, out, err = duro(SRV, "-n", self.ns, *bad, input="")
            self.assertEqual((rc, out), (2, ""), bad)


class Prompt(unittest.TestCase):
    """`duro` with no command on a terminal is a prompt: each line a command
    over one connection, quoting like a shell, history kept in
    $HOME/.duro_history, Tab completing commands and subcommands; quit or
    end of input leaves. Not on a terminal, `duro` alone is still the usage
    error it always was."""

    def session(self, keys, home):
        master, slave = os.openpty()
        env = dict(os.environ, HOME=home, TERM="dumb")
        p = subprocess.Popen([clitest.cli_bin(), "-u", SRV.url, "-n", "cli-prompt"],
                             stdin=slave, stdout=slave, stderr=slave, env=env,
                             preexec_fn=clitest._pdeathsig)
        os.close(slave)
        seen = b""
        try:
            for chunk in keys:
                # each chunk only once the prompt is up: libedit flushes input
                # that arrives while it sets the terminal up (slow under ASan)
                os.write(master, chunk)
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:  # read until the next prompt
                    if select.select([master], [], [], 0.1)[0]:
                        try:
                            data = os.read(master, 65536)
                        except OSError:
                            data = b""
                        if not data:
                            break
                        seen += data
                        if seen.rstrip().endswith(b"duro>"):
                            time.sleep(0.05)
                            break
            p.wait(20)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(10)
            os.close(master)
        return p.returncode, seen.decode("utf-8", "replace")

    def test_prompt(self):
        home = clitest.tempdir("duro-home-")
        rc, seen = self.session([b"", b"put greet 'hello world' -s\r", b"get greet --raw\r",
                                 b"ge\t nope\r", b"sess\tl\tu\r", b"put bad 'x\r",
                                 b"quit\r"], home)
        self.assertEqual(rc, 0, seen)
        self.assertIn('"version": 1', seen)        # a terminal gets indented JSON
        self.assertIn("hello world", seen)
        self.assertIn("(exit 1)", seen)             # get nope, completed from "ge"
        self.assertIn("duro> get  nope", seen)      # Tab completed "ge" to "get "
        self.assertIn("duro> session list u", seen)  # "sess" and "l", completed
        self.assertIn('"count": 0', seen)
        self.assertIn("unbalanced quote", seen)
        with open(os.path.join(home, ".duro_history")) as f:
            hist = f.read()
        self.assertIn("get greet --raw", hist.replace("\\040", " "))  # libedit's format
        # end of input leaves too, and the history is read back
        rc, seen = self.session([b"", b"\x04"], home)
        self.assertEqual(rc, 0, seen)

    def test_not_a_terminal_is_still_usage(self):
        rc, out, err = duro(SRV, input="")
        self.assertEqual((rc, out), (2, ""))
        self.assertIn("usage:", err)


class Embedded(unittest.TestCase):
    def test_file_url(self):
        d = clitest.tempdir("duro-cli-embedded-")
        url = "file://" + d
        rc, out, err = duro(url, "put", "k", '{"e":1}')
        self.assertEqual(rc, 0, err)
        rc, out, err = duro(url, "get", "k")      # a second process: the data is on disk
        self.assertEqual((rc, json.loads(out)), (0, {"e": 1}), err)
        rc, out, err = duro(url, "get", "nope")
        self.assertEqual(rc, 1, err)
        rc, out, err = duro(url, "ls")
        self.assertEqual(json.loads(out)["keys"], ["k"])
        # rate limits and sessions live in the directory too: each process
        # sees what the previous one left
        rc, out, err = duro(url, "ratelimit", "check", "k", "--limit", "1", "--window", "60000")
        self.assertEqual((rc, json.loads(out)["allowed"]), (0, True), err)
        rc, out, err = duro(url, "ratelimit", "check", "k", "--limit", "1", "--window", "60000")
        self.assertEqual((rc, json.loads(out)["allowed"]), (5, False), err)
        rc, out, err = duro(url, "session", "create", '{"e":2}', "--ttl", "60000", "--user", "u")
        self.assertEqual(rc, 0, err)
        sid = json.loads(out)["id"]
        rc, out, err = duro(url, "session", "get", "--", sid)
        self.assertEqual((rc, json.loads(out)["data"]), (0, {"e": 2}), err)
        rc, out, err = duro(url, "session", "list", "u")
        self.assertEqual((rc, json.loads(out)["count"]), (0, 1), err)
        # the snapshot and the registry too
        rc, out, err = duro(url, "snapshot", "get", "--meta")
        self.assertEqual((rc, json.loads(out)["data"]), (0, {"k": {"e": 1}}), err)
        etag = json.loads(out)["version"]
        self.assertGreater(etag, 0)
        rc, out, err = duro(url, "snapshot", "patch", '[{"op":"set","key":"p","value":2}]',
                            "--if-match", str(etag))
        self.assertEqual((rc, json.loads(out)["created"]), (0, False), err)
        self.assertGreater(json.loads(out)["version"], etag)
        rc, out, err = duro(url, "snapshot", "patch", '[{"op":"del","key":"p"}]',
                            "--if-match", str(etag))
        self.assertEqual(rc, 4, err)
        rc, out, err = duro(url, "resources", "register", "do", "obj", "--size", "7")
        self.assertEqual((rc, json.loads(out)["size"]), (0, 7), err)
        rc, out, err = duro(url, "resources", "list", "--namespace", "default")
        self.assertEqual(rc, 0, err)
        self.assertEqual([(r["type"], r["key"]) for r in json.loads(out)["resources"]],
                         [("do", "obj"), ("kv", "k"), ("kv", "p")])
        rc, out, err = duro(url, "resources", "stats")
        self.assertEqual((rc, json.loads(out)["total"]), (0, 3), err)
        rc, out, err = duro(url, "resources", "register", "kv", "k")
        self.assertEqual(rc, 2, err)
        rc, out, err = duro(url, "resources", "list", "--limit", "5000")
        self.assertEqual(rc, 2, err)
        # the server's data directory is locked while it runs: exit 3
        rc, out, err = duro("file://" + SRV.data_dir, "get", "k")
        self.assertEqual(rc, 3, err)
        self.assertIn("lock", err.lower())


if __name__ == "__main__":
    clitest.main(watchdog_seconds=280)
