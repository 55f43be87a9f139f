"""No loss and idempotent sends across a crash (DESIGN invariants 1, 3, 4):
kill -9 the server while clients send, restart it on the same data dir,
let the clients retry, and check that every acknowledged message is there
exactly once and that every inbox is gapless."""

import asyncio
from collections import deque

import pytest

from websockets.exceptions import ConnectionClosed

from parley_client import create_user, online, run

PER_SENDER = 100
KILL_AFTER_ACKS = 60
LINK_ERRORS = (ConnectionError, ConnectionClosed, asyncio.TimeoutError, OSError)


async def send_until_cut_off(client, to_user, cmids, window, acked,
                             enough_acked):
    """Pipeline sends of ``cmids``; record ok replies in ``acked`` (cmid ->
    reply). Returns when done or when the connection dies."""
    inflight = deque()

    def on_reply(fut, cmid):
        if fut.cancelled() or fut.exception() is not None:
            return
        reply = fut.result()
        if reply.get("ok") is True:
            acked[cmid] = reply
            if len(acked) >= KILL_AFTER_ACKS:
                enough_acked.set()

    try:
        for cmid in cmids:
            if len(inflight) >= window:
                await asyncio.wait_for(inflight.popleft(), 10)
            fut = await client.start("send", to={"user": to_user},
                                     client_msg_id=cmid, body=f"body of {cmid}")
            fut.add_done_callback(lambda f, cmid=cmid: on_reply(f, cmid))
            inflight.append(fut)
        for fut in inflight:
            await asyncio.wait_for(fut, 10)
    except LINK_ERRORS:
        pass     # the server died under us: the test retries what is missing
    finally:
        for fut in inflight:            # retrieve exceptions; nobody awaits
            if fut.done() and not fut.cancelled():
                fut.exception()


async def restart_and_reconnect(server, users_devices):
    await asyncio.to_thread(server.restart)
    # Re-login: tokens need not survive a restart; device ids (and their
    # cursors) do.
    return [await online(server, user, device) for user, device in users_devices]


async def wait_for_barrier(server, sender, recipient_user, devices, cmid):
    """Send one more message and wait until every device got it live. In one
    conversation everything sent earlier is ordered before it, so once it is
    in an inbox all earlier entries are too."""
    reply = await sender.send_to_user(recipient_user.user_id, cmid, "barrier")
    for d in devices:
        await d.message_with(cmid, timeout=20)
    return reply


@pytest.mark.parametrize("window", [4, 32])
def test_kill9_mid_stream_loses_nothing_and_duplicates_nothing(server, window):
    """``window``: sends each client keeps in flight (more in flight, more
    messages logged but not yet acknowledged when the server dies)."""
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")
    a_cmids = [f"a-{i:03d}" for i in range(PER_SENDER)]
    b_cmids = [f"b-{i:03d}" for i in range(PER_SENDER)]

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "phone")
        acked = {}                      # cmid -> first ok reply
        enough_acked = asyncio.Event()

        async def killer():
            await enough_acked.wait()
            server.kill9()

        kill_task = asyncio.create_task(killer())
        await asyncio.gather(
            send_until_cut_off(a, bob.user_id, a_cmids, window, acked,
                               enough_acked),
            send_until_cut_off(b, alice.user_id, b_cmids, window, acked,
                               enough_acked))
        if not enough_acked.is_set():
            kill_task.cancel()
            raise AssertionError(
                f"only {len(acked)} sends were acknowledged before the "
                f"senders stopped; expected at least {KILL_AFTER_ACKS}")
        await asyncio.wait_for(kill_task, 10)
        assert KILL_AFTER_ACKS <= len(acked) < 2 * PER_SENDER, \
            f"the kill should land mid-stream ({len(acked)} acked)"
        acked_before_crash = dict(acked)
        print(f"killed with {len(acked)} of {2 * PER_SENDER} sends acked")
        await a.close()
        await b.close()

        a, b = await restart_and_reconnect(
            server, [(alice, "phone"), (bob, "phone")])

        # Retry everything that was not acknowledged, with the same
        # client_msg_id, plus a few acknowledged ones (the last ones before
        # the crash are the most interesting).
        final = {c: r["message_id"] for c, r in acked_before_crash.items()}
        for client, to_user, cmids in ((a, bob, a_cmids), (b, alice, b_cmids)):
            done = [c for c in cmids if c in acked_before_crash]
            retry_acked = done[:2] + done[-3:]
            for cmid in cmids:
                if cmid in acked_before_crash and cmid not in retry_acked:
                    continue
                reply = await client.send_to_user(to_user.user_id, cmid,
                                                  f"body of {cmid}")
                if cmid in acked_before_crash:
                    first = acked_before_crash[cmid]
                    assert reply["message_id"] == first["message_id"], \
                        f"retry of acknowledged {cmid} got a new message id"
                    assert reply["conversation"] == first["conversation"]
                final[cmid] = reply["message_id"]
        assert len(final) == 2 * PER_SENDER

        barrier = await wait_for_barrier(server, a, bob, [a, b], "a-barrier")
        final["a-barrier"] = barrier["message_id"]
        expected = len(final)
        conversation = barrier["conversation"]

        for client in (a, b):
            entries = await client.sync_all(after=0, limit=64)
            seqs = [e["seq"] for e in entries]
            assert seqs == list(range(1, expected + 1)), \
                f"{client.label}: inbox not gapless from 1: {seqs}"
            got = [e["message"]["client_msg_id"] for e in entries]
            dupes = sorted({c for c in got if got.count(c) > 1})
            assert not dupes, f"{client.label}: duplicated {dupes}"
            assert set(got) == set(final)
            for e in entries:
                m = e["message"]
                assert m["message_id"] == final[m["client_msg_id"]], m
        bobs_order = [e["message"]["message_id"] for e in entries]

        # Bob's tablet was never online: from its (empty) cursor it catches
        # up on the same entries.
        tablet = await online(server, bob, "tablet")
        entries = await tablet.sync_all(after=None, limit=500)
        assert [e["message"]["message_id"] for e in entries] == bobs_order

        history = await a.history_all(conversation, limit=50)
        hist_ids = [m["message_id"] for m in history]
        assert len(hist_ids) == len(set(hist_ids)), "history repeats messages"
        assert sorted(hist_ids) == sorted(final.values())
        assert hist_ids == bobs_order[::-1]

    run(body(), timeout=180)


def test_acknowledged_send_survives_immediate_kill9(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        a = await online(server, alice, "phone")
        reply = await a.send_to_user(bob.user_id, "only-1", "just one")
        server.kill9()                  # right after the ack, nothing else
        await a.close()

        a, b = await restart_and_reconnect(
            server, [(alice, "phone"), (bob, "phone")])
        # The retry is answered with the original id.
        again = await a.send_to_user(bob.user_id, "only-1", "just one")
        assert again["message_id"] == reply["message_id"]

        await wait_for_barrier(server, a, bob, [a, b], "after-crash")
        for client in (a, b):
            entries = await client.sync_all(after=0)
            assert [e["seq"] for e in entries] == [1, 2]
            assert [e["message"]["client_msg_id"] for e in entries] == \
                ["only-1", "after-crash"]
            assert entries[0]["message"]["message_id"] == reply["message_id"]

    run(body(), timeout=90)
