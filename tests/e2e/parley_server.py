"""Start, stop, crash and restart a real `parleyd` process for the e2e tests.

The contract (see README.md next to this file):

    parleyd --listen 127.0.0.1:0 --data-dir DIR [flags...]

prints exactly one line ``parleyd listening on 127.0.0.1:PORT`` on stdout once
it accepts connections (with ``--log-format json``, a JSON log line whose
``msg`` is that text). SIGTERM drains and exits 0.
"""

import json
import os
import re
import signal
import subprocess
import threading
import time

LISTENING_RE = re.compile(r"^parleyd listening on 127\.0\.0\.1:(\d+)$")


def listening_port(line):
    """The port a stdout line announces, or None: the plain line, or a JSON
    log line (--log-format json) whose msg is the plain line."""
    line = line.rstrip("\r\n")
    if line.startswith("{"):
        try:
            line = json.loads(line).get("msg", "")
        except (ValueError, AttributeError):
            return None
    m = LISTENING_RE.match(line)
    return int(m.group(1)) if m else None


# Flags every test server gets: cheap password hashing (tests create many
# users), rate limits high enough (or off) never to get in the way of a test,
# groups of users who are not friends (the tests of consent pass their own
# --room-add), and a
# limit per source address above the 1,001 connections that one test opens
# from 127.0.0.1 (a test of a limit passes its own value after these).
DEFAULT_ARGS = (
    "--pwhash-limits", "min",
    "--rate-limit", "100000",
    "--rate-burst", "100000",
    "--user-rate-limit", "0",
    "--max-rooms-per-hour", "0",
    "--room-add", "anyone",
    "--max-connections-per-address", "100000",
)


class ServerStartError(RuntimeError):
    pass


class ParleyServer:
    """One parleyd data directory, served by one process at a time.

    ``start()`` launches it on an ephemeral port, ``kill9()`` crashes it, and
    ``restart()`` launches a new process on the same data directory and,
    when it can, the same port.
    """

    def __init__(self, binary, data_dir, log_dir, args=DEFAULT_ARGS):
        self.binary = str(binary)
        self.data_dir = str(data_dir)
        self.log_dir = str(log_dir)
        self.args = list(args)
        self.host = "127.0.0.1"
        self.port = None
        # An ssl.SSLContext that trusts the server's certificate, for a
        # server started with --tls-cert: the clients then speak HTTPS and
        # WSS to it (parley_client.http_request, Client.connect).
        self.ssl_context = None
        self.proc = None
        self.generation = 0          # how many processes were started
        self._stdout_lines = []
        os.makedirs(self.data_dir, exist_ok=True)
        os.makedirs(self.log_dir, exist_ok=True)

    # -- addresses ---------------------------------------------------------

    @property
    def http_base(self):
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def ws_url(self):
        scheme = "wss" if self.ssl_context else "ws"
        return f"{scheme}://{self.host}:{self.port}/v1/ws"

    @property
    def stderr_path(self):
        return os.path.join(self.log_dir, f"parleyd-{self.generation}.stderr")

    @property
    def stdout_path(self):
        return os.path.join(self.log_dir, f"parleyd-{self.generation}.stdout")

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- lifecycle ---------------------------------------------------------

    def start(self, port=0, timeout=15.0):
        """Launch parleyd and wait (bounded) for its listening line."""
        if self.running:
            raise RuntimeError("parleyd is already running")
        self.generation += 1
        cmd = [self.binary, "--listen", f"{self.host}:{port}",
               "--data-dir", self.data_dir, *self.args]
        stderr = open(self.stderr_path, "wb")
        stdout_log = open(self.stdout_path, "w")
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=stderr, encoding="utf-8", errors="replace",
                bufsize=1)
        finally:
            stderr.close()
        listening = threading.Event()
        found = {}

        def pump(proc=self.proc):
            # Drain stdout for the life of the process so it can never block
            # on a full pipe; signal the listening line when it shows up.
            with stdout_log:
                for line in proc.stdout:
                    stdout_log.write(line)
                    stdout_log.flush()
                    port = listening_port(line)
                    if port is not None and not listening.is_set():
                        found["port"] = port
                        listening.set()
            listening.set()   # EOF: wake the waiter, it checks `found`

        threading.Thread(target=pump, daemon=True).start()
        if not listening.wait(timeout) or "port" not in found:
            rc = self.proc.poll()
            if rc is None:
                self._kill_and_reap()
            raise ServerStartError(
                f"parleyd did not report listening within {timeout}s "
                f"(exit status {rc}); cmd: {' '.join(cmd)}\n"
                f"stderr tail:\n{self.stderr_tail()}")
        self.port = found["port"]
        if port and self.port != port:
            raise ServerStartError(
                f"asked for port {port}, parleyd reports {self.port}")
        return self

    def restart(self, timeout=15.0, attempts=20):
        """Start a new process on the same data dir, same port if possible."""
        assert not self.running, "stop or kill the running process first"
        last = None
        for _ in range(attempts):
            try:
                return self.start(port=self.port or 0, timeout=timeout)
            except ServerStartError as e:
                last = e      # most likely the port is still briefly busy
                time.sleep(0.25)
        # The old port stayed busy: any port will do, clients reconnect to
        # whatever self.port says.
        try:
            return self.start(port=0, timeout=timeout)
        except ServerStartError:
            raise last

    def kill9(self):
        """Crash the server: SIGKILL, no chance to flush or drain."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def terminate(self, timeout=10.0):
        """Graceful stop: SIGTERM, wait; returns the exit status or None if
        it had to be killed."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._kill_and_reap()
            return None

    stop = terminate

    def _kill_and_reap(self):
        try:
            self.proc.kill()
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def stderr_tail(self, limit=4000):
        try:
            with open(self.stderr_path, "rb") as f:
                data = f.read()
        except OSError:
            return "<no stderr log>"
        return data[-limit:].decode("utf-8", "replace")
