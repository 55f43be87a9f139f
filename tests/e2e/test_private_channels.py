"""Private channels and room ids nobody can guess (issue 13, item 6).

Room ids were small sequential integers, so a user who tried `channel_join`
on ids 1-59 read the history of every channel on the server. Now ids are
drawn at random, and a channel created with `"private": true` is joined only
by being added by its owner or an admin (under the `--room-add` consent
rules); to anyone else it answers as a channel that does not exist."""

from parley_client import create_user, online, run


async def befriend(a, b):
    await a.call("friend_request", user=b.user_id)
    await b.call("friend_accept", user=a.user_id)


def test_room_ids_cannot_be_guessed_from_one_another(server):
    owner, prober = create_user(server, "owner"), create_user(server, "prober")

    async def body():
        o = await online(server, owner, "d")
        p = await online(server, prober, "d")
        channels = [await o.call("channel_create", name=f"room {i}") for i in range(8)]
        for i, ch in enumerate(channels):
            await o.call("send", to={"channel": ch["channel_id"]}, client_msg_id=f"m{i}", body="not for you")
        own = await p.call("channel_create", name="mine")
        group = await p.call("group_create", name="g", members=[])

        ids = {int(c["channel_id"]) for c in channels} | {int(own["channel_id"]), int(group["group_id"])}
        assert len(ids) == 10
        # The attack of the issue: small ids, and the neighbours of an id
        # the prober holds. None of them is a channel it can join.
        mine = int(own["channel_id"])
        guesses = set(range(1, 60)) | {mine + d for d in range(-30, 31) if d != 0 and mine + d > 0}
        joined = []
        for guess in sorted(guesses):
            reply = await p.request("channel_join", channel=str(guess))
            if reply.get("ok"):
                joined.append(guess)
            else:
                assert reply["error"]["code"] == "forbidden", reply
        assert joined == []
        # The ids spread over the id space: far apart, not a counter.
        ordered = sorted(ids)
        assert min(b - a for a, b in zip(ordered, ordered[1:])) > 1000
        # Given its id, an open channel is still joined by anyone.
        await p.call("channel_join", channel=channels[3]["channel_id"])
        page = await p.call("history", conversation=channels[3]["conversation"])
        assert [m["client_msg_id"] for m in page["messages"]] == ["m3"]

    run(body(), timeout=120)


def test_a_private_channel_is_joined_by_invitation_only(server_factory):
    # The server's own consent rule (friends only), as a real server runs.
    server = server_factory(defaults=("--pwhash-limits", "min"))
    owner, friend, stranger = (create_user(server, n) for n in ("owner", "friend", "stranger"))

    async def body():
        o = await online(server, owner, "d")
        f = await online(server, friend, "d")
        s = await online(server, stranger, "d")
        await o.expect_error("bad_request", "channel_create", unchecked=True, name="x", private="yes")
        created = await o.call("channel_create", name="board", private=True)
        ch, conversation = created["channel_id"], created["conversation"]
        await o.call("send", to={"channel": ch}, client_msg_id="secret", body="quarterly numbers")

        # A stranger holding the id: the same answer as for no channel at all.
        missing = await s.expect_error("forbidden", "channel_join", channel="4242424242424242")
        refused = await s.expect_error("forbidden", "channel_join", channel=ch)
        assert refused == missing
        await s.expect_error("forbidden", "history", conversation=conversation)
        await s.expect_error("forbidden", "search", q="quarterly", conversation=conversation)
        assert (await s.call("search", q="quarterly"))["messages"] == []
        await s.expect_error("forbidden", "send", to={"channel": ch}, client_msg_id="s1", body="let me in")
        assert (await s.call("conversations"))["conversations"] == []

        # The owner adds only whom the consent rule lets them add.
        err = await o.expect_error("forbidden", "channel_join", channel=ch, user=stranger.user_id)
        assert "only your friends" in err["message"], err
        await befriend(o, f)
        await o.call("channel_join", channel=ch, user=friend.user_id)
        page = await f.call("history", conversation=conversation)
        assert [m["client_msg_id"] for m in page["messages"]] == ["secret"]
        await o.call("send", to={"channel": ch}, client_msg_id="live", body="welcome")
        assert (await f.message_with("live"))["message"]["conversation"] == conversation
        # A plain member does not invite others.
        await befriend(f, s)
        await f.expect_error("forbidden", "channel_join", channel=ch, user=stranger.user_id)
        await s.expect_error("forbidden", "channel_join", channel=ch)

        # Leaving is for good: coming back needs another invitation.
        await f.call("channel_leave", channel=ch)
        await f.expect_error("forbidden", "channel_join", channel=ch)
        await f.expect_error("forbidden", "history", conversation=conversation)
        await o.call("channel_join", channel=ch, user=friend.user_id)
        await f.call("channel_join", channel=ch)  # a member already: harmless
        await f.call("history", conversation=conversation)

    run(body())
