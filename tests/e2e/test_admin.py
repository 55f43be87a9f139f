"""The admin API (issue 14, "Admin API"; docs/PROTOCOL.md "Admin API"): off
unless --admin-token-file names the token; users listed and searched by name
in pages; a disabled user is disconnected, its tokens refused and its
logins refused until it is enabled again; a deleted user is disconnected
for good, and its messages read as tombstones in everyone's history, sync
and search."""

import subprocess

from parley_client import create_user, http_request, login, online, run
from test_search import found
from test_sessions import assert_refused, closed_with

ADMIN_TOKEN = "a" * 24 + "-admin-secret-0123"


def admin_server(server_factory, tmp_path):
    token_file = tmp_path / "admin-token"
    token_file.write_text(ADMIN_TOKEN + "\n")  # a trailing newline is not part of it
    return server_factory("--admin-token-file", str(token_file))


def admin(server, method, path, token=ADMIN_TOKEN):
    return http_request(server, method, path, token=token)


def test_the_admin_api_is_off_without_a_token_file(server):
    r = admin(server, "GET", "/v1/admin/users")
    assert r.status == 404, r.body
    assert admin(server, "GET", "/v1/admin/stats").status == 404


def test_only_the_admin_token_opens_the_admin_api(server_factory, tmp_path):
    server = admin_server(server_factory, tmp_path)
    alice = create_user(server, "adm_alice")
    user_token = login(server, alice, "laptop").token
    for token in (None, "wrong-token-of-the-same-sort", user_token, ADMIN_TOKEN + "x", ADMIN_TOKEN[:-1]):
        r = admin(server, "GET", "/v1/admin/users", token=token)
        assert r.status == 401, (token, r.body)
        assert r.json["code"] == "unauthorized"
    r = admin(server, "POST", f"/v1/admin/users/{alice.user_id}/disable", token=user_token)
    assert r.status == 401
    stats = admin(server, "GET", "/v1/admin/stats")
    assert stats.status == 200, stats.body
    assert stats.json["connections"] >= 1


def test_users_are_listed_and_searched_by_name_in_pages(server_factory, tmp_path):
    server = admin_server(server_factory, tmp_path)
    for name in ("srch_c", "srch_a", "srch_b", "srch_ba", "other_x"):
        create_user(server, name)
    first = admin(server, "GET", "/v1/admin/users?q=srch_&limit=2")
    assert first.status == 200, first.body
    assert [u["username"] for u in first.json["users"]] == ["srch_a", "srch_b"]
    assert first.json["next"] == "srch_b"
    assert all(u["disabled"] is False and u["user_id"] for u in first.json["users"])
    rest = admin(server, "GET", "/v1/admin/users?q=srch_&limit=2&after=srch_b")
    assert [u["username"] for u in rest.json["users"]] == ["srch_ba", "srch_c"]
    assert "next" not in rest.json  # the last page
    past = admin(server, "GET", "/v1/admin/users?q=srch_&after=srch_c")
    assert past.json["users"] == [] and "next" not in past.json
    everyone = admin(server, "GET", "/v1/admin/users")
    assert {"srch_a", "other_x"} <= {u["username"] for u in everyone.json["users"]}
    for bad in ("limit=0", "limit=501", "limit=x", "q=" + "x" * 65):
        r = admin(server, "GET", f"/v1/admin/users?{bad}")
        assert r.status == 400, (bad, r.body)
        assert r.json["code"] == "bad_request"


def test_a_disabled_user_is_disconnected_and_cannot_log_in_until_enabled(server_factory, tmp_path):
    server = admin_server(server_factory, tmp_path)
    bob, carol = create_user(server, "adm_bob"), create_user(server, "adm_carol")
    laptop = login(server, bob, "laptop")

    async def body():
        phone = await online(server, bob, "phone")
        other = await online(server, carol, "phone")
        r = admin(server, "POST", f"/v1/admin/users/{bob.user_id}/disable")
        assert r.status == 204, r.body
        assert await closed_with(phone) == (4001, "account disabled")
        await other.call("ping")  # nobody else was touched

    run(body())
    assert_refused(server, laptop.token)
    # The right password is told the account is disabled; a wrong one is
    # not told anything new.
    r = http_request(server, "POST", "/v1/sessions",
                     {"username": bob.username, "password": bob.password, "device_id": "tablet"})
    assert r.status == 403, r.body
    assert r.json["code"] == "forbidden" and "disabled" in r.json["message"]
    r = http_request(server, "POST", "/v1/sessions",
                     {"username": bob.username, "password": "not-bobs-password", "device_id": "tablet"})
    assert r.status == 401, r.body
    listed = admin(server, "GET", "/v1/admin/users?q=adm_bob").json["users"]
    assert [(u["username"], u["disabled"]) for u in listed] == [("adm_bob", True)]

    assert admin(server, "POST", f"/v1/admin/users/{bob.user_id}/enable").status == 204
    again = login(server, bob, "tablet")
    assert http_request(server, "GET", "/v1/sessions", token=again.token).status == 200
    # Disabled and enabled again, across a restart too.
    assert admin(server, "POST", f"/v1/admin/users/{bob.user_id}/disable").status == 204
    server.terminate()
    server.restart()
    r = http_request(server, "POST", "/v1/sessions",
                     {"username": bob.username, "password": bob.password, "device_id": "tablet"})
    assert r.status == 403, r.body


def test_unknown_users_are_not_found(server_factory, tmp_path):
    server = admin_server(server_factory, tmp_path)
    for path in ("/v1/admin/users/999999999/disable", "/v1/admin/users/0/enable",
                 "/v1/admin/users/x/disable"):
        r = admin(server, "POST", path)
        assert r.status == 404, (path, r.body)


def test_a_short_or_missing_admin_token_file_stops_the_start(parleyd_binary, tmp_path):
    short = tmp_path / "short"
    short.write_text("tooshort\n")
    for path in (short, tmp_path / "missing"):
        done = subprocess.run([parleyd_binary, "--data-dir", str(tmp_path / "data"), "--listen", "127.0.0.1:0",
                               "--admin-token-file", str(path)], capture_output=True, text=True, timeout=30)
        assert done.returncode != 0
        assert "--admin-token-file" in done.stderr, done.stderr


def is_tombstone(message):
    """A message of a deleted user: everything but its body, and `deleted`."""
    return message.get("deleted") is True and "body" not in message


def test_a_deleted_users_messages_read_as_tombstones_and_the_rest_stays(server_factory, tmp_path):
    server = admin_server(server_factory, tmp_path)
    alice, bob, carol = (create_user(server, n) for n in ("del_alice", "del_bob", "del_carol"))
    laptop = login(server, bob, "laptop")

    async def chat():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "phone")
        c = await online(server, carol, "phone")
        direct = (await a.send_to_user(bob.user_id, "a1", "hello bob"))["conversation"]
        await b.send_to_user(alice.user_id, "b1", "durian secret")
        await a.send_to_user(bob.user_id, "a2", "see you")
        g = await a.call("group_create", name="trio", members=[bob.user_id, carol.user_id])
        await b.call("send", to={"group": g["group_id"]}, client_msg_id="b2", body="durian for the group")
        await c.call("send", to={"group": g["group_id"]}, client_msg_id="c1", body="durian back")
        # Indexed before the delete: what is under test is that it leaves.
        assert await found(a, ["c1", "b2", "b1"], q="durian") == ["c1", "b2", "b1"]

        r = admin(server, "DELETE", f"/v1/admin/users/{bob.user_id}")
        assert r.status == 204, r.body
        assert await closed_with(b) == (4001, "account deleted")

        # History, 1:1 and group: bob's messages keep their place, lose their body.
        history = await a.history_all(direct)
        assert [m["client_msg_id"] for m in history] == ["a2", "b1", "a1"]
        assert is_tombstone(history[1]) and history[1]["from"] == bob.user_id
        assert [m.get("body") for m in (history[0], history[2])] == ["see you", "hello bob"]
        assert not any("deleted" in m for m in (history[0], history[2]))
        group = await c.history_all(g["conversation"])
        assert [m["client_msg_id"] for m in group] == ["c1", "b2"]
        assert is_tombstone(group[1]) and group[0]["body"] == "durian back"
        # Sync: the same entries at the same seqs.
        entries = await a.sync_all()
        by_id = {e["message"]["client_msg_id"]: e for e in entries}
        assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
        assert is_tombstone(by_id["b1"]["message"]) and is_tombstone(by_id["b2"]["message"])
        assert by_id["a1"]["message"]["body"] == "hello bob"
        assert by_id["c1"]["message"]["body"] == "durian back"
        # The conversation list shows the tombstone as a last message.
        listed = {x["conversation"]: x for x in (await c.call("conversations"))["conversations"]}
        assert listed[g["conversation"]]["last_message"]["client_msg_id"] == "c1"
        # Search finds nothing of bob's, at once.
        assert [m["client_msg_id"] for m in (await a.call("search", q="durian"))["messages"]] == ["c1"]
        # Nobody can reach bob any more.
        await a.expect_error("not_found", "send", to={"user": bob.user_id}, client_msg_id="a3", body="there?")
        await c.call("ping")  # nobody else was touched
        return direct, g["conversation"]

    direct, group = run(chat())
    assert_refused(server, laptop.token)
    r = http_request(server, "POST", "/v1/sessions",
                     {"username": bob.username, "password": bob.password, "device_id": "tablet"})
    assert r.status == 401, r.body
    alice_session = login(server, alice, "laptop")
    assert http_request(server, "GET", f"/v1/users/by-name/{bob.username}", token=alice_session.token).status == 404
    # The name stays taken, so that nobody answers for bob's old messages.
    r = http_request(server, "POST", "/v1/users", {"username": bob.username, "password": "a-new-password-9"})
    assert r.status == 409, r.body
    listed = admin(server, "GET", "/v1/admin/users?q=del_").json["users"]
    assert [(u["username"], u["deleted"]) for u in listed] == [
        ("del_alice", False), ("del_bob", True), ("del_carol", False)]

    # Deleting again finishes whatever was left (204); unknown ids are 404.
    assert admin(server, "DELETE", f"/v1/admin/users/{bob.user_id}").status == 204
    for path in ("/v1/admin/users/999999999", "/v1/admin/users/x", "/v1/admin/users/0"):
        r = admin(server, "DELETE", path)
        assert r.status == 404, (path, r.body)
    assert admin(server, "DELETE", f"/v1/admin/users/{alice.user_id}",
                 token=alice_session.token).status == 401

    # Across a restart, still tombstones.
    server.terminate()
    server.restart()

    async def after_restart():
        a = await online(server, alice, "phone")
        history = await a.history_all(direct)
        assert [is_tombstone(m) for m in history] == [False, True, False]
        group_history = await a.history_all(group)
        assert [is_tombstone(m) for m in group_history] == [False, True]

    run(after_restart())
