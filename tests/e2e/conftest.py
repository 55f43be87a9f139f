"""Fixtures: a real parleyd per test, in a fresh data directory.

ctest runs this suite with PARLEYD=<path to the parleyd binary>.
"""

import os
import uuid

import pytest

from parley_server import DEFAULT_ARGS, ParleyServer
from private_engines import PrivateEngines


@pytest.fixture(scope="session")
def parleyd_binary():
    path = os.environ.get("PARLEYD")
    if not path:
        pytest.skip("PARLEYD is not set (ctest sets it to the built parleyd)")
    if not os.access(path, os.X_OK):
        pytest.fail(f"PARLEYD={path} is not an executable file")
    return path


def real_engines():
    """With PARLEY_E2E_ENGINES=real, every server runs on the real engines
    whose addresses scripts/engines prints (PARLEY_TEST_KAFKA, _REDIS,
    _POSTGRES): a second ctest entry runs the whole suite that way."""
    return os.environ.get("PARLEY_E2E_ENGINES") == "real"


def engine_args():
    """Flags that put a server on the real engines, in a namespace of its
    own (kept across its restarts), or () on the embedded ones."""
    if not real_engines():
        return ()
    missing = [v for v in ("PARLEY_TEST_KAFKA", "PARLEY_TEST_REDIS",
                           "PARLEY_TEST_POSTGRES") if not os.environ.get(v)]
    if missing:
        # scripts/test always sets them; a hand-run ctest without the
        # engines skips this suite rather than failing every test.
        pytest.skip("PARLEY_E2E_ENGINES=real needs " + ", ".join(missing)
                    + " (scripts/engines start prints them)")
    return ("--kafka", os.environ["PARLEY_TEST_KAFKA"],
            "--redis", os.environ["PARLEY_TEST_REDIS"],
            "--postgres", os.environ["PARLEY_TEST_POSTGRES"],
            "--engine-namespace", "e2e_" + uuid.uuid4().hex[:16])


@pytest.fixture
def server_factory(parleyd_binary, tmp_path, request):
    """Start parleyd servers with extra flags: ``server_factory("--rate-limit",
    "5")``. Each gets its own data dir; all are stopped at teardown."""
    servers = []

    def make(*extra_args, defaults=DEFAULT_ARGS):
        n = len(servers) + 1
        s = ParleyServer(parleyd_binary,
                         data_dir=tmp_path / f"data-{n}",
                         log_dir=tmp_path / f"logs-{n}",
                         args=[*defaults, *engine_args(), *extra_args])
        servers.append(s)
        return s.start()

    yield make

    stop_and_report(request, servers)


def stop_and_report(request, servers):
    """Stops the servers; when the test failed, prints each one's stderr."""
    for s in servers:
        s.stop()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for s in servers:
            print(f"--- parleyd stderr ({s.data_dir}, process "
                  f"{s.generation}) ---\n{s.stderr_tail()}")


@pytest.fixture(scope="session")
def private_cassandra(tmp_path_factory):
    """A Cassandra of the tests' own, to kill and restart without disturbing
    the tests that run beside them on the shared one (one per session: it
    takes a while to start, and each test's servers use their own keyspace)."""
    engines = PrivateEngines(tmp_path_factory.mktemp("engines"))
    engines.run("start", "cassandra")
    yield engines
    engines.run("stop", "cassandra")


@pytest.fixture
def server(server_factory):
    """A running parleyd with the default test flags."""
    return server_factory()


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "latency: asserts a latency bound on the release build and the embedded engines, so it needs the "
        "machine to itself: ctest runs these alone (e2e_latency, RUN_SERIAL), the rest of the suite (e2e) "
        "with -m 'not latency'")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets fixtures see whether the test itself failed (to dump server logs).
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
