#!/usr/bin/python3
"""A client on the wrong port is told so at once: an HTTP request on the
binary-protocol port gets a short HTTP 400 (the JSON error envelope) naming
--listen, a binary frame on the HTTP port gets a 400 naming --rpc-port, and
libduro / the duro CLI pointed at the HTTP port fail fast with that hint
instead of timing out; a body in curl -d's form encoding is told which
header is missing. The server stays up and serves both ports after."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import (Rpc, ServerTestCase, St, build_path, exchange, free_port,  # noqa: E402
                      frame, main, run_to_end)

RPC_PORT = free_port()


class WrongPort(ServerTestCase):
    server_args = ["--rpc-port", str(RPC_PORT)]

    def test_http_on_the_binary_port(self):
        for method in ("GET", "POST", "PUT", "HEAD", "DELETE", "OPTIONS", "PATCH"):
            t0 = time.monotonic()
            out = exchange(RPC_PORT, ("%s /healthz HTTP/1.1\r\nHost: x\r\n\r\n" % method).encode())
            self.assertLess(time.monotonic() - t0, 2.0)
            head, _, body = out.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 400 Bad Request\r\n"), out)
            self.assertIn(b"Connection: close", head)
            err = json.loads(body)
            self.assertEqual(err["success"], False)
            self.assertEqual(err["error"]["code"], "BAD_REQUEST")
            self.assertIn("--listen", err["error"]["message"])
            n = int([h for h in head.split(b"\r\n") if h.startswith(b"Content-Length:")][0]
                    .split(b":")[1])
            self.assertEqual(n, len(body))
        with Rpc(RPC_PORT) as c:  # and the port still speaks the protocol
            self.assertEqual(c.call("ping", "", {})[0], St.OK)

    def test_binary_frame_on_the_http_port(self):
        t0 = time.monotonic()
        out = exchange(self.server.port, frame([1, "kv.get", "default", {"key": "k"}]))
        self.assertLess(time.monotonic() - t0, 2.0)
        head, _, body = out.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 400"), out)
        self.assertIn("--rpc-port", json.loads(body)["error"]["message"])
        self.assertEqual(self.req("GET", "/healthz").status, 200)

    def test_form_encoded_body_names_the_missing_header(self):
        # what curl -d sends without -H 'Content-Type: application/json'
        r = self.req("PUT", "/storage/k?ns=" + self.ns, b'{"value":1}',
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual((r.status, r.body["error"]["code"]), (415, "UNSUPPORTED_MEDIA_TYPE"))
        self.assertIn("-H 'Content-Type: application/json'", r.body["error"]["message"])
        r = self.req("PUT", "/storage/k?ns=" + self.ns, b'{"value":1}',
                     headers={"Content-Type": "text/plain"})
        self.assertIn("not text/plain", r.body["error"]["message"])

    def test_cli_on_the_http_port_fails_fast_with_a_hint(self):
        cli = build_path("DURO_CLI_BIN", "build/duro")
        if not os.path.exists(cli):
            self.skipTest("no duro CLI at %s" % cli)
        t0 = time.monotonic()
        rc, out, err = run_to_end([cli, "-u", "duro://127.0.0.1:%d" % self.server.port,
                                   "get", "k"])
        self.assertLess(time.monotonic() - t0, 3.0)
        self.assertEqual((rc, out), (3, ""), err)
        self.assertIn("--rpc-port", err)


if __name__ == "__main__":
    main()
