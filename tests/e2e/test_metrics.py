"""GET /metrics (issue 14, "Metrics"; docs/OPERATIONS.md "Metrics"): a
scrape parses with Prometheus's own text parser, and its counters move with
traffic by exactly what the traffic was: sends acknowledged, deliveries to
devices, requests by op and outcome, refusals by the rate limits."""

import asyncio
import time

from prometheus_client.parser import text_string_to_metric_families

from conftest import real_engines
from parley_client import create_user, http_request, online, run

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def scrape(server):
    """Every sample of one scrape, {(name, ((label, value), ...)): value},
    read by prometheus_client's parser (which fails on malformed text)."""
    r = http_request(server, "GET", "/metrics")
    assert r.status == 200, r.body
    assert r.headers["content-type"] == CONTENT_TYPE
    samples = {}
    for family in text_string_to_metric_families(r.body.decode()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    assert key in samples, f"{name}{labels} is not in the scrape"
    return samples[key]


def moved(before, after, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


def eventually(server, check, timeout=10):
    """Scrapes until `check(samples)` holds (for counters moved after the
    answer a client sees: a pipeline step commits after it answers), for up
    to `timeout` seconds; returns the last scrape."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(server)
        if check(samples) or time.monotonic() > deadline:
            return samples


def requests(samples, transport, op, outcome):
    return value(samples, "parley_requests_total", transport=transport, op=op, outcome=outcome)


def test_a_scrape_parses_and_its_counters_move_with_traffic(server):
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")
    n = 5

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "phone")
        before = scrape(server)
        assert value(before, "parley_connections_open", kind="websocket") == 2

        for i in range(n):
            await a.send_to_user(bob.user_id, f"m-{i}", f"hello {i}")
        # Each message reaches both devices (the sender's inbox too).
        for i in range(n):
            await a.message_with(f"m-{i}")
            await b.message_with(f"m-{i}")
        # A send the server refuses: no body.
        await a.expect_error("bad_request", "send", unchecked=True, to={"user": bob.user_id}, client_msg_id="bad")
        # An HTTP request refused: the username is taken.
        taken = http_request(server, "POST", "/v1/users", {"username": "alice", "password": "another secret"})
        assert taken.status == 409

        after = scrape(server)
        assert moved(before, after, "parley_sends_acknowledged_total") == n
        assert moved(before, after, "parley_deliveries_total") == 2 * n
        assert requests(after, "websocket", "send", "ok") - requests(before, "websocket", "send", "ok") == n
        assert (requests(after, "websocket", "send", "bad_request")
                - requests(before, "websocket", "send", "bad_request")) == 1
        assert (requests(after, "http", "POST /v1/users", "conflict")
                - requests(before, "http", "POST /v1/users", "conflict")) == 1
        # The scrape before this one, answered ok.
        assert requests(after, "http", "GET /metrics", "ok") - requests(before, "http", "GET /metrics", "ok") == 1
        assert value(after, "parley_connections_open", kind="websocket") == 2
        assert value(after, "parley_connections_open", kind="http") >= 1  # this scrape's own
        assert value(after, "parley_connections_accepted_total") >= 4

        # The sequencer commits each batch after it answers: its counters
        # catch up shortly.
        steps = eventually(server, lambda s: moved(before, s, "parley_pipeline_records_total", step="sequencer") >= n)
        assert moved(before, steps, "parley_pipeline_records_total", step="sequencer") == n
        assert moved(before, steps, "parley_pipeline_batch_seconds_count", step="sequencer") >= 1
        # On the embedded log the store writer places the inbox entries
        # itself: no "inbox" step.
        steps_run = ("sequencer", "store-writer", "search-indexer", "push") + (("inbox",) if real_engines() else ())
        for step in steps_run:
            assert value(steps, "parley_pipeline_batch_failures_total", step=step) == 0
            if not real_engines():  # the embedded log tells each group's lag (Kafka's is not exported)
                assert value(steps, "parley_pipeline_lag_records", step=step) >= 0

        assert value(after, "process_cpu_seconds_total") > 0
        assert value(after, "process_resident_memory_bytes") > 1 << 20

    run(body())


def test_rate_limit_refusals_are_counted_by_limit(server_factory):
    # Three requests at once per connection, then one every 10 s.
    server = server_factory("--rate-limit", "0.1", "--rate-burst", "3")
    alice = create_user(server, "alice")

    async def body():
        a = await online(server, alice, "phone")
        before = scrape(server)
        # Sent at once: the bucket has no time to refill in between.
        futures = [await a.start("ping") for _ in range(5)]
        replies = await asyncio.wait_for(asyncio.gather(*futures), 10)
        assert [r["ok"] for r in replies] == [True, True, True, False, False]
        after = scrape(server)
        assert moved(before, after, "parley_rate_limited_total", limit="connection_rate") == 2
        assert requests(after, "websocket", "ping", "ok") - requests(before, "websocket", "ping", "ok") == 3
        # Refused before their op was read.
        assert (requests(after, "websocket", "unknown", "rate_limited")
                - requests(before, "websocket", "unknown", "rate_limited")) == 2

    run(body())
