"""Engine credentials (docs/OPERATIONS.md, "Engine credentials"): parleyd
on a Kafka, a Redis, a PostgreSQL and a Cassandra that authenticate, started by
scripts/engines in its authentication mode (PARLEY_ENGINES_AUTH=1). With the
right credentials a 1:1 send is delivered; with a wrong password parleyd
exits non-zero at start with a message that names the engine and holds no
secret; credentials refused later turn /v1/readyz 503. Kafka over TLS: the
right CA works, another CA fails clearly.

Redis: the engines that PARLEY_TEST_AUTH_REDIS* name, else a Redis of this
module's own in authentication mode (cheap: under a second). Kafka: the one
PARLEY_TEST_AUTH_KAFKA* name, else, in the run on the real engines
(PARLEY_E2E_ENGINES=real, where the other servers are on Kafka, Redis and
PostgreSQL too), a Kafka of this module's own in authentication mode (10-40
s and half a gigabyte: once per CI run, not again in the embedded run).
PostgreSQL: the one PARLEY_TEST_AUTH_POSTGRES* name, else one of this
module's own in authentication mode (scram-sha-256; a few seconds).
Cassandra: the one PARLEY_TEST_AUTH_CASSANDRA* name (`PARLEY_ENGINES_AUTH=1
scripts/engines start cassandra` prints them), else, in the run on the real
engines only, one of this module's own in authentication mode (a minute and
a gigabyte: once per CI run).
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from urllib.parse import quote

import pytest

from conftest import real_engines
from parley_client import create_user, http_request, online, readyz_until, run
from parley_server import DEFAULT_ARGS
from private_engines import ENGINES, free_port

WRONG_PASSWORD = "not-the-password-" + uuid.uuid4().hex[:8]


def another_free_port(*taken):
    """A free loopback port that is none of `taken`."""
    while True:
        port = free_port()
        if port not in taken:
            return port


@contextlib.contextmanager
def engine_in_auth_mode(name, directory, timeout, **ports):
    """scripts/engines' `name` in its authentication mode, in `directory`
    with the port variables `ports`, stopped when the block ends."""
    env = dict(os.environ, PARLEY_ENGINES_AUTH="1", PARLEY_ENGINES_DIR=str(directory), **ports)
    try:
        subprocess.run([ENGINES, "start", name], env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=timeout)
        yield
    finally:
        subprocess.run([ENGINES, "stop", name], env=env, check=False,
                       stdout=subprocess.DEVNULL, timeout=120)


@pytest.fixture(scope="module")
def auth_redis_engine(tmp_path_factory):
    """A Redis that wants AUTH: a dict of its address, the user, the
    password file, its TLS address (`tls_address`) and the CA of its
    certificate (`ca_file`)."""
    if os.environ.get("PARLEY_TEST_AUTH_REDIS"):
        yield {"address": os.environ["PARLEY_TEST_AUTH_REDIS"],
               "user": os.environ["PARLEY_TEST_AUTH_REDIS_USER"],
               "password_file": os.environ["PARLEY_TEST_AUTH_REDIS_PASSWORD_FILE"],
               "tls_address": os.environ.get("PARLEY_TEST_AUTH_REDIS_TLS"),
               "ca_file": os.environ.get("PARLEY_TEST_AUTH_REDIS_CA_FILE")}
        return
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (scripts/install-deps)")
    directory = tmp_path_factory.mktemp("auth-engines")
    port = free_port()
    tls_port = another_free_port(port)
    with engine_in_auth_mode("redis", directory, 60, PARLEY_REDIS_PORT=str(port),
                             PARLEY_REDIS_TLS_PORT=str(tls_port)):
        yield {"address": f"127.0.0.1:{port}", "user": "parley",
               "password_file": str(directory / "redis" / "password"),
               "tls_address": f"127.0.0.1:{tls_port}",
               "ca_file": str(directory / "redis" / "tls" / "ca.pem")}


@pytest.fixture(scope="module")
def auth_redis(auth_redis_engine):
    """(address, user, password file) of a Redis that wants AUTH."""
    return (auth_redis_engine["address"], auth_redis_engine["user"], auth_redis_engine["password_file"])


def redis_tls(engine):
    """(TLS address, CA file) of the Redis `engine`; skips the test when
    the engines were started without TLS."""
    if not engine["tls_address"]:
        pytest.skip("PARLEY_TEST_AUTH_REDIS_TLS is not set (PARLEY_ENGINES_AUTH=1 scripts/engines start redis "
                    "prints it)")
    return engine["tls_address"], engine["ca_file"]


@pytest.fixture(scope="module")
def auth_kafka(tmp_path_factory):
    """A Kafka that wants SASL: a dict of its SASL_PLAINTEXT address
    (`address`), its SASL_SSL one (`tls_address`), the CA of its certificate
    (`ca_file`), the user and the password file."""
    if os.environ.get("PARLEY_TEST_AUTH_KAFKA"):
        yield {"address": os.environ["PARLEY_TEST_AUTH_KAFKA"],
               "tls_address": os.environ["PARLEY_TEST_AUTH_KAFKA_SSL"],
               "ca_file": os.environ["PARLEY_TEST_AUTH_KAFKA_CA_FILE"],
               "user": os.environ["PARLEY_TEST_AUTH_KAFKA_USER"],
               "password_file": os.environ["PARLEY_TEST_AUTH_KAFKA_PASSWORD_FILE"]}
        return
    if not real_engines():
        pytest.skip("PARLEY_TEST_AUTH_KAFKA is not set (PARLEY_ENGINES_AUTH=1 scripts/engines start "
                    "kafka prints it; the run on the real engines starts a Kafka of its own)")
    directory = tmp_path_factory.mktemp("auth-kafka")
    port = free_port(pair=True)
    tls_port = another_free_port(port, port + 1)
    with engine_in_auth_mode("kafka", directory, 300, PARLEY_KAFKA_PORT=str(port),
                             PARLEY_KAFKA_SSL_PORT=str(tls_port)):
        yield {"address": f"127.0.0.1:{port}", "tls_address": f"127.0.0.1:{tls_port}",
               "ca_file": str(directory / "kafka" / "tls" / "ca.pem"), "user": "parley",
               "password_file": str(directory / "kafka" / "password")}


def kafka_flags(kafka, mechanism, password_file=None, tls=False, ca_file=None):
    """parleyd's flags for `kafka` with SASL `mechanism`, over TLS with
    `tls` (checked against `ca_file`, by default the broker's CA)."""
    flags = ["--kafka", kafka["tls_address"] if tls else kafka["address"],
             "--kafka-security-protocol", "sasl_ssl" if tls else "sasl_plaintext",
             "--kafka-sasl-mechanism", mechanism,
             "--kafka-user", kafka["user"],
             "--kafka-password-file", password_file or kafka["password_file"]]
    if tls:
        flags += ["--kafka-ca-file", ca_file or kafka["ca_file"]]
    return flags


@pytest.fixture(scope="module")
def auth_postgres():
    """(URL without a password, password file) of a PostgreSQL that wants
    the password of its role `parley` (scram-sha-256)."""
    if os.environ.get("PARLEY_TEST_AUTH_POSTGRES"):
        yield os.environ["PARLEY_TEST_AUTH_POSTGRES"], os.environ["PARLEY_TEST_AUTH_POSTGRES_PASSWORD_FILE"]
        return
    # Not under pytest's temporary folder, which only its owner may enter:
    # run as root, scripts/engines runs PostgreSQL as the user postgres.
    directory = tempfile.mkdtemp(prefix="parley-auth-postgres-")
    os.chmod(directory, 0o755)
    port = free_port()
    try:
        with engine_in_auth_mode("postgres", directory, 120, PARLEY_POSTGRES_PORT=str(port)):
            yield (f"postgresql://parley@127.0.0.1:{port}/parley",
                   os.path.join(directory, "postgres", "password"))
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def with_password(url, password):
    """`url` (postgresql://USER@HOST...) with `password` in it."""
    scheme, rest = url.split("://", 1)
    user, where = rest.split("@", 1)
    return f"{scheme}://{user}:{quote(password, safe='')}@{where}"


@pytest.fixture(scope="module")
def auth_cassandra_engine(tmp_path_factory):
    """A Cassandra that wants a password: a dict of its address, the user,
    the password file and the CA of its certificate (`ca_file`)."""
    if os.environ.get("PARLEY_TEST_AUTH_CASSANDRA"):
        yield {"address": os.environ["PARLEY_TEST_AUTH_CASSANDRA"],
               "user": os.environ["PARLEY_TEST_AUTH_CASSANDRA_USER"],
               "password_file": os.environ["PARLEY_TEST_AUTH_CASSANDRA_PASSWORD_FILE"],
               "ca_file": os.environ.get("PARLEY_TEST_AUTH_CASSANDRA_CA_FILE")}
        return
    if not real_engines():
        pytest.skip("PARLEY_TEST_AUTH_CASSANDRA is not set (PARLEY_ENGINES_AUTH=1 scripts/engines start "
                    "cassandra prints it; the run on the real engines starts a Cassandra of its own)")
    directory = tmp_path_factory.mktemp("auth-cassandra")
    port = free_port()
    with engine_in_auth_mode("cassandra", directory, 400, PARLEY_CASSANDRA_PORT=str(port),
                             PARLEY_CASSANDRA_STORAGE_PORT=str(another_free_port(port))):
        yield {"address": f"127.0.0.1:{port}", "user": "parley",
               "password_file": str(directory / "cassandra" / "password"),
               "ca_file": str(directory / "cassandra" / "tls" / "ca.pem")}


@pytest.fixture(scope="module")
def auth_cassandra(auth_cassandra_engine):
    """(address, user, password file) of a Cassandra that wants a password."""
    e = auth_cassandra_engine
    return e["address"], e["user"], e["password_file"]


@pytest.fixture(scope="module")
def cassandra_ca_file(auth_cassandra_engine):
    if not auth_cassandra_engine["ca_file"]:
        pytest.skip("PARLEY_TEST_AUTH_CASSANDRA_CA_FILE is not set (PARLEY_ENGINES_AUTH=1 "
                    "scripts/engines start cassandra prints it)")
    return auth_cassandra_engine["ca_file"]


def redis_cli(redis, *command):
    """A redis-cli command as the ACL user, its output."""
    address, user, password_file = redis
    host, port = address.rsplit(":", 1)
    with open(password_file) as f:
        password = f.read().strip()
    out = subprocess.run(["redis-cli", "-h", host, "-p", port, "--user", user, *command],
                         env=dict(os.environ, REDISCLI_AUTH=password), check=True,
                         capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


def namespace():
    return "auth_" + uuid.uuid4().hex[:12]


def chat_works(server):
    """A 1:1 send from alice is delivered to bob's device."""
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "phone")
        reply = await a.send_to_user(bob.user_id, "m-1", "over an engine with a password")
        ev = await b.message_with("m-1")
        assert ev["message"]["body"] == "over an engine with a password"
        assert ev["message"]["message_id"] == reply["message_id"]

    run(body())


def start_fails(parleyd_binary, tmp_path, *flags):
    """Runs parleyd with `flags`, expecting it to exit at start; its exit
    status and stderr."""
    proc = subprocess.run(
        [parleyd_binary, "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"),
         *DEFAULT_ARGS, *flags],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "listening" not in proc.stdout
    return proc.returncode, proc.stderr


def another_ca(tmp_path):
    """A CA certificate (PEM file) that signed none of the engines'."""
    path = tmp_path / "another-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=Another CA",
                    "-days", "1", "-keyout", str(tmp_path / "another-ca.key"), "-out", str(path)],
                   check=True, capture_output=True, timeout=60)
    return str(path)


def wrong_password_file(tmp_path):
    path = tmp_path / "wrong-password"
    path.write_text(WRONG_PASSWORD + "\n")
    return str(path)


# --- Kafka -------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_kafka_with_sasl_serves_chat(server_factory, auth_kafka, mechanism):
    server = server_factory(*kafka_flags(auth_kafka, mechanism), "--engine-namespace", namespace())
    chat_works(server)
    r = http_request(server, "GET", "/v1/readyz")
    assert r.status == 200, r.body


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256"])
def test_kafka_with_a_wrong_password_exits_naming_kafka_and_no_secret(
        parleyd_binary, tmp_path, auth_kafka, mechanism):
    _, stderr = start_fails(parleyd_binary, tmp_path,
                            *kafka_flags(auth_kafka, mechanism, wrong_password_file(tmp_path)))
    assert "cannot open the message log: kafka: authentication failed" in stderr, stderr
    assert WRONG_PASSWORD not in stderr
    with open(auth_kafka["password_file"]) as f:
        assert f.read().strip() not in stderr


def test_kafka_over_tls_with_the_brokers_ca_serves_chat(server_factory, auth_kafka):
    server = server_factory(*kafka_flags(auth_kafka, "SCRAM-SHA-256", tls=True),
                            "--engine-namespace", namespace())
    chat_works(server)


def test_kafka_over_tls_with_another_ca_exits_saying_the_certificate_failed(
        parleyd_binary, tmp_path, auth_kafka):
    _, stderr = start_fails(parleyd_binary, tmp_path,
                            *kafka_flags(auth_kafka, "PLAIN", tls=True, ca_file=another_ca(tmp_path)))
    assert "cannot open the message log: kafka: TLS failed" in stderr, stderr
    assert "certificate verify failed" in stderr, stderr


def test_kafka_sasl_without_credentials_is_refused_before_connecting(parleyd_binary, tmp_path):
    # No broker needed: the settings are checked before any connection.
    _, stderr = start_fails(parleyd_binary, tmp_path, "--kafka", "127.0.0.1:1",
                            "--kafka-security-protocol", "sasl_ssl")
    assert "--kafka-security-protocol sasl_ssl needs --kafka-user and --kafka-password-file" in stderr, stderr
    _, stderr = start_fails(parleyd_binary, tmp_path, "--kafka", "127.0.0.1:1",
                            "--kafka-ca-file", "/etc/hostname")
    assert "--kafka-ca-file needs --kafka-security-protocol ssl or sasl_ssl" in stderr, stderr


# --- Redis -------------------------------------------------------------------


def test_redis_with_the_right_credentials_serves_chat(server_factory, auth_redis):
    address, user, password_file = auth_redis
    server = server_factory("--redis", address, "--redis-user", user,
                            "--redis-password-file", password_file,
                            "--engine-namespace", namespace())
    chat_works(server)
    r = http_request(server, "GET", "/v1/readyz")
    assert r.status == 200, r.body


def test_redis_with_a_wrong_password_exits_naming_redis_and_no_secret(
        parleyd_binary, tmp_path, auth_redis):
    address, user, password_file = auth_redis
    status, stderr = start_fails(parleyd_binary, tmp_path, "--redis", address,
                                 "--redis-user", user,
                                 "--redis-password-file", wrong_password_file(tmp_path))
    assert "redis: authentication failed: WRONGPASS" in stderr, stderr
    assert WRONG_PASSWORD not in stderr
    with open(password_file) as f:
        assert f.read().strip() not in stderr


def test_redis_without_credentials_exits_saying_it_wants_them(parleyd_binary, tmp_path, auth_redis):
    address, _, _ = auth_redis
    _, stderr = start_fails(parleyd_binary, tmp_path, "--redis", address)
    assert "NOAUTH" in stderr and "redis" in stderr, stderr


def test_redis_password_file_that_cannot_be_read_is_refused(parleyd_binary, tmp_path, auth_redis):
    address, user, _ = auth_redis
    missing = str(tmp_path / "no-such-file")
    _, stderr = start_fails(parleyd_binary, tmp_path, "--redis", address, "--redis-user", user,
                            "--redis-password-file", missing)
    assert f"--redis-password-file: cannot read {missing}" in stderr, stderr


def test_redis_credentials_refused_later_turn_readyz_503_until_they_work_again(
        server_factory, auth_redis):
    address, user, password_file = auth_redis
    server = server_factory("--redis", address, "--redis-user", user,
                            "--redis-password-file", password_file,
                            "--engine-namespace", namespace())
    assert http_request(server, "GET", "/v1/readyz").status == 200
    with open(password_file) as f:
        password = f.read().strip()
    # The operator rotates the password and drops the connections: parleyd
    # reconnects with the old one, which Redis now refuses.
    redis_cli(auth_redis, "ACL", "SETUSER", user, "resetpass", ">" + WRONG_PASSWORD)
    try:
        subprocess.run(["redis-cli", "-h", address.rsplit(":", 1)[0], "-p", address.rsplit(":", 1)[1],
                        "--user", user, "CLIENT", "KILL", "USER", user],
                       env=dict(os.environ, REDISCLI_AUTH=WRONG_PASSWORD), check=True,
                       capture_output=True, timeout=10)
        r = readyz_until(server, 503)
        reasons = " ".join(r.json["reasons"])
        assert "redis" in reasons and "authentication failed" in reasons, reasons
        assert WRONG_PASSWORD not in r.body.decode() and password not in r.body.decode()
    finally:
        subprocess.run(["redis-cli", "-h", address.rsplit(":", 1)[0], "-p", address.rsplit(":", 1)[1],
                        "--user", user, "ACL", "SETUSER", user, "resetpass", ">" + password],
                       env=dict(os.environ, REDISCLI_AUTH=WRONG_PASSWORD), check=True,
                       capture_output=True, timeout=10)
    # The password works again: parleyd's next reconnect gets in.
    readyz_until(server, 200)
    chat_works(server)


def test_redis_over_tls_with_its_ca_serves_chat(server_factory, auth_redis_engine):
    tls_address, ca_file = redis_tls(auth_redis_engine)
    server = server_factory("--redis", tls_address, "--redis-user", auth_redis_engine["user"],
                            "--redis-password-file", auth_redis_engine["password_file"],
                            "--redis-ca-file", ca_file, "--engine-namespace", namespace())
    chat_works(server)
    r = http_request(server, "GET", "/v1/readyz")
    assert r.status == 200, r.body


def test_redis_over_tls_with_another_ca_exits_saying_the_certificate_failed(
        parleyd_binary, tmp_path, auth_redis_engine):
    tls_address, _ = redis_tls(auth_redis_engine)
    _, stderr = start_fails(parleyd_binary, tmp_path, "--redis", tls_address,
                            "--redis-user", auth_redis_engine["user"],
                            "--redis-password-file", auth_redis_engine["password_file"],
                            "--redis-ca-file", another_ca(tmp_path))
    assert "redis: TLS failed" in stderr and "certificate verify failed" in stderr, stderr


# --- PostgreSQL --------------------------------------------------------------


def test_postgres_with_the_right_password_serves_chat(server_factory, auth_postgres):
    url, password_file = auth_postgres
    with open(password_file) as f:
        password = f.read().strip()
    server = server_factory("--postgres", with_password(url, password), "--engine-namespace", namespace())
    chat_works(server)
    r = http_request(server, "GET", "/v1/readyz")
    assert r.status == 200, r.body
    assert password not in server.stderr_tail()


def test_postgres_with_a_wrong_password_exits_naming_postgres_and_no_secret(
        parleyd_binary, tmp_path, auth_postgres):
    url, password_file = auth_postgres
    _, stderr = start_fails(parleyd_binary, tmp_path, "--postgres", with_password(url, WRONG_PASSWORD))
    assert "postgres: cannot connect" in stderr and "password authentication failed" in stderr, stderr
    assert WRONG_PASSWORD not in stderr
    with open(password_file) as f:
        assert f.read().strip() not in stderr


def test_postgres_without_a_password_exits_saying_it_wants_one(parleyd_binary, tmp_path, auth_postgres):
    url, _ = auth_postgres
    assert "PGPASSWORD" not in os.environ and "PGPASSFILE" not in os.environ
    _, stderr = start_fails(parleyd_binary, tmp_path, "--postgres", url)
    assert "postgres: cannot connect" in stderr and "no password supplied" in stderr, stderr


# --- Cassandra ---------------------------------------------------------------


def test_cassandra_with_the_right_credentials_serves_chat(server_factory, auth_cassandra):
    address, user, password_file = auth_cassandra
    server = server_factory("--cassandra", address, "--cassandra-user", user,
                            "--cassandra-password-file", password_file,
                            "--cassandra-consistency", "ONE",
                            "--engine-namespace", namespace())
    chat_works(server)


def test_cassandra_with_a_wrong_password_exits_naming_cassandra_and_no_secret(parleyd_binary, tmp_path,
                                                                           auth_cassandra):
    address, user, password_file = auth_cassandra
    _, stderr = start_fails(parleyd_binary, tmp_path, "--cassandra", address,
                            "--cassandra-user", user,
                            "--cassandra-password-file", wrong_password_file(tmp_path))
    assert "cassandra: authentication failed" in stderr, stderr
    assert WRONG_PASSWORD not in stderr
    with open(password_file) as f:
        assert f.read().strip() not in stderr


def test_cassandra_without_credentials_exits_saying_it_wants_them(parleyd_binary, tmp_path, auth_cassandra):
    address, _, _ = auth_cassandra
    _, stderr = start_fails(parleyd_binary, tmp_path, "--cassandra", address)
    assert "cassandra: the node requires authentication" in stderr, stderr


def test_cassandra_over_tls_with_the_nodes_ca_serves_chat(server_factory, auth_cassandra, cassandra_ca_file):
    address, user, password_file = auth_cassandra
    server = server_factory("--cassandra", address, "--cassandra-user", user,
                            "--cassandra-password-file", password_file,
                            "--cassandra-ca-file", cassandra_ca_file,
                            "--cassandra-consistency", "ONE",
                            "--engine-namespace", namespace())
    chat_works(server)


def test_cassandra_over_tls_with_another_ca_exits_saying_the_certificate_failed(parleyd_binary, tmp_path,
                                                                               auth_cassandra, cassandra_ca_file):
    address, user, password_file = auth_cassandra
    _, stderr = start_fails(parleyd_binary, tmp_path, "--cassandra", address, "--cassandra-user", user,
                            "--cassandra-password-file", password_file,
                            "--cassandra-ca-file", another_ca(tmp_path))
    assert f"cassandra: TLS failed with {address}" in stderr, stderr
    assert "certificate verify failed" in stderr, stderr
