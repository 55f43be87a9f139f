"""Connection limits (issue 13, item 2; docs/OPERATIONS.md "Limits"): per
user, per device, per source address and in all. Past each the new
connection is refused with the documented answer, the connections already
open keep working, other users and addresses still connect, and a closed
connection frees its place."""

import asyncio
import base64
import multiprocessing
import os
import resource
import socket
import time

import pytest
from websockets.exceptions import InvalidStatusCode

from conftest import real_engines
from parley_client import (Client, QuietPair, create_user, http_request, login, online, p99, read_until_closed,
                           run)


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


def storm(server, attempts, sources, started, answers):
    """In a process of its own (so that it does not share the measuring
    test's event loop): `attempts` connection attempts, 400 at a time, from
    `sources` loopback addresses. Each asks for a WebSocket upgrade with a
    token that is none and reads the answer; one in four first holds its
    connection a while without sending anything (a slow or idle client), so
    that the server also holds many at once. `answers` counts the status
    codes seen (0: closed or reset without one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    seen = {}

    async def one(n):
        status = 0
        try:
            reader, writer = await asyncio.open_connection(server.host, server.port,
                                                           local_addr=(sources[n % len(sources)], 0))
        except OSError:
            seen[0] = seen.get(0, 0) + 1
            return
        try:
            if n % 4 == 0:
                await asyncio.sleep(0.5)
            key = base64.b64encode(os.urandom(16)).decode()
            writer.write((f"GET /v1/ws?token=storm{n} HTTP/1.1\r\nHost: parley\r\n"
                          "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
            line = await asyncio.wait_for(reader.readline(), 10)
            if line.startswith(b"HTTP/1.1 "):
                status = int(line.split(b" ", 2)[1])
        except (OSError, asyncio.TimeoutError):
            pass
        finally:
            writer.close()
        seen[status] = seen.get(status, 0) + 1

    async def all_of_them():
        next_attempt = 0

        async def worker():
            nonlocal next_attempt
            while next_attempt < attempts:
                n = next_attempt
                next_attempt += 1
                await one(n)
                if not started.is_set():
                    started.set()

        await asyncio.gather(*(worker() for _ in range(400)))

    asyncio.run(all_of_them())
    answers.update(seen)


@pytest.mark.latency
def test_a_connection_storm_does_not_hold_up_another_user(server_factory):
    """With the default limits, 20,000 connection attempts, 400 at a time,
    half of them from one address and half from 100 others (each an upgrade
    with a bad token; a quarter of them idle first); meanwhile another pair's pings and 1:1 messages keep
    their latency (issue 13: p99 under 50 ms and 100 ms, on the release
    build and the embedded engines; under the sanitizers and on the real
    engines only that every attempt was answered and nobody else refused)."""
    server = server_factory(defaults=("--pwhash-limits", "min"))
    quiet, friend = (create_user(server, n) for n in ("quiet", "friend"))
    fork = multiprocessing.get_context("fork")
    manager = fork.Manager()
    started, answers = fork.Event(), manager.dict()
    # Every other attempt from one address (past its limit of 256 when
    # enough of them are open at once), the others from 100 more.
    sources = [a for i in range(2, 102) for a in ("127.0.1.1", f"127.0.1.{i}")]
    storming = fork.Process(target=storm, args=(server, 20_000, sources, started, answers))

    async def measure():
        q = await online(server, quiet, "phone")
        fr = await online(server, friend, "phone")
        storming.start()
        deadline = time.monotonic() + 20
        while not started.is_set():
            assert time.monotonic() < deadline, "the storm never started"
            await asyncio.sleep(0.01)
        pair = QuietPair(q, fr, friend.user_id)
        while storming.is_alive() or len(pair.ping_ms) < 100:
            # A round every 25 ms: 80 requests a second, inside the
            # default limits of one connection and one user.
            next_round = time.monotonic() + 0.025
            await pair.round()
            await asyncio.sleep(max(0.0, next_round - time.monotonic()))
        return pair.ping_ms, pair.deliver_ms, len(pair.ping_ms)

    try:
        ping_ms, deliver_ms, during = run(measure(), timeout=180)
    finally:
        storming.join(60)
        if storming.is_alive():
            storming.kill()
    seen = dict(answers)
    print(f"storm: {seen}; {during} rounds; ping p99 {p99(ping_ms):.1f} ms, max {max(ping_ms):.1f}; "
          f"1:1 p99 {p99(deliver_ms):.1f} ms, max {max(deliver_ms):.1f}")
    # Every attempt got an answer: 401 (no such token) or a documented
    # refusal, none a reset.
    assert sum(seen.values()) == 20_000, seen
    assert set(seen) <= {401, 429, 503}, seen
    assert seen.get(401, 0) > 0, seen
    # The measured pair's connections were never touched, and new ones
    # still connect.
    run(online(server, quiet, "laptop"))
    if real_engines() or os.environ.get("ASAN_OPTIONS"):
        return
    assert p99(ping_ms) < 50, f"ping p99 {p99(ping_ms):.1f} ms during the storm ({during} rounds)"
    assert p99(deliver_ms) < 100, f"1:1 delivery p99 {p99(deliver_ms):.1f} ms during the storm ({during} rounds)"
