#!/usr/bin/env python3
"""Readiness probe for scripts/engines: sends one real request to an engine.

    engine_probe.py kafka HOST PORT
    engine_probe.py cassandra HOST PORT [CQL]

kafka: exits 0 when the Kafka node at HOST:PORT answers a Metadata request
(v1) that names at least one broker and a controller, i.e. the combined node
has registered itself and can take produce requests; 1 otherwise. With
PARLEY_PROBE_KAFKA_USER and PARLEY_PROBE_KAFKA_PASSWORD_FILE set, it logs in
first (SASL PLAIN); with PARLEY_PROBE_KAFKA_CA_FILE, over TLS, checking the
broker's certificate against that CA and HOST.
cassandra: exits 0 when the node answers STARTUP with READY and the query
`SELECT release_version FROM system.local` with one row (CQL native protocol
v4); 1 otherwise. With PARLEY_PROBE_CQL_USER and PARLEY_PROBE_CQL_PASSWORD_FILE
set, it logs in when the node asks (PasswordAuthenticator: SASL PLAIN); with
CQL, it runs that statement after the query and wants a RESULT (scripts/engines
creates a role so). The requests are written by hand so that the probe needs
nothing but Python.
"""

import os

import socket
import ssl
import struct
import sys


def kafka_request(s: socket.socket, api_key: int, api_version: int, correlation_id: int, body: bytes) -> bytes:
    """One request (header v1: api key, version, correlation id, client id)
    and its response, less the size."""
    client_id = b"parley-probe"
    request = struct.pack(">hhih", api_key, api_version, correlation_id, len(client_id)) + client_id + body
    s.sendall(struct.pack(">i", len(request)) + request)
    size = struct.unpack(">i", read_exact(s, 4))[0]
    return read_exact(s, size)


def kafka_login(s: socket.socket, user: str, password: bytes) -> bool:
    """SASL PLAIN: SaslHandshake v1 naming PLAIN, then SaslAuthenticate v0
    carrying "\0user\0password"; whether both succeeded."""
    data = kafka_request(s, 17, 1, 5, struct.pack(">h", 5) + b"PLAIN")
    if struct.unpack_from(">ih", data, 0) != (5, 0):
        return False
    token = b"\0" + user.encode() + b"\0" + password
    data = kafka_request(s, 36, 0, 6, struct.pack(">i", len(token)) + token)
    return struct.unpack_from(">ih", data, 0) == (6, 0)


def kafka_ready(host: str, port: int) -> bool:
    user = os.environ.get("PARLEY_PROBE_KAFKA_USER", "")
    password_file = os.environ.get("PARLEY_PROBE_KAFKA_PASSWORD_FILE", "")
    ca_file = os.environ.get("PARLEY_PROBE_KAFKA_CA_FILE", "")
    with socket.create_connection((host, port), timeout=2) as raw:
        raw.settimeout(2)
        s = raw
        if ca_file:
            s = ssl.create_default_context(cafile=ca_file).wrap_socket(raw, server_hostname=host)
        if user:
            with open(password_file, "rb") as f:
                if not kafka_login(s, user, f.read().rstrip(b"\r\n")):
                    return False
        # Metadata v1; body: topics = [] (an empty array asks for no topics in v1).
        data = kafka_request(s, 3, 1, 7, struct.pack(">i", 0))
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


def cassandra_ready(host: str, port: int, cql: str = "") -> bool:
    def frame(stream: int, opcode: int, body: bytes) -> bytes:
        return struct.pack(">BBhBi", 0x04, 0, stream, opcode, len(body)) + body

    def long_string(text: str) -> bytes:
        data = text.encode()
        return struct.pack(">i", len(data)) + data

    startup = struct.pack(">H", 1) + b"".join(
        struct.pack(">H", len(x)) + x for x in (b"CQL_VERSION", b"3.0.0"))
    # QUERY: the query, consistency ONE, no flags.
    query = long_string("SELECT release_version FROM system.local") + struct.pack(">HB", 0x0001, 0)
    with socket.create_connection((host, port), timeout=2) as s:
        s.settimeout(5)
        s.sendall(frame(1, 0x01, startup))
        header = read_exact(s, 9)
        read_exact(s, struct.unpack_from(">i", header, 5)[0])
        if header[4] == 0x03:  # AUTHENTICATE: AUTH_RESPONSE with "\0user\0password"
            user = os.environ.get("PARLEY_PROBE_CQL_USER", "")
            password_file = os.environ.get("PARLEY_PROBE_CQL_PASSWORD_FILE", "")
            if not user or not password_file:
                return False
            with open(password_file, "rb") as f:
                password = f.read().rstrip(b"\r\n")
            token = b"\0" + user.encode() + b"\0" + password
            s.sendall(frame(1, 0x0F, struct.pack(">i", len(token)) + token))
            header = read_exact(s, 9)
            read_exact(s, struct.unpack_from(">i", header, 5)[0])
            if header[4] != 0x10:  # AUTH_SUCCESS
                return False
        elif header[4] != 0x02:  # READY
            return False
        s.sendall(frame(2, 0x07, query))
        header = read_exact(s, 9)
        body = read_exact(s, struct.unpack_from(">i", header, 5)[0])
        if cql:
            s.sendall(frame(3, 0x07, long_string(cql) + struct.pack(">HB", 0x0001, 0)))
            statement = read_exact(s, 9)
            read_exact(s, struct.unpack_from(">i", statement, 5)[0])
            if statement[4] != 0x08:
                return False
    # RESULT (0x08) of kind Rows (2); the row count follows the metadata,
    # which for this query is: flags, column count 1, global table spec.
    if header[4] != 0x08 or struct.unpack_from(">i", body, 0)[0] != 2:
        return False
    flags, columns = struct.unpack_from(">ii", body, 4)
    pos = 12
    if flags & 0x0001:  # global table spec: keyspace and table
        for _ in range(2):
            pos += 2 + struct.unpack_from(">H", body, pos)[0]
    for _ in range(columns):
        if not flags & 0x0001:
            for _ in range(2):
                pos += 2 + struct.unpack_from(">H", body, pos)[0]
        pos += 2 + struct.unpack_from(">H", body, pos)[0]  # column name
        pos += 2  # type id (varchar: no parameters)
    return struct.unpack_from(">i", body, pos)[0] == 1


def read_exact(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed")
        out += chunk
    return out


def main() -> int:
    probes = {"kafka": kafka_ready, "cassandra": cassandra_ready}
    if not 4 <= len(sys.argv) <= 5 or sys.argv[1] not in probes or (len(sys.argv) == 5 and sys.argv[1] != "cassandra"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return 0 if probes[sys.argv[1]](sys.argv[2], int(sys.argv[3]), *sys.argv[4:]) else 1
    except (OSError, struct.error):  # ssl.SSLError is an OSError
        return 1


if __name__ == "__main__":
    sys.exit(main())
