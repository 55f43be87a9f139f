"""Channels (fan-out on read): a post reaches every online member live, is
paged with history, and creates no inbox entries; roles and post policy."""

import asyncio

from parley_client import create_user, online, run


def test_a_channel_with_1000_online_members(server):
    owner = create_user(server, "owner")
    members = [create_user(server, f"c{i:04d}") for i in range(1000)]

    async def body():
        host = await online(server, owner, "d")
        created = await host.call("channel_create", name="town square")
        channel, conversation = created["channel_id"], created["conversation"]
        assert conversation.startswith("c:")

        devices = []
        for chunk in range(0, len(members), 100):
            batch = await asyncio.gather(*(online(server, u, "d") for u in members[chunk:chunk + 100]))
            devices.extend(batch)
        await asyncio.gather(*(d.call("channel_join", channel=channel) for d in devices))

        reply = await host.call("send", to={"channel": channel}, client_msg_id="hello", body="hello, everyone")
        got = await asyncio.gather(*(d.message_with("hello", timeout=30) for d in devices))
        for ev in got:
            assert "seq" not in ev  # channel posts are not inbox entries
            assert ev["message"]["message_id"] == reply["message_id"]
            assert ev["message"]["to"] == {"channel": channel}
            assert ev["message"]["conversation"] == conversation

        # Members page it with history; nobody's inbox got an entry.
        page = await devices[500].call("history", conversation=conversation, limit=10)
        assert [m["message_id"] for m in page["messages"]] == [reply["message_id"]]
        for d in (host, devices[0], devices[999]):
            synced = await d.call("sync", after=0)
            assert synced["entries"] == []

    run(body(), timeout=240)


def test_roles_post_policy_and_leaving(server):
    owner, admin, member, stranger = (create_user(server, n) for n in ("own", "adm", "mem", "str"))

    async def body():
        o = await online(server, owner, "d")
        a = await online(server, admin, "d")
        m = await online(server, member, "d")
        s = await online(server, stranger, "d")
        created = await o.call("channel_create", name="announcements", post="admins")
        ch, conversation = created["channel_id"], created["conversation"]
        await a.call("channel_join", channel=ch)
        await m.call("channel_join", channel=ch)
        await o.call("channel_role", channel=ch, user=admin.user_id, role="admin")

        # Only owner and admins post here; a member reads.
        await m.expect_error("forbidden", "send", to={"channel": ch}, client_msg_id="m1", body="me too")
        await a.call("send", to={"channel": ch}, client_msg_id="a1", body="news")
        assert (await m.message_with("a1"))["message"]["from"] == admin.user_id
        # Non-members neither post nor read, nor see live posts.
        await s.expect_error("forbidden", "send", to={"channel": ch}, client_msg_id="s1", body="hi")
        await s.expect_error("forbidden", "history", conversation=conversation)
        await s.expect_error("forbidden", "typing", conversation=conversation)
        await m.expect_error("forbidden", "channel_role", channel=ch, user=member.user_id, role="admin")

        # After leaving, live posts stop and history is closed.
        await m.call("channel_leave", channel=ch)
        await o.call("send", to={"channel": ch}, client_msg_id="o1", body="bye")
        await a.message_with("o1")
        assert not m.queued_events(lambda e: e.get("ev") == "message" and e["message"]["client_msg_id"] == "o1")
        await m.expect_error("forbidden", "history", conversation=conversation)
        assert not s.queued_events(lambda e: e.get("ev") == "message")
        # The owner cannot leave; joining twice is harmless; a missing channel is refused.
        await o.expect_error("conflict", "channel_leave", channel=ch)
        await a.call("channel_join", channel=ch)
        await s.expect_error("forbidden", "channel_join", channel="987654")

    run(body())


def test_everyone_may_post_in_an_open_channel_and_history_pages(server):
    owner, member = create_user(server, "opener"), create_user(server, "joiner")

    async def body():
        o = await online(server, owner, "d")
        m = await online(server, member, "d")
        created = await o.call("channel_create", name="open")
        ch, conversation = created["channel_id"], created["conversation"]
        await m.call("channel_join", channel=ch)
        ids = []
        for i in range(7):
            sender = o if i % 2 == 0 else m
            ids.append((await sender.call("send", to={"channel": ch}, client_msg_id=f"p{i}", body=str(i)))["message_id"])
        assert ids == sorted(ids, key=int)
        seen, before = [], None
        while True:
            fields = {"conversation": conversation, "limit": 3}
            if before:
                fields["before"] = before
            page = (await m.call("history", **fields))["messages"]
            if not page:
                break
            seen.extend(x["message_id"] for x in page)
            before = page[-1]["message_id"]
        assert seen == list(reversed(ids))

    run(body())
