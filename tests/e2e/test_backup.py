"""Backups (docs/OPERATIONS.md "Backups"): ``parleyd backup --data-dir D
--to DIR`` asks the server running on D for a consistent copy of its
embedded data while clients keep sending; a server started on the copy has
every message acknowledged before the backup began, in order, and serves
new sends. A backup goes only into a new or empty folder, and needs the
running server.

Embedded engines only: on the scale-out engines each engine is backed up
with its own tools."""

import asyncio
import os
import subprocess

import pytest

from conftest import real_engines
from parley_client import create_user, login, online, run
from parley_server import DEFAULT_ARGS, ParleyServer

pytestmark = pytest.mark.skipif(
    real_engines(), reason="parleyd backup copies the embedded engines")

WINDOW = 8          # sends each sender keeps in flight
BEFORE = 150        # acknowledged sends before the backup starts
AFTER = 100         # acknowledged sends after it ends: it ran under load


def backup(binary, data_dir, to):
    return subprocess.run(
        [binary, "backup", "--data-dir", str(data_dir), "--to", str(to)],
        capture_output=True, text=True, timeout=120)


class Acks:
    """The sends acknowledged so far, (client_msg_id, reply) in the order
    the acknowledgements came, and waits for their number to reach one."""

    def __init__(self):
        self.list = []
        self._waiters = []      # (count, future)

    def add(self, cmid, reply):
        self.list.append((cmid, reply))
        for n, fut in self._waiters:
            if len(self.list) >= n and not fut.done():
                fut.set_result(None)

    async def reach(self, n, timeout=60):
        if len(self.list) >= n:
            return
        fut = asyncio.get_running_loop().create_future()
        self._waiters.append((n, fut))
        await asyncio.wait_for(fut, timeout)


async def send_until(client, to_user, prefix, acked, stop):
    """Sends 1:1 messages to ``to_user`` with ``WINDOW`` in flight until
    ``stop`` is set, adding each acknowledged one to ``acked``."""
    inflight = []
    i = 0
    while not stop.is_set():
        if len(inflight) >= WINDOW:
            await asyncio.wait_for(inflight.pop(0), 20)
        cmid = f"{prefix}-{i:05d}"
        i += 1
        fut = await client.start("send", to={"user": to_user},
                                 client_msg_id=cmid, body=f"body of {cmid}")

        def on_reply(f, cmid=cmid):
            if not f.cancelled() and f.exception() is None:
                reply = f.result()
                assert reply.get("ok") is True, reply
                acked.add(cmid, reply)
        fut.add_done_callback(on_reply)
        inflight.append(fut)
    for fut in inflight:
        await asyncio.wait_for(fut, 20)


def test_a_backup_under_load_restores_every_message_acknowledged_before_it(
        server, parleyd_binary, tmp_path):
    alice = create_user(server, "alice")
    carol = create_user(server, "carol")
    bob = create_user(server, "bob")
    to = tmp_path / "backup"
    result = {}

    async def body():
        a = await online(server, alice, "phone")
        c = await online(server, carol, "phone")
        acked = Acks()
        stop = asyncio.Event()
        senders = asyncio.gather(
            send_until(a, bob.user_id, "a", acked, stop),
            send_until(c, bob.user_id, "c", acked, stop))
        await acked.reach(BEFORE)
        # Everything acknowledged up to here must be in the copy.
        before = list(acked.list)
        done = await asyncio.to_thread(backup, parleyd_binary,
                                       server.data_dir, to)
        during = len(acked.list) - len(before)
        await acked.reach(len(acked.list) + AFTER)
        stop.set()
        await senders
        result.update(before=before, all=list(acked.list), done=done,
                      during=during)
        await a.close()
        await c.close()

    run(body(), timeout=180)
    done = result["done"]
    assert done.returncode == 0, done.stderr
    assert "log end offsets" in done.stdout, done.stdout
    for part in ("sequencer", "store", "search.sqlite", "log", "directory",
                 "rooms"):
        assert f"  {part} " in done.stdout, done.stdout
    print(f"backup with {result['during']} sends acknowledged while it ran:\n"
          f"{done.stdout}")

    # The original goes; a new server starts on the copy, on another port.
    assert server.stop() == 0
    restored = ParleyServer(parleyd_binary, data_dir=to,
                            log_dir=tmp_path / "logs-restored",
                            args=DEFAULT_ARGS)
    restored.start()
    try:
        check_restored(restored, result["before"], result["all"], alice,
                       carol, bob)
    finally:
        restored.stop()


def check_restored(restored, before, everything, alice, carol, bob):
    """``before``: the sends acknowledged before the backup began;
    ``everything``: all sends acknowledged by the original server."""
    users = {"a": alice, "c": carol}

    async def body():
        b = await online(restored, bob, "laptop")     # a device new to it
        senders = {k: await online(restored, u, "phone")
                   for k, u in users.items()}
        # The clients retry every send they made, as a client that saw its
        # server go would: one acknowledged before the backup began gets
        # its first answer; a later one may be decided anew.
        first = {cmid: reply["message_id"] for cmid, reply in before}
        final = {}
        for cmid, _ in everything:
            reply = await senders[cmid[0]].send_to_user(
                bob.user_id, cmid, f"body of {cmid}")
            if cmid in first:
                assert reply["message_id"] == first[cmid], \
                    f"{cmid}, acknowledged before the backup, got a new id"
            final[cmid] = reply["message_id"]
        # The restored server serves new sends; once bob has these live,
        # every earlier message of both conversations is in his inbox.
        for k, client in senders.items():
            reply = await client.send_to_user(bob.user_id, f"{k}-restored",
                                              "after the restore")
            final[f"{k}-restored"] = reply["message_id"]
            await b.message_with(f"{k}-restored", timeout=20)

        entries = await b.sync_all(after=0, limit=100)
        seqs = [e["seq"] for e in entries]
        assert seqs == list(range(1, len(entries) + 1)), \
            f"bob's inbox is not gapless from 1: {seqs[:20]}..."
        got = [(e["message"]["client_msg_id"], e["message"]["message_id"])
               for e in entries]
        assert len(got) == len({cmid for cmid, _ in got}), \
            "a message is in the inbox twice"
        missing = sorted(set(final) - {cmid for cmid, _ in got})
        assert not missing, f"not in bob's inbox: {missing[:10]}"
        assert dict(got) == final
        for k in users:
            # Each sender's messages acknowledged before the backup, first
            # and in the order they were acknowledged.
            sent = [cmid for cmid, _ in before if cmid.startswith(k + "-")]
            mine = [cmid for cmid, _ in got if cmid.startswith(k + "-")]
            assert mine[:len(sent)] == sent
            conversation = next(e["message"]["conversation"] for e in entries
                                if e["message"]["client_msg_id"] == sent[0])
            history = await senders[k].history_all(conversation, limit=100)
            assert sorted(m["message_id"] for m in history) == \
                sorted(mid for cmid, mid in final.items()
                       if cmid.startswith(k + "-"))

    run(body(), timeout=120)


def test_a_backup_goes_only_into_a_new_or_empty_folder(server, parleyd_binary,
                                                       tmp_path):
    create_user(server, "alice")
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("mine")
    done = backup(parleyd_binary, server.data_dir, full)
    assert done.returncode == 1
    assert f"cannot back up into {full}" in done.stderr, done.stderr
    assert "is not empty" in done.stderr, done.stderr
    assert os.listdir(full) == ["notes.txt"]

    empty = tmp_path / "empty"
    empty.mkdir()
    done = backup(parleyd_binary, server.data_dir, empty)
    assert done.returncode == 0, done.stderr
    assert "directory" in os.listdir(empty)

    # The same folder again: it is not empty any more.
    done = backup(parleyd_binary, server.data_dir, empty)
    assert done.returncode == 1
    assert "is not empty" in done.stderr, done.stderr


def test_a_backup_needs_the_running_server(server, parleyd_binary, tmp_path):
    alice = create_user(server, "alice")
    data_dir = server.data_dir
    assert server.stop() == 0
    done = backup(parleyd_binary, data_dir, tmp_path / "backup")
    assert done.returncode == 1
    assert f"no parleyd is running on {data_dir}" in done.stderr, done.stderr
    assert "cp -a" in done.stderr, done.stderr
    assert not (tmp_path / "backup").exists()

    # A stopped server's folder, copied whole, starts as it was.
    subprocess.run(["cp", "-a", data_dir, str(tmp_path / "copy")], check=True)
    copy = ParleyServer(parleyd_binary, data_dir=tmp_path / "copy",
                        log_dir=tmp_path / "logs-copy", args=DEFAULT_ARGS)
    copy.start()
    try:
        assert login(copy, alice, "phone").user_id == alice.user_id
    finally:
        copy.stop()


def test_backup_arguments(parleyd_binary, tmp_path):
    done = subprocess.run([parleyd_binary, "backup", "--data-dir",
                           str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2
    assert "--to is missing" in done.stderr
    done = subprocess.run([parleyd_binary, "--help"], capture_output=True,
                          text=True)
    assert "parleyd backup [--data-dir DIR] --to BACKUP" in done.stdout
