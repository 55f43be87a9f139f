"""Fixtures: a real parleyd per test, in a fresh data directory.

ctest runs this suite with PARLEYD=<path to the parleyd binary>.
"""

import os

import pytest

from parley_server import DEFAULT_ARGS, ParleyServer


@pytest.fixture(scope="session")
def parleyd_binary():
    path = os.environ.get("PARLEYD")
    if not path:
        pytest.skip("PARLEYD is not set (ctest sets it to the built parleyd)")
    if not os.access(path, os.X_OK):
        pytest.fail(f"PARLEYD={path} is not an executable file")
    return path


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
                         args=[*defaults, *extra_args])
        servers.append(s)
        return s.start()

    yield make

    for s in servers:
        s.stop()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for s in servers:
            print(f"--- parleyd stderr ({s.data_dir}, process "
                  f"{s.generation}) ---\n{s.stderr_tail()}")


@pytest.fixture
def server(server_factory):
    """A running parleyd with the default test flags."""
    return server_factory()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets fixtures see whether the test itself failed (to dump server logs).
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
