"""A small Parley client, written to double as documentation of the protocol
(docs/PROTOCOL.md, "Parley client protocol, v1").

HTTP (blocking, urllib-free http.client):

    user = create_user(server, "alice")              # POST /v1/users
    sess = login(server, user, device_id="phone")    # POST /v1/sessions

WebSocket (asyncio, websockets' legacy client):

    c = await Client.connect(server, sess.token, label="alice/phone")
    reply = await c.call("send", to={"user": bob_id},
                         client_msg_id="m-1", body="hi")   # ok reply
    ev = await c.next_message()                            # a "message" event
    await c.close()

Every request gets a fresh ``id``; the background reader matches replies
(``"re": id``) to their requests and queues everything else (``"ev"``) as
events, so a test can await the reply to one request while events for other
things keep arriving.

Everything is checked against the protocol's JSON Schema
(protocol/parley.schema.json, through protocol_schema.py): every request and
HTTP body sent, every reply, event and HTTP answer received. A mismatch
raises SchemaViolation, with the frame and the schema's complaint, and fails
the test. A test that means to send what the protocol does not allow says so:
``send_raw`` sends a frame as is, ``unchecked=True`` sends a request (to
``start``, ``request``, ``expect_error``) or an HTTP body without the check.
What the server answers is checked all the same.
"""

import asyncio
import http.client
import itertools
import json
import time
from dataclasses import dataclass

import websockets
from websockets.exceptions import ConnectionClosed

import protocol_schema
from protocol_schema import SchemaViolation

# Every violation seen in a server frame: run() fails the test with the
# first even when the frame was an event nobody waited for.
violations = []

DEFAULT_TIMEOUT = 10.0

# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------


@dataclass
class HttpResponse:
    status: int
    body: bytes
    headers: dict

    @property
    def json(self):
        return json.loads(self.body) if self.body else None


def http_request(server, method, path, body=None, token=None, raw=None,
                 headers=None, timeout=DEFAULT_TIMEOUT, unchecked=False,
                 source=None):
    """One HTTP request. ``body`` is JSON-encoded and checked against the
    schema (unless ``unchecked``); ``raw`` is sent as is. The answer's body
    is checked always. ``source`` is the local address to send from (say
    127.0.0.2: all of 127/8 reaches a server on 127.0.0.1)."""
    if body is not None and not unchecked:
        protocol_schema.check_http_request(method, path, body)
    if getattr(server, "ssl_context", None) is not None:
        conn = http.client.HTTPSConnection(
            server.host, server.port, timeout=timeout,
            source_address=(source, 0) if source else None,
            context=server.ssl_context)
    else:
        conn = http.client.HTTPConnection(
            server.host, server.port, timeout=timeout,
            source_address=(source, 0) if source else None)
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
    elif raw is not None:
        data = raw
    if data is not None:
        hdrs.setdefault("Content-Type", "application/json")
    if token is not None:
        hdrs["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        answer = HttpResponse(resp.status, resp.read(),
                              {k.lower(): v for k, v in resp.getheaders()})
    finally:
        conn.close()
    protocol_schema.check_http_response(method, path, answer.status,
                                        answer.headers.get("content-type"),
                                        answer.body)
    return answer


@dataclass
class User:
    username: str
    password: str
    user_id: str


@dataclass
class Session:
    token: str
    user_id: str
    device_id: str


def read_until_closed(sock):
    """Every byte the server sends on `sock` until it closes (a reset
    counts as a close)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def wait_until_serving(server, why, timeout=10):
    """Asks GET /v1/healthz until it answers 200 (connections being closed
    or refused meanwhile), for up to `timeout` seconds; fails with `why`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if http_request(server, "GET", "/v1/healthz").status == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, why


def readyz_until(server, status, timeout=20):
    """GET /v1/readyz until it answers `status` (the readiness probes' next
    rounds: no event to await), for up to `timeout` seconds; its last
    answer."""
    deadline = time.monotonic() + timeout
    while True:
        r = http_request(server, "GET", "/v1/readyz")
        if r.status == status or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status == status, r.body
    return r


def create_user(server, username, password=None):
    """POST /v1/users -> 201 {"user_id"}."""
    password = password or f"pw-{username}-secret"
    r = http_request(server, "POST", "/v1/users",
                     {"username": username, "password": password})
    assert r.status == 201, f"create_user({username}): {r.status} {r.body!r}"
    user_id = r.json["user_id"]
    assert isinstance(user_id, str) and user_id
    return User(username, password, user_id)


def login(server, user, device_id):
    """POST /v1/sessions -> 200 {"token", "user_id", "device_id"}."""
    r = http_request(server, "POST", "/v1/sessions",
                     {"username": user.username, "password": user.password,
                      "device_id": device_id})
    assert r.status == 200, f"login({user.username}): {r.status} {r.body!r}"
    j = r.json
    return Session(j["token"], j["user_id"], j["device_id"])


# --------------------------------------------------------------------------
# WebSocket
# --------------------------------------------------------------------------


class RequestFailed(AssertionError):
    """A reply with "ok": false where the test expected success."""

    def __init__(self, op, reply):
        super().__init__(f"{op} failed: {reply}")
        self.reply = reply


class Client:
    """One WebSocket connection (one device) with a background reader."""

    _open = set()     # every connected Client, so run() can close leftovers

    def __init__(self, ws, label):
        self.ws = ws
        self.label = label
        self.user_id = None
        self.device_id = None
        self._ids = itertools.count(1)
        self._pending = {}           # json.dumps(id) -> Future[reply]
        self._ops = {}               # json.dumps(id) -> the request's op
        self._events = []            # events not yet taken by next_event()
        self.all_events = []         # every event ever received, in order
        self.stray_replies = []      # replies nobody was waiting for
        self._signal = asyncio.Event()
        self.closed_by = None        # the exception that ended the reader
        self._reader = asyncio.create_task(self._read_loop())
        Client._open.add(self)

    @classmethod
    async def connect(cls, server, token, label="", token_in="header",
                      timeout=DEFAULT_TIMEOUT, origin=None):
        """Open /v1/ws with the token in the Authorization header (default),
        in the ``?token=`` query (token_in="query"), or not at all (None);
        over TLS (wss://) when the server has an ``ssl_context``, and with
        an Origin header when ``origin`` is given (as browsers send one)."""
        url = server.ws_url
        headers = {}
        if token_in == "header":
            headers["Authorization"] = f"Bearer {token}"
        elif token_in == "query":
            url += f"?token={token}"
        extra = {}
        if getattr(server, "ssl_context", None) is not None:
            extra["ssl"] = server.ssl_context
        if origin is not None:
            extra["origin"] = origin
        ws = await websockets.connect(
            url, extra_headers=headers, max_size=2 ** 24, **extra,
            compression=None,      # lets tests write raw frames byte-exact
            ping_interval=None,    # no keepalive chatter in the tests
            open_timeout=timeout, close_timeout=2)
        return cls(ws, label or "client")

    # -- reading -----------------------------------------------------------

    async def _read_loop(self):
        try:
            while True:
                raw = await self.ws.recv()
                try:
                    msg = json.loads(raw)
                except ValueError as e:
                    raise SchemaViolation(
                        f"{self.label}: the server sent a frame that is not "
                        f"JSON ({e}): {str(raw)[:200]!r}") from None
                if isinstance(msg, dict) and "re" in msg:
                    key = json.dumps(msg["re"])
                    fut = self._pending.pop(key, None)
                    problem = self._check(msg, self._ops.pop(key, None))
                    if fut is not None and not fut.done():
                        if problem is not None:
                            fut.set_exception(problem)
                        else:
                            fut.set_result(msg)
                    else:
                        self.stray_replies.append(msg)
                else:
                    self._check(msg)
                    self._events.append(msg)
                    self.all_events.append(msg)
                self._wake()
        except ConnectionClosed as e:
            self.closed_by = e
        except Exception as e:         # a frame we could not parse, etc.
            if isinstance(e, SchemaViolation):
                violations.append(e)
            self.closed_by = e
            await self.ws.close()
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError(
                        f"{self.label}: connection closed before the reply "
                        f"({self.closed_by!r})"))
                    # A test that awaits the reply still gets the error; one
                    # that pipelined requests into a server it then killed
                    # does not leave asyncio a "never retrieved" warning.
                    fut.exception()
            self._pending.clear()
            self._wake()

    def _check(self, frame, op=None):
        """Checks a server frame; returns the violation (also recorded for
        run()) or None."""
        try:
            protocol_schema.check_server_frame(frame, op)
        except SchemaViolation as e:
            e.args = (f"{self.label}: {e.args[0]}",)
            violations.append(e)
            return e
        return None

    def _raise_violation(self):
        if violations:
            raise violations[0]

    def _wake(self):
        self._signal.set()
        self._signal = asyncio.Event()

    @property
    def is_closed(self):
        return self._reader.done()

    # -- requests ----------------------------------------------------------

    async def send_frame(self, frame):
        """Send one request (a dict), checked against the schema."""
        protocol_schema.check_request(frame)
        await self.ws.send(json.dumps(frame))

    async def send_raw(self, data):
        """Send one text frame as is (str) or a JSON-encoded object, without
        checking it: for tests of what the server does with frames the
        protocol does not allow. Its answers are still checked."""
        if not isinstance(data, str):
            data = json.dumps(data)
        await self.ws.send(data)

    async def start(self, op, *, id=None, unchecked=False, **fields):
        """Send a request and return a Future for its reply, without waiting.
        Use it to pipeline several requests on one connection. The request
        is checked against the schema unless ``unchecked``."""
        if self.is_closed:
            raise ConnectionError(f"{self.label}: connection is closed "
                                  f"({self.closed_by!r})")
        if id is None:
            id = next(self._ids)
        frame = {"id": id, **fields}
        if op is not None:
            frame["op"] = op
        if not unchecked:
            protocol_schema.check_request(frame)
        fut = asyncio.get_running_loop().create_future()
        key = json.dumps(id)
        self._pending[key] = fut
        self._ops[key] = op
        await self.ws.send(json.dumps(frame))
        return fut

    async def request(self, op, *, timeout=DEFAULT_TIMEOUT, unchecked=False,
                      **fields):
        """Send a request and return its reply, ok or not."""
        fut = await self.start(op, unchecked=unchecked, **fields)
        return await asyncio.wait_for(fut, timeout)

    async def call(self, op, *, timeout=DEFAULT_TIMEOUT, **fields):
        """Send a request whose reply must be ok; return the reply."""
        reply = await self.request(op, timeout=timeout, **fields)
        if reply.get("ok") is not True:
            raise RequestFailed(op, reply)
        return reply

    async def expect_error(self, code, op, *, timeout=DEFAULT_TIMEOUT,
                           unchecked=False, **fields):
        """Send a request whose reply must be an error with ``code``;
        ``unchecked`` sends a request the schema does not allow."""
        reply = await self.request(op, timeout=timeout, unchecked=unchecked,
                                   **fields)
        assert reply.get("ok") is False, f"{op} should fail: {reply}"
        err = reply.get("error")
        assert isinstance(err, dict) and err.get("code") == code, \
            f"{op}: expected error {code}, got {reply}"
        return err

    # -- convenience ops ---------------------------------------------------

    async def send_to_user(self, user_id, client_msg_id, body, **extra):
        return await self.call("send", to={"user": user_id},
                               client_msg_id=client_msg_id, body=body,
                               **extra)

    async def sync_all(self, after=0, limit=100):
        """Page through ``sync`` from ``after`` (None: from this device's
        stored cursor) until ``more`` is false; return every entry."""
        entries = []
        while True:
            fields = {"limit": limit}
            if after is not None:
                fields["after"] = after
            r = await self.call("sync", **fields)
            page = r["entries"]
            entries.extend(page)
            if not r["more"]:
                return entries
            assert page, f"sync said more=true but returned no entries: {r}"
            after = page[-1]["seq"]

    async def history_all(self, conversation, limit=50):
        """Page through ``history`` (newest first) until a short page."""
        messages = []
        before = None
        while True:
            fields = {"conversation": conversation, "limit": limit}
            if before is not None:
                fields["before"] = before
            page = (await self.call("history", **fields))["messages"]
            messages.extend(page)
            if len(page) < limit:
                return messages
            before = page[-1]["message_id"]

    # -- events ------------------------------------------------------------

    async def next_event(self, pred=None, timeout=DEFAULT_TIMEOUT):
        """Take (remove and return) the oldest queued event matching
        ``pred``, waiting for one up to ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._raise_violation()
            signal = self._signal
            for i, ev in enumerate(self._events):
                if pred is None or pred(ev):
                    return self._events.pop(i)
            if self.is_closed:
                raise ConnectionError(
                    f"{self.label}: closed while waiting for an event "
                    f"({self.closed_by!r})")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise asyncio.TimeoutError(
                    f"{self.label}: no matching event within {timeout}s; "
                    f"queued: {self._events[-5:]}")
            try:
                await asyncio.wait_for(signal.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def next_message(self, pred=None, timeout=DEFAULT_TIMEOUT):
        """Take the next ``message`` event (optionally matching ``pred``)."""
        return await self.next_event(
            lambda e: e.get("ev") == "message" and (pred is None or pred(e)),
            timeout)

    async def message_with(self, client_msg_id, timeout=DEFAULT_TIMEOUT):
        """Take the ``message`` event carrying that client_msg_id."""
        return await self.next_message(
            lambda e: e["message"].get("client_msg_id") == client_msg_id,
            timeout)

    def queued_events(self, pred=None):
        return [e for e in self._events if pred is None or pred(e)]

    async def wait_closed(self, timeout=DEFAULT_TIMEOUT):
        """Wait until the server closes the connection; return its code."""
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        rcvd = getattr(self.closed_by, "rcvd", None)
        if rcvd is not None:
            return rcvd.code         # the code in the server's close frame
        return self.ws.close_code    # 1006 if no close frame came

    async def close(self):
        Client._open.discard(self)
        try:
            await asyncio.wait_for(self.ws.close(), 3)
        except Exception:
            pass
        self._reader.cancel()
        try:
            await self._reader
        except BaseException:
            pass


async def online(server, user, device_id, label=None):
    """Log ``user`` in as ``device_id`` and open its WebSocket."""
    sess = login(server, user, device_id)
    c = await Client.connect(server, sess.token,
                             label=label or f"{user.username}/{device_id}")
    c.user_id = sess.user_id
    c.device_id = sess.device_id
    c.token = sess.token
    return c


class QuietPair:
    """Another user's latency while something floods the server: a `ping`
    round trip of `sender`, and a 1:1 message from `sender` until
    `recipient` (of user `recipient_id`) has it, in milliseconds."""

    def __init__(self, sender, recipient, recipient_id):
        self.sender, self.recipient, self.recipient_id = sender, recipient, recipient_id
        self.ping_ms, self.deliver_ms = [], []

    async def round(self):
        i = len(self.ping_ms)
        t = time.monotonic()
        await self.sender.call("ping")
        self.ping_ms.append((time.monotonic() - t) * 1000)
        t = time.monotonic()
        await self.sender.send_to_user(self.recipient_id, f"q{i}", "still fast?")
        await self.recipient.message_with(f"q{i}")
        self.deliver_ms.append((time.monotonic() - t) * 1000)


def p99(samples):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def close_all():
    for c in list(Client._open):
        await c.close()


def run(coro, timeout=60.0):
    """Run an async test body with a hard time bound, then close every
    connection it left open."""
    async def body():
        violations.clear()
        try:
            result = await asyncio.wait_for(coro, timeout)
        finally:
            await close_all()
        if violations:
            raise violations[0]
        return result
    return asyncio.run(body())
