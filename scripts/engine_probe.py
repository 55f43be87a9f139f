#!/usr/bin/env python3
"""Readiness probe for scripts/engines: sends one real request to an engine.

    engine_probe.py kafka HOST PORT

exits 0 when the Kafka node at HOST:PORT answers a Metadata request (v1) that
names at least one broker and a controller, i.e. the combined node has
registered itself and can take produce requests; 1 otherwise. The request is
written by hand so that the probe needs nothing but Python.
"""

import socket
import struct
import sys


def kafka_ready(host: str, port: int) -> bool:
    client_id = b"parley-probe"
    # Request header v1: api_key 3 (Metadata), api_version 1, correlation id,
    # client id; body: topics = [] (an empty array asks for no topics in v1).
    body = struct.pack(">hhih", 3, 1, 7, len(client_id)) + client_id + struct.pack(">i", 0)
    with socket.create_connection((host, port), timeout=2) as s:
        s.settimeout(2)
        s.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", read_exact(s, 4))[0]
        data = read_exact(s, size)
    correlation_id, broker_count = struct.unpack_from(">ii", data, 0)
    if correlation_id != 7 or broker_count < 1:
        return False
    pos = 8
    for _ in range(broker_count):
        pos += 4  # node id
        host_len = struct.unpack_from(">h", data, pos)[0]
        pos += 2 + host_len + 4  # host, port
        rack_len = struct.unpack_from(">h", data, pos)[0]
        pos += 2 + max(rack_len, 0)
    controller_id = struct.unpack_from(">i", data, pos)[0]
    return controller_id >= 0


def read_exact(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


def main() -> int:
    if len(sys.argv) != 4 or sys.argv[1] != "kafka":
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return 0 if kafka_ready(sys.argv[2], int(sys.argv[3])) else 1
    except (OSError, struct.error):
        return 1


if __name__ == "__main__":
    sys.exit(main())
