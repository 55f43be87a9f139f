"""CORS (docs/OPERATIONS.md, "CORS"): --cors-origins lists the web origins
whose pages may call the HTTP API; their preflights are answered and their
answers carry Access-Control-Allow-Origin; any other origin gets no CORS
header. A WebSocket upgrade from a browser page of an origin that is neither
listed nor the server's own is refused with 403."""

import subprocess

import pytest
from websockets.exceptions import InvalidStatusCode

from parley_client import Client, create_user, http_request, login, run

ALLOWED = "https://app.example.com"
OTHER = "https://evil.example.net"


def preflight(server, origin, path="/v1/sessions", method="POST"):
    return http_request(server, "OPTIONS", path, headers={
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type",
    })


def test_preflight_from_an_allowed_and_a_refused_origin(server_factory):
    server = server_factory("--cors-origins", f"{ALLOWED}, http://localhost:5173")

    r = preflight(server, ALLOWED)
    assert r.status == 204
    assert r.headers["access-control-allow-origin"] == ALLOWED
    assert set(r.headers["access-control-allow-methods"].replace(" ", "").split(",")) >= {"GET", "POST"}
    allowed_headers = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type"} <= allowed_headers
    assert int(r.headers["access-control-max-age"]) > 0
    assert "origin" in r.headers["vary"].lower()
    # The second origin of the list, and a path with a parameter.
    r = preflight(server, "http://localhost:5173", path="/v1/sessions/phone", method="DELETE")
    assert r.status == 204
    assert r.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "DELETE" in r.headers["access-control-allow-methods"]

    r = preflight(server, OTHER)
    assert r.status == 403
    assert r.json["code"] == "forbidden"
    assert "access-control-allow-origin" not in r.headers

    # Ordinary answers: the allowed origin is named, another is not.
    user = create_user(server, "alice")
    r = http_request(server, "POST", "/v1/sessions",
                     {"username": user.username, "password": user.password, "device_id": "web"},
                     headers={"Origin": ALLOWED})
    assert r.status == 200
    assert r.headers["access-control-allow-origin"] == ALLOWED
    assert "origin" in r.headers["vary"].lower()
    r = http_request(server, "GET", "/v1/healthz", headers={"Origin": OTHER})
    assert r.status == 200
    assert "access-control-allow-origin" not in r.headers


def test_no_origin_is_allowed_by_default(server):
    r = preflight(server, ALLOWED)
    assert r.status == 403
    assert "access-control-allow-origin" not in r.headers
    r = http_request(server, "GET", "/v1/healthz", headers={"Origin": ALLOWED})
    assert r.status == 200
    assert "access-control-allow-origin" not in r.headers


def test_a_malformed_origin_list_is_a_start_error(parleyd_binary, tmp_path):
    proc = subprocess.run(
        [parleyd_binary, "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"),
         "--cors-origins", "https://app.example.com/path"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "--cors-origins" in proc.stderr


def test_websocket_origins(server_factory):
    server = server_factory("--cors-origins", ALLOWED)
    user = create_user(server, "alice")
    token = login(server, user, "web").token

    async def body():
        # No Origin (not a browser), the server's own origin (its web app)
        # and an allowed origin are admitted.
        for origin in (None, f"http://{server.host}:{server.port}", ALLOWED):
            c = await Client.connect(server, token, origin=origin)
            assert (await c.call("ping"))["ok"] is True
            await c.close()
        # A page of another site is refused.
        with pytest.raises(InvalidStatusCode) as info:
            await Client.connect(server, token, origin=OTHER)
        assert info.value.status_code == 403

    run(body())

    # The refusal's body says why, in the protocol's error shape.
    r = http_request(server, "GET", "/v1/ws", token=token, headers={
        "Origin": OTHER, "Connection": "Upgrade", "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert r.status == 403
    assert r.json["code"] == "forbidden"
    assert OTHER in r.json["message"] and "--cors-origins" in r.json["message"]
