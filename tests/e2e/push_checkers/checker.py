"""What the local APNs and FCM share: an HTTP/2 server over TLS, the tokens
they accept (``valid``) and report dead (``dead``), failures to answer
first (``fail_next``), and what they accepted and rejected."""

from .h2_server import H2Server


class PushChecker:
    def __init__(self, cert_file, key_file):
        self.valid = set()
        self.dead = set()
        self.failures = {}          # token -> statuses still to answer
        self.pushes = []            # accepted, each a dict with a "token"
        self.rejected = []          # (status, reason, token) for every non-200
        self.server = H2Server(self.handle, cert_file, key_file)

    def handle(self, method, path, headers, body):
        raise NotImplementedError

    def start(self):
        self.server.start()
        return self

    def stop(self):
        self.server.stop()

    @property
    def url(self):
        return self.server.url

    def fail_next(self, token, statuses):
        with self.server.cond:
            self.failures[token] = list(statuses)

    def wait_for(self, predicate, timeout=20.0):
        return self.server.wait_for(predicate, timeout)

    def pushes_to(self, token):
        with self.server.cond:
            return [p for p in self.pushes if p["token"] == token]

    def record_rejection(self, status, reason, token):
        with self.server.cond:
            self.rejected.append((status, reason, token))
            self.server.cond.notify_all()
