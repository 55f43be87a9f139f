"""A cluster of three parleyd servers on the real engines (docs/CLUSTER.md),
run only with PARLEY_E2E_ENGINES=real and a Cassandra (PARLEY_TEST_CASSANDRA).

Devices connect where GET /v1/connect sends them (the least loaded server),
so users are spread over all three; 1:1 and group traffic runs under load.
Mid-load, either one server is killed (-9), and its clients reconnect to
the others (through /v1/connect again) and resend what was not
acknowledged, with the same client_msg_id; or a fourth server joins and
then one of the three stops (SIGTERM), so that every step's partitions move
twice; or Cassandra is killed (-9) and sends keep being acknowledged while
it is down, then it is restarted and the store catches up. At the end every acknowledged message is in every
recipient's inbox exactly once, every inbox's seqs are gapless, every member
sees each conversation in one order, and so did every device live.
"""

import asyncio
import os
import signal
import time
import uuid
from types import SimpleNamespace

import pytest
from websockets.exceptions import ConnectionClosed

from conftest import real_engines, stop_and_report
from parley_client import (Client, create_user, http_request, login, online,
                           run)
from parley_server import DEFAULT_ARGS, ParleyServer

pytestmark = pytest.mark.skipif(
    not real_engines() or not os.environ.get("PARLEY_TEST_CASSANDRA"),
    reason="needs the real engines with Cassandra (PARLEY_E2E_ENGINES=real)")

SERVERS = 3
USERS = 9
DIRECT_PER_USER = 30          # each user i sends these to user i+1
GROUP_MEMBERS = 6             # users 0..5 share a group
GROUP_PER_MEMBER = 10
KILL_AFTER_ACKS = 120
WINDOW = 4                    # sends each device keeps in flight
HEARTBEAT_MS = 300
LINK_ERRORS = (ConnectionError, ConnectionClosed, asyncio.TimeoutError,
               OSError)


def start_cluster(parleyd_binary, tmp_path, cassandra):
    namespace = "cluster_" + uuid.uuid4().hex[:12]
    shared = [*DEFAULT_ARGS,
              "--kafka", os.environ["PARLEY_TEST_KAFKA"],
              "--redis", os.environ["PARLEY_TEST_REDIS"],
              "--postgres", os.environ["PARLEY_TEST_POSTGRES"],
              "--cassandra", cassandra,
              "--engine-namespace", namespace,
              "--server-heartbeat-ms", str(HEARTBEAT_MS),
              "--send-timeout-ms", "4000"]
    servers = [ParleyServer(parleyd_binary, data_dir=tmp_path / f"data-{n}",
                            log_dir=tmp_path / f"logs-{n}",
                            args=[*shared, "--node-id", str(n)])
               for n in range(1, SERVERS + 1)]
    # The first start creates the keyspace and tables; the others find them.
    servers[0].start(timeout=120)
    for s in servers[1:]:
        s.start(timeout=60)
    return servers


@pytest.fixture
def cluster(parleyd_binary, tmp_path, request):
    servers = start_cluster(parleyd_binary, tmp_path, os.environ["PARLEY_TEST_CASSANDRA"])
    yield servers
    stop_and_report(request, servers)


@pytest.fixture
def cluster_on_private_cassandra(parleyd_binary, tmp_path, request, private_cassandra):
    """The cluster on a Cassandra of its own, to kill."""
    servers = start_cluster(parleyd_binary, tmp_path, private_cassandra.cassandra)
    yield servers
    stop_and_report(request, servers)


def registry(cluster):
    """GET /v1/servers from a live server: {server_id: load}."""
    front = next(s for s in cluster if s.running)
    r = http_request(front, "GET", "/v1/servers")
    assert r.status == 200, r.body
    return {s["server_id"]: s["load"] for s in r.json["servers"]}


class Device:
    """A user's one device, reconnecting through /v1/connect when its
    server goes away."""

    def __init__(self, cluster, user, name="phone"):
        self.cluster = cluster
        self.user = user
        self.name = name
        self.client = None
        self.server_id = None
        self.servers_used = []
        self.live = []               # message events, over all connections

    async def connect(self, patience=30):
        deadline = time.monotonic() + patience
        while True:
            front = next(s for s in self.cluster if s.running)
            try:
                r = http_request(front, "GET", "/v1/connect")
                assert r.status == 200, r.body
                pick = r.json
                session = login(front, self.user, self.name)
                self.client = await Client.connect(
                    SimpleNamespace(ws_url=pick["url"]), session.token,
                    label=f"{self.user.username}@{pick['server_id']}")
                self.client.user_id = session.user_id
                self.server_id = pick["server_id"]
                self.servers_used.append(self.server_id)
                return
            except LINK_ERRORS:
                # The registry may list a server that just died, until its
                # heartbeats run out: ask again.
                assert time.monotonic() < deadline, \
                    f"{self.user.username} could not reconnect"
                await asyncio.sleep(HEARTBEAT_MS / 1000)  # retry interval

    def harvest(self):
        """Keep the live messages the current connection has seen."""
        if self.client is not None:
            self.live.extend(e for e in self.client.all_events
                             if e.get("ev") == "message")
            self.client.all_events.clear()


async def send_all(device, sends, acked, progress, deadline):
    """Send every (cmid, to, body) of ``sends`` until each is acknowledged,
    ``WINDOW`` at a time; reconnect when the server goes away and resend
    what was not acknowledged, with the same client_msg_id."""
    def note(cmid, fut):
        if not fut.done() or fut.cancelled() or fut.exception():
            return
        reply = fut.result()
        if reply.get("ok") is True:
            if cmid in acked:
                assert acked[cmid]["message_id"] == reply["message_id"], \
                    f"a resend of acknowledged {cmid} got a new id"
            acked[cmid] = reply
            progress.set()

    pending = list(sends)
    while pending:
        assert time.monotonic() < deadline, \
            f"{device.user.username}: {len(pending)} sends never acknowledged"
        if device.client is None or device.client.is_closed:
            device.harvest()
            await device.connect()
        inflight = []
        try:
            for cmid, to, body in pending:
                if len(inflight) >= WINDOW:
                    await asyncio.wait_for(asyncio.shield(inflight[0][1]), 15)
                    note(*inflight.pop(0))
                fut = await device.client.start("send", to=to,
                                                client_msg_id=cmid, body=body)
                inflight.append((cmid, fut))
            for _, fut in inflight:
                await asyncio.wait_for(asyncio.shield(fut), 15)
        except LINK_ERRORS:
            pass
        finally:
            for cmid, fut in inflight:
                note(cmid, fut)
        pending = [s for s in pending if s[0] not in acked]
        if pending:
            await asyncio.sleep(0.2)   # a retry interval (unavailable while
            #                            partitions move), not synchronisation


async def connect_spread(cluster, users):
    """One device per user, connected one at a time, each after the
    registry shows the previous one, so that "least loaded" spreads them
    evenly; returns the devices and {server_id: its devices}."""
    devices = []
    for user in users:
        d = Device(cluster, user)
        await d.connect()
        devices.append(d)
        want = len(devices)
        deadline = time.monotonic() + 10
        while sum(registry(cluster).values()) < want:
            assert time.monotonic() < deadline, registry(cluster)
            await asyncio.sleep(HEARTBEAT_MS / 1000)  # a heartbeat
    loads = registry(cluster)
    assert sorted(loads.values()) == [USERS // SERVERS] * SERVERS, loads
    by_server = {}
    for d in devices:
        by_server.setdefault(d.server_id, []).append(d)
    assert len(by_server) == SERVERS
    return devices, by_server


async def mixed_load(cluster, users, devices, disrupt,
                     direct_per_user=DIRECT_PER_USER):
    """Runs the 1:1 and group traffic, with ``disrupt(acked, progress)``
    beside it, then checks that nothing was lost: inboxes gapless with every
    acknowledged message once, one order per conversation, for the stores
    and for what each device saw live."""
    group = await devices[0].client.call(
        "group_create", name="crew",
        members=[u.user_id for u in users[1:GROUP_MEMBERS]])
    group_id = group["group_id"]

    plans = []
    for i, d in enumerate(devices):
        to_user = users[(i + 1) % USERS].user_id
        sends = [(f"d{i}-{k:03d}", {"user": to_user}, f"direct {i}/{k}")
                 for k in range(direct_per_user)]
        if i < GROUP_MEMBERS:
            group_sends = [(f"g{i}-{k:03d}", {"group": group_id},
                            f"group {i}/{k}")
                           for k in range(GROUP_PER_MEMBER)]
            # Interleave: the group and the pair under load together.
            sends = [s for pair in zip(sends, group_sends + [None] * len(sends))
                     for s in pair if s is not None]
        plans.append(sends)

    acked = {}
    progress = asyncio.Event()
    deadline = time.monotonic() + 240
    disruption = asyncio.create_task(disrupt(acked, progress))
    await asyncio.gather(*(send_all(d, plan, acked, progress, deadline)
                           for d, plan in zip(devices, plans)))
    await asyncio.wait_for(disruption, 120)
    total = sum(len(p) for p in plans)
    assert len(acked) == total

    # Every device whose server went away reconnects to a live one (the
    # senders reconnect when they notice; one that was done sending
    # reconnects here).
    for d in devices:
        if d.client.is_closed:
            d.harvest()
            await d.connect()

    # A barrier per conversation: in one conversation everything sent
    # before it is ordered before it, so once every member's device has
    # it live, their inboxes hold everything earlier.
    conversations = {r["conversation"]: None for r in acked.values()}
    members = {}
    for cmid, reply in acked.items():
        sender = int(cmid[1:cmid.index("-")])
        if cmid.startswith("g"):
            members[reply["conversation"]] = list(range(GROUP_MEMBERS))
        else:
            members[reply["conversation"]] = [sender, (sender + 1) % USERS]
    barriers = {}
    for conv in conversations:
        first = members[conv][0]
        to = ({"group": group_id} if len(members[conv]) > 2
              else {"user": users[members[conv][1]].user_id})
        reply = await devices[first].client.call(
            "send", to=to, client_msg_id=f"barrier-{first}-{len(barriers)}",
            body="barrier")
        barriers[conv] = reply
    for conv, reply in barriers.items():
        for m in members[conv]:
            await devices[m].client.next_message(
                lambda e, mid=reply["message_id"]:
                    e["message"]["message_id"] == mid, timeout=60)

    everything = {**acked, **{r["message_id"]: r for r in barriers.values()}}
    expected = {}                      # user index -> message ids
    for reply in everything.values():
        for m in members[reply["conversation"]]:
            expected.setdefault(m, set()).add(reply["message_id"])

    orders = {}                        # conversation -> message id order
    for i, d in enumerate(devices):
        entries = await d.client.sync_all(after=0, limit=100)
        seqs = [e["seq"] for e in entries]
        assert seqs == list(range(1, len(seqs) + 1)), \
            f"u{i}: inbox not gapless: {seqs}"
        ids = [e["message"]["message_id"] for e in entries]
        assert len(ids) == len(set(ids)), f"u{i}: a message twice"
        assert set(ids) == expected[i], \
            f"u{i}: missing {expected[i] - set(ids)}, extra {set(ids) - expected[i]}"
        for conv in {e["message"]["conversation"] for e in entries}:
            order = [e["message"]["message_id"] for e in entries
                     if e["message"]["conversation"] == conv]
            assert orders.setdefault(conv, order) == order, \
                f"u{i} sees {conv} in another order"
        # What the device saw live, over its connections, came in that
        # order too (a redelivery after a crash may repeat an entry;
        # first sightings are what a client displays).
        d.harvest()
        position = {mid: n for n, mid in enumerate(ids)}
        for conv in orders:
            seen = []
            for e in d.live:
                mid = e["message"]["message_id"]
                if e["message"]["conversation"] == conv and position[mid] not in seen:
                    seen.append(position[mid])
            assert seen == sorted(seen), f"u{i} saw {conv} out of order live"
    return acked


async def acks_reach(acked, progress, count):
    while len(acked) < count:
        await progress.wait()
        progress.clear()


def test_a_server_killed_mid_load_loses_nothing(cluster):
    users = [create_user(cluster[0], f"user{i}") for i in range(USERS)]
    victim, victim_id = cluster[1], "node-2"

    async def body():
        devices, by_server = await connect_spread(cluster, users)

        async def kill_a_server(acked, progress):
            await acks_reach(acked, progress, KILL_AFTER_ACKS)
            victim.kill9()

        acked = await mixed_load(cluster, users, devices, kill_a_server)
        print(f"killed {victim_id} after {KILL_AFTER_ACKS} of {len(acked)} acks")
        # The devices of the dead server moved to the live ones.
        for d in by_server[victim_id]:
            assert d.server_id != victim_id, d.servers_used
            assert d.servers_used[0] == victim_id
        assert victim_id not in registry(cluster)

    run(body(), timeout=400)


def records_done(server, step):
    """The records ``step`` has handled on ``server`` (its /metrics)."""
    r = http_request(server, "GET", "/metrics")
    assert r.status == 200, r.body
    prefix = f'parley_pipeline_records_total{{step="{step}"}} '
    for line in r.body.decode().splitlines():
        if line.startswith(prefix):
            return float(line[len(prefix):])
    return 0.0


def test_servers_joining_and_leaving_mid_load_give_no_send_two_ids(
        cluster, parleyd_binary, tmp_path):
    """Issue 12: partitions move while sends are in flight. A fourth server
    joins mid-load (every step's consumer group rebalances onto it), then
    one of the first three stops (SIGTERM: its partitions move again), and
    still every acknowledged send has one id (a resend gets it back), is in
    every member's inbox once with gapless seqs, in one order per
    conversation."""
    users = [create_user(cluster[0], f"user{i}") for i in range(USERS)]
    # The same settings as the others (start_cluster), its own node id.
    assert cluster[0].args[-2] == "--node-id"
    joiner = ParleyServer(parleyd_binary, data_dir=tmp_path / "data-4",
                          log_dir=tmp_path / "logs-4",
                          args=[*cluster[0].args[:-2], "--node-id", "4"])
    leaver, leaver_id = cluster[1], "node-2"

    async def body():
        devices, by_server = await connect_spread(cluster, users)

        async def join_then_leave(acked, progress):
            await acks_reach(acked, progress, KILL_AFTER_ACKS)
            await asyncio.to_thread(joiner.start, 0, 60)
            cluster.append(joiner)     # the fixture stops it too
            # Past the rebalance: no step answers while it runs.
            at_join = len(acked)
            await acks_reach(acked, progress, at_join + KILL_AFTER_ACKS)
            await asyncio.to_thread(leaver.stop)

        # Enough sends that the load outlasts both moves.
        acked = await mixed_load(cluster, users, devices, join_then_leave,
                                 direct_per_user=8 * DIRECT_PER_USER)
        print(f"joined node-4 after {KILL_AFTER_ACKS} acks, stopped "
              f"{leaver_id} later, {len(acked)} acks in all")
        servers = registry(cluster)
        assert "node-4" in servers and leaver_id not in servers, servers
        # The joiner did take partitions and work on them. (Which step
        # gets which partitions is Kafka's choice, and the load's ten
        # conversations and nine users fall in a few of them, so any one
        # step may get none with work; all of them at once, hardly ever.)
        done = {step: records_done(joiner, step)
                for step in ("sequencer", "store-writer", "inbox")}
        print(f"node-4 handled {done}")
        assert sum(done.values()) > 0, done
        for d in by_server[leaver_id]:
            assert d.server_id != leaver_id, d.servers_used

    run(body(), timeout=400)


def test_cassandra_killed_mid_load_sends_keep_being_acknowledged(
        cluster_on_private_cassandra, private_cassandra):
    """Issue 7: with Cassandra down, the servers keep acknowledging sends
    (the log holds them); once it is back, the store catches up and nothing
    is lost."""
    cluster = cluster_on_private_cassandra
    users = [create_user(cluster[0], f"user{i}") for i in range(USERS)]
    while_down = 60

    async def body():
        devices, _ = await connect_spread(cluster, users)

        async def kill_cassandra(acked, progress):
            await acks_reach(acked, progress, KILL_AFTER_ACKS)
            private_cassandra.kill9("cassandra")
            at_kill = len(acked)
            try:
                await asyncio.wait_for(
                    acks_reach(acked, progress, at_kill + while_down), 60)
            except asyncio.TimeoutError:
                raise AssertionError(
                    f"sends stopped being acknowledged with Cassandra down "
                    f"({len(acked) - at_kill} of {while_down} after the kill)")
            await asyncio.to_thread(private_cassandra.run, "start", "cassandra")

        acked = await mixed_load(cluster, users, devices, kill_cassandra)
        print(f"Cassandra down from ack {KILL_AFTER_ACKS} to at least "
              f"{KILL_AFTER_ACKS + while_down} of {len(acked)}")

    run(body(), timeout=500)


def test_a_stalled_server_comes_back_with_its_routes(cluster):
    """A server that stalls (SIGSTOP) longer than its heartbeats allow is
    retired with its routes; when it runs again it registers anew and adds
    its routes back, so its users get live messages (and no push) again."""
    front, _, stalled = cluster
    alice, bob = create_user(front, "alice"), create_user(front, "bob")

    async def body():
        a = await online(front, alice, "phone")
        b = await online(stalled, bob, "phone")
        hello = await a.send_to_user(bob.user_id, "before", "before the stall")
        await b.message_with("before", timeout=20)

        os.kill(stalled.proc.pid, signal.SIGSTOP)
        try:
            deadline = time.monotonic() + 20
            while "node-3" in registry(cluster):
                assert time.monotonic() < deadline, "node-3 was never retired"
                await asyncio.sleep(HEARTBEAT_MS / 1000)   # a heartbeat
        finally:
            os.kill(stalled.proc.pid, signal.SIGCONT)
        deadline = time.monotonic() + 20
        while "node-3" not in registry(cluster):
            assert time.monotonic() < deadline, "node-3 never came back"
            await asyncio.sleep(HEARTBEAT_MS / 1000)       # a heartbeat

        # Routes are added back right after the heartbeat that registers the
        # server anew; a message sent now must reach bob live.
        after = await a.send_to_user(bob.user_id, "after", "after the stall")
        got = await b.message_with("after", timeout=20)
        assert got["message"]["message_id"] == after["message_id"]
        assert after["conversation"] == hello["conversation"]

    run(body(), timeout=120)
