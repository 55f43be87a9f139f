"""--web-dir: parleyd serves the web app's built files (clients/web), and
nothing outside their folder."""

import http.client
import os

import pytest


def raw_get(server, path, method="GET"):
    """A request with the target sent exactly as given (no client-side
    normalisation of `..`)."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@pytest.fixture
def web_dir(tmp_path):
    root = tmp_path / "site"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>app</title>")
    (root / "assets" / "app-1a2b.js").write_text("console.log('app')")
    (root / "assets" / "style.css").write_text("body{}")
    (root / ".hidden").write_text("dot file")
    (tmp_path / "secret.txt").write_text("outside the web folder")
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    return root


def test_serves_index_and_assets_with_their_types(server_factory, web_dir):
    server = server_factory("--web-dir", str(web_dir))
    status, headers, body = raw_get(server, "/")
    assert status == 200
    assert body == b"<!doctype html><title>app</title>"
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-cache"

    status, headers, body = raw_get(server, "/assets/app-1a2b.js")
    assert status == 200 and body == b"console.log('app')"
    assert headers["content-type"].startswith("text/javascript")
    assert "immutable" in headers["cache-control"]
    assert headers["x-content-type-options"] == "nosniff"

    status, headers, _ = raw_get(server, "/assets/style.css")
    assert status == 200 and headers["content-type"].startswith("text/css")

    status, headers, body = raw_get(server, "/assets/app-1a2b.js", method="HEAD")
    assert status == 200 and body == b""
    assert headers["content-length"] == str(len("console.log('app')"))


@pytest.mark.parametrize("path", [
    "/../secret.txt",
    "/assets/../../secret.txt",
    "/%2e%2e/secret.txt",
    "/assets/%2E%2E/%2e%2e/secret.txt",
    "/assets/..%2f..%2fsecret.txt",
    "/..%5csecret.txt",
    "/link.txt",          # a symlink out of the folder
    "/.hidden",
    "/missing.js",
    "/assets",
])
def test_refuses_paths_out_of_the_folder(server_factory, web_dir, path):
    server = server_factory("--web-dir", str(web_dir))
    status, headers, body = raw_get(server, path)
    assert status == 404, (path, status, body)
    assert b"outside the web folder" not in body
    assert headers["content-type"] == "application/json"


def test_the_api_is_unchanged_beside_the_files(server_factory, web_dir):
    server = server_factory("--web-dir", str(web_dir))
    status, _, body = raw_get(server, "/v1/healthz")
    assert status == 200 and b"ok" in body
    status, _, _ = raw_get(server, "/v1/no-such-thing")
    assert status == 404
    status, headers, _ = raw_get(server, "/index.html", method="POST")
    assert status == 405 and headers["allow"] == "GET, HEAD"


def test_without_web_dir_the_built_in_page_is_served(server):
    status, headers, body = raw_get(server, "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert raw_get(server, "/assets/app.js")[0] == 404


def test_a_web_dir_that_is_no_folder_is_refused_at_start(parleyd_binary, tmp_path):
    import subprocess
    out = subprocess.run([parleyd_binary, "--web-dir", str(tmp_path / "nope"), "--data-dir", str(tmp_path / "d")],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode == 2
    assert "is not a directory" in out.stderr
