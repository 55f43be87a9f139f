"""TLS (docs/OPERATIONS.md, "TLS"): with --tls-cert and --tls-key the one
listener serves HTTPS and WSS only; a client that verifies the certificate
against its CA logs in and chats; SIGHUP reloads the certificate without
dropping open connections; a missing or half TLS setting stops the start.

The CA and the server certificates are made at test time, into the test's
tmp_path, with Python's `cryptography` (Debian's python3-cryptography)."""

import datetime
import http.client
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import time
import warnings

import pytest

cryptography = pytest.importorskip("cryptography")

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from parley_client import create_user, http_request, online, run  # noqa: E402
from parley_server import DEFAULT_ARGS  # noqa: E402


# -- certificates -------------------------------------------------------------

def _pem_key(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


class Ca:
    """A throwaway certificate authority that signs server certificates
    for 127.0.0.1."""

    def __init__(self, directory):
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Parley test CA")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder()
                     .subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.path = os.path.join(directory, "ca.pem")
        with open(self.path, "wb") as f:
            f.write(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, common_name):
        """A server certificate for 127.0.0.1 and localhost: (cert PEM, key
        PEM, serial number)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        serial = x509.random_serial_number()
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
                .issuer_name(self.cert.subject)
                .public_key(key.public_key())
                .serial_number(serial)
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName([
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .sign(self.key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key), serial

    def client_context(self):
        """A client context that trusts this CA only and checks the host."""
        ctx = ssl.create_default_context(cafile=self.path)
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx


def write_atomically(path, data):
    """Replaces `path` with `data` in one rename, so the server never reads
    half a file."""
    tmp = path + ".new"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def install(directory, cert_pem, key_pem):
    cert_path = os.path.join(directory, "server.pem")
    key_path = os.path.join(directory, "server.key")
    write_atomically(cert_path, cert_pem)
    write_atomically(key_path, key_pem)
    return cert_path, key_path


def served_serial(server, ctx):
    """The serial number of the certificate a new handshake is served, checked
    against the CA (ctx)."""
    with socket.create_connection((server.host, server.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=server.host) as tls:
            der = tls.getpeercert(binary_form=True)
    return x509.load_der_x509_certificate(der).serial_number


@pytest.fixture
def ca(tmp_path):
    return Ca(str(tmp_path))


def tls_server(server_factory, ca, tmp_path, *extra, common_name="parley-1"):
    cert_pem, key_pem, serial = ca.issue(common_name)
    cert_path, key_path = install(str(tmp_path), cert_pem, key_pem)
    server = server_factory("--tls-cert", cert_path, "--tls-key", key_path, *extra)
    server.ssl_context = ca.client_context()
    server.tls_files = (cert_path, key_path)
    server.tls_serial = serial
    return server


# -- serving ------------------------------------------------------------------

def test_wss_client_verifies_the_certificate_and_chats(server_factory, ca, tmp_path):
    server = tls_server(server_factory, ca, tmp_path)

    # HTTPS, the certificate checked against the CA and the host name.
    r = http_request(server, "GET", "/v1/healthz")
    assert r.status == 200 and r.json == {"status": "ok"}
    assert served_serial(server, server.ssl_context) == server.tls_serial
    # The server list names wss:// URLs.
    servers = http_request(server, "GET", "/v1/servers").json["servers"]
    assert servers and all(s["url"].startswith("wss://") for s in servers)

    # Sign-up, login and a 1:1 chat, all over TLS.
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        a = await online(server, alice, "laptop")
        b = await online(server, bob, "phone")
        reply = await a.send_to_user(bob.user_id, "tls-1", "over TLS")
        ev = await b.message_with("tls-1")
        assert ev["message"]["body"] == "over TLS"
        assert ev["message"]["message_id"] == reply["message_id"]
        assert ev["message"]["from"] == alice.user_id

    run(body())


def test_the_tls_port_speaks_tls_only(server_factory, ca, tmp_path):
    server = tls_server(server_factory, ca, tmp_path)

    # Plain HTTP to the TLS port gets no HTTP answer.
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    with pytest.raises((http.client.HTTPException, OSError)):
        conn.request("GET", "/v1/healthz")
        conn.getresponse().read()
    conn.close()

    # A client that does not trust the certificate refuses it: the
    # verification above is real.
    untrusting = ssl.create_default_context()
    with pytest.raises(ssl.SSLCertVerificationError):
        served_serial(server, untrusting)

    # TLS 1.2 is served; TLS 1.1 is refused by the server (its
    # protocol_version alert, not a client that cannot offer it).
    tls12 = ca.client_context()
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    assert served_serial(server, tls12) == server.tls_serial
    old = ca.client_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    with pytest.raises(ssl.SSLError, match="ALERT_PROTOCOL_VERSION"):
        served_serial(server, old)

    # The server still serves after all of that.
    assert http_request(server, "GET", "/v1/healthz").status == 200


# -- reload -------------------------------------------------------------------

def wait_for_serial(server, serial, timeout=10.0):
    """Polls new handshakes until they are served the certificate `serial`."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = served_serial(server, server.ssl_context)
        if seen == serial:
            return
    raise AssertionError(f"new handshakes still get serial {seen}, not {serial}")


def wait_for_log(server, text, timeout=10.0):
    """Polls the server's stderr until a line holds `text`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(server.stderr_path, encoding="utf-8", errors="replace") as f:
            if text in f.read():
                return
    raise AssertionError(f"no log line with {text!r}:\n{server.stderr_tail()}")


def test_sighup_reloads_the_certificate_and_keeps_open_connections(server_factory, ca, tmp_path):
    server = tls_server(server_factory, ca, tmp_path)
    cert_path, key_path = server.tls_files
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        a = await online(server, alice, "laptop")
        b = await online(server, bob, "phone")
        await a.send_to_user(bob.user_id, "before", "before the reload")
        await b.message_with("before")

        # A new certificate (a new key, serial and name) in the same files.
        cert_pem, key_pem, serial = ca.issue("parley-2")
        assert serial != server.tls_serial
        install(str(tmp_path), cert_pem, key_pem)
        server.proc.send_signal(signal.SIGHUP)
        wait_for_serial(server, serial)
        wait_for_log(server, "SIGHUP: reloaded the TLS certificate")

        # The connections opened before the reload still work both ways.
        assert (await a.call("ping"))["ok"] is True
        reply = await a.send_to_user(bob.user_id, "after", "after the reload")
        ev = await b.message_with("after")
        assert ev["message"]["message_id"] == reply["message_id"]
        assert not a.is_closed and not b.is_closed

        # A new connection, on the new certificate, chats with the old ones.
        b2 = await online(server, bob, "tablet")
        await a.send_to_user(bob.user_id, "new-conn", "to the new connection")
        assert (await b2.message_with("new-conn"))["message"]["body"] == "to the new connection"

        # A bad file on reload is logged, and the certificate in use stays.
        write_atomically(cert_path, b"-----BEGIN CERTIFICATE-----\nnot a certificate\n")
        server.proc.send_signal(signal.SIGHUP)
        wait_for_log(server, "SIGHUP: kept the TLS certificate in use")
        assert served_serial(server, server.ssl_context) == serial
        assert (await a.call("ping"))["ok"] is True
        assert server.running

    run(body())


# -- start-up errors ----------------------------------------------------------

def start_failure(parleyd_binary, tmp_path, *args):
    """Runs parleyd with `args`, which must stop it at start: (exit status,
    stderr)."""
    proc = subprocess.run(
        [parleyd_binary, "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"),
         *DEFAULT_ARGS, *args],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    return proc.returncode, proc.stderr


def test_only_one_of_cert_and_key_is_a_start_error(parleyd_binary, ca, tmp_path):
    cert_path, key_path = install(str(tmp_path), *ca.issue("parley-1")[:2])

    rc, err = start_failure(parleyd_binary, tmp_path, "--tls-cert", cert_path)
    assert rc != 0
    assert "--tls-key" in err and "--tls-cert" in err

    rc, err = start_failure(parleyd_binary, tmp_path, "--tls-key", key_path)
    assert rc != 0
    assert "--tls-cert" in err and "--tls-key" in err


def test_a_missing_or_mismatched_file_is_a_start_error(parleyd_binary, ca, tmp_path):
    cert_path, key_path = install(str(tmp_path), *ca.issue("parley-1")[:2])
    missing = str(tmp_path / "no-such.pem")

    rc, err = start_failure(parleyd_binary, tmp_path, "--tls-cert", missing, "--tls-key", key_path)
    assert rc != 0
    assert "--tls-cert" in err and f"the certificate file {missing}: No such file" in err

    rc, err = start_failure(parleyd_binary, tmp_path, "--tls-cert", cert_path, "--tls-key", missing)
    assert rc != 0
    assert "--tls-key" in err and f"the key file {missing}: No such file" in err

    # A key that is not the certificate's.
    other_key = str(tmp_path / "other.key")
    write_atomically(other_key, ca.issue("other")[1])
    rc, err = start_failure(parleyd_binary, tmp_path, "--tls-cert", cert_path, "--tls-key", other_key)
    assert rc != 0
    assert "does not belong to the certificate" in err and other_key in err

    # The same through the environment.
    env = dict(os.environ, PARLEY_TLS_CERT=cert_path)
    proc = subprocess.run(
        [parleyd_binary, "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"), *DEFAULT_ARGS],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30, env=env)
    assert proc.returncode != 0 and "--tls-key" in proc.stderr
