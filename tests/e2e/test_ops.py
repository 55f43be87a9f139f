"""Operations: --version and GET /v1/version, the log formats and levels, the
access log, and GET /v1/readyz (docs/OPERATIONS.md)."""

import json
import re
import signal
import socket
import subprocess
import time

from parley_client import Client, create_user, http_request, login, run

VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")
COMMIT_RE = re.compile(r"^([0-9a-f]{40}|unknown)$")
# RFC 3339, UTC, milliseconds.
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
LEVELS = {"debug", "info", "warn", "error"}


def stopped_logs(server):
    """Stops the server (SIGTERM: every line it logs is written before it
    exits) and returns its stderr and stdout lines."""
    assert server.terminate(timeout=15) == 0
    with open(server.stderr_path, "rb") as f:
        stderr = f.read().decode("utf-8").splitlines()   # strict: valid UTF-8
    with open(server.stdout_path, encoding="utf-8") as f:
        stdout = f.read().splitlines()
    return stderr, stdout


def parse_json_line(line):
    entry = json.loads(line)
    assert isinstance(entry, dict), line
    for field in ("ts", "level", "component", "msg"):
        assert isinstance(entry.get(field), str), (field, line)
    assert TS_RE.match(entry["ts"]), line
    assert entry["level"] in LEVELS, line
    return entry


def raw_get(server, target):
    """GET with a raw request target (bytes a client library would
    refuse to send); returns the status line."""
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: parley\r\n"
                  b"Connection: close\r\n\r\n")
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0]


# --- version -----------------------------------------------------------------


def version_flag(parleyd_binary):
    out = subprocess.run([parleyd_binary, "--version"], capture_output=True,
                         text=True, timeout=30)
    return out


def test_version_flag_prints_version_commit_and_build_type(parleyd_binary):
    out = version_flag(parleyd_binary)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 3, out.stdout
    name, version = lines[0].split(" ")
    assert name == "parleyd" and VERSION_RE.match(version), lines[0]
    assert lines[1].startswith("commit ") and COMMIT_RE.match(lines[1][7:]), lines[1]
    assert lines[2].startswith("build type ") and lines[2][11:], lines[2]


def test_version_endpoint_answers_without_a_token_and_matches_the_flag(
        server, parleyd_binary):
    r = http_request(server, "GET", "/v1/version")
    assert r.status == 200, r.body
    assert r.headers["content-type"] == "application/json"
    body = r.json
    assert set(body) == {"version", "commit", "build_type"}, body
    assert VERSION_RE.match(body["version"]), body
    assert COMMIT_RE.match(body["commit"]), body
    assert body["build_type"], body
    flag = version_flag(parleyd_binary).stdout.splitlines()
    assert flag == [f"parleyd {body['version']}", f"commit {body['commit']}",
                    f"build type {body['build_type']}"]


def test_the_start_up_line_names_a_rocksdb_built_without_assertions(server):
    # Debian's library keeps RocksDB's assertions, which check every
    # memtable insert at each level of the skip list (docs/BENCHMARKS.md,
    # twentieth round); scripts/install-deps builds one without them, and a
    # build that fell back to Debian's would say so here.
    stderr, _ = stopped_logs(server)
    started = [line for line in stderr if "allocator " in line and ", data in " in line]
    assert len(started) == 1, stderr
    assert re.search(r", RocksDB \d+\.\d+\.\d+ without assertions$", started[0]), started[0]


# --- logs --------------------------------------------------------------------


def test_json_logs_are_one_object_per_line_with_an_access_log_without_secrets(
        server_factory):
    server = server_factory("--log-format", "json")
    alice = create_user(server, "alice")
    sess = login(server, alice, "phone")
    # A token in the Authorization header, and one in the query of the
    # WebSocket upgrade; neither may reach the log.
    r = http_request(server, "GET", "/v1/users/by-name/alice", token=sess.token)
    assert r.status == 200, r.body

    async def body():
        c = await Client.connect(server, sess.token, token_in="query")
        await c.call("ping")
        await c.close()

    run(body())
    assert http_request(server, "GET", "/v1/healthz?probe=1").status == 200
    # Bytes that need escaping in JSON: a quote, a backslash, invalid UTF-8.
    assert raw_get(server, b'/v1/x"y\\z\xff\xfe').startswith(b"HTTP/1.1 4")

    stderr, stdout = stopped_logs(server)
    entries = [parse_json_line(line) for line in stderr]
    # stdout holds the one listening line, as a JSON log line too.
    assert len(stdout) == 1, stdout
    listening = parse_json_line(stdout[0])
    assert listening["msg"] == f"parleyd listening on 127.0.0.1:{server.port}"

    access = [e for e in entries if e["component"] == "http"]
    assert all(e["level"] == "info" for e in access), access
    seen = {(e["method"], e["path"], e["status"]) for e in access}
    assert ("POST", "/v1/users", 201) in seen, seen
    assert ("POST", "/v1/sessions", 200) in seen, seen
    assert ("GET", "/v1/users/by-name/alice", 200) in seen, seen
    assert ("GET", "/v1/ws", 101) in seen, seen
    assert ("GET", "/v1/healthz", 200) in seen, seen       # no query
    assert any(e["path"] == '/v1/x"y\\z\ufffd\ufffd' for e in access), access
    for e in access:
        assert isinstance(e["duration_ms"], (int, float)) and e["duration_ms"] >= 0
        assert e["msg"].startswith(f'{e["method"]} {e["path"]} {e["status"]} ')
        assert e["msg"].endswith(" ms")

    text = "\n".join(stderr + stdout)
    assert sess.token not in text
    assert alice.password not in text
    assert "token=" not in text and "probe=1" not in text
    assert "Bearer" not in text


def test_text_logs_carry_a_timestamp_and_the_level(server):
    assert http_request(server, "GET", "/v1/healthz").status == 200
    stderr, stdout = stopped_logs(server)
    assert stdout == [f"parleyd listening on 127.0.0.1:{server.port}"]
    assert stderr, "nothing logged"
    line_re = re.compile(r"^(\S+) (debug|info|warn|error) \[([^\]]+)\] (.*)$")
    for line in stderr:
        m = line_re.match(line)
        assert m and TS_RE.match(m.group(1)), line
    assert any(re.search(r" info \[http\] GET /v1/healthz 200 [0-9.]+ ms$", line)
               for line in stderr), stderr


def test_log_level_warn_suppresses_info_lines(server_factory, monkeypatch):
    # PARLEY_LOG_FORMAT and PARLEY_LOG_LEVEL, as the environment gives them.
    monkeypatch.setenv("PARLEY_LOG_FORMAT", "json")
    monkeypatch.setenv("PARLEY_LOG_LEVEL", "warn")
    server = server_factory()
    alice = create_user(server, "alice")
    login(server, alice, "phone")
    assert http_request(server, "GET", "/v1/healthz").status == 200
    stderr, _ = stopped_logs(server)
    levels = [parse_json_line(line)["level"] for line in stderr]
    assert all(level in ("warn", "error") for level in levels), stderr


# --- readiness -----------------------------------------------------------------


def test_readyz_is_200_on_a_healthy_embedded_server(server):
    r = http_request(server, "GET", "/v1/readyz")
    assert r.status == 200, r.body
    assert r.json == {"ready": True}
    assert http_request(server, "HEAD", "/v1/readyz").status == 200


def test_readyz_is_503_draining_once_sigterm_is_received(server_factory):
    # The drain grace keeps the server serving after SIGTERM until a second
    # signal, so the test can ask while it drains.
    server = server_factory("--drain-grace-ms", "120000")
    assert http_request(server, "GET", "/v1/readyz").status == 200
    server.proc.send_signal(signal.SIGTERM)
    # Wait for the signal to be taken: readyz turns 503 (bounded).
    deadline = time.monotonic() + 10
    while True:
        r = http_request(server, "GET", "/v1/readyz")
        if r.status != 200 or time.monotonic() > deadline:
            break
    assert r.status == 503, r.body
    assert r.headers["content-type"] == "application/json"
    assert r.json == {"ready": False, "reasons": ["draining"]}
    # Still alive, and still serving meanwhile.
    assert http_request(server, "GET", "/v1/healthz").status == 200
    create_user(server, "alice")
    # A second signal ends the grace: the server drains and exits 0.
    assert server.terminate(timeout=15) == 0
