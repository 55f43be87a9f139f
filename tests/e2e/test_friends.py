"""Friendships and blocks: friend_request / friend_accept / friend_remove /
block / unblock / friends, each with its refusal cases, and blocks stopping
1:1 messages both ways."""

from parley_client import create_user, online, run

UNKNOWN_USER = "999999999"


def friend_ids(reply):
    return sorted(f["user_id"] for f in reply["friends"])


def request_ids(reply):
    return sorted(p["user_id"] for p in reply["requests"])


async def befriend(a, b):
    """a asks b, b accepts."""
    r = await a.call("friend_request", user=b.user_id)
    assert r["state"] == "pending"
    await b.call("friend_accept", user=a.user_id)


def test_request_accept_list_remove(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "phone")

        r = await a.call("friend_request", user=bob.user_id)
        assert r["state"] == "pending"
        # Asking again is harmless and says the same.
        assert (await a.call("friend_request", user=bob.user_id))["state"] == "pending"
        listing = await b.call("friends")
        assert listing["friends"] == []
        assert listing["requests"] == [{"user_id": alice.user_id, "username": "alice"}]
        listing = await a.call("friends")
        assert listing["friends"] == [] and listing["requests"] == []

        await b.call("friend_accept", user=alice.user_id)
        for me, other in ((a, bob), (b, alice)):
            listing = await me.call("friends")
            assert listing["requests"] == []
            assert len(listing["friends"]) == 1
            f = listing["friends"][0]
            assert set(f) >= {"user_id", "username", "status", "last_seen"}
            assert f["user_id"] == other.user_id
            assert f["username"] == other.username
            assert f["status"] in ("online", "away", "offline")
            assert isinstance(f["last_seen"], int)

        await a.call("friend_remove", user=bob.user_id)
        assert (await a.call("friends"))["friends"] == []
        assert (await b.call("friends"))["friends"] == []

    run(body())


def test_refusals(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")
    carol = create_user(server, "carol")

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "phone")

        for op in ("friend_request", "friend_accept", "friend_remove",
                   "block", "unblock"):
            await a.expect_error("bad_request", op, user=alice.user_id)
            await a.expect_error("not_found", op, user=UNKNOWN_USER)
            await a.expect_error("bad_request", op, unchecked=True, user=12)
            await a.expect_error("bad_request", op, unchecked=True, user="not-an-id")
            await a.expect_error("bad_request", op, unchecked=True)

        # Nothing to accept, remove or unblock yet.
        await a.expect_error("not_found", "friend_accept", user=bob.user_id)
        await a.expect_error("not_found", "friend_remove", user=bob.user_id)
        await a.expect_error("not_found", "unblock", user=bob.user_id)

        await a.call("friend_request", user=bob.user_id)
        # The requester cannot accept their own request.
        await a.expect_error("not_found", "friend_accept", user=bob.user_id)
        await b.call("friend_accept", user=alice.user_id)
        await a.expect_error("conflict", "friend_request", user=bob.user_id)
        await b.expect_error("conflict", "friend_request", user=alice.user_id)
        await b.expect_error("conflict", "friend_accept", user=alice.user_id)

        await a.call("block", user=carol.user_id)
        await a.expect_error("conflict", "block", user=carol.user_id)
        # One does not befriend someone one blocks.
        err = await a.expect_error("forbidden", "friend_request", user=carol.user_id)
        assert "unblock" in err["message"]
        await a.call("unblock", user=carol.user_id)
        await a.expect_error("not_found", "unblock", user=carol.user_id)

        await a.expect_error("bad_request", "presence", unchecked=True, status="offline")
        await a.expect_error("bad_request", "presence", unchecked=True, status="busy")
        await a.expect_error("bad_request", "presence", unchecked=True)

    run(body())


def test_crossed_requests_make_friends(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "phone")
        assert (await a.call("friend_request", user=bob.user_id))["state"] == "pending"
        assert (await b.call("friend_request", user=alice.user_id))["state"] == "friends"
        assert friend_ids(await a.call("friends")) == [bob.user_id]
        assert (await b.call("friends"))["requests"] == []

    run(body())


def test_declining_and_withdrawing_requests(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "phone")
        await a.call("friend_request", user=bob.user_id)
        await b.call("friend_remove", user=alice.user_id)      # declined
        assert (await b.call("friends"))["requests"] == []
        await b.expect_error("not_found", "friend_accept", user=alice.user_id)

        await a.call("friend_request", user=bob.user_id)
        await a.call("friend_remove", user=bob.user_id)        # withdrawn
        assert (await b.call("friends"))["requests"] == []

    run(body())


def test_a_request_to_a_blocker_looks_sent_but_is_not(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")
    carol = create_user(server, "carol")

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "phone")
        c = await online(server, carol, "phone")
        await b.call("block", user=alice.user_id)

        to_blocker = await a.request("friend_request", user=bob.user_id)
        to_other = await a.request("friend_request", user=carol.user_id)
        # The same answer as an ordinary request: alice cannot tell.
        strip = lambda r: {k: v for k, v in r.items() if k != "re"}
        assert strip(to_blocker) == strip(to_other) == {"ok": True, "state": "pending"}
        assert (await b.call("friends"))["requests"] == []
        assert request_ids(await c.call("friends")) == [alice.user_id]

        # Lifting the block does not bring the refused request back.
        await b.call("unblock", user=alice.user_id)
        assert (await b.call("friends"))["requests"] == []
        await b.expect_error("not_found", "friend_accept", user=alice.user_id)

    run(body())


def test_a_block_ends_the_friendship_and_stops_messages_both_ways(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")
    carol = create_user(server, "carol")

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "phone")
        c = await online(server, carol, "phone")
        await befriend(a, b)
        await a.send_to_user(bob.user_id, "before", "hi bob")
        await b.message_with("before")

        await b.call("block", user=alice.user_id)
        assert (await a.call("friends"))["friends"] == []
        assert (await b.call("friends"))["friends"] == []
        err = await a.expect_error("forbidden", "send", to={"user": bob.user_id},
                                   client_msg_id="blocked-1", body="hello?")
        assert "blocked" not in err["message"]
        await b.expect_error("forbidden", "send", to={"user": alice.user_id},
                             client_msg_id="blocked-2", body="go away")
        # Others are not affected; strangers may message each other.
        await a.send_to_user(carol.user_id, "to-carol", "hi carol")
        await c.message_with("to-carol")

        await b.call("unblock", user=alice.user_id)
        await a.send_to_user(bob.user_id, "after", "friends again?")
        await b.message_with("after")
        # Unblocking does not restore the friendship.
        assert (await a.call("friends"))["friends"] == []
        assert not [m for m in b.queued_events()
                    if m.get("ev") == "message"
                    and m["message"]["client_msg_id"].startswith("blocked")]

    run(body())
