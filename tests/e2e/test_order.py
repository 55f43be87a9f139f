"""One order per conversation (DESIGN invariant 2): every device of every
member sees the same order, and it keeps each sender's own order."""

import asyncio
import itertools
from collections import deque

from parley_client import create_user, online, run

N_EACH = 100


async def send_pipelined(client, to_user, prefix, n, window, clock, log):
    """Send n messages keeping up to ``window`` replies outstanding.

    Records, per client_msg_id, the logical time the request was written
    (``sent``) and the time its reply was seen (``acked``)."""
    inflight = deque()
    for i in range(n):
        if len(inflight) >= window:
            await asyncio.wait_for(inflight.popleft(), 10)
        cmid = f"{prefix}-{i:04d}"
        log[cmid] = {"sent": next(clock)}

        def on_reply(fut, cmid=cmid):
            if not fut.cancelled() and fut.exception() is None:
                log[cmid]["acked"] = next(clock)
                log[cmid]["reply"] = fut.result()

        fut = await client.start("send", to={"user": to_user},
                                 client_msg_id=cmid, body=f"{prefix} says {i}")
        fut.add_done_callback(on_reply)
        inflight.append(fut)
    for fut in inflight:
        await asyncio.wait_for(fut, 10)
    for cmid, rec in log.items():
        if cmid.startswith(prefix):
            assert rec["reply"]["ok"] is True, rec["reply"]


async def live_order(device, count, timeout=20):
    """Collect ``count`` distinct message events; return them in seq order
    (a device orders and de-duplicates by seq)."""
    by_seq = {}
    while len(by_seq) < count:
        ev = await device.next_message(timeout=timeout)
        seq = ev["seq"]
        if seq in by_seq:     # a repeat is allowed; it must be the same entry
            assert by_seq[seq]["message"] == ev["message"], (by_seq[seq], ev)
        by_seq[seq] = ev
    seqs = sorted(by_seq)
    assert seqs == list(range(1, count + 1)), f"{device.label}: seqs {seqs}"
    return [by_seq[s]["message"] for s in seqs]


async def converse(server, window):
    """Alice and Bob (two online devices each) each send N_EACH messages to
    the other, concurrently. Returns what every device saw."""
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")
    devices = [await online(server, alice, "phone"),
               await online(server, alice, "laptop"),
               await online(server, bob, "phone"),
               await online(server, bob, "laptop")]
    a_phone, _, b_phone, _ = devices
    clock = itertools.count()
    log = {}
    await asyncio.gather(
        send_pipelined(a_phone, bob.user_id, "a", N_EACH, window, clock, log),
        send_pipelined(b_phone, alice.user_id, "b", N_EACH, window, clock, log))
    total = 2 * N_EACH
    seen = {d.label: await live_order(d, total) for d in devices}
    return alice, bob, devices, log, seen


def ids(messages):
    return [m["message_id"] for m in messages]


def test_all_devices_see_one_order_that_keeps_each_senders_order(server):
    async def body():
        alice, bob, devices, log, seen = await converse(server, window=4)
        order = ids(seen["alice/phone"])

        # 1. Every device of both users: the same sequence of message ids.
        for label, messages in seen.items():
            assert ids(messages) == order, f"{label} differs from alice/phone"

        # Every message exactly once, with the id its sender was given.
        assert len(set(order)) == 2 * N_EACH
        by_id = {m["message_id"]: m for m in seen["alice/phone"]}
        for cmid, rec in log.items():
            m = by_id[rec["reply"]["message_id"]]
            assert m["client_msg_id"] == cmid

        # 2. A message acknowledged before the next send comes before it.
        pos = {m["client_msg_id"]: i for i, m in enumerate(seen["bob/phone"])}
        for prefix in ("a", "b"):
            mine = sorted(c for c in log if c.startswith(prefix))
            for i, earlier in enumerate(mine):
                for later in mine[i + 1:]:
                    if log[earlier]["acked"] < log[later]["sent"]:
                        assert pos[earlier] < pos[later], \
                            f"{earlier} was acked before {later} was sent " \
                            f"but is shown after it"

        # 3. Message ids increase along the conversation order.
        as_ints = [int(x) for x in order]
        assert as_ints == sorted(as_ints) and len(set(as_ints)) == len(as_ints)

        # 4. sync from 0 gives the same order as the live events, for both
        # users, and history gives it newest first.
        a_phone, _, b_phone, _ = devices
        for client in (a_phone, b_phone):
            entries = await client.sync_all(after=0, limit=37)
            assert [e["seq"] for e in entries] == list(range(1, 2 * N_EACH + 1))
            assert [e["message"]["message_id"] for e in entries] == order
        conversation = seen["alice/phone"][0]["conversation"]
        for client in (a_phone, b_phone):
            history = await client.history_all(conversation, limit=33)
            assert ids(history) == order[::-1]

    run(body(), timeout=120)


def test_pipelined_sends_keep_the_connections_order(server):
    """The server handles one connection's requests in the order they were
    written: pipelined sends appear in client_msg_id order."""
    async def body():
        alice, bob, devices, log, seen = await converse(server, window=16)
        for label, messages in seen.items():
            for prefix in ("a", "b"):
                mine = [m["client_msg_id"] for m in messages
                        if m["client_msg_id"].startswith(prefix)]
                assert mine == sorted(mine), \
                    f"{label}: {prefix}'s messages out of send order"

    run(body(), timeout=120)
