"""Push notifications (issue 5, docs/PUSH.md) against local APNs and FCM
checkers (push_checkers/): real HTTP/2 over TLS with a CA the test makes,
JWTs verified with the keys' public halves, and the services' status codes.

Each test registers device tokens with ``push_register`` and sends messages
while the recipient has no device online; the checkers record what reached
them, and the tests wait on those records (no sleeps)."""

import asyncio

import pytest

from parley_client import create_user, online, run
from push_checkers.apns_checker import ApnsChecker, make_apns_key
from push_checkers.fcm_checker import FcmChecker, make_service_account
from push_checkers.h2_server import make_tls_files

WINDOW_MS = 400
TOPIC = "com.example.parley"
PROJECT = "parley-test"


class PushEnv:
    def __init__(self, tmp_path, token_lifetime):
        ca, cert, key = make_tls_files(str(tmp_path))
        self.key_file = str(tmp_path / "AuthKey_TESTKEY123.p8")
        apns_public = make_apns_key(self.key_file)
        self.apns = ApnsChecker(apns_public, "TESTKEY123", "TEAM123456", TOPIC, cert, key).start()
        self.fcm = FcmChecker(PROJECT, cert, key, token_lifetime=token_lifetime).start()
        self.account_file = str(tmp_path / "service-account.json")
        public, email = make_service_account(self.account_file, PROJECT, self.fcm.token_url)
        self.fcm.configure(public, email)
        self.args = [
            "--apns-url", self.apns.url, "--apns-key-file", self.key_file,
            "--apns-key-id", "TESTKEY123", "--apns-team-id", "TEAM123456", "--apns-topic", TOPIC,
            "--fcm-url", self.fcm.url, "--fcm-service-account", self.account_file,
            "--push-ca-file", ca, "--push-batch-window-ms", str(WINDOW_MS),
            "--push-pair-interval-ms", "0", "--push-retry-base-ms", "20",
        ]

    def stop(self):
        self.apns.stop()
        self.fcm.stop()


@pytest.fixture
def push_env(tmp_path):
    env = PushEnv(tmp_path, token_lifetime=3600)
    yield env
    env.stop()


def apns_pushes(env, token):
    return env.apns.pushes_to(token)


def fcm_pushes(env, token):
    return env.fcm.pushes_to(token)


def apns_msg_id(p):
    return p["payload"]["message_id"]


def fcm_msg_id(p):
    return p["message"]["data"]["message_id"]


async def wait(checker, predicate, timeout=20.0):
    return await asyncio.to_thread(checker.wait_for, predicate, timeout)


async def register_device(server, user, device, platform, token):
    """Log a device in, register its push token, and close it (offline)."""
    c = await online(server, user, device)
    await c.call("push_register", platform=platform, token=token)
    await c.close()


def alice_and_bob(env, server_factory, *args):
    """A server with push on (and `args`), alice, and bob, whose phone's
    APNs token and tablet's FCM token the checkers accept."""
    env.apns.valid |= {"bob-apns"}
    env.fcm.valid |= {"bob-fcm"}
    server = server_factory(*env.args, *args)
    return server, create_user(server, "alice"), create_user(server, "bob")


async def bob_away_alice_online(server, alice, bob):
    """Registers bob's phone (APNs) and tablet (FCM), neither connected, and
    connects alice's phone; returns alice's client."""
    await register_device(server, bob, "phone", "apns", "bob-apns")
    await register_device(server, bob, "tablet", "fcm", "bob-fcm")
    return await online(server, alice, "phone")


async def until_pushed(env, sender, to_user, token, tag):
    """Sends probes to ``to_user`` until one reaches ``token`` as a push:
    proof that the user's devices are offline as far as the server knows
    (a route is dropped shortly after its connection closes). Returns the
    number of probes sent."""
    for attempt in range(10):
        reply = await sender.send_to_user(to_user.user_id, f"{tag}-{attempt}", "probe")
        mid = reply["message_id"]
        if await wait(env.apns, lambda: any(apns_msg_id(p) == mid for p in apns_pushes(env, token)),
                      timeout=WINDOW_MS / 1000 * 3 + 2):
            return attempt + 1
    raise AssertionError("no probe was pushed")


def test_offline_user_gets_one_push_per_window_on_each_device(server_factory, push_env):
    env = push_env
    env.apns.valid |= {"alice-apns"}
    server, alice, bob = alice_and_bob(env, server_factory)

    async def body():
        a = await bob_away_alice_online(server, alice, bob)
        await a.call("push_register", platform="apns", token="alice-apns")
        await until_pushed(env, a, bob, "bob-apns", "probe")
        await wait(env.fcm, lambda: len(fcm_pushes(env, "bob-fcm")) >= 1)
        apns_before = len(apns_pushes(env, "bob-apns"))
        fcm_before = len(fcm_pushes(env, "bob-fcm"))

        replies = [await a.send_to_user(bob.user_id, f"m{i}", f"hello number {i}") for i in range(5)]
        last = replies[-1]["message_id"]
        assert await wait(env.apns, lambda: any(apns_msg_id(p) == last for p in apns_pushes(env, "bob-apns")))
        assert await wait(env.fcm, lambda: any(fcm_msg_id(p) == last for p in fcm_pushes(env, "bob-fcm")))

        apns = apns_pushes(env, "bob-apns")[apns_before:]
        fcm = fcm_pushes(env, "bob-fcm")[fcm_before:]
        # One batch window, one conversation: exactly one push per device, saying 5.
        assert len(apns) == 1, apns
        assert len(fcm) == 1, fcm
        p = apns[0]
        conversation = replies[0]["conversation"]
        assert p["headers"]["apns-push-type"] == "alert"
        assert p["headers"]["apns-priority"] == "10"
        assert p["headers"]["apns-collapse-id"] == conversation
        assert p["headers"]["apns-topic"] == TOPIC
        assert p["payload"]["count"] == 5
        assert p["payload"]["conversation"] == conversation
        assert p["payload"]["type"] == "message"
        assert p["payload"]["aps"]["alert"]["title"] == "alice"
        assert p["payload"]["aps"]["alert"]["body"].startswith("5 new messages")
        m = fcm[0]["message"]
        assert m["data"]["count"] == "5"
        assert m["data"]["type"] == "message"
        assert m["data"]["message_id"] == last
        assert m["android"] == {"collapse_key": conversation, "priority": "HIGH"}
        assert p["payload"]["seq"] == int(m["data"]["seq"])

        # The sender is never woken for its own messages (it is online too).
        assert apns_pushes(env, "alice-apns") == []
        # One connection per service, many streams; one OAuth token reused.
        assert env.apns.server.connections == 1
        assert env.fcm.token_requests == 1
        assert all(r[0] != 403 and r[0] != 401 for r in env.apns.rejected + env.fcm.rejected)

    run(body())


def test_user_with_an_online_device_gets_no_push(server_factory, push_env):
    env = push_env
    env.apns.valid |= {"bob-apns"}
    server = server_factory(*env.args)
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        await register_device(server, bob, "phone", "apns", "bob-apns")
        laptop = await online(server, bob, "laptop")
        a = await online(server, alice, "phone")
        reply = await a.send_to_user(bob.user_id, "while-online", "you are here")
        await laptop.message_with("while-online")
        await laptop.close()
        # Once a probe is pushed, everything before it was decided: the
        # message sent while bob was online must not be in any push.
        await until_pushed(env, a, bob, "bob-apns", "after")
        pushes = apns_pushes(env, "bob-apns")
        assert all(apns_msg_id(p) != reply["message_id"] for p in pushes)
        assert sum(p["payload"]["count"] for p in pushes) == len(pushes)  # each probe alone

    run(body())


def test_dead_tokens_are_removed(server_factory, push_env):
    env = push_env
    env.apns.valid |= {"bob-live"}
    env.apns.dead |= {"bob-dead-apns"}
    env.fcm.dead |= {"bob-dead-fcm"}
    server = server_factory(*env.args)
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        await register_device(server, bob, "old-iphone", "apns", "bob-dead-apns")
        await register_device(server, bob, "old-android", "fcm", "bob-dead-fcm")
        await register_device(server, bob, "phone", "apns", "bob-live")
        a = await online(server, alice, "phone")
        await until_pushed(env, a, bob, "bob-live", "first")
        assert await wait(env.apns, lambda: (410, "Unregistered", "bob-dead-apns") in env.apns.rejected)
        assert await wait(env.fcm, lambda: (404, "UNREGISTERED", "bob-dead-fcm") in env.fcm.rejected)
        # The next push reaches the live device only: the dead ones are gone.
        reply = await a.send_to_user(bob.user_id, "second", "again")
        assert await wait(env.apns, lambda: any(apns_msg_id(p) == reply["message_id"]
                                                for p in apns_pushes(env, "bob-live")))
        assert [r for r in env.apns.rejected if r[2] == "bob-dead-apns"] == [(410, "Unregistered", "bob-dead-apns")]
        assert [r for r in env.fcm.rejected if r[2] == "bob-dead-fcm"] == [(404, "UNREGISTERED", "bob-dead-fcm")]

    run(body())


def test_throttled_pushes_are_retried(server_factory, push_env):
    env = push_env
    server, alice, bob = alice_and_bob(env, server_factory)

    async def body():
        a = await bob_away_alice_online(server, alice, bob)
        probes = await until_pushed(env, a, bob, "bob-apns", "probe")
        await wait(env.fcm, lambda: len(fcm_pushes(env, "bob-fcm")) >= 1)
        env.apns.fail_next("bob-apns", [429, 503])
        env.fcm.fail_next("bob-fcm", [503, 429])
        reply = await a.send_to_user(bob.user_id, "throttled", "retry me")
        mid = reply["message_id"]
        assert await wait(env.apns, lambda: any(apns_msg_id(p) == mid for p in apns_pushes(env, "bob-apns")))
        assert await wait(env.fcm, lambda: any(fcm_msg_id(p) == mid for p in fcm_pushes(env, "bob-fcm")))
        assert [r[0] for r in env.apns.rejected if r[2] == "bob-apns"][-2:] == [429, 503]
        assert [r[0] for r in env.fcm.rejected if r[2] == "bob-fcm"][-2:] == [503, 429]
        # Retried, not duplicated: one accepted push for the message per device.
        assert len([p for p in apns_pushes(env, "bob-apns") if apns_msg_id(p) == mid]) == 1
        assert len([p for p in fcm_pushes(env, "bob-fcm") if fcm_msg_id(p) == mid]) == 1
        assert probes >= 1

    run(body())


def test_fcm_access_token_is_reused_until_it_expires(server_factory, tmp_path):
    env = PushEnv(tmp_path, token_lifetime=2)   # renewed after 1 s (half-life for short tokens)
    try:
        server, alice, bob = alice_and_bob(env, server_factory)

        async def body():
            a = await bob_away_alice_online(server, alice, bob)
            await until_pushed(env, a, bob, "bob-apns", "probe")
            for i in range(20):
                reply = await a.send_to_user(bob.user_id, f"m{i}", "tick")
                mid = reply["message_id"]
                assert await wait(env.fcm, lambda: any(fcm_msg_id(p) == mid for p in fcm_pushes(env, "bob-fcm")))
                if env.fcm.token_requests >= 2:
                    break
            pushes = fcm_pushes(env, "bob-fcm")
            used = [p["access_token"] for p in pushes]
            assert env.fcm.token_requests == 2, "the token was renewed once it neared expiry"
            assert used.count("ya29.test-1") >= 2, "the first token was reused"
            assert used[-1] == "ya29.test-2"
            assert not [r for r in env.fcm.rejected if r[0] == 401]

        run(body())
    finally:
        env.stop()


def test_kill9_neither_duplicates_nor_loses_pushes(server_factory, push_env):
    env = push_env
    server, alice, bob = alice_and_bob(env, server_factory, "--push-batch-window-ms", "150")
    total = 40

    async def body():
        a = await bob_away_alice_online(server, alice, bob)
        probes = await until_pushed(env, a, bob, "bob-apns", "probe")
        await wait(env.fcm, lambda: len(fcm_pushes(env, "bob-fcm")) >= 1)
        apns_before = len(apns_pushes(env, "bob-apns"))
        fcm_before = len(fcm_pushes(env, "bob-fcm"))

        sent = 0
        for i in range(total):
            try:
                await a.send_to_user(bob.user_id, f"s{i:02d}", f"stream {i}")
            except (ConnectionError, AssertionError):
                break
            sent += 1
            if i == 15:
                # Mid-stream: at least one push of the stream is out.
                assert await wait(env.apns, lambda: len(apns_pushes(env, "bob-apns")) > apns_before)
            if i == 20:
                server.kill9()
                break
        await asyncio.to_thread(server.restart)
        a = await online(server, alice, "phone")
        replies = [await a.send_to_user(bob.user_id, f"s{i:02d}", f"stream {i}") for i in range(total)]
        last = replies[-1]["message_id"]
        assert await wait(env.apns, lambda: any(apns_msg_id(p) == last for p in apns_pushes(env, "bob-apns")))
        assert await wait(env.fcm, lambda: any(fcm_msg_id(p) == last for p in fcm_pushes(env, "bob-fcm")))

        # Bob's inbox holds the probes, then the 40 messages: seqs probes+1 .. probes+40.
        want = set(range(probes + 1, probes + total + 1))
        for pushes, seq_of, count_of, id_of in (
                (apns_pushes(env, "bob-apns")[apns_before:], lambda p: p["payload"]["seq"],
                 lambda p: p["payload"]["count"], lambda p: p["payload"]["push_id"]),
                (fcm_pushes(env, "bob-fcm")[fcm_before:], lambda p: int(p["message"]["data"]["seq"]),
                 lambda p: int(p["message"]["data"]["count"]), lambda p: p["message"]["data"]["push_id"])):
            # A resend of one notification (same push id, so the device shows
            # it once) is not a duplicate; two notifications for one entry are.
            distinct = {}
            for p in pushes:
                distinct.setdefault(id_of(p), (seq_of(p), count_of(p)))
                assert distinct[id_of(p)] == (seq_of(p), count_of(p))
            covered = []
            for seq, count in distinct.values():
                covered.extend(range(seq - count + 1, seq + 1))
            assert sorted(covered) == sorted(want), (sent, sorted(distinct.values()))

    run(body(), timeout=120)
