"""HTTP endpoints: users, sessions, lookup by name, health."""

import asyncio
import socket
import time

import pytest

from parley_client import create_user, http_request, login, online, read_until_closed, run


def assert_error(resp, status, code):
    """An HTTP error: the status and a JSON body {"code", "message"}."""
    assert resp.status == status, f"expected {status}: {resp.status} {resp.body!r}"
    body = resp.json
    assert isinstance(body, dict), resp.body
    assert body.get("code") == code, body
    assert isinstance(body.get("message"), str), body


def test_healthz(server):
    assert http_request(server, "GET", "/v1/healthz").status == 200


def test_create_user_returns_201_and_string_id(server):
    r = http_request(server, "POST", "/v1/users",
                     {"username": "alice", "password": "correct horse"})
    assert r.status == 201, r.body
    user_id = r.json["user_id"]
    assert isinstance(user_id, str) and user_id

    other = create_user(server, "bob")
    assert other.user_id != user_id


def test_duplicate_username_is_409(server):
    create_user(server, "alice")
    r = http_request(server, "POST", "/v1/users",
                     {"username": "alice", "password": "another password"})
    assert_error(r, 409, "conflict")


@pytest.mark.parametrize("username", [
    "ab",                 # too short
    "a" * 33,             # too long
    "Alice",              # upper case
    "al ice",             # space
    "al!ce",              # punctuation outside [_.-]
    "",
    "zoë",                # non-ASCII
])
def test_bad_username_is_400(server, username):
    r = http_request(server, "POST", "/v1/users",
                     {"username": username, "password": "long enough"},
                     unchecked=True)
    assert_error(r, 400, "bad_request")


def test_username_edges_are_accepted(server):
    for name in ["abc", "a" * 32, "a_b.c-9"]:
        create_user(server, name)


@pytest.mark.parametrize("password", ["", "short", "1234567", "p" * 257, " " * 8, "\x00" * 8, "aaaaaaaa",
                                      "tab\there1",
                                      # common passwords (Openwall's list), in any case of letters
                                      "12345678", "password", "Password1", "iloveyou", "QWERTYUIOP"])
def test_bad_password_is_400(server, password):
    r = http_request(server, "POST", "/v1/users",
                     {"username": "carol", "password": password},
                     unchecked=True)
    assert_error(r, 400, "bad_request")


def test_password_edges_are_accepted(server):
    create_user(server, "eight", "1234567x")
    create_user(server, "long", "pq" * 128)


@pytest.mark.parametrize("body", [
    {"username": "alice"},
    {"password": "long enough"},
    {"username": 5, "password": "long enough"},
    {"username": "alice", "password": 12345678},
    [],
])
def test_missing_or_mistyped_fields_are_400(server, body):
    r = http_request(server, "POST", "/v1/users", body, unchecked=True)
    assert_error(r, 400, "bad_request")


def test_login(server):
    alice = create_user(server, "alice")
    r = http_request(server, "POST", "/v1/sessions",
                     {"username": "alice", "password": alice.password,
                      "device_id": "phone-1"})
    assert r.status == 200, r.body
    j = r.json
    assert isinstance(j["token"], str) and j["token"]
    assert j["user_id"] == alice.user_id
    assert j["device_id"] == "phone-1"

    # A second device gets its own session.
    other = login(server, alice, "laptop")
    assert other.device_id == "laptop"
    assert other.user_id == alice.user_id


def test_login_wrong_password_is_401(server):
    create_user(server, "alice")
    r = http_request(server, "POST", "/v1/sessions",
                     {"username": "alice", "password": "not the password",
                      "device_id": "phone"})
    assert_error(r, 401, "unauthorized")


@pytest.mark.parametrize("device_id", ["", "bad device", "d" * 65])
def test_login_bad_device_id_is_400(server, device_id):
    alice = create_user(server, "alice")
    r = http_request(server, "POST", "/v1/sessions",
                     {"username": "alice", "password": alice.password,
                      "device_id": device_id}, unchecked=True)
    assert_error(r, 400, "bad_request")


def test_lookup_by_name(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")
    token = login(server, alice, "phone").token

    r = http_request(server, "GET", "/v1/users/by-name/bob", token=token)
    assert r.status == 200, r.body
    assert r.json["user_id"] == bob.user_id
    assert r.json["username"] == "bob"

    r = http_request(server, "GET", "/v1/users/by-name/nobody", token=token)
    assert_error(r, 404, "not_found")


def test_lookup_requires_token(server):
    create_user(server, "bob")
    r = http_request(server, "GET", "/v1/users/by-name/bob")
    assert_error(r, 401, "unauthorized")
    r = http_request(server, "GET", "/v1/users/by-name/bob",
                     token="not-a-real-token")
    assert_error(r, 401, "unauthorized")


def test_invalid_json_body_is_400(server):
    for raw in [b'{"username": "alice", "password": ',   # truncated
                b"not json at all",
                b""]:
        r = http_request(server, "POST", "/v1/users", raw=raw)
        assert_error(r, 400, "bad_request")
    # The server keeps serving.
    create_user(server, "alice")


def test_invalid_utf8_body_is_400(server):
    raw = b'{"username": "al\xff\xfece", "password": "long enough"}'
    r = http_request(server, "POST", "/v1/users", raw=raw)
    assert_error(r, 400, "bad_request")
    raw = b'{"username": "alice", "password": "pass\xc3\x28word"}'
    r = http_request(server, "POST", "/v1/users", raw=raw)
    assert_error(r, 400, "bad_request")
    create_user(server, "alice")


def test_sigterm_exits_zero_and_data_survives(server):
    alice = create_user(server, "alice")
    assert server.terminate(timeout=15) == 0, "SIGTERM should drain and exit 0"
    server.restart()
    # The user and its password survive a restart.
    sess = login(server, alice, "phone")
    assert sess.user_id == alice.user_id
    assert http_request(server, "GET", "/v1/healthz").status == 200


def test_connect_names_a_live_server_and_servers_list_their_load(server_factory):
    """GET /v1/connect names the least loaded server; GET /v1/servers lists
    every live one with its connection count (docs/CLUSTER.md)."""
    server = server_factory("--server-heartbeat-ms", "100")
    r = http_request(server, "GET", "/v1/connect")
    assert r.status == 200, r.body
    pick = r.json
    assert pick["endpoint"] == f"127.0.0.1:{server.port}"
    assert pick["url"] == f"ws://127.0.0.1:{server.port}/v1/ws"
    assert pick["load"] == 0
    assert isinstance(pick["server_id"], str) and pick["server_id"]

    alice = create_user(server, "alice")

    async def body():
        await online(server, alice, "phone")
        await online(server, alice, "laptop")
        # The load is what the last heartbeat said: wait for one.
        deadline = time.monotonic() + 10
        while True:
            listed = http_request(server, "GET", "/v1/servers").json["servers"]
            if listed[0]["load"] == 2 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)   # a heartbeat interval
        assert listed == [{**pick, "load": 2}]

    run(body())


def test_failed_logins_for_one_username_are_throttled(server):
    """Five wrong passwords in a row for a username, then even the right one
    waits (429 rate_limited, checked nothing); an unknown username counts
    the same, so the answers tell nobody which accounts exist; another
    account is not affected."""
    user = create_user(server, "victim")
    other = create_user(server, "bystander")
    for name in ("victim", "nobody-here"):
        for _ in range(5):
            r = http_request(server, "POST", "/v1/sessions",
                             {"username": name, "password": "wrong password", "device_id": "d"})
            assert_error(r, 401, "unauthorized")
        r = http_request(server, "POST", "/v1/sessions",
                         {"username": name, "password": user.password, "device_id": "d"})
        assert_error(r, 429, "rate_limited")
        assert "retry in" in r.json["message"]
    r = http_request(server, "POST", "/v1/sessions",
                     {"username": "bystander", "password": other.password, "device_id": "d"})
    assert r.status == 200, r.body


def _head_then_get(server, path):
    """HEAD ``path`` and then GET /v1/healthz on one connection, read raw:
    (the HEAD answer's status, its headers, and the bytes after them). A
    HEAD answer with a body would show up as bytes before the second
    answer (http.client never reads a HEAD body, so it cannot tell)."""
    with socket.create_connection((server.host, server.port), timeout=10) as s:
        s.sendall(f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n"
                  "GET /v1/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                  .encode())
        data = read_until_closed(s)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return status, headers, rest


@pytest.mark.parametrize("path,status", [
    ("/v1/healthz", 200), ("/v1/version", 200), ("/", 200),
    ("/v1/users/by-name/alice", 401), ("/v1/no-such-thing", 404),
    ("/v1/users", 405), ("/v1/ws", 400),
])
def test_head_has_the_get_headers_and_never_a_body(server, path, status):
    """HEAD answers what GET would, Content-Length included, with no body,
    whatever the status (issue 13, item 7): the next answer on the
    connection follows the headers at once."""
    got, headers, rest = _head_then_get(server, path)
    assert got == status
    assert rest.startswith(b"HTTP/1.1 200 "), rest[:200]
    if status != 405:
        get = http_request(server, "GET", path)
        assert get.status == status
        if status != 404:   # a 404's message names the method asked
            assert headers["content-length"] == str(len(get.body))
        assert headers["content-type"] == get.headers["content-type"]
    else:
        assert headers["allow"] == "POST"
