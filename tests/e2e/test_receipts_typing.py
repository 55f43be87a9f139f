"""Read receipts (stored, never backwards, to the other members and the
reader's other devices) and typing (live only, never stored)."""

import asyncio

from parley_client import create_user, online, run


def is_ev(kind):
    return lambda e: e.get("ev") == kind


def test_receipts_reach_the_sender_and_the_readers_other_device(server):
    alice, bob = create_user(server, "alice"), create_user(server, "bob")

    async def body():
        a = await online(server, alice, "phone")
        b_phone = await online(server, bob, "phone")
        b_laptop = await online(server, bob, "laptop")
        first = await a.send_to_user(bob.user_id, "1", "one")
        second = await a.send_to_user(bob.user_id, "2", "two")
        conversation = second["conversation"]

        await b_phone.call("read", conversation=conversation, message_id=second["message_id"])
        for dev in (a, b_laptop):
            ev = await dev.next_event(is_ev("receipt"))
            assert ev == {"ev": "receipt", "conversation": conversation, "user": bob.user_id,
                          "message_id": second["message_id"]}
        # Reading an older message never moves the position back, and tells nobody.
        await b_phone.call("read", conversation=conversation, message_id=first["message_id"])
        third = await a.send_to_user(bob.user_id, "3", "three")
        await b_laptop.message_with("3")
        assert not b_laptop.queued_events(is_ev("receipt"))
        assert not a.queued_events(is_ev("receipt"))
        # A message id beyond the conversation is refused; so is a stranger's read.
        await b_phone.expect_error("bad_request", "read", conversation=conversation,
                                   message_id=str(int(third["message_id"]) + 10**9))

    run(body())


def test_group_receipts_go_to_every_member(server):
    a_user, b_user, c_user = (create_user(server, n) for n in ("gra", "grb", "grc"))

    async def body():
        a, b, c = [await online(server, u, "d") for u in (a_user, b_user, c_user)]
        g = await a.call("group_create", name="g", members=[b_user.user_id, c_user.user_id])
        sent = await a.call("send", to={"group": g["group_id"]}, client_msg_id="x", body="hi")
        await c.call("read", conversation=g["conversation"], message_id=sent["message_id"])
        for dev in (a, b):
            ev = await dev.next_event(is_ev("receipt"))
            assert ev["user"] == c_user.user_id and ev["message_id"] == sent["message_id"]

    run(body())


def test_typing_reaches_online_members_and_is_never_stored(server_factory):
    server = server_factory("--typing-interval-ms", "60000")
    alice, bob = create_user(server, "alice"), create_user(server, "bob")

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "phone")
        conversation = (await a.send_to_user(bob.user_id, "1", "hi"))["conversation"]
        await a.call("typing", conversation=conversation)
        ev = await b.next_event(is_ev("typing"))
        assert ev == {"ev": "typing", "conversation": conversation, "user": alice.user_id}
        # Throttled: a second typing within the interval sends nothing more
        # (checked behind a barrier message that must arrive after it).
        await a.call("typing", conversation=conversation)
        await a.send_to_user(bob.user_id, "barrier", "after typing")
        await b.message_with("barrier")
        assert not b.queued_events(is_ev("typing"))
        assert not a.queued_events(is_ev("typing"))  # never to the typer
        # Nothing of it is stored: not in history, not in any inbox.
        history = (await b.call("history", conversation=conversation))["messages"]
        assert [m["client_msg_id"] for m in history] == ["barrier", "1"]
        # Each inbox gets its copy in its own pipeline step (on Kafka, from
        # its own partition): the sender's copy may trail the recipient's.
        for dev in (a, b):
            deadline = asyncio.get_running_loop().time() + 10
            while len(entries := (await dev.call("sync", after=0))["entries"]) < 2:
                assert asyncio.get_running_loop().time() < deadline, entries
                await asyncio.sleep(0.05)   # a retry interval, not synchronisation
            assert len(entries) == 2

    run(body())


def test_a_block_stops_typing_and_receipts_both_ways_and_group_adds(server):
    alice, bob, carol = (create_user(server, n) for n in ("blka", "blkb", "blkc"))

    async def body():
        a, b, c = [await online(server, u, "d") for u in (alice, bob, carol)]
        direct = (await a.send_to_user(bob.user_id, "before", "before the block"))["conversation"]
        await b.message_with("before")
        g = await a.call("group_create", name="g", members=[bob.user_id, carol.user_id])
        await b.call("block", user=alice.user_id)

        # Typing: alice's reaches carol, not bob (in the group or in 1:1);
        # bob's reaches carol, not alice.
        await a.call("typing", conversation=g["conversation"])
        await a.call("typing", conversation=direct)
        await b.call("typing", conversation=g["conversation"])
        assert (await c.next_event(is_ev("typing")))["user"] in (alice.user_id, bob.user_id)
        assert (await c.next_event(is_ev("typing")))["user"] in (alice.user_id, bob.user_id)
        # Receipts: each reads carol's message; carol hears of both, the two
        # of them of neither (but each one's own devices would).
        sent = await c.call("send", to={"group": g["group_id"]}, client_msg_id="m", body="from carol")
        await a.message_with("m")
        await b.message_with("m")
        await a.call("read", conversation=g["conversation"], message_id=sent["message_id"])
        await b.call("read", conversation=g["conversation"], message_id=sent["message_id"])
        readers = {(await c.next_event(is_ev("receipt")))["user"] for _ in range(2)}
        assert readers == {alice.user_id, bob.user_id}
        # Barrier: a later message from carol reaches both after anything
        # that was published to them before it.
        await c.call("send", to={"group": g["group_id"]}, client_msg_id="m2", body="barrier")
        await a.message_with("m2")
        await b.message_with("m2")
        assert not a.queued_events(is_ev("typing")) and not b.queued_events(is_ev("typing"))
        assert [e["user"] for e in a.queued_events(is_ev("receipt"))] == [alice.user_id]  # her own only
        assert [e["user"] for e in b.queued_events(is_ev("receipt"))] == [bob.user_id]

        # Nobody puts the other side of a block in a group, either way.
        await a.expect_error("forbidden", "group_create", name="x", members=[bob.user_id])
        await b.expect_error("forbidden", "group_create", name="y", members=[alice.user_id])
        own = await a.call("group_create", name="z", members=[carol.user_id])
        await a.expect_error("forbidden", "group_add", group=own["group_id"], user=bob.user_id)
        # Unblocked, all of it works again.
        await b.call("unblock", user=alice.user_id)
        await a.call("group_add", group=own["group_id"], user=bob.user_id)

    run(body())
