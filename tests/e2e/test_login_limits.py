"""Failed logins per source address (issue 13, item 5): one address that
guesses a few passwords on each of many accounts stays under every
per-username limit, so failures are counted per address too. Past
`--login-failures-per-address` (default 20) the address waits, with 429
rate_limited and Retry-After, whatever the username or password; other
addresses, and the accounts themselves, are still served."""

from parley_client import create_user, http_request


def attempt(server, username, password, source):
    return http_request(server, "POST", "/v1/sessions",
                        {"username": username, "password": password, "device_id": "d"},
                        source=source)


def test_many_wrong_passwords_from_one_address_get_429_and_others_are_served(server_factory):
    # The server's own defaults (the suite's set raises no login limit).
    server = server_factory(defaults=("--pwhash-limits", "min"))
    victims = [create_user(server, f"victim{i}") for i in range(8)]
    attacker, bystander = "127.0.0.2", "127.0.0.3"

    # Two wrong passwords for each of eight accounts and then some: under
    # the five a username may fail, twenty from the address in all.
    answers = []
    for round_ in range(3):
        for v in victims:
            answers.append(attempt(server, v.username, f"guess {round_} for {v.username}", attacker))
    statuses = [r.status for r in answers]
    assert statuses[:20] == [401] * 20, statuses
    assert statuses[20:] == [429] * 4, statuses
    for r in answers[20:]:
        assert r.json["code"] == "rate_limited"
        assert "from this address" in r.json["message"], r.json
        assert int(r.headers["retry-after"]) >= 1, r.headers
    # Even the right password waits, from that address.
    refused = attempt(server, victims[0].username, victims[0].password, attacker)
    assert refused.status == 429 and "retry-after" in refused.headers

    # Another address is served: the same accounts log in, and its own
    # wrong password is an ordinary 401.
    assert attempt(server, victims[0].username, victims[0].password, bystander).status == 200
    assert attempt(server, victims[1].username, "not it either", bystander).status == 401
    other = create_user(server, "bystander")
    assert attempt(server, other.username, other.password, bystander).status == 200


def test_the_per_address_limit_is_a_setting(server_factory):
    server = server_factory("--login-failures-per-address", "3", "--login-failures-per-username", "0")
    user = create_user(server, "alice")
    for i in range(3):
        assert attempt(server, "alice", f"wrong {i}", "127.0.0.2").status == 401
    r = attempt(server, "alice", user.password, "127.0.0.2")
    assert r.status == 429 and r.headers["retry-after"] == "1", (r.status, r.headers)
    # No per-username limit here: alice herself is served from elsewhere.
    assert attempt(server, "alice", user.password, "127.0.0.4").status == 200
