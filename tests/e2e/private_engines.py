"""Engines of a test's own, to kill and restart without disturbing the tests
that run beside it on the shared ones: scripts/engines with a directory and
ports of their own (docs/ENGINES.md)."""

import os
import signal
import socket
import subprocess
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENGINES = os.path.join(ROOT, "scripts", "engines")


def free_port(pair=False):
    """A free loopback port; with ``pair``, p with p+1 free too (Kafka's
    broker and controller)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if not pair:
            return port
        if port >= 65000:
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


class PrivateEngines:
    """Kafka, Redis and Cassandra of our own, in ``directory``; each has its
    address (``kafka``, ``redis``, ``cassandra``) once started."""

    def __init__(self, directory):
        self.directory = str(directory)
        self.env = dict(os.environ,
                        PARLEY_ENGINES_DIR=self.directory,
                        PARLEY_KAFKA_PORT=str(free_port(pair=True)),
                        PARLEY_REDIS_PORT=str(free_port()),
                        PARLEY_CASSANDRA_PORT=str(free_port()),
                        PARLEY_CASSANDRA_STORAGE_PORT=str(free_port()))
        self.kafka = f"127.0.0.1:{self.env['PARLEY_KAFKA_PORT']}"
        self.redis = f"127.0.0.1:{self.env['PARLEY_REDIS_PORT']}"
        self.cassandra = f"127.0.0.1:{self.env['PARLEY_CASSANDRA_PORT']}"

    def run(self, command, *names, timeout=300):
        """``scripts/engines COMMAND NAMES...``, waiting for it."""
        subprocess.run([ENGINES, command, *names], env=self.env, check=True,
                       stdout=subprocess.DEVNULL, timeout=timeout)

    def start_in_background(self, name):
        """Starts ``name`` without waiting; the caller waits on the process."""
        return subprocess.Popen([ENGINES, "start", name], env=self.env,
                                stdout=subprocess.DEVNULL)

    def kill9(self, name):
        """SIGKILL the engine and wait until it is gone."""
        with open(os.path.join(self.directory, name, f"{name}.pid")) as f:
            pid = int(f.read().strip())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)    # polling a process's end: no event to await
        raise AssertionError(f"{name} (pid {pid}) did not die")
