import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";

import { WebSocket } from "ws";

import { ConnectionClosedError, ParleyClient, ParleyError, ParleyHttp, type SocketFactory, type SocketLike } from "../src/index.js";
import { online, recorder, signUp } from "./helpers.js";
import { TestServer } from "./server.js";

/** Every test gives up after a minute rather than hang the suite. */
const T = { timeout: 60_000 };

let server: TestServer;
const clients: ParleyClient[] = [];
function track<T extends ParleyClient>(c: T): T {
  clients.push(c);
  return c;
}

beforeEach(async () => {
  server = await new TestServer().start();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server.stop();
});

describe("HTTP", () => {
  test("sign up, log in, look up, and the typed errors", T, async () => {
    const http = new ParleyHttp(server.url);
    const { user_id } = await http.signUp("alice_js", "correct horse battery");
    assert.match(user_id, /^\d+$/);

    const taken = await http.signUp("alice_js", "another password").catch((e: unknown) => e);
    assert.ok(taken instanceof ParleyError);
    assert.equal(taken.code, "conflict");
    assert.equal(taken.status, 409);

    const wrong = await http.logIn("alice_js", "wrong password", "laptop").catch((e: unknown) => e);
    assert.ok(wrong instanceof ParleyError);
    assert.equal(wrong.code, "unauthorized");
    assert.equal(wrong.status, 401);

    const session = await http.logIn("alice_js", "correct horse battery", "laptop");
    assert.equal(session.user_id, user_id);
    assert.equal(session.device_id, "laptop");
    assert.ok(session.token.length > 0);
    assert.equal(http.token, session.token);

    assert.deepEqual(await http.userByName("alice_js"), { user_id, username: "alice_js" });
    const missing = await http.userByName("nobody_here").catch((e: unknown) => e);
    assert.ok(missing instanceof ParleyError && missing.code === "not_found");

    assert.equal(await http.healthy(), true);
    assert.deepEqual(await http.readiness(), { ready: true });
    assert.equal(typeof (await http.version()).version, "string");
    const servers = await http.servers();
    assert.equal(servers.length, 1);
    assert.equal(servers[0]!.url, `ws://127.0.0.1:${server.port}/v1/ws`);
    assert.equal((await http.pickServer()).url, servers[0]!.url);

    http.logOut();
    const anonymous = await http.userByName("alice_js").catch((e: unknown) => e);
    assert.ok(anonymous instanceof ParleyError && anonymous.code === "unauthorized");
  });

  test("devices: listed, one removed (its client ends as unauthorized), a password change, a logout", T, async () => {
    const alice = await signUp(server, "alice");
    const laptop = new ParleyHttp(server.url);
    await laptop.logIn(alice.username, alice.password, "laptop");
    const phone = track(await online(server, alice, "phone", { reconnect: { initialDelayMs: 20, maxDelayMs: 100 } }));
    const devices = await laptop.sessions();
    assert.deepEqual(devices.map((d) => [d.device_id, d.current]), [["laptop", true], ["phone", false]]);
    assert.ok(devices.every((d) => d.created_at > 0 && d.last_used_at >= d.created_at));

    // Removing the phone closes its connection with 4001: the client ends
    // for good instead of reconnecting with a dead token.
    const ended = new Promise<Error | undefined>((resolve) => phone.once("closed", ({ error }) => resolve(error)));
    await laptop.removeDevice("phone");
    const why = await ended;
    assert.ok(why instanceof ParleyError, String(why));
    assert.equal(why.code, "unauthorized");
    assert.match(why.message, /device removed/);
    assert.equal(phone.state, "closed");
    assert.deepEqual((await laptop.sessions()).map((d) => d.device_id), ["laptop"]);
    const gone = await laptop.removeDevice("phone").catch((e: unknown) => e);
    assert.ok(gone instanceof ParleyError && gone.code === "not_found");

    // A password change ends the other sessions but not this one.
    const tablet = new ParleyHttp(server.url);
    await tablet.logIn(alice.username, alice.password, "tablet");
    const wrong = await laptop.changePassword("not the password", "a new long secret").catch((e: unknown) => e);
    assert.ok(wrong instanceof ParleyError && wrong.code === "forbidden");
    await laptop.changePassword(alice.password, "a new long secret");
    const refused = await tablet.sessions().catch((e: unknown) => e);
    assert.ok(refused instanceof ParleyError && refused.code === "unauthorized");
    assert.deepEqual((await laptop.sessions()).map((d) => d.device_id), ["laptop"]);

    // Logging out ends the session on the server.
    const token = laptop.token;
    await laptop.endSession();
    assert.equal(laptop.token, undefined);
    const after = await new ParleyHttp(server.url, { token }).sessions().catch((e: unknown) => e);
    assert.ok(after instanceof ParleyError && after.code === "unauthorized");
  });

  test("a bad token is refused as unauthorized, without reconnecting", T, async () => {
    const client = track(new ParleyClient({ server: server.url, token: "not-a-token" }));
    const err = await client.connect().catch((e: unknown) => e);
    assert.ok(err instanceof ParleyError, String(err));
    assert.equal(err.code, "unauthorized");
    assert.equal(client.state, "closed");
  });
});

/**
 * A socket like a browser's: the token in `?token=`, and errors that do not
 * say why an upgrade failed.
 */
const browserLikeSocket: SocketFactory = (url, token) => {
  const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}`);
  const socket: SocketLike = {
    get readyState() {
      return ws.readyState;
    },
    send: (data) => ws.send(data),
    close: (code, reason) => ws.close(code, reason),
    onopen: null,
    onmessage: null,
    onclose: null,
    onerror: null,
  };
  ws.onopen = (ev) => socket.onopen?.(ev);
  ws.onmessage = (ev) => socket.onmessage?.({ data: String(ev.data) });
  ws.onclose = (ev) => socket.onclose?.({ code: ev.code, reason: ev.reason });
  ws.onerror = () => socket.onerror?.({ type: "error" });
  return socket;
};

describe("browser-like sockets", () => {
  test("the token in the query works, and a bad token still ends the client as unauthorized", T, async () => {
    const alice = await signUp(server, "alice");
    const bob = await signUp(server, "bob");
    const a = track(await online(server, alice, "web", { socketFactory: browserLikeSocket }));
    const b = track(await online(server, bob, "web", { socketFactory: browserLikeSocket }));
    const got = b.next("message");
    const sent = await a.send({ user: bob.user_id }, "from a browser");
    assert.equal((await got).message.message_id, sent.message_id);

    const bad = track(new ParleyClient({ server: server.url, token: "revoked", socketFactory: browserLikeSocket }));
    const err = await bad.connect().catch((e: unknown) => e);
    assert.ok(err instanceof ParleyError, String(err));
    assert.equal(err.code, "unauthorized");
  });
});

describe("chat", () => {
  test("a 1:1 message is delivered live to the other user, once, with the send's ids", T, async () => {
    const alice = await signUp(server, "alice");
    const bob = await signUp(server, "bob");
    const a = track(await online(server, alice, "phone"));
    // bob finds the server through GET /v1/connect.
    const b = track(await online(server, bob, "laptop", { discover: true }));
    const bobSees = b.next("message");

    const sent = await a.send({ user: bob.user_id }, "hello bob 👋");
    const ev = await bobSees;
    assert.equal(typeof ev.seq, "number");
    assert.deepEqual(ev.message, {
      message_id: sent.message_id,
      conversation: sent.conversation,
      from: alice.user_id,
      to: { user: bob.user_id },
      body: "hello bob 👋",
      sent_at: sent.sent_at,
      client_msg_id: sent.client_msg_id,
    });
  });

  test("a group send reaches every member; history pages newest first", T, async () => {
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((p) => signUp(server, p)));
    const a = track(await online(server, alice!, "a1"));
    const b = track(await online(server, bob!, "b1"));
    const c = track(await online(server, carol!, "c1"));
    const group = await a.createGroup("weekend plans", [bob!.user_id, carol!.user_id]);
    assert.match(group.group_id, /^\d+$/);

    const bobSaw = recorder(b);
    const carolSaw = recorder(c);
    const sent = [];
    for (const body of ["one", "two", "three"]) sent.push(await a.send({ group: group.group_id }, body));
    for (const saw of [bobSaw, carolSaw]) {
      const got = await saw.until(3);
      assert.deepEqual(got.map((e) => e.message.body), ["one", "two", "three"]);
      assert.ok(got.every((e) => e.message.conversation === group.conversation && e.message.from === alice!.user_id));
    }

    const all = await b.history(group.conversation, { limit: 10 });
    assert.deepEqual(all.messages.map((m) => m.body), ["three", "two", "one"]);
    const older = await b.history(group.conversation, { limit: 2, before: sent[2]!.message_id });
    assert.deepEqual(older.messages.map((m) => m.message_id), [sent[1]!.message_id, sent[0]!.message_id]);
  });

  test("an offline device catches up with sync, in order; acked entries do not come back", T, async () => {
    const alice = await signUp(server, "alice");
    const bob = await signUp(server, "bob");
    const a = track(await online(server, alice, "phone"));
    for (let i = 1; i <= 7; i++) await a.send({ user: bob.user_id }, `m${i}`);

    // Pages of 3: the catch-up must follow `more` to the end.
    const b = track(new ParleyClient({ ...(await loginOpts(bob, "tablet")), syncPageSize: 3 }));
    const saw = recorder(b);
    const synced = b.next("synced");
    await b.connect();
    assert.equal((await synced).delivered, 7);
    assert.deepEqual(saw.bodies(), ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]);
    const seqs = saw.seen.map((e) => e.seq!);
    assert.deepEqual([...seqs].sort((x, y) => x - y), seqs);

    b.ack(seqs[4]!); // consumed m1..m5
    assert.equal(await b.flushAcks(), seqs[4]);
    assert.equal(b.cursor, seqs[4]);
    b.close();

    // The same device again: only what it did not ack.
    const again = track(new ParleyClient(await loginOpts(bob, "tablet")));
    const saw2 = recorder(again);
    await again.connect();
    assert.deepEqual(saw2.bodies(), ["m6", "m7"]);
  });

  test("sends retried with the same client_msg_id make one message", T, async () => {
    const alice = await signUp(server, "alice");
    const bob = await signUp(server, "bob");
    const a = track(await online(server, alice, "phone"));
    const b = track(await online(server, bob, "laptop"));
    const saw = recorder(b);

    const first = await a.send({ user: bob.user_id }, "only once", { clientMsgId: "retry-1" });
    const [second, third] = await Promise.all([
      a.send({ user: bob.user_id }, "only once", { clientMsgId: "retry-1" }),
      a.send({ user: bob.user_id }, "only once", { clientMsgId: "retry-1" }),
    ]);
    assert.equal(second.message_id, first.message_id);
    assert.equal(third.message_id, first.message_id);
    await a.send({ user: bob.user_id }, "sentinel");
    await saw.until(2);
    assert.deepEqual(saw.bodies(), ["only once", "sentinel"]);
    const history = await a.history(first.conversation);
    assert.deepEqual(history.messages.map((m) => m.body), ["sentinel", "only once"]);
  });

  test("errors carry the protocol's code", T, async () => {
    const alice = await signUp(server, "alice");
    const a = track(await online(server, alice, "phone"));
    const notFound = await a.send({ user: "123456789" }, "to nobody").catch((e: unknown) => e);
    assert.ok(notFound instanceof ParleyError, String(notFound));
    assert.equal(notFound.op, "send");
    assert.ok(["not_found", "forbidden"].includes(notFound.code), notFound.code);
    const bad = await a.history("no-such-conversation").catch((e: unknown) => e);
    assert.ok(bad instanceof ParleyError && ["bad_request", "not_found", "forbidden"].includes(bad.code), String(bad));
    const badAck = await a.request("ack", { seq: 999999 }).catch((e: unknown) => e);
    assert.ok(badAck instanceof ParleyError);
    assert.equal(badAck.code, "bad_request");
    a.close();
    const closed = await a.ping().catch((e: unknown) => e);
    assert.ok(closed instanceof ConnectionClosedError);
  });

  test("friends, presence, typing and receipts arrive as typed events", T, async () => {
    const alice = await signUp(server, "alice");
    const bob = await signUp(server, "bob");
    const a = track(await online(server, alice, "phone"));
    const b = track(await online(server, bob, "laptop"));

    assert.deepEqual(await a.friendRequest(bob.user_id), { state: "pending" });
    const requests = (await b.friends()).requests;
    assert.deepEqual(requests, [{ user_id: alice.user_id, username: alice.username }]);
    await b.friendAccept(alice.user_id);
    const list = await a.friends();
    assert.deepEqual(list.friends.map((f) => [f.user_id, f.username]), [[bob.user_id, bob.username]]);

    const sent = await a.send({ user: bob.user_id }, "are you there?");
    const typing = a.next("typing");
    await b.typing(sent.conversation);
    assert.deepEqual(await typing, { ev: "typing", conversation: sent.conversation, user: bob.user_id });

    const receipt = a.next("receipt", (r) => r.user === bob.user_id);
    await b.markRead(sent.conversation, sent.message_id);
    assert.deepEqual(await receipt, {
      ev: "receipt",
      conversation: sent.conversation,
      user: bob.user_id,
      message_id: sent.message_id,
    });

    const away = a.next("presence", (p) => p.user === bob.user_id && p.status === "away", 10000);
    const reply = await b.setPresence("away");
    assert.ok(reply.heartbeat_ms > 0 && reply.ttl_ms > reply.heartbeat_ms);
    assert.equal((await away).status, "away");

    const convs = await a.conversations();
    assert.equal(convs.conversations[0]!.conversation, sent.conversation);
    assert.equal(convs.conversations[0]!.kind, "direct");
  });

  test("channels: create, join, post live to members, search", T, async () => {
    const alice = await signUp(server, "alice");
    const bob = await signUp(server, "bob");
    const a = track(await online(server, alice, "phone"));
    const b = track(await online(server, bob, "laptop"));
    const channel = await a.createChannel("announcements");
    await b.channelJoin(channel.channel_id);
    const live = b.next("message");
    const sent = await a.send({ channel: channel.channel_id }, "release notes for the zeppelin launch");
    const ev = await live;
    assert.equal(ev.seq, undefined);
    assert.equal(ev.message.message_id, sent.message_id);

    // Search is indexed shortly after the send is answered: ask until it is there.
    let found: string[] = [];
    for (let i = 0; i < 50 && found.length === 0; i++) {
      found = (await b.search("zeppelin", { conversation: channel.conversation })).messages.map((m) => m.message_id);
      if (found.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(found, [sent.message_id]);
    await b.channelLeave(channel.channel_id);
    const denied = await b.search("zeppelin", { conversation: channel.conversation }).catch((e: unknown) => e);
    assert.ok(denied instanceof ParleyError && denied.code === "forbidden", String(denied));
  });
});

describe("reconnect", () => {
  test("across a server restart: nothing lost, nothing shown twice, pending sends complete", T, async () => {
    const alice = await signUp(server, "alice");
    const bob = await signUp(server, "bob");
    const a = track(await online(server, alice, "phone"));
    const b = track(await online(server, bob, "laptop"));
    const saw = recorder(b);

    await a.send({ user: bob.user_id }, "before 1");
    await a.send({ user: bob.user_id }, "before 2");
    await saw.until(2);
    b.ack(saw.seen[0]!.seq!); // bob consumed only the first; "before 2" is synced again after the restart
    await b.flushAcks();

    const aDown = a.next("disconnected");
    const bDown = b.next("disconnected");
    await server.kill();
    assert.equal((await aDown).willReconnect, true);
    await bDown;

    // Sent while the server is down: held, then retried with the same client_msg_id.
    const during = a.send({ user: bob.user_id }, "during the outage");
    const aBack = a.next("synced", () => true, 20000);
    const bBack = b.next("synced", () => true, 20000);
    await server.restart();
    await Promise.all([aBack, bBack]);
    const duringReply = await during;

    const after = await a.send({ user: bob.user_id }, "after");
    await saw.until(4);
    assert.deepEqual(saw.bodies(), ["before 1", "before 2", "during the outage", "after"]);
    assert.equal(saw.seen[2]!.message.message_id, duringReply.message_id);
    assert.equal(saw.seen[3]!.message.message_id, after.message_id);
    const seqs = saw.seen.map((e) => e.seq!);
    assert.equal(new Set(seqs).size, 4);

    // The server holds the message once, too.
    const history = await b.history(after.conversation);
    assert.deepEqual(history.messages.map((m) => m.body), ["after", "during the outage", "before 2", "before 1"]);
    assert.equal(a.unsent, 0);
  });
});

async function loginOpts(user: { username: string; password: string }, deviceId: string) {
  const session = await new ParleyHttp(server.url).logIn(user.username, user.password, deviceId);
  return { server: server.url, token: session.token, deviceId, reconnect: { initialDelayMs: 50, maxDelayMs: 500 } };
}
