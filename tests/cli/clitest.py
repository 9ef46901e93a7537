"""
clitest.py — harness for the tests of the `duro` CLI and the examples.

Starts real `durod` processes on free loopback ports (HTTP and binary
protocol) with a temporary data directory, and runs the CLI and the example
programs against them:

    srv = Server()                       # started at once, waits until ready
    rc, out, err = duro(srv, "put", "k", "1")
    srv.stop()                           # SIGTERM, expects exit status 0

Only the PIDs this harness started are ever signalled; every child process
has a timeout; main() runs the module's unittest cases under a watchdog that
kills its own servers and exits non-zero on a hang. Standard library only,
run with /usr/bin/python3.

Binaries come from the environment (set by ctest), else from build/:
  DURO_BIN        durod              (default build/durod)
  DURO_CLI_BIN    the duro CLI       (default build/duro)
  DURO_KV_BASIC   examples/kv_basic  (default build/examples/kv_basic)
  DURO_HTTP_CURL  examples/http_curl.sh
"""

import atexit
import ctypes
import faulthandler
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
START_TIMEOUT = 15.0   # seconds until both ports answer
STOP_TIMEOUT = 20.0    # seconds for a SIGTERM'd server to exit
RUN_TIMEOUT = 60.0     # seconds for one CLI or example run

_live = []             # Server objects whose process may still run
_live_lock = threading.Lock()
_tmpdirs = []


def _path(env, default):
    p = os.environ.get(env) or default
    if not os.path.isabs(p):
        p = os.path.join(REPO_ROOT, p)
    return p


def durod_bin():
    return _path("DURO_BIN", "build/durod")


def cli_bin():
    return _path("DURO_CLI_BIN", "build/duro")


def kv_basic_bin():
    return _path("DURO_KV_BASIC", "build/examples/kv_basic")


def http_curl_script():
    return _path("DURO_HTTP_CURL", "examples/http_curl.sh")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def closed_port():
    """A loopback port that nothing listens on (bound and closed just now)."""
    return free_port()


def tempdir(prefix="duro-cli-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


def _pdeathsig():
    # Children die with the test process (Linux PR_SET_PDEATHSIG = 1, SIGKILL).
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def run(argv, input=None, env=None, timeout=RUN_TIMEOUT):
    """Runs argv to completion; returns (exit status, stdout, stderr) as str.
    A run over `timeout` is killed (its own PID) and fails the test."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=full_env, preexec_fn=_pdeathsig)
    try:
        out, err = p.communicate(input=input.encode() if isinstance(input, str) else input,
                                 timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate(timeout=10)
        raise AssertionError("%s: still running after %.0f s\nstdout: %s\nstderr: %s"
                             % (" ".join(argv), timeout, out.decode("utf-8", "replace"),
                                err.decode("utf-8", "replace")))
    return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


class Server:
    """One durod on free loopback ports with its own data directory."""

    def __init__(self, extra_args=(), data_dir=None):
        self.data_dir = data_dir or tempdir("duro-cli-data-")
        self.extra_args = list(extra_args)
        self.proc = None
        self.log = None
        for attempt in range(3):            # a free port may be taken meanwhile
            self.http_port, self.rpc_port = free_port(), free_port()
            if self.http_port == self.rpc_port:
                continue
            if self._start():
                return
        raise RuntimeError("durod did not start: %s" % self.log_text())

    @property
    def url(self):
        return "duro://127.0.0.1:%d" % self.rpc_port

    @property
    def http(self):
        return "http://127.0.0.1:%d" % self.http_port

    def log_text(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def _start(self):
        self.log_path = os.path.join(tempdir("duro-cli-log-"), "durod.log")
        self.log = open(self.log_path, "wb")
        argv = [durod_bin(), "--listen", "127.0.0.1:%d" % self.http_port,
                "--rpc-port", str(self.rpc_port), "--data", self.data_dir,
                "--log-level", "warn"] + self.extra_args
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=_pdeathsig)
        with _live_lock:
            _live.append(self)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._forget()
                return False
            if self._http_ready() and self._rpc_ready():
                return True
            time.sleep(0.05)
        self.kill()
        return False

    def _http_ready(self):
        try:
            with urllib.request.urlopen(self.http + "/healthz", timeout=2) as r:
                return r.status == 200
        except Exception:
            return False

    def _rpc_ready(self):
        try:
            with socket.create_connection(("127.0.0.1", self.rpc_port), timeout=2):
                return True
        except OSError:
            return False

    def _forget(self):
        with _live_lock:
            if self in _live:
                _live.remove(self)
        if self.log:
            self.log.close()
            self.log = None

    def stop(self):
        """SIGTERM; returns the exit status (SIGKILL after STOP_TIMEOUT)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._forget()
        return self.proc.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._forget()


def duro(srv_or_url, *args, input=None, env=None, timeout=RUN_TIMEOUT):
    """Runs `duro -u URL args...`; srv_or_url is a Server, a URL, or None (no -u)."""
    argv = [cli_bin()]
    if isinstance(srv_or_url, Server):
        argv += ["-u", srv_or_url.url]
    elif srv_or_url is not None:
        argv += ["-u", srv_or_url]
    return run(argv + list(args), input=input, env=env, timeout=timeout)


def _cleanup():
    with _live_lock:
        servers = list(_live)
    for s in servers:
        s.kill()
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def main(watchdog_seconds=150, tests=()):
    """unittest.main under a watchdog (on a hang: dump the stacks, kill our
    own servers, exit 1); tests names the cases to run (default: all).
    Exits 0 when every test passed, 1 otherwise."""
    for b in (durod_bin(), cli_bin()):
        if not os.access(b, os.X_OK):
            print("missing binary %s" % b, file=sys.stderr)
            sys.exit(1)
    faulthandler.enable()

    def fire():
        print("watchdog: test module still running after %d s" % watchdog_seconds,
              file=sys.stderr)
        faulthandler.dump_traceback(all_threads=True)
        _cleanup()
        os._exit(1)

    t = threading.Timer(watchdog_seconds, fire)
    t.daemon = True
    t.start()
    try:
        prog = unittest.main(module="__main__", verbosity=2, exit=False,
                             argv=[sys.argv[0]] + list(tests))
        ok = prog.result.wasSuccessful()
    finally:
        t.cancel()
        _cleanup()
    sys.exit(0 if ok else 1)
