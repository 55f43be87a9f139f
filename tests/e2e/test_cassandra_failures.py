"""Cassandra killed (-9) and restarted mid-load (docs/OPERATIONS.md), run
only on the real engines (PARLEY_E2E_ENGINES=real): while it is down sends
keep being acknowledged (the log holds them: the sequencer decides from its
own state and the changelog, not from Cassandra), a retry of a send made
before the kill still gets its first message id, and once Cassandra is back
the store catches up: every acknowledged message is in the recipient's inbox
exactly once, with gapless seqs, in the conversation's history once, and a
late retry of any of them gets its first message id back.

The kill comes right after an acknowledgement, so the writes of the last
few sends are the ones a node that acknowledges before its commitlog is on
disk loses (issue 7: with `commitlog_sync: periodic` the history and dedupe
rows of the last two acknowledged sends, and the inbox entry of the one
before, were gone after the restart).

The Cassandra that gets killed is a private instance (conftest's
private_cassandra: scripts/engines with its own directory and ports), so
tests running beside this one on the shared engines are not disturbed.
"""

import asyncio
import time

import pytest

from conftest import engine_args, real_engines
from parley_client import RequestFailed, create_user, online, run
from parley_server import DEFAULT_ARGS, ParleyServer

pytestmark = pytest.mark.skipif(
    not real_engines(), reason="needs the real engines (PARLEY_E2E_ENGINES=real)")


@pytest.fixture
def cassandra_server(parleyd_binary, tmp_path, private_cassandra):
    """parleyd on the shared engines plus the private Cassandra. Started
    here rather than by server_factory: its first start creates a keyspace
    (eleven schema changes), which can take longer than the usual start
    timeout on a busy 2-core machine."""
    server = ParleyServer(parleyd_binary, data_dir=tmp_path / "data", log_dir=tmp_path / "logs",
                          args=[*DEFAULT_ARGS, *engine_args(), "--cassandra", private_cassandra.cassandra,
                                "--send-timeout-ms", "5000"])
    server.start(timeout=120)
    yield server
    server.stop()


def test_cassandra_killed_and_restarted_mid_load_loses_nothing(
        cassandra_server, private_cassandra):
    server = cassandra_server
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")
    before, during, after = 20, 20, 20
    total = before + during + after

    async def body():
        a = await online(server, alice, "phone")
        acked = {}

        async def send(i):
            reply = await a.send_to_user(bob.user_id, f"m{i}", f"body {i}")
            acked[f"m{i}"] = reply["message_id"]

        for i in range(before):
            await send(i)
        private_cassandra.kill9("cassandra")
        # Cassandra is down until these are all acknowledged: each one is
        # answered on its first try (a failure raises), from the log.
        for i in range(before, before + during):
            await send(i)
        retry = await a.send_to_user(bob.user_id, "m0", "a retry while Cassandra is down")
        assert retry["message_id"] == acked["m0"], "a retry during the outage got a new id"
        await asyncio.to_thread(private_cassandra.run, "start", "cassandra")
        for i in range(before + during, total):
            await send(i)
        assert len(acked) == total

        b = await online(server, bob, "phone")
        # The store writer and the inbox owner catch up after Cassandra is back.
        sync_deadline = time.monotonic() + 120
        entries = []
        while True:
            try:
                entries = await b.sync_all(after=0, limit=64)
            except RequestFailed as e:
                # Until the server's connections to Cassandra are back, a
                # read answers unavailable; clients retry it.
                assert e.reply["error"]["code"] == "unavailable", e.reply
            if len(entries) >= total or time.monotonic() > sync_deadline:
                break
            await asyncio.sleep(0.2)   # a retry interval, not synchronisation
        seqs = [e["seq"] for e in entries]
        assert seqs == list(range(1, len(seqs) + 1)), f"inbox not gapless: {seqs}"
        got = [e["message"]["client_msg_id"] for e in entries]
        assert len(got) == len(set(got)), "a message is in the inbox twice"
        assert set(got) == set(acked)
        ids = [e["message"]["message_id"] for e in entries]
        assert ids == sorted(ids, key=int), "the inbox is not in one order"
        assert {e["message"]["client_msg_id"]: e["message"]["message_id"] for e in entries} == acked

        # The inbox has everything, so the store writer stored it all: every
        # acknowledged message is in history once, under its acknowledged id.
        conversation = entries[0]["message"]["conversation"]
        history = await b.history_all(conversation, limit=50)
        in_history = [(m["client_msg_id"], m["message_id"]) for m in history]
        cmids = [cmid for cmid, _ in in_history]
        assert len(cmids) == len(set(cmids)), "a send is in the history twice"
        assert dict(in_history) == acked, "history differs from the acknowledged sends"

        # A late retry of every send returns its first result (the
        # sequencer's own state decides it, not the store) and stores
        # nothing new.
        for cmid, message_id in acked.items():
            reply = await a.send_to_user(bob.user_id, cmid, "a late retry")
            assert reply["message_id"] == message_id, f"a retry of {cmid} was stored again"
        assert len(await b.history_all(conversation, limit=50)) == total

    run(body(), timeout=600)
