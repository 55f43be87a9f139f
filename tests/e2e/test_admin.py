"""The admin API (issue 14, "Admin API"; docs/PROTOCOL.md "Admin API"): off
unless --admin-token-file names the token; users listed and searched by name
in pages; a disabled user is disconnected, its tokens refused and its
logins refused until it is enabled again."""

import subprocess

from parley_client import create_user, http_request, login, online, run
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
