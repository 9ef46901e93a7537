"""
test_examples.py — builds nothing, runs the examples against a real durod:

  test_examples.py kv_basic_remote      examples/kv_basic duro://127.0.0.1:RPC
  test_examples.py kv_basic_embedded    examples/kv_basic file://TMP (twice)
  test_examples.py http_curl            examples/http_curl.sh with DURO_HTTP
  test_examples.py                      all three
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clitest  # noqa: E402


class Examples(unittest.TestCase):
    def check_kv_basic(self, url):
        rc, out, err = clitest.run([clitest.kv_basic_bin(), url])
        self.assertEqual(rc, 0, "kv_basic %s: exit %d\n%s\n%s" % (url, rc, out, err))
        for line in ("put user:1", "get user:1 -> {\"name\":\"Ada\",\"visits\":1}",
                     "CAS update at version", "stale CAS",
                     "list prefix user: ->", "get user:1 -> ", "ok"):
            self.assertIn(line, out)

    def test_kv_basic_remote(self):
        srv = clitest.Server()
        try:
            self.check_kv_basic(srv.url)
            self.check_kv_basic(srv.url)     # again: it cleans up after itself
        finally:
            self.assertEqual(srv.stop(), 0, srv.log_text())

    def test_kv_basic_embedded(self):
        d = clitest.tempdir("duro-kv-basic-")
        self.check_kv_basic("file://" + d)
        self.check_kv_basic("file://" + d)   # reopens the same directory
        self.assertTrue(os.path.isdir(os.path.join(d, "ns")), os.listdir(d))

    def test_http_curl(self):
        srv = clitest.Server()
        try:
            rc, out, err = clitest.run(["/bin/bash", clitest.http_curl_script()],
                                       env={"DURO_HTTP": srv.http})
            self.assertEqual(rc, 0, "http_curl.sh: exit %d\n%s\n%s" % (rc, out[-3000:], err))
            self.assertIn("every step answered as expected", out)
        finally:
            self.assertEqual(srv.stop(), 0, srv.log_text())


if __name__ == "__main__":
    names = ["Examples.test_" + a for a in sys.argv[1:]]
    clitest.main(watchdog_seconds=280, tests=names)
