"""Full-text search over the messages a user may see, and nothing else."""

import asyncio

from parley_client import create_user, online, run


def ids(reply):
    return [m["client_msg_id"] for m in reply["messages"]]


async def found(client, expected, **request):
    """The ids a search finds once the index has caught up with `expected`.

    A message is indexed shortly after it is acknowledged (the search indexer
    commits once per interval), so a search right after a send may not find
    it yet; nothing announces the indexing, so this asks again for up to 10 s.
    """
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        got = ids(await client.call("search", **request))
        if got == expected or asyncio.get_running_loop().time() > deadline:
            return got
        await asyncio.sleep(0.02)


def test_search_finds_only_what_the_user_may_see(server):
    alice, bob, carol = (create_user(server, n) for n in ("alice", "bob", "carol"))

    async def body():
        a = await online(server, alice, "d")
        b = await online(server, bob, "d")
        c = await online(server, carol, "d")
        await a.send_to_user(bob.user_id, "ab1", "Lunch at the Noodle bar?")
        await b.send_to_user(alice.user_id, "ab2", "noodles again! fine")
        await c.send_to_user(bob.user_id, "cb1", "secret noodle recipe")
        g = await c.call("group_create", name="club", members=[alice.user_id])
        await c.call("send", to={"group": g["group_id"]}, client_msg_id="g1", body="noodle club tonight")
        ch = await b.call("channel_create", name="food")
        await b.call("send", to={"channel": ch["channel_id"]}, client_msg_id="ch1", body="best noodle shops")

        # Case-insensitive whole words, newest first; prefix with '*'.
        assert await found(a, ["g1", "ab1"], q="noodle") == ["g1", "ab1"]
        assert await found(a, ["g1", "ab2", "ab1"], q="NOODLE*") == ["g1", "ab2", "ab1"]
        # bob sees his 1:1s with both and his channel, not carol's group.
        assert await found(b, ["ch1", "cb1", "ab1"], q="noodle") == ["ch1", "cb1", "ab1"]
        # Every word must match; punctuation and FTS syntax are just text.
        assert ids(await a.call("search", q="noodle bar")) == ["ab1"]
        assert ids(await a.call("search", q='noodle" OR "secret')) == []
        # Scoped to one conversation, which must be the user's.
        assert ids(await a.call("search", q="noodle*", conversation=g["conversation"])) == ["g1"]
        await a.expect_error("forbidden", "search", q="noodle", conversation=ch["conversation"])
        await a.expect_error("bad_request", "search", unchecked=True, q="")
        await a.expect_error("bad_request", "search", unchecked=True, q="x", limit=0)
        assert len((await a.call("search", q="noodle*", limit=1))["messages"]) == 1
        # After joining the channel, alice may search it too.
        await a.call("channel_join", channel=ch["channel_id"])
        assert ids(await a.call("search", q="shops")) == ["ch1"]

    run(body())
