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
