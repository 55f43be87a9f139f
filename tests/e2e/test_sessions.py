"""Sessions and devices (issue 14, "Sessions"; docs/PROTOCOL.md "Sessions
and devices"): tokens expire without use, a device logs itself out, the
user lists its devices and removes one (its open connection is closed with
4001), a changed password ends every other session, and a server with
registration closed refuses sign-ups. A refused token is 401 over HTTP and
on the WebSocket upgrade."""

import base64
import os
import time

from parley_client import create_user, http_request, login, online, run


def upgrade_status(server, token):
    """The status of a WebSocket upgrade asked with `token` that the
    caller expects refused (a 101 would leave this waiting)."""
    key = base64.b64encode(os.urandom(16)).decode()
    r = http_request(server, "GET", "/v1/ws", token=token,
                     headers={"Upgrade": "websocket", "Connection": "Upgrade",
                              "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": "13"})
    return r.status


def devices(server, token):
    r = http_request(server, "GET", "/v1/sessions", token=token)
    assert r.status == 200, r.body
    return r.json["devices"]


def assert_refused(server, token):
    """The token is refused everywhere: HTTP 401 and upgrade 401."""
    r = http_request(server, "GET", "/v1/sessions", token=token)
    assert r.status == 401, r.body
    assert r.json["code"] == "unauthorized"
    assert http_request(server, "GET", "/v1/users/by-name/nobody", token=token).status == 401
    assert upgrade_status(server, token) == 401


async def closed_with(client):
    """The code and reason of the server's close frame."""
    code = await client.wait_closed()
    rcvd = getattr(client.closed_by, "rcvd", None)
    return code, rcvd.reason if rcvd is not None else None


def test_an_unused_token_expires_and_is_refused(server_factory):
    server = server_factory("--session-ttl", "1s")
    alice = create_user(server, "alice")
    session = login(server, alice, "phone")
    assert http_request(server, "GET", "/v1/sessions", token=session.token).status == 200
    # What is under test is time passing without a use: every check would
    # be a use (and push the expiry back), so the token is left alone for
    # longer than the TTL, then it must be refused at once.
    time.sleep(1.5)
    assert_refused(server, session.token)
    # Logging in again gives a working token.
    again = login(server, alice, "phone")
    assert http_request(server, "GET", "/v1/sessions", token=again.token).status == 200


def test_a_token_in_use_slides_past_the_ttl(server_factory):
    server = server_factory("--session-ttl", "2s")
    alice = create_user(server, "alice")
    session = login(server, alice, "phone")
    started = time.monotonic()
    while time.monotonic() - started < 5:  # well past the TTL, used every 0.3 s
        r = http_request(server, "GET", "/v1/sessions", token=session.token)
        assert r.status == 200, f"refused after {time.monotonic() - started:.1f} s of use"
        time.sleep(0.3)


def test_a_logged_out_token_is_refused_and_its_connection_closed(server_factory):
    server = server_factory()
    alice = create_user(server, "alice")

    async def body():
        phone = await online(server, alice, "phone")
        laptop = await online(server, alice, "laptop")
        r = http_request(server, "DELETE", "/v1/sessions/current", token=phone.token)
        assert r.status == 204, r.body
        assert r.body == b""
        assert await closed_with(phone) == (4001, "logged out")
        assert_refused(server, phone.token)
        # Logging out again with it is refused too.
        assert http_request(server, "DELETE", "/v1/sessions/current", token=phone.token).status == 401
        # The other device is untouched.
        await laptop.call("ping")
        assert [d["device_id"] for d in devices(server, laptop.token)] == ["laptop"]

    run(body())


def test_the_device_list_shows_each_device_and_which_is_the_caller(server_factory):
    server = server_factory()
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")
    before = int(time.time() * 1000)
    phone = login(server, alice, "phone")
    login(server, alice, "laptop")
    login(server, alice, "laptop")  # a second login of one device is still one device
    login(server, bob, "tablet")
    listed = devices(server, phone.token)
    assert [d["device_id"] for d in listed] == ["laptop", "phone"]
    assert [d["current"] for d in listed] == [False, True]
    for d in listed:
        assert before - 1000 <= d["created_at"] <= d["last_used_at"] <= int(time.time() * 1000) + 1000
    assert http_request(server, "GET", "/v1/sessions").status == 401


def test_a_removed_device_is_disconnected_and_its_token_refused(server_factory):
    server = server_factory()
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        phone = await online(server, alice, "phone")
        laptop = await online(server, alice, "laptop")
        sender = await online(server, bob, "desk")
        # The phone reads a message and acks it: it has a cursor.
        await sender.call("send", to={"user": alice.user_id}, client_msg_id="m1", body="hi")
        entry = await phone.next_message()
        await phone.call("ack", seq=entry["seq"])
        await laptop.next_message()

        r = http_request(server, "DELETE", "/v1/sessions/phone", token=laptop.token)
        assert r.status == 204, r.body
        assert await closed_with(phone) == (4001, "device removed")
        assert_refused(server, phone.token)
        assert [d["device_id"] for d in devices(server, laptop.token)] == ["laptop"]
        # Its cursor is gone: a new login of that device syncs from the start.
        back = await online(server, alice, "phone")
        page = await back.call("sync")
        assert [e["seq"] for e in page["entries"]] == [entry["seq"]]
        # Another user's device, or one with no session, is not found; a
        # malformed id is a bad request.
        assert http_request(server, "DELETE", "/v1/sessions/desk", token=laptop.token).status == 404
        assert http_request(server, "DELETE", "/v1/sessions/nope", token=laptop.token).status == 404
        assert http_request(server, "DELETE", "/v1/sessions/a%20b", token=laptop.token).status == 400
        await sender.call("ping")

    run(body())


def test_a_password_change_ends_every_other_session_but_not_the_callers(server_factory):
    server = server_factory()
    alice = create_user(server, "alice")

    async def body():
        phone = await online(server, alice, "phone")
        laptop = await online(server, alice, "laptop")
        path = "/v1/users/me/password"
        wrong = http_request(server, "POST", path, {"old_password": "not it at all",
                                                    "new_password": "a brand new secret"}, token=phone.token)
        assert wrong.status == 403 and wrong.json["code"] == "forbidden"
        weak = http_request(server, "POST", path, {"old_password": alice.password,
                                                   "new_password": "password1"}, token=phone.token)
        assert weak.status == 400 and weak.json["code"] == "bad_request"
        await laptop.call("ping")  # nothing ended yet

        r = http_request(server, "POST", path, {"old_password": alice.password,
                                                "new_password": "a brand new secret"}, token=phone.token)
        assert r.status == 204, r.body
        assert await closed_with(laptop) == (4001, "password changed")
        assert_refused(server, laptop.token)
        await phone.call("ping")  # the caller's connection stays
        assert [d["device_id"] for d in devices(server, phone.token)] == ["phone"]
        # Only the new password logs in.
        old = http_request(server, "POST", "/v1/sessions", {"username": "alice", "password": alice.password,
                                                            "device_id": "tablet"})
        assert old.status == 401
        new = http_request(server, "POST", "/v1/sessions", {"username": "alice",
                                                            "password": "a brand new secret",
                                                            "device_id": "tablet"})
        assert new.status == 200

    run(body())


def test_closed_registration_refuses_sign_ups_and_accounts_still_log_in(server_factory):
    server = server_factory()
    alice = create_user(server, "alice")
    server.terminate()
    server.args = [*server.args, "--registration", "closed"]
    server.restart()
    r = http_request(server, "POST", "/v1/users", {"username": "bob", "password": "a fine password"})
    assert r.status == 403
    assert r.json["code"] == "forbidden"
    assert "registration is closed" in r.json["message"]
    assert http_request(server, "POST", "/v1/sessions", {"username": "bob", "password": "a fine password",
                                                         "device_id": "d"}).status == 401
    login(server, alice, "phone")  # an account made before still logs in
