"""1:1 chat: live delivery to every device, offline catch-up with sync,
ack and device cursors, paged history."""

from parley_client import create_user, online, run

MESSAGE_FIELDS = {"message_id", "conversation", "from", "to", "body",
                  "sent_at", "client_msg_id"}


def check_message(msg, *, sender, recipient, body, client_msg_id, reply):
    """A message object as docs/PROTOCOL.md defines it, matching the send reply."""
    assert MESSAGE_FIELDS <= set(msg), f"missing fields: {msg}"
    assert msg["message_id"] == reply["message_id"]
    assert msg["conversation"] == reply["conversation"]
    assert msg["from"] == sender
    assert msg["to"] == {"user": recipient}
    assert msg["body"] == body
    assert msg["client_msg_id"] == client_msg_id
    assert isinstance(msg["sent_at"], (int, float))
    assert msg["sent_at"] == reply["sent_at"]


def test_live_delivery_to_every_device(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        a_phone = await online(server, alice, "phone")
        a_laptop = await online(server, alice, "laptop")
        b_phone = await online(server, bob, "phone")
        devices = [a_phone, a_laptop, b_phone]

        last_seq = {alice.user_id: 0, bob.user_id: 0}
        conversation = None
        for i in range(1, 4):
            text = f"hello bob #{i} ✓"
            reply = await a_phone.send_to_user(bob.user_id, f"a-{i}", text)
            assert isinstance(reply["message_id"], str) and reply["message_id"]
            assert isinstance(reply["conversation"], str) and reply["conversation"]
            assert isinstance(reply["sent_at"], (int, float))
            assert not isinstance(reply["sent_at"], bool)
            if conversation is None:
                conversation = reply["conversation"]
            assert reply["conversation"] == conversation

            got = {}
            for dev in devices:
                ev = await dev.message_with(f"a-{i}")
                check_message(ev["message"], sender=alice.user_id,
                              recipient=bob.user_id, body=text,
                              client_msg_id=f"a-{i}", reply=reply)
                got[dev.label] = ev
            # Same seq on both of alice's devices (one inbox per user), and
            # each inbox's seq grows by exactly one per message.
            assert got["alice/phone"]["seq"] == got["alice/laptop"]["seq"]
            assert got["alice/phone"]["seq"] == last_seq[alice.user_id] + 1
            assert got["bob/phone"]["seq"] == last_seq[bob.user_id] + 1
            last_seq[alice.user_id] += 1
            last_seq[bob.user_id] += 1
            # Every device got the very same message object.
            assert got["alice/phone"]["message"] == got["bob/phone"]["message"]
            assert got["alice/laptop"]["message"] == got["bob/phone"]["message"]

        # Bob answers: same conversation id, both of alice's devices get it.
        reply = await b_phone.send_to_user(alice.user_id, "b-1", "hi alice")
        assert reply["conversation"] == conversation
        for dev in devices:
            ev = await dev.message_with("b-1")
            check_message(ev["message"], sender=bob.user_id,
                          recipient=alice.user_id, body="hi alice",
                          client_msg_id="b-1", reply=reply)
            owner = alice if dev.label.startswith("alice") else bob
            assert ev["seq"] == last_seq[owner.user_id] + 1

    run(body())


def test_offline_device_catches_up_with_sync(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        a = await online(server, alice, "phone")
        b_phone = await online(server, bob, "phone")
        replies = []
        for i in range(1, 6):
            replies.append(await a.send_to_user(bob.user_id, f"m{i}", f"body {i}"))
        # Barrier: bob's phone got the last message live, so bob's inbox
        # holds all five.
        await b_phone.message_with("m5")

        # Bob's tablet logs in for the first time: its cursor starts empty.
        tablet = await online(server, bob, "tablet")
        pages = []
        r = await tablet.call("sync", limit=2)        # from the stored cursor
        pages.append(r)
        while r["more"]:
            assert len(pages) < 10, "sync never says more=false"
            r = await tablet.call("sync", after=r["entries"][-1]["seq"],
                                  limit=2)
            pages.append(r)

        assert [len(p["entries"]) for p in pages] == [2, 2, 1]
        assert [p["more"] for p in pages] == [True, True, False]
        entries = [e for p in pages for e in p["entries"]]
        assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
        assert [e["message"]["message_id"] for e in entries] == \
            [r["message_id"] for r in replies]
        for i, e in enumerate(entries, start=1):
            check_message(e["message"], sender=alice.user_id,
                          recipient=bob.user_id, body=f"body {i}",
                          client_msg_id=f"m{i}", reply=replies[i - 1])

        # The sender's inbox has the same five entries, seq 1..5.
        mine = await a.sync_all(after=0)
        assert [e["seq"] for e in mine] == [1, 2, 3, 4, 5]
        assert [e["message"]["message_id"] for e in mine] == \
            [r["message_id"] for r in replies]

    run(body())


def test_ack_moves_the_device_cursor(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "phone")
        for i in range(1, 6):
            await a.send_to_user(bob.user_id, f"m{i}", f"body {i}")
        await b.message_with("m5")

        async def seqs_from_cursor():
            r = await b.call("sync")                   # no `after`
            return [e["seq"] for e in r["entries"]], r["more"]

        assert await seqs_from_cursor() == ([1, 2, 3, 4, 5], False)

        await b.call("ack", seq=3)
        assert await seqs_from_cursor() == ([4, 5], False)

        # The cursor is a max: an older ack does not move it back.
        await b.call("ack", seq=2)
        assert await seqs_from_cursor() == ([4, 5], False)

        await b.call("ack", seq=5)
        assert await seqs_from_cursor() == ([], False)

        # `after` overrides the cursor, and does not move it.
        r = await b.call("sync", after=1)
        assert [e["seq"] for e in r["entries"]] == [2, 3, 4, 5]
        assert await seqs_from_cursor() == ([], False)

        # The cursor belongs to the device: a new device starts from 1, and
        # the cursor survives reconnecting.
        tablet = await online(server, bob, "tablet")
        r = await tablet.call("sync")
        assert [e["seq"] for e in r["entries"]] == [1, 2, 3, 4, 5]
        await b.close()
        b = await online(server, bob, "phone")
        r = await b.call("sync")
        assert r["entries"] == [] and r["more"] is False

        # A new message shows up after the cursor.
        await a.send_to_user(bob.user_id, "m6", "body 6")
        await b.message_with("m6")
        r = await b.call("sync")
        assert [e["seq"] for e in r["entries"]] == [6]

    run(body())


def test_history_pages_backwards(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "phone")
        sent = []                   # message ids in send order
        for i in range(7):
            if i % 3 == 2:
                r = await b.send_to_user(alice.user_id, f"b{i}", f"from bob {i}")
            else:
                r = await a.send_to_user(bob.user_id, f"a{i}", f"from alice {i}")
            sent.append(r["message_id"])
        conversation = r["conversation"]

        for client in (a, b):
            pages = []
            before = None
            while True:
                fields = {"conversation": conversation, "limit": 3}
                if before is not None:
                    fields["before"] = before
                page = (await client.call("history", **fields))["messages"]
                pages.append([m["message_id"] for m in page])
                if not page:
                    break
                assert len(pages) < 10, "history never ends"
                before = page[-1]["message_id"]
            assert pages == [sent[6:3:-1], sent[3:0:-1], sent[0:1], []], pages
            for m in (await client.history_all(conversation, limit=200)):
                assert MESSAGE_FIELDS <= set(m), m
                assert m["conversation"] == conversation

    run(body())
