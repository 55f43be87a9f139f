"""The conversation list: kinds, last message, unread counts; the same on
every device and after a kill -9 restart."""

from parley_client import create_user, online, run


def test_list_and_unread_counts_survive_a_crash(server):
    alice, bob, carol = (create_user(server, n) for n in ("alice", "bob", "carol"))

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "phone")
        c = await online(server, carol, "phone")
        g = await a.call("group_create", name="trio", members=[bob.user_id, carol.user_id])
        ch = await c.call("channel_create", name="news")
        await b.call("channel_join", channel=ch["channel_id"])

        await a.send_to_user(bob.user_id, "d1", "one")
        await a.send_to_user(bob.user_id, "d2", "two")
        await b.send_to_user(alice.user_id, "d3", "mine")
        sent = await c.call("send", to={"group": g["group_id"]}, client_msg_id="g1", body="group hi")
        await c.call("send", to={"channel": ch["channel_id"]}, client_msg_id="c1", body="breaking")
        await b.message_with("c1")
        await b.message_with("g1")

        direct = (await a.send_to_user(bob.user_id, "d4", "three"))["conversation"]
        await b.message_with("d4")
        # bob read the group; the direct conversation has 3 unread from alice
        # (his own message does not count); the channel has 1.
        await b.call("read", conversation=g["conversation"], message_id=sent["message_id"])
        expected = [(direct, "direct", "d4", 3), (ch["conversation"], "channel", "c1", 1),
                    (g["conversation"], "group", "g1", 0)]

        def view(reply):
            return [(x["conversation"], x["kind"], x["last_message"]["client_msg_id"], x["unread"])
                    for x in reply["conversations"]]

        assert view(await b.call("conversations")) == expected
        b_laptop = await online(server, bob, "laptop")
        assert view(await b_laptop.call("conversations")) == expected
        assert len((await b.call("conversations", limit=1))["conversations"]) == 1

        server.kill9()
        server.restart()
        b_again = await online(server, bob, "tablet")
        assert view(await b_again.call("conversations")) == expected
        # A new group with no message yet is listed too, after those with messages.
        a2 = await online(server, alice, "phone2")
        empty = await a2.call("group_create", name="quiet", members=[bob.user_id])
        listed = (await b_again.call("conversations"))["conversations"]
        assert listed[-1]["conversation"] == empty["conversation"]
        assert listed[-1]["last_message"] is None and listed[-1]["unread"] == 0

    run(body(), timeout=90)
