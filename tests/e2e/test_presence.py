"""Presence: online / away / offline with last_seen, told only to online
friends, debounced; TTL expiry; multiple devices.

The server runs with short timings (TTL 600 ms, heartbeat 150 ms, debounce
200 ms) so that nothing waits 30 s. Waits are on events; where the subject
is that nothing happens (a flap, a blocked user), the test makes a later,
observable change and checks that it is the next thing the watcher hears.
"""

import asyncio
import time

import pytest

from parley_client import Client, create_user, online, run

TTL_MS = 600
HEARTBEAT_MS = 150
DEBOUNCE_MS = 200
PRESENCE_ARGS = ("--presence-ttl-ms", str(TTL_MS),
                 "--presence-heartbeat-ms", str(HEARTBEAT_MS),
                 "--presence-debounce-ms", str(DEBOUNCE_MS))


@pytest.fixture
def server(server_factory):
    return server_factory(*PRESENCE_ARGS)


def now_ms():
    return int(time.time() * 1000)


def about(user):
    return lambda e: e.get("ev") == "presence" and e.get("user") == user.user_id


async def presence_of(watcher, user, timeout=5.0):
    """The next presence event about ``user`` on ``watcher``."""
    ev = await watcher.next_event(about(user), timeout=timeout)
    assert set(ev) >= {"ev", "user", "status", "last_seen"}
    assert isinstance(ev["last_seen"], int)
    return ev


async def befriend(a, a_user, b, b_user):
    """Makes two online users friends and waits until each has heard that
    the other is online."""
    await a.call("friend_request", user=b_user.user_id)
    await b.call("friend_accept", user=a_user.user_id)
    assert (await presence_of(a, b_user))["status"] == "online"
    assert (await presence_of(b, a_user))["status"] == "online"


def keep_alive(*clients):
    """Pings from each client every heartbeat, as a real client does, so
    that watchers do not go offline themselves (the TTL is short here).
    Returns the background task; it ends when its clients close."""
    async def loop():
        while True:
            await asyncio.sleep(HEARTBEAT_MS / 1000)
            for c in clients:
                if not c.is_closed:
                    try:
                        await c.start("ping")
                    except ConnectionError:
                        pass
            if all(c.is_closed for c in clients):
                return
    return asyncio.create_task(loop())


async def friends_online(server, alice, bob):
    """Connects bob's phone (kept alive) and alice's phone and makes them
    friends; returns their clients (a, b)."""
    b = await online(server, bob, "phone")
    a = await online(server, alice, "phone")
    keep_alive(b)
    await befriend(a, alice, b, bob)
    return a, b


async def barrier(*clients):
    """A round trip on each client: events published before it are queued
    before its reply."""
    for c in clients:
        await c.call("ping")


def presence_events(client, user):
    return [e for e in client.all_events if about(user)(e)]


def test_online_away_offline_with_last_seen(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        a, b = await friends_online(server, alice, bob)

        listing = await b.call("friends")
        assert [(f["user_id"], f["status"]) for f in listing["friends"]] == \
            [(alice.user_id, "online")]

        reply = await a.call("presence", status="away")
        assert reply["ttl_ms"] == TTL_MS and reply["heartbeat_ms"] == HEARTBEAT_MS
        assert (await presence_of(b, alice))["status"] == "away"
        assert (await b.call("friends"))["friends"][0]["status"] == "away"
        await a.call("presence", status="online")
        assert (await presence_of(b, alice))["status"] == "online"

        before_close = now_ms()
        await a.close()
        ev = await presence_of(b, alice)
        assert ev["status"] == "offline"
        assert before_close - 1000 <= ev["last_seen"] <= now_ms()
        f = (await b.call("friends"))["friends"][0]
        assert f["status"] == "offline" and f["last_seen"] == ev["last_seen"]

        # A device that connects learns its friends' status from `friends`.
        a2 = await online(server, alice, "laptop")
        f = (await a2.call("friends"))["friends"][0]
        assert f["user_id"] == bob.user_id and f["status"] == "online"
        assert (await presence_of(b, alice))["status"] == "online"

    run(body())


def test_strangers_and_blocked_users_hear_nothing(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")        # a friend
    carol = create_user(server, "carol")    # a stranger
    dave = create_user(server, "dave")      # a friend alice blocks
    erin = create_user(server, "erin")      # a friend who blocks alice
    frank = create_user(server, "frank")    # asked alice, not accepted

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "phone")
        c = await online(server, carol, "phone")
        d = await online(server, dave, "phone")
        e = await online(server, erin, "phone")
        f = await online(server, frank, "phone")
        keep_alive(b, c, d, e, f)
        await befriend(a, alice, b, bob)
        await befriend(a, alice, d, dave)
        await befriend(a, alice, e, erin)
        await f.call("friend_request", user=alice.user_id)
        await a.call("block", user=dave.user_id)
        await e.call("block", user=alice.user_id)
        seen_before = {x.label: len(presence_events(x, alice)) for x in (c, d, e, f)}

        await a.call("presence", status="away")
        assert (await presence_of(b, alice))["status"] == "away"
        await a.close()
        assert (await presence_of(b, alice))["status"] == "offline"
        await barrier(c, d, e, f)
        for x in (c, d, e, f):
            assert len(presence_events(x, alice)) == seen_before[x.label], \
                f"{x.label} heard about alice: {presence_events(x, alice)}"

        # Both ways: alice does not hear of the users she blocks or who
        # block her.
        a = await online(server, alice, "laptop")
        keep_alive(a)
        assert (await presence_of(b, alice))["status"] == "online"
        await d.call("presence", status="away")
        await e.call("presence", status="away")
        await b.call("presence", status="away")
        assert (await presence_of(a, bob))["status"] == "away"
        await barrier(a)
        assert presence_events(a, dave) == [] and presence_events(a, erin) == []

    run(body())


def test_a_device_that_stops_pinging_goes_offline_after_the_ttl(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        a, b = await friends_online(server, alice, bob)

        # Pinging on time (every heartbeat) keeps alice online well past
        # the TTL ...
        started = time.monotonic()
        while time.monotonic() - started < 3 * TTL_MS / 1000:
            await a.call("ping")
            await asyncio.sleep(HEARTBEAT_MS / 1000)
        last_ping = now_ms()
        await a.call("ping")
        assert presence_events(b, alice)[-1]["status"] == "online"
        assert not b.queued_events(about(alice))

        # ... and silence makes her offline after it, connection still open.
        ev = await presence_of(b, alice, timeout=5 * TTL_MS / 1000)
        assert ev["status"] == "offline"
        assert last_ping - 100 <= ev["last_seen"] <= last_ping + 500
        assert not a.is_closed

        # Any request brings her back.
        await a.call("friends")
        assert (await presence_of(b, alice))["status"] == "online"

    run(body(), timeout=30)


def test_a_quick_reconnect_sends_no_flap(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        a, b = await friends_online(server, alice, bob)

        await a.close()
        a = await Client.connect(server, a.token, label="alice/phone-again")
        # The next thing bob hears about alice is this, not offline/online.
        await a.call("presence", status="away")
        ev = await presence_of(b, alice)
        assert ev["status"] == "away", \
            f"bob heard a flap: {presence_events(b, alice)}"

    run(body())


def test_two_devices_stay_online_until_both_are_gone(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        b = await online(server, bob, "phone")
        phone = await online(server, alice, "phone")
        laptop = await online(server, alice, "laptop")
        keep_alive(b, laptop)
        await befriend(phone, alice, b, bob)

        await phone.close()
        await laptop.call("presence", status="away")
        assert (await presence_of(b, alice))["status"] == "away"
        await laptop.call("presence", status="online")
        assert (await presence_of(b, alice))["status"] == "online"
        assert [e["status"] for e in presence_events(b, alice)] == \
            ["online", "away", "online"]

        await laptop.close()
        ev = await presence_of(b, alice)
        assert ev["status"] == "offline" and ev["last_seen"] > 0

    run(body())


def test_new_friends_hear_each_other_and_ex_friends_do_not(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        a, b = await friends_online(server, alice, bob)
        await a.call("friend_remove", user=bob.user_id)
        heard = len(presence_events(b, alice))
        await a.call("presence", status="away")
        await a.close()
        await asyncio.sleep(3 * DEBOUNCE_MS / 1000)  # the subject: nothing comes
        await barrier(b)
        assert len(presence_events(b, alice)) == heard

    run(body())
