"""Engine failures (docs/ENGINES.md), run only on the real engines
(PARLEY_E2E_ENGINES=real):

- Redis killed and restarted mid-test: sends and sync keep working while it
  is down, presence reports 'unavailable' and /v1/readyz 503 naming Redis,
  and both recover once it is back.
- The Kafka broker killed and restarted: sends fail with 'unavailable' while
  it is down (never a false acknowledgement), and every acknowledged
  message is delivered once it is back.

The engine that gets killed is a private instance started for this module
(scripts/engines with its own directory and ports), so that tests running
beside this one on the shared engines are not disturbed.
"""

import asyncio
import time

import pytest

from conftest import real_engines
from parley_client import create_user, online, readyz_until, run
from private_engines import PrivateEngines

pytestmark = pytest.mark.skipif(
    not real_engines(), reason="needs the real engines (PARLEY_E2E_ENGINES=real)")


@pytest.fixture(scope="module")
def private_engines(tmp_path_factory):
    engines = PrivateEngines(tmp_path_factory.mktemp("engines"))
    engines.run("start", "kafka", "redis", timeout=180)
    yield engines
    engines.run("stop", "kafka", "redis")


def server_on(server_factory, *extra, **engines):
    """A server whose engines from the shared set are replaced by ours."""
    args = list(extra)
    for flag, address in engines.items():
        args += [f"--{flag}", address]
    # Later flags win: ours override the shared addresses engine_args() put in.
    return server_factory(*args)


async def until_ok(client, op, deadline_s, **fields):
    """Repeats ``op`` until it succeeds (bounded); returns the reply."""
    deadline = time.monotonic() + deadline_s
    while True:
        reply = await client.request(op, timeout=30, **fields)
        if reply.get("ok") is True:
            return reply
        assert time.monotonic() < deadline, f"{op} still failing: {reply}"
        await asyncio.sleep(0.2)   # a retry interval, not synchronisation


def test_redis_down_keeps_sends_and_sync_and_presence_recovers(
        server_factory, private_engines):
    server = server_on(server_factory, redis=private_engines.redis)
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "laptop")
        await a.call("friend_request", user=bob.user_id)
        await b.call("friend_accept", user=alice.user_id)
        await a.send_to_user(bob.user_id, "before", "before the outage")
        await b.message_with("before")

        await asyncio.to_thread(private_engines.kill9, "redis")
        # Presence is unavailable while Redis is down...
        await until_error(a, "ping", "unavailable", 10)
        # ... and the server says it is not ready, naming the engine.
        not_ready = await asyncio.to_thread(readyz_until, server, 503, 30)
        assert any(reason.startswith("engine redis:") for reason in not_ready.json["reasons"]), not_ready.body
        # ... but sends are acknowledged and reach the recipient's inbox.
        acked = []
        for i in range(5):
            r = await a.send_to_user(bob.user_id, f"during-{i}", f"during {i}")
            assert r["message_id"]
            acked.append(f"during-{i}")
        # The inbox entry follows the acknowledgement (the inbox owner's
        # step): sync until it is there.
        await until_synced(b, {"before", *acked}, 30)

        await asyncio.to_thread(private_engines.run, "start", "redis")
        # Presence recovers: heartbeats work again, and a friend sees the
        # other online once they are announced.
        await until_ok(a, "ping", 30)
        await until_ok(b, "ping", 30)
        await asyncio.to_thread(readyz_until, server, 200, 30)
        deadline = time.monotonic() + 30
        while True:
            friends = (await b.call("friends"))["friends"]
            status = {f["user_id"]: f["status"] for f in friends}
            if status.get(alice.user_id) == "online":
                break
            assert time.monotonic() < deadline, f"alice not online again: {friends}"
            await a.call("ping")
            await asyncio.sleep(0.2)   # debounce window of the announcements
        await a.send_to_user(bob.user_id, "after", "after the outage")
        await b.message_with("after")

    run(body(), timeout=150)


async def until_synced(client, cmids, deadline_s):
    """Syncs from the start until every client_msg_id in ``cmids`` is in the
    inbox (bounded); returns the entries."""
    deadline = time.monotonic() + deadline_s
    while True:
        entries = await client.sync_all(after=0)
        got = {e["message"]["client_msg_id"] for e in entries}
        if cmids <= got:
            return entries
        assert time.monotonic() < deadline, \
            f"acknowledged but not delivered: {sorted(cmids - got)}"
        await asyncio.sleep(0.2)   # a retry interval, not synchronisation


async def until_error(client, op, code, deadline_s, **fields):
    deadline = time.monotonic() + deadline_s
    while True:
        reply = await client.request(op, timeout=30, **fields)
        if reply.get("ok") is False and reply["error"]["code"] == code:
            return reply
        assert time.monotonic() < deadline, f"{op} did not fail with {code}: {reply}"
        await asyncio.sleep(0.1)


def test_kafka_down_fails_sends_and_delivers_every_ack_after(
        server_factory, private_engines):
    # Unacknowledged sends fail fast while the broker is down.
    server = server_on(server_factory, "--kafka-send-timeout-ms", "3000",
                       "--send-timeout-ms", "8000", kafka=private_engines.kafka)
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "laptop")
        acked = set()
        await a.send_to_user(bob.user_id, "before", "before the outage")
        acked.add("before")

        await asyncio.to_thread(private_engines.kill9, "kafka")
        failures = 0
        for i in range(3):
            reply = await a.request("send", timeout=30, to={"user": bob.user_id},
                                    client_msg_id=f"down-{i}", body=f"down {i}")
            if reply.get("ok") is True:
                # Only possible for a send the broker took before it died.
                acked.add(f"down-{i}")
            else:
                assert reply["error"]["code"] == "unavailable", reply
                failures += 1
        assert failures >= 2, "sends kept succeeding with the broker down"

        await asyncio.to_thread(private_engines.run, "start", "kafka")
        # Retry what failed, as a client would (same client_msg_id), and
        # send more.
        for i in range(3):
            if f"down-{i}" not in acked:
                await until_ok(a, "send", 90, to={"user": bob.user_id},
                               client_msg_id=f"down-{i}", body=f"down {i}")
                acked.add(f"down-{i}")
        for i in range(3):
            await a.send_to_user(bob.user_id, f"after-{i}", f"after {i}")
            acked.add(f"after-{i}")

        entries = await until_synced(b, acked, 60)
        got = [e["message"]["client_msg_id"] for e in entries]
        # Exactly once each, in one gapless inbox.
        assert len(got) == len(set(got)), f"duplicates: {got}"
        seqs = [e["seq"] for e in entries]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs

    run(body(), timeout=300)
