"""Consent to be put in a room (issue 13, item 6; docs/ROOMS.md): by
default a user is put in a group or channel by someone else only if the two
are friends, that is, the added user accepted a friend request (or had one
accepted). Joining a channel oneself needs nobody's consent."""

from parley_client import create_user, online, run


async def befriend(a, b):
    await a.call("friend_request", user=b.user_id)
    await b.call("friend_accept", user=a.user_id)


def test_only_friends_put_each_other_in_groups_and_channels(server_factory):
    # The server's own defaults: no --room-add from the test suite's set.
    server = server_factory(defaults=("--pwhash-limits", "min"))
    alice, bob, carol = (create_user(server, n) for n in ("alice", "bob", "carol"))

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "phone")
        c = await online(server, carol, "phone")

        # Strangers: refused, and nothing is created.
        err = await a.expect_error("forbidden", "group_create", name="g", members=[bob.user_id])
        assert "only your friends" in err["message"], err
        # A request bob has not accepted is not his consent.
        await a.call("friend_request", user=bob.user_id)
        await a.expect_error("forbidden", "group_create", name="g", members=[bob.user_id])
        assert (await a.call("conversations"))["conversations"] == []

        await b.call("friend_accept", user=alice.user_id)
        group = await a.call("group_create", name="g", members=[bob.user_id])
        listed = (await b.call("conversations"))["conversations"]
        assert [x["conversation"] for x in listed] == [group["conversation"]]

        # Adding to a group or a channel later: the same rule, per adder.
        err = await a.expect_error("forbidden", "group_add", group=group["group_id"], user=carol.user_id)
        assert "only your friends" in err["message"], err
        channel = await a.call("channel_create", name="news")
        await a.expect_error("forbidden", "channel_join", channel=channel["channel_id"], user=carol.user_id)
        await befriend(c, a)
        await a.call("group_add", group=group["group_id"], user=carol.user_id)
        await a.call("channel_join", channel=channel["channel_id"], user=carol.user_id)

        # Joining a channel oneself is one's own consent.
        dave = create_user(server, "dave")
        d = await online(server, dave, "phone")
        await d.call("channel_join", channel=channel["channel_id"])

        # A block ends the friendship, and with it the consent; the answer
        # does not say who blocks whom.
        await b.call("block", user=alice.user_id)
        err = await a.expect_error("forbidden", "group_create", name="g2", members=[bob.user_id])
        assert "only your friends" in err["message"], err

    run(body())


def test_room_add_anyone_keeps_only_the_block_rule(server_factory):
    server = server_factory("--room-add", "anyone")
    alice, bob, carol = (create_user(server, n) for n in ("alice", "bob", "carol"))

    async def body():
        a = await online(server, alice, "phone")
        c = await online(server, carol, "phone")
        await a.call("group_create", name="g", members=[bob.user_id])
        await c.call("block", user=alice.user_id)
        err = await a.expect_error("forbidden", "group_create", name="g2", members=[carol.user_id])
        assert err["message"] == "you cannot add this user", err

    run(body())
