"""Bad input over the WebSocket: every malformed, oversized, unauthorized or
too-fast request gets the documented answer, and afterwards the same
connection (unless the protocol says it closes) and other clients keep
working."""

import asyncio
import itertools

import pytest
import websockets
from websockets.exceptions import InvalidStatusCode

from parley_client import Client, create_user, http_request, login, online, run

_ok_counter = itertools.count()

OP_TEXT = 0x1


async def setup_pair(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")
    a = await online(server, alice, "phone")
    b = await online(server, bob, "phone")
    return alice, bob, a, b


async def assert_still_works(sender, receiver):
    """A valid send on ``sender`` succeeds and reaches ``receiver`` live."""
    cmid = f"still-ok-{next(_ok_counter)}"
    reply = await sender.send_to_user(receiver.user_id, cmid, "still here")
    ev = await receiver.message_with(cmid)
    assert ev["message"]["message_id"] == reply["message_id"]
    return cmid


def unknown_user_id(known):
    """An id shaped like a real one that names nobody."""
    if known.isdigit():
        return str(int(known) + 1_000_003)
    return known + "-nobody"


# -- frames that are not requests: an "error" event, connection stays open --

@pytest.mark.parametrize("frame", [
    "this is not json",
    '{"id": 1, "op": "ping"',          # truncated
    "[1, 2, 3]",                       # JSON, not an object
    '"just a string"',
    "42",
    "null",
    '{"op": "ping"}',                  # object without id
    "{}",
])
def test_unreadable_frame_gets_error_event(server, frame):
    async def body():
        alice, bob, a, b = await setup_pair(server)
        await a.send_raw(frame)
        ev = await a.next_event(lambda e: e.get("ev") == "error")
        assert ev["error"]["code"] == "bad_request", ev
        assert isinstance(ev["error"].get("message"), str), ev
        assert not a.stray_replies, a.stray_replies
        await assert_still_works(a, b)
        await assert_still_works(b, a)

    run(body())


# -- requests with an id but a bad op: a bad_request reply ------------------

def test_unknown_op_is_bad_request(server):
    async def body():
        alice, bob, a, b = await setup_pair(server)
        await a.expect_error("bad_request", "no_such_op", unchecked=True)
        await a.expect_error("bad_request", "", unchecked=True)
        await assert_still_works(a, b)

    run(body())


def test_missing_op_is_bad_request(server):
    async def body():
        alice, bob, a, b = await setup_pair(server)
        await a.expect_error("bad_request", None, unchecked=True)  # {"id": n}
        await a.expect_error("bad_request", None, unchecked=True, body="hi")
        await assert_still_works(a, b)

    run(body())


def test_request_ids_are_echoed_as_sent(server):
    async def body():
        alice, bob, a, b = await setup_pair(server)
        for rid in ["req-ü-1", 7, "7", 2 ** 40]:
            fut = await a.start("ping", id=rid)
            reply = await asyncio.wait_for(fut, 10)
            assert reply["re"] == rid and type(reply["re"]) is type(rid)
            assert reply["ok"] is True

    run(body())


def _bad_fields(bob_id, conversation):
    """(op, fields) pairs that must be answered with bad_request."""
    send = {"to": {"user": bob_id}, "client_msg_id": "c-1", "body": "hi"}
    return {
        "send body is a number": ("send", {**send, "body": 123}),
        "send body is null": ("send", {**send, "body": None}),
        "send body missing": ("send", {k: v for k, v in send.items()
                                       if k != "body"}),
        "send to is a string": ("send", {**send, "to": bob_id}),
        "send to is empty": ("send", {**send, "to": {}}),
        "send to has an unknown kind": ("send", {**send, "to": {"planet": bob_id}}),
        "send to user is a number": ("send", {**send, "to": {"user": 42}}),
        "send to missing": ("send", {k: v for k, v in send.items() if k != "to"}),
        "client_msg_id missing": ("send", {k: v for k, v in send.items()
                                           if k != "client_msg_id"}),
        "client_msg_id empty": ("send", {**send, "client_msg_id": ""}),
        "client_msg_id 65 chars": ("send", {**send, "client_msg_id": "c" * 65}),
        "client_msg_id a number": ("send", {**send, "client_msg_id": 5}),
        "sync limit 0": ("sync", {"limit": 0}),
        "sync limit 501": ("sync", {"limit": 501}),
        "sync limit a string": ("sync", {"limit": "10"}),
        "sync after a string": ("sync", {"after": "x"}),
        "history limit 0": ("history", {"conversation": conversation, "limit": 0}),
        "history limit 201": ("history", {"conversation": conversation,
                                          "limit": 201}),
        "history conversation missing": ("history", {"limit": 10}),
        "history conversation a number": ("history", {"conversation": 1,
                                                      "limit": 10}),
        "ack seq missing": ("ack", {}),
        "ack seq a string": ("ack", {"seq": "1"}),
    }


BAD_FIELD_CASES = list(_bad_fields("B", "C"))


@pytest.mark.parametrize("case", BAD_FIELD_CASES)
def test_wrong_fields_are_bad_request(server, case):
    async def body():
        alice, bob, a, b = await setup_pair(server)
        first = await a.send_to_user(bob.user_id, "setup-1", "setup")
        await b.message_with("setup-1")
        op, fields = _bad_fields(bob.user_id, first["conversation"])[case]
        await a.expect_error("bad_request", op, unchecked=True, **fields)
        check = await assert_still_works(a, b)
        # Nothing was stored by the bad request: bob's inbox holds the setup
        # message and the check message only.
        entries = await b.sync_all(after=0)
        assert [e["message"]["client_msg_id"] for e in entries] == \
            ["setup-1", check]

    run(body())


def test_field_edges_are_accepted(server):
    async def body():
        alice, bob, a, b = await setup_pair(server)
        r = await a.send_to_user(bob.user_id, "c" * 64, "sixty-four")
        await a.send_to_user(bob.user_id, "x", "one char id")
        for limit in (1, 500):
            await a.call("sync", limit=limit)
        for limit in (1, 200):
            await a.call("history", conversation=r["conversation"], limit=limit)
        await b.message_with("c" * 64)

    run(body())


# -- sizes --------------------------------------------------------------------

def test_body_over_max_body_is_too_large(server):
    async def body():
        alice, bob, a, b = await setup_pair(server)
        await a.expect_error("too_large", "send", to={"user": bob.user_id},
                             client_msg_id="big-1", body="x" * 16385)
        # The limit counts UTF-8 bytes: 6000 "€" are 18000 bytes.
        await a.expect_error("too_large", "send", to={"user": bob.user_id},
                             client_msg_id="big-2", body="€" * 6000)
        # Exactly at the limit is fine.
        await a.send_to_user(bob.user_id, "at-limit", "y" * 16384)
        ev = await b.message_with("at-limit")
        assert ev["message"]["body"] == "y" * 16384
        await assert_still_works(a, b)

    run(body())


def test_frame_over_max_frame_closes_1009(server):
    async def body():
        alice, bob, a, b = await setup_pair(server)
        await a.send_raw({"id": 1, "op": "ping", "pad": "x" * 70_000})
        assert await a.wait_closed() == 1009
        # A fresh connection of the same user works; bob is unaffected.
        a2 = await online(server, alice, "phone")
        await assert_still_works(a2, b)
        await assert_still_works(b, a2)

    run(body())


def test_invalid_utf8_text_frame_closes_1007(server):
    async def body():
        alice, bob, a, b = await setup_pair(server)
        # websockets refuses to send invalid text; write the frame directly.
        await a.ws.write_frame(True, OP_TEXT,
                               b'{"id": 1, "op": "ping", "x": "\xff\xfe"}')
        assert await a.wait_closed() == 1007
        a2 = await online(server, alice, "phone")
        await assert_still_works(a2, b)
        await assert_still_works(b, a2)

    run(body())


# -- authentication -----------------------------------------------------------

@pytest.mark.parametrize("token_in, token", [
    ("header", "not-a-token"),
    ("query", "not-a-token"),
    ("header", ""),
    (None, None),                      # no token at all
])
def test_upgrade_without_valid_token_is_401(server, token_in, token):
    async def body():
        alice, bob, a, b = await setup_pair(server)
        with pytest.raises(InvalidStatusCode) as info:
            await Client.connect(server, token, token_in=token_in)
        assert info.value.status_code == 401
        await assert_still_works(a, b)

    run(body())


def test_token_in_query_is_accepted(server):
    async def body():
        alice, bob, a, b = await setup_pair(server)
        sess = login(server, alice, "web")
        web = await Client.connect(server, sess.token, token_in="query")
        web.user_id = alice.user_id
        await web.call("ping")
        check = await assert_still_works(web, b)
        await a.message_with(check)     # alice's other device sees it too

    run(body())


# -- authorization and references -----------------------------------------------

def test_send_as_another_user_is_forbidden(server):
    async def body():
        alice, bob, a, b = await setup_pair(server)
        await a.expect_error("forbidden", "send", to={"user": bob.user_id},
                             client_msg_id="spoof-1", body="I am bob",
                             **{"from": bob.user_id})
        await assert_still_works(a, b)
        entries = await b.sync_all(after=0)
        assert all(e["message"]["client_msg_id"] != "spoof-1" for e in entries)

    run(body())


def test_history_of_someone_elses_conversation_is_forbidden(server):
    async def body():
        alice, bob, a, b = await setup_pair(server)
        carol = create_user(server, "carol")
        c = await online(server, carol, "phone")
        r = await a.send_to_user(bob.user_id, "private-1", "just us")
        await c.expect_error("forbidden", "history",
                             conversation=r["conversation"], limit=10)
        # Carol still works and can talk to alice; alice and bob too.
        await assert_still_works(c, a)
        await assert_still_works(a, b)
        # And carol's own inbox never saw the private message.
        entries = await c.sync_all(after=0)
        assert all(e["message"]["client_msg_id"] != "private-1" for e in entries)

    run(body())


def test_send_to_unknown_user_is_not_found(server):
    async def body():
        alice, bob, a, b = await setup_pair(server)
        await a.expect_error("not_found", "send",
                             to={"user": unknown_user_id(bob.user_id)},
                             client_msg_id="lost-1", body="anyone?")
        await assert_still_works(a, b)

    run(body())


def test_ack_beyond_inbox_head_is_bad_request(server):
    async def body():
        alice, bob, a, b = await setup_pair(server)
        await b.expect_error("bad_request", "ack", seq=1)     # empty inbox
        await a.send_to_user(bob.user_id, "m1", "one")
        await b.message_with("m1")
        await b.expect_error("bad_request", "ack", seq=2)
        await b.call("ack", seq=1)
        r = await b.call("sync")
        assert r["entries"] == []
        await assert_still_works(a, b)
        await assert_still_works(b, a)

    run(body())


# -- rate limiting ---------------------------------------------------------------

def test_flood_beyond_rate_limit_is_rate_limited(server_factory):
    server = server_factory("--rate-limit", "5", "--rate-burst", "5",
                            defaults=("--pwhash-limits", "min"))

    async def body():
        alice, bob, a, b = await setup_pair(server)
        futs = [await a.start("ping") for _ in range(50)]
        replies = await asyncio.wait_for(asyncio.gather(*futs), 10)
        ok = [r for r in replies if r["ok"] is True]
        limited = [r for r in replies
                   if r["ok"] is False and r["error"]["code"] == "rate_limited"]
        assert len(ok) + len(limited) == 50, replies
        assert len(ok) >= 5, f"only {len(ok)} of 50 pings passed"
        assert limited, "50 pings at once passed a 5/s, burst 5 limit"
        assert len(ok) <= 20, f"{len(ok)} of 50 pings passed a burst of 5"

        # The connection stays open; another user is not limited by it.
        await b.call("ping")
        await assert_still_works(b, a)
        # After the bucket refills (5/s), requests within the limit pass.
        await asyncio.sleep(1.5)
        await a.call("ping")
        await assert_still_works(a, b)

    run(body())


# -- Issue 13, item 7: smaller protocol faults ------------------------------

@pytest.mark.parametrize("raw_id", ["1e999", "-1e999", "18446744073709551616",
                                    "-9223372036854775809", "1.5", "1.0",
                                    "1e2"])
def test_an_id_that_cannot_be_echoed_as_sent_is_refused(server, raw_id):
    """`1e999` came back as `Infinity` (not JSON) and 2^64 as
    1.8446744073709552E19: a numeric id must be an integer that fits 64 bits
    (the largest one still works)."""
    async def body():
        alice, bob, a, b = await setup_pair(server)
        await a.send_raw('{"op":"ping","id":' + raw_id + '}')
        ev = await a.next_event(lambda e: e.get("ev") == "error")
        assert ev["error"]["code"] == "bad_request"
        assert "integer" in ev["error"]["message"]
        for good in (2 ** 64 - 1, -2 ** 63, 0, "1e999"):
            fut = await a.start("ping", id=good)
            reply = await asyncio.wait_for(fut, 10)
            assert reply["re"] == good and reply["ok"] is True
        # The refused frame got no reply, only the event.
        assert a.stray_replies == []

    run(body())


def test_head_answers_like_get_without_a_body(server):
    get = http_request(server, "GET", "/v1/healthz")
    head = http_request(server, "HEAD", "/v1/healthz")
    assert head.status == get.status == 200
    assert head.body == b""
    assert head.headers["content-length"] == str(len(get.body))
    assert http_request(server, "HEAD", "/").body == b""


@pytest.mark.parametrize("method,path,allow", [
    ("DELETE", "/v1/users", "POST"),
    ("PUT", "/v1/sessions", "GET, HEAD, POST"),
    ("GET", "/v1/sessions/phone", "DELETE"),
    ("POST", "/v1/healthz", "GET, HEAD"),
    ("PUT", "/", "GET, HEAD"),
    ("DELETE", "/v1/readyz", "GET, HEAD"),
    ("POST", "/v1/ws", "GET, HEAD"),
    ("POST", "/v1/users/by-name/alice", "GET, HEAD"),
    ("POST", "/metrics", "GET, HEAD"),
])
def test_a_wrong_method_is_405_with_allow(server, method, path, allow):
    r = http_request(server, method, path, raw=b"{}")
    assert r.status == 405, (r.status, r.body)
    assert r.headers["allow"] == allow
    assert r.json["code"] == "bad_request"
    assert http_request(server, "GET", "/v1/no-such-thing").status == 404


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer  "])
def test_the_authorization_scheme_is_case_insensitive(server, scheme):
    """RFC 9110: `bearer` is the same scheme as `Bearer`."""
    alice = create_user(server, "alice")
    token = login(server, alice, "laptop").token
    r = http_request(server, "GET", "/v1/users/by-name/alice",
                     headers={"Authorization": f"{scheme} {token}"})
    assert r.status == 200, (r.status, r.body)
    bad = http_request(server, "GET", "/v1/users/by-name/alice",
                       headers={"Authorization": f"Basic {token}"})
    assert bad.status == 401
    # The token itself stays case-sensitive.
    assert token.swapcase() != token
    bad = http_request(server, "GET", "/v1/users/by-name/alice",
                       headers={"Authorization": f"{scheme} {token.swapcase()}"})
    assert bad.status == 401
    # The WebSocket upgrade reads the header alike.
    async def upgrade():
        ws = await websockets.connect(server.ws_url, open_timeout=10, close_timeout=2,
                                      extra_headers={"Authorization": f"{scheme} {token}"})
        await ws.close()

    run(upgrade())


@pytest.mark.parametrize("name", ["a\u0000b", "pay\u202efdp.exe", "x\u2066y", "tab\there", "\u0085"])
def test_room_names_with_control_or_bidi_characters_are_refused(server, name):
    async def body():
        alice, bob, a, b = await setup_pair(server)
        err = await a.expect_error("bad_request", "group_create", unchecked=True, name=name, members=[bob.user_id])
        assert "bidirectional" in err["message"]
        err = await a.expect_error("bad_request", "channel_create", unchecked=True, name=name)
        assert "bidirectional" in err["message"]
        ok = await a.call("group_create", name="Team \u05e9\u05dc\u05d5\u05dd", members=[bob.user_id])
        assert ok["ok"] is True

    run(body())
