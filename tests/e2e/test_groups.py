"""Groups (fan-out on write): membership rules, one order for every member,
the member limit, and authorization for non-members."""

import asyncio

from parley_client import create_user, online, run


def make_users(server, prefix, n):
    return [create_user(server, f"{prefix}{i:03d}") for i in range(n)]


def test_a_100_member_group_with_concurrent_senders(server):
    users = make_users(server, "m", 101)
    owner, members, outsider = users[0], users[1:100], users[100]

    async def body():
        devices = [await online(server, u, "phone") for u in users[:100]]
        created = await devices[0].call("group_create", name="the hundred",
                                        members=[u.user_id for u in members])
        group_id, conversation = created["group_id"], created["conversation"]
        assert isinstance(group_id, str) and conversation

        # The group is full: the 101st member is refused with a clear error.
        err = await devices[0].expect_error("conflict", "group_add", group=group_id,
                                            user=outsider.user_id)
        assert "100" in err["message"]

        # Five members send ten messages each, all at once, pipelined.
        senders = devices[:5]
        replies = {}

        async def send_all(k, dev):
            futures = [await dev.start("send", to={"group": group_id},
                                       client_msg_id=f"s{k}-{i}", body=f"{k}:{i}")
                       for i in range(10)]
            for f in futures:
                reply = await asyncio.wait_for(f, 20)
                assert reply["ok"] is True, reply
                replies[reply["message_id"]] = reply

        await asyncio.gather(*(send_all(k, d) for k, d in enumerate(senders)))
        assert len(replies) == 50

        # Every member device receives every message once, in one order.
        orders = []
        for dev in devices:
            got = [await dev.next_message(timeout=20) for _ in range(50)]
            ids = [e["message"]["message_id"] for e in got]
            assert len(set(ids)) == 50
            assert [e["seq"] for e in got] == list(range(got[0]["seq"], got[0]["seq"] + 50))
            assert all(e["message"]["to"] == {"group": group_id} for e in got)
            assert all(e["message"]["conversation"] == conversation for e in got)
            orders.append(ids)
        assert all(o == orders[0] for o in orders)
        assert orders[0] == sorted(orders[0], key=int)  # ids increase along the order
        # Each sender's own order is kept.
        by_sender = {}
        first = devices[0]
        page = await first.call("history", conversation=conversation, limit=200)
        for m in reversed(page["messages"]):
            by_sender.setdefault(m["from"], []).append(m["client_msg_id"])
        for k, dev in enumerate(senders):
            assert by_sender[dev.user_id] == [f"s{k}-{i}" for i in range(10)]
        # No event arrived twice.
        assert not devices[50].queued_events(lambda e: e.get("ev") == "message")

    run(body(), timeout=180)


def test_roles_add_remove_and_leave(server):
    owner, admin, member, newbie, other = make_users(server, "r", 5)

    async def body():
        o = await online(server, owner, "d")
        a = await online(server, admin, "d")
        m = await online(server, member, "d")
        g = (await o.call("group_create", name="team",
                          members=[admin.user_id, member.user_id]))["group_id"]

        # A plain member adds and removes nobody.
        await m.expect_error("forbidden", "group_add", group=g, user=newbie.user_id)
        await m.expect_error("forbidden", "group_remove", group=g, user=admin.user_id)
        # Only the owner makes admins.
        await a.expect_error("forbidden", "group_role", group=g, user=member.user_id, role="admin")
        await o.call("group_role", group=g, user=admin.user_id, role="admin")
        # An admin adds and removes members, but not the owner.
        await a.call("group_add", group=g, user=newbie.user_id)
        await a.call("group_remove", group=g, user=newbie.user_id)
        await a.expect_error("forbidden", "group_remove", group=g, user=owner.user_id)
        # Adding an unknown user is not_found; a member leaves by removing itself.
        await o.expect_error("not_found", "group_add", group=g, user="999999")
        await m.call("group_remove", group=g)
        await m.expect_error("forbidden", "send", to={"group": g}, client_msg_id="x", body="still here?")
        # The owner cannot leave without handing the group over.
        await o.expect_error("conflict", "group_remove", group=g, user=owner.user_id)

        # Removed members no longer get the group's messages; members do.
        await o.call("send", to={"group": g}, client_msg_id="after", body="after")
        ev = await a.message_with("after")
        assert ev["message"]["from"] == owner.user_id
        assert not m.queued_events(lambda e: e.get("ev") == "message")

    run(body())


def test_non_members_are_refused_everything(server):
    owner, member, stranger = make_users(server, "n", 3)

    async def body():
        o = await online(server, owner, "d")
        s = await online(server, stranger, "d")
        created = await o.call("group_create", name="private", members=[member.user_id])
        g, conversation = created["group_id"], created["conversation"]
        await o.call("send", to={"group": g}, client_msg_id="1", body="secret")
        message_id = (await o.message_with("1"))["message"]["message_id"]

        await s.expect_error("forbidden", "send", to={"group": g}, client_msg_id="x", body="hi")
        await s.expect_error("forbidden", "history", conversation=conversation)
        await s.expect_error("forbidden", "read", conversation=conversation, message_id=message_id)
        await s.expect_error("forbidden", "typing", conversation=conversation)
        await s.expect_error("forbidden", "group_add", group=g, user=stranger.user_id)
        await s.expect_error("forbidden", "group_remove", group=g, user=member.user_id)
        # A group that does not exist answers exactly like one you are not in.
        missing = await s.expect_error("forbidden", "history", conversation="g:987654")
        hidden = await s.expect_error("forbidden", "history", conversation=conversation)
        assert missing == hidden
        assert (await s.expect_error("forbidden", "send", to={"group": "987654"}, client_msg_id="y", body="?")) == \
            (await s.expect_error("forbidden", "send", to={"group": g}, client_msg_id="z", body="?"))
        # Nothing of the group reached the stranger.
        assert not s.queued_events(lambda e: e.get("ev") in ("message", "receipt", "typing"))

    run(body())
