#!/usr/bin/python3
"""docs/protocol.md's example frame is real: the hex bytes of its "request :"
line are sent as they are to a durod, which must answer the documented reply
(status 1, NOT_FOUND, for a key that is not there; then the value once it
is). A client written from the page would otherwise hang on a wrong length."""
import os
import re
import socket
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from durotest import REPO_ROOT, ServerTestCase, St, free_port, kv_path, main, mp_unpack  # noqa: E402

RPC_PORT = free_port()


def documented_request():
    with open(os.path.join(REPO_ROOT, "docs", "protocol.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"(?m)^request\s*:\s*((?:[0-9a-f]{2}\s+)+)", text)
    assert m, "no 'request :' line in docs/protocol.md"
    return bytes(int(h, 16) for h in m.group(1).split())


class ProtocolDoc(ServerTestCase):
    server_args = ["--rpc-port", str(RPC_PORT)]

    def roundtrip(self, data):
        s = socket.create_connection(("127.0.0.1", RPC_PORT), timeout=5)
        try:
            s.sendall(data)
            head = s.recv(4, socket.MSG_WAITALL)
            (n,) = struct.unpack(">I", head)
            return mp_unpack(s.recv(n, socket.MSG_WAITALL))
        finally:
            s.close()

    def test_the_documented_frame_is_answered(self):
        data = documented_request()
        (n,) = struct.unpack(">I", data[:4])
        self.assertEqual(n, len(data) - 4, "the example's length prefix is wrong")
        self.assertEqual(mp_unpack(data[4:]), [1, "kv.get", "app", {"key": "user1"}])
        msgid, status, body = self.roundtrip(data)
        self.assertEqual((msgid, status, body["code"]), (1, St.NOT_FOUND, "NOT_FOUND"))
        self.assertEqual(self.req("PUT", kv_path("user1", ns="app"), {"value": "Ada"}).status, 200)
        self.assertEqual(self.roundtrip(data), [1, St.OK, "Ada"])


if __name__ == "__main__":
    main()
