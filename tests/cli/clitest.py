"""
clitest.py — what the tests of the `duro` CLI and the examples add to the
integration harness (tests/integration/durotest.py, which starts the servers,
picks the ports, waits until they are ready and runs the watchdog):

    srv = Server()                       # durod with HTTP and binary protocol
    rc, out, err = duro(srv, "put", "k", "1")
    srv.stop()                           # SIGTERM, returns the exit status

Only the PIDs this harness started are ever signalled; every child process
has a timeout; main() runs the module's unittest cases under durotest's
watchdog. Run with /usr/bin/python3.

Binaries come from the environment (set by ctest), else from build/:
  DURO_BIN        durod              (default build/durod)
  DURO_CLI_BIN    the duro CLI       (default build/duro)
  DURO_KV_BASIC   examples/kv_basic  (default build/examples/kv_basic)
  DURO_HTTP_CURL  examples/http_curl.sh
"""

import atexit
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
import durotest  # noqa: E402
from durotest import _pdeathsig, free_port  # noqa: E402,F401  (used by the test modules)

START_TIMEOUT = 15.0   # seconds until both ports answer
STOP_TIMEOUT = durotest.STOP_TIMEOUT
RUN_TIMEOUT = 60.0     # seconds for one CLI or example run

_servers = []          # every Server made here: closed at exit
_tmpdirs = []


def _path(env, default):
    return durotest.build_path(env, default)


def durod_bin():
    return _path("DURO_BIN", "build/durod")


def cli_bin():
    return _path("DURO_CLI_BIN", "build/duro")


def kv_basic_bin():
    return _path("DURO_KV_BASIC", "build/examples/kv_basic")


def http_curl_script():
    return _path("DURO_HTTP_CURL", "examples/http_curl.sh")


def closed_port():
    """A loopback port that nothing listens on (bound and closed just now)."""
    return free_port()


def tempdir(prefix="duro-cli-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


def run(argv, input=None, env=None, timeout=RUN_TIMEOUT):
    """Runs argv to completion; returns (exit status, stdout, stderr) as str.
    A run over `timeout` is killed (its own PID) and fails the test."""
    rc, out, err = durotest.run_to_end(argv, input=input, env=env, timeout=timeout)
    if rc is None:
        raise AssertionError("%s: still running after %.0f s\nstdout: %s\nstderr: %s"
                             % (" ".join(argv), timeout, out, err))
    return rc, out, err


class Server(durotest.Server):
    """durotest's Server with the binary protocol on a port of its own, as
    the CLI and the examples reach it: url (duro://) and http (http://)."""

    def __init__(self, extra_args=(), data_dir=None):
        super().__init__(extra_args=extra_args, data_dir=data_dir, start=False, rpc=True)
        _servers.append(self)
        self.start(timeout=START_TIMEOUT)

    @property
    def url(self):
        return "duro://127.0.0.1:%d" % self.rpc_port

    @property
    def http(self):
        return "http://127.0.0.1:%d" % self.port

    def log_text(self):
        return self.log_tail()


def duro(srv_or_url, *args, input=None, env=None, timeout=RUN_TIMEOUT):
    """Runs `duro -u URL args...`; srv_or_url is a Server, a URL, or None (no -u)."""
    argv = [cli_bin()]
    if isinstance(srv_or_url, Server):
        argv += ["-u", srv_or_url.url]
    elif srv_or_url is not None:
        argv += ["-u", srv_or_url]
    return run(argv + list(args), input=input, env=env, timeout=timeout)


def _cleanup():
    for s in _servers:
        s.kill()
        s.close()
    for d in _tmpdirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def main(watchdog_seconds=150, tests=()):
    """durotest.main: the module's unittest cases (tests: the names of those
    to run, default all) under a watchdog; exits 0 when every test passed."""
    for b in (durod_bin(), cli_bin()):
        if not os.access(b, os.X_OK):
            print("missing binary %s" % b, file=sys.stderr)
            sys.exit(1)
    durotest.main(timeout=watchdog_seconds, tests=tests)
