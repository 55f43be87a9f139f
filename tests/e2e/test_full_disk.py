"""A full disk cannot crash parleyd (issue 13, item 3).

The data directory is a small tmpfs of the test's own. A filler file takes
all its room, then one client sends until the server refuses. While the
disk is full: sends are answered ``unavailable`` with a message that names
no server file, the process stays up, history holds every acknowledged
message and sync every one already placed in the inbox, and a restart on
the still full disk starts and serves those reads. Once the filler is
deleted, sends are taken again without a restart, and every acknowledged
message is in the recipient's inbox (delivered) and in history, once.

Needs ``mount -t tmpfs`` (root, as the tests run here and in CI); skipped
with the reason where that is not permitted, and on the real engines (whose
data is not in the data directory).
"""

import asyncio
import errno
import os
import subprocess
import time

import pytest

from conftest import real_engines, stop_and_report
from parley_client import (Client, create_user, http_request, login, online,
                           run)
from parley_server import DEFAULT_ARGS, ParleyServer

DISK_MB = 48
BODY = "full disk " + "x" * 2000     # a few KiB per message across the engines
MAX_SENDS = 600                      # the disk fills long before
SEND_TIMEOUT_MS = 2000               # a send stuck behind the full disk ends soon


@pytest.fixture
def small_disk(tmp_path):
    if real_engines():
        pytest.skip("on the real engines the data is not in the data directory")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m",
                        "tmpfs", str(mount_point)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN): "
                    + (r.stderr.strip() or f"exit status {r.returncode}"))
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


@pytest.fixture
def disk_server(parleyd_binary, small_disk, tmp_path, request):
    server = ParleyServer(parleyd_binary, data_dir=small_disk / "data",
                          log_dir=tmp_path / "logs",
                          args=[*DEFAULT_ARGS,
                                "--send-timeout-ms", str(SEND_TIMEOUT_MS)])
    server.start()
    yield server
    # Stopped before the tmpfs is unmounted (fixtures end in reverse).
    stop_and_report(request, [server])


def fill(path):
    """Writes to ``path`` until the file system has no room left."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        for size in (1 << 20, 64 << 10, 4 << 10, 512):
            block = b"f" * size
            while True:
                try:
                    n = f.write(block)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
                written += n
                if n < size:
                    break
    return written


def assert_no_path(error):
    assert error.get("code") == "unavailable", error
    message = error.get("message", "")
    assert message and "/" not in message, \
        f"an error message names a server path: {error}"


async def send_until_refused(alice, bob, acked, prefix):
    """Sends to bob one at a time; each acknowledged send must reach bob's
    device before the next goes out, so that every acknowledged message but
    perhaps the last is in his inbox when the disk runs out. Returns the
    refusals and the acknowledged send (if any) that the full disk kept
    from bob's inbox."""
    refusals = []
    for i in range(MAX_SENDS):
        cmid = f"{prefix}-{i:04d}"
        reply = await alice.request("send", to={"user": bob.user_id},
                                    client_msg_id=cmid, body=BODY,
                                    timeout=SEND_TIMEOUT_MS / 1000 + 10)
        if reply.get("ok") is True:
            acked[cmid] = reply
            try:
                await bob.message_with(cmid, timeout=5)
            except asyncio.TimeoutError:
                return refusals, cmid   # answered, placed once there is room
            continue
        assert_no_path(reply["error"])
        refusals.append(reply["error"])
        if len(refusals) >= 3:
            return refusals, None
    pytest.fail(f"{MAX_SENDS} sends and the disk is not full yet")


async def assert_reads(alice, bob, acked, placed):
    """History holds every acknowledged message; sync every placed one
    (gapless seqs, no message twice); conversations and search answer."""
    conversation = next(iter(acked.values()))["conversation"]
    ids = {r["message_id"] for r in acked.values()}
    for reader in (alice, bob):
        history = {m["message_id"]
                   for m in await reader.history_all(conversation)}
        assert ids <= history, \
            f"acknowledged but not in history: {sorted(ids - history)}"
    entries = await bob.sync_all(after=0)
    seqs = [e["seq"] for e in entries]
    assert seqs == list(range(1, len(seqs) + 1)), f"inbox seqs: {seqs}"
    in_inbox = [e["message"]["message_id"] for e in entries]
    assert len(in_inbox) == len(set(in_inbox)), "a message twice in the inbox"
    want = {acked[c]["message_id"] for c in placed}
    assert want <= set(in_inbox), \
        f"placed but not in sync: {sorted(want - set(in_inbox))}"
    listed = (await bob.call("conversations"))["conversations"]
    assert conversation in {c["conversation"] for c in listed}
    found = await alice.request("search", q="full disk", limit=5)
    assert found.get("ok") is True or found["error"]["code"] == "unavailable", found
    if found.get("ok") is not True:
        assert_no_path(found["error"])


async def reconnect(server, session, label):
    c = await Client.connect(server, session.token, label=label)
    c.user_id, c.device_id, c.token = (session.user_id, session.device_id,
                                       session.token)
    return c


async def send_once_taken(alice, bob, cmid, timeout=60):
    """Retries one send (same client_msg_id) until it is taken; bounded."""
    deadline = time.monotonic() + timeout
    while True:
        reply = await alice.request("send", to={"user": bob.user_id},
                                    client_msg_id=cmid, body="room again",
                                    timeout=SEND_TIMEOUT_MS / 1000 + 10)
        if reply.get("ok") is True:
            return reply
        assert_no_path(reply["error"])
        assert time.monotonic() < deadline, \
            f"sends still refused {timeout}s after the disk has room: {reply}"
        await asyncio.sleep(0.5)


def test_full_disk_refuses_sends_serves_reads_survives_restart_and_recovers(
        disk_server, small_disk):
    server = disk_server
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")
    alice_session = login(server, alice, "phone")
    bob_session = login(server, bob, "phone")
    filler = small_disk / "filler"
    acked = {}

    async def full():
        a = await reconnect(server, alice_session, "alice")
        b = await reconnect(server, bob_session, "bob")
        for i in range(3):     # the engines' files are all there
            cmid = f"warm-{i}"
            acked[cmid] = await a.send_to_user(bob.user_id, cmid, BODY)
            await b.message_with(cmid)
        fill(filler)
        refusals, unplaced = await send_until_refused(a, b, acked, "fill")
        assert refusals, "the full disk refused no send"
        assert server.running, "parleyd died on the full disk:\n" \
            + server.stderr_tail()
        assert http_request(server, "GET", "/v1/healthz").status == 200
        placed = [c for c in acked if c != unplaced]
        await assert_reads(a, b, acked, placed)
        return placed

    placed = run(full(), timeout=180)

    # A restart while the disk is still full: it starts, and serves reads.
    status = server.stop()
    assert status == 0, f"parleyd exited with {status}:\n{server.stderr_tail()}"
    fill(small_disk / "filler-2")    # whatever closing the files gave back
    server.restart(timeout=30)

    async def still_full():
        a = await reconnect(server, alice_session, "alice-2")
        b = await reconnect(server, bob_session, "bob-2")
        await assert_reads(a, b, acked, placed)
        reply = await a.request("send", to={"user": bob.user_id},
                                client_msg_id="after-restart", body=BODY,
                                timeout=SEND_TIMEOUT_MS / 1000 + 10)
        assert reply.get("ok") is False, \
            f"a send was taken on a full disk: {reply}"
        assert_no_path(reply["error"])
        assert server.running

    run(still_full(), timeout=120)

    # Room again: sends are taken without a restart, and nothing
    # acknowledged is missing.
    os.remove(filler)
    os.remove(small_disk / "filler-2")

    async def room_again():
        a = await reconnect(server, alice_session, "alice-3")
        b = await reconnect(server, bob_session, "bob-3")
        acked["room-0"] = await send_once_taken(a, b, "room-0")
        await b.message_with("room-0", timeout=20)
        for i in range(1, 4):
            cmid = f"room-{i}"
            acked[cmid] = await a.send_to_user(bob.user_id, cmid, BODY)
            await b.message_with(cmid, timeout=20)
        await assert_reads(a, b, acked, list(acked))
        # The search indexer is off the answer's path (it retries its batch
        # with a backoff of up to a second): poll, bounded.
        deadline = time.monotonic() + 20
        while not (await a.call("search", q="room again"))["messages"]:
            assert time.monotonic() < deadline, \
                "nothing found 20 s after the disk had room"
            await asyncio.sleep(0.2)

    run(room_again(), timeout=180)
    assert server.running


def test_full_disk_recovers_without_a_restart(disk_server, small_disk):
    """The same disk filling up and emptying under a running server: its
    engines stop writing, then take writes again by themselves."""
    server = disk_server
    alice = create_user(server, "alice")
    bob = create_user(server, "bob")
    filler = small_disk / "filler"
    acked = {}

    async def body():
        a = await online(server, alice, "phone")
        b = await online(server, bob, "phone")
        acked["warm"] = await a.send_to_user(bob.user_id, "warm", BODY)
        await b.message_with("warm")
        fill(filler)
        refusals, unplaced = await send_until_refused(a, b, acked, "fill")
        assert refusals and server.running
        await assert_reads(a, b, acked, [c for c in acked if c != unplaced])
        os.remove(filler)
        acked["room-0"] = await send_once_taken(a, b, "room-0")
        await b.message_with("room-0", timeout=20)
        for i in range(1, 4):
            cmid = f"room-{i}"
            acked[cmid] = await a.send_to_user(bob.user_id, cmid, BODY)
            await b.message_with(cmid, timeout=20)
        await assert_reads(a, b, acked, list(acked))

    run(body(), timeout=240)
    assert server.running
