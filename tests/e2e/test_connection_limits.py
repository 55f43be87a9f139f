"""Connection limits (issue 13, item 2; docs/OPERATIONS.md "Limits"): per
user, per device, per source address and in all. Past each the new
connection is refused with the documented answer, the connections already
open keep working, other users and addresses still connect, and a closed
connection frees its place."""

import asyncio
import base64
import os
import socket
import time

from websockets.exceptions import InvalidStatusCode

from parley_client import Client, create_user, http_request, login, online, read_until_closed, run


def upgrade_refusal(server, token):
    """Asks for /v1/ws and returns (status, JSON body) of a refusal (the
    caller expects one: a 101 would leave this waiting for the close)."""
    key = base64.b64encode(os.urandom(16)).decode()
    r = http_request(server, "GET", "/v1/ws", token=token,
                     headers={"Upgrade": "websocket", "Connection": "Upgrade",
                              "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"})
    return r.status, r.json


def raw_get(server, path="/v1/healthz", source="127.0.0.1"):
    """One HTTP/1.1 GET on a fresh connection from `source`; the status
    line's code, or None when the server closed without answering."""
    with socket.create_connection((server.host, server.port), timeout=10,
                                  source_address=(source, 0)) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: parley\r\nConnection: close\r\n\r\n".encode())
        data = read_until_closed(s)
    if not data:
        return None, b""
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""


def idle_connections(server, n, source="127.0.0.1"):
    """n open TCP connections that send nothing (each holds its place from
    the moment the server accepts it). A request on a further connection
    is accepted after these: the server accepts in arrival order."""
    return [socket.create_connection((server.host, server.port), timeout=10,
                                     source_address=(source, 0)) for _ in range(n)]


async def connect_when_free(server, token, deadline_s=10):
    """Connects, retrying while the upgrade is refused: the server sees a
    closed connection shortly after the client does (a bounded loop of
    real attempts, each an event to wait on, not a timed guess)."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return await Client.connect(server, token)
        except InvalidStatusCode as e:
            assert e.status_code == 429, e
            assert time.monotonic() < deadline, "the freed place was never given back"
            await asyncio.sleep(0.02)


def test_a_user_past_the_connection_limit_is_refused_429_and_a_close_frees_a_place(server_factory):
    server = server_factory("--max-connections-per-user", "3")
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        devices = [await online(server, alice, "phone") for _ in range(3)]
        extra = login(server, alice, "phone")
        status, error = upgrade_refusal(server, extra.token)
        assert status == 429
        assert error["code"] == "rate_limited"
        assert "too many connections of this user (at most 3)" in error["message"]
        # The first three keep working, and another user still connects.
        for d in devices:
            await d.call("ping")
        other = await online(server, bob, "phone")
        await other.call("ping")
        # One of alice's closes: its place is hers again.
        await devices[0].close()
        again = await connect_when_free(server, extra.token)
        await again.call("ping")
        status, _ = upgrade_refusal(server, extra.token)
        assert status == 429
        await again.close()
        for d in devices[1:]:
            await d.close()
        await other.close()

    run(body(), timeout=60)


def test_a_user_past_the_device_limit_is_refused_but_a_known_device_connects(server_factory):
    server = server_factory("--max-devices-per-user", "2", "--max-connections-per-user", "10")
    alice = create_user(server, "alice")

    async def body():
        phone = await online(server, alice, "phone")
        laptop = await online(server, alice, "laptop")
        tablet = login(server, alice, "tablet")
        status, error = upgrade_refusal(server, tablet.token)
        assert status == 429
        assert error["code"] == "rate_limited"
        assert "devices" in error["message"]
        # Another connection of a device already connected adds no device.
        phone2 = await online(server, alice, "phone")
        await phone2.call("ping")
        await laptop.close()
        tab = await connect_when_free(server, tablet.token)
        await tab.call("ping")
        for c in (phone, phone2, tab):
            await c.close()

    run(body(), timeout=60)


def test_an_address_past_its_limit_is_refused_429_and_other_addresses_are_not(server_factory):
    server = server_factory("--max-connections-per-address", "4")
    idle = idle_connections(server, 4)
    try:
        status, body = raw_get(server)
        assert status == 429, (status, body)
        assert b'"rate_limited"' in body
        # Another source address still connects.
        status, _ = raw_get(server, source="127.0.0.2")
        assert status == 200
        # A closed connection frees its place.
        idle.pop().close()
        deadline = time.monotonic() + 10
        while (status := raw_get(server)[0]) != 200:
            assert status == 429, status
            assert time.monotonic() < deadline, "the freed place was never given back"
            time.sleep(0.02)
    finally:
        for s in idle:
            s.close()


def test_past_the_server_limit_connections_are_refused_503_and_healthz_answers_again(server_factory):
    server = server_factory("--max-connections", "5")
    idle = idle_connections(server, 5)
    try:
        for _ in range(20):  # a burst of refusals costs nothing and holds nothing
            status, body = raw_get(server)
            assert status == 503, (status, body)
        assert b'"unavailable"' in body
        status, _ = raw_get(server, source="127.0.0.2")  # the limit is for all addresses
        assert status == 503
    finally:
        for s in idle:
            s.close()
    deadline = time.monotonic() + 10
    while (status := raw_get(server)[0]) != 200:
        assert status == 503, status
        assert time.monotonic() < deadline, "healthz never answered again"
        time.sleep(0.02)
    assert http_request(server, "GET", "/v1/healthz").status == 200
