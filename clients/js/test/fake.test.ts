// The client's own logic against a scripted server (no parleyd): the order
// and de-duplication of catch-up, send retries, and the backoff's bounds.

import assert from "node:assert/strict";
import { afterEach, test } from "node:test";

import { ParleyClient, ParleyError, type Message, type SocketLike } from "../src/index.js";

const T = { timeout: 20_000 };

// Closed after each test, passed or failed (an open client reconnects for ever).
const clients: ParleyClient[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

/** A socket whose server side is the test: `frames` holds what the client sent. */
class FakeSocket implements SocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  readonly frames: Record<string, any>[] = [];
  private waiters: Array<() => void> = [];

  constructor() {
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.({});
    }, 0);
  }
  send(data: string): void {
    this.frames.push(JSON.parse(data));
    for (const w of this.waiters.splice(0)) w();
  }
  close(code = 1000, reason = ""): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    setTimeout(() => this.onclose?.({ code, reason }), 0);
  }
  /** Server to client. */
  push(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  /** The next frame the client sends with `op` (waiting for it). */
  async request(op: string): Promise<Record<string, any>> {
    for (;;) {
      const i = this.frames.findIndex((f) => f.op === op);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }
  reply(req: Record<string, any>, fields: Record<string, unknown> = {}): void {
    this.push({ re: req.id, ok: true, ...fields });
  }
}

function track(client: ParleyClient): ParleyClient {
  clients.push(client);
  return client;
}

function message(seq: number): Message {
  return {
    message_id: String(1000 + seq),
    conversation: "d:1:2",
    from: "1",
    to: { user: "2" },
    body: `m${seq}`,
    sent_at: 1,
    client_msg_id: `c${seq}`,
  };
}
const entry = (seq: number) => ({ seq, message: message(seq) });
const live = (seq: number) => ({ ev: "message", seq, message: message(seq) });

function scripted() {
  const sockets: FakeSocket[] = [];
  let opened: (s: FakeSocket) => void = () => {};
  const client = track(new ParleyClient({
    server: "http://127.0.0.1:1",
    token: "t",
    heartbeatMs: 0,
    reconnect: { initialDelayMs: 1, maxDelayMs: 5 },
    socketFactory: () => {
      const s = new FakeSocket();
      sockets.push(s);
      opened(s);
      return s;
    },
  }));
  const nextSocket = () => new Promise<FakeSocket>((r) => (opened = r));
  const bodies: string[] = [];
  client.on("message", (ev) => bodies.push(ev.message.body ?? ""));
  return { client, sockets, nextSocket, bodies };
}

test("live entries that come during catch-up wait for it; repeats are dropped by seq", T, async () => {
  const { client, nextSocket, bodies } = scripted();
  const socket = nextSocket();
  const connected = client.connect();
  const s = await socket;

  const first = await s.request("sync");
  assert.equal(first.after, undefined, "the first page starts at the device's stored cursor");
  s.push(live(3)); // live while catching up: held back
  s.push(live(2)); // also in a sync page
  assert.deepEqual(bodies, []);
  s.reply(first, { entries: [entry(1), entry(2)], more: true });
  const second = await s.request("sync");
  assert.equal(second.after, 2);
  s.reply(second, { entries: [entry(3)], more: false });
  await connected;
  assert.deepEqual(bodies, ["m1", "m2", "m3"]);

  s.push(live(3));
  s.push(live(4));
  s.push({ ev: "message", message: { ...message(9), to: { channel: "7" } } }); // channel: no seq
  assert.deepEqual(bodies, ["m1", "m2", "m3", "m4", "m9"]);

  // After a drop, entries not acked come again from sync and are dropped.
  client.ack(2);
  s.reply(await s.request("ack"), { cursor: 2 });
  const again = nextSocket();
  s.close(1006);
  const s2 = await again;
  const resync = await s2.request("sync");
  s2.reply(resync, { entries: [entry(3), entry(4), entry(5)], more: false });
  await client.next("synced");
  assert.deepEqual(bodies, ["m1", "m2", "m3", "m4", "m9", "m5"]);
  assert.equal(client.cursor, 2);
  client.close();
});

test("a send is retried with the same client_msg_id across a drop and after unavailable", T, async () => {
  const { client, nextSocket } = scripted();
  let socket = nextSocket();
  const connected = client.connect();
  let s = await socket;
  s.reply(await s.request("sync"), { entries: [], more: false });
  await connected;

  const sent = client.send({ user: "2" }, "hello");
  const firstTry = await s.request("send");
  socket = nextSocket();
  s.close(1006); // dropped before the reply
  s = await socket;
  const secondTry = await s.request("send");
  assert.equal(secondTry.client_msg_id, firstTry.client_msg_id);
  assert.equal(secondTry.body, "hello");
  s.push({ re: secondTry.id, ok: false, error: { code: "unavailable", message: "behind on sends" } });
  const thirdTry = await s.request("send");
  assert.equal(thirdTry.client_msg_id, firstTry.client_msg_id);
  s.reply(thirdTry, { message_id: "42", conversation: "d:1:2", sent_at: 5 });
  assert.deepEqual(await sent, { message_id: "42", conversation: "d:1:2", sent_at: 5, client_msg_id: firstTry.client_msg_id });

  // An error a retry cannot fix rejects with the protocol's code.
  const refused = client.send({ user: "3" }, "no");
  const req = await s.request("send");
  s.push({ re: req.id, ok: false, error: { code: "forbidden", message: "blocked" } });
  const err = await refused.catch((e: unknown) => e);
  assert.ok(err instanceof ParleyError);
  assert.equal(err.code, "forbidden");
  assert.equal(client.unsent, 0);
  client.close();
});

test("reconnect delays grow exponentially within the jitter's bounds", T, async () => {
  const policy = { initialDelayMs: 4, maxDelayMs: 40, factor: 2, jitter: 0.5 };
  const client = track(new ParleyClient({
    server: "http://127.0.0.1:1",
    token: "t",
    reconnect: policy,
    socketFactory: () => {
      throw new Error("refused");
    },
  }));
  const delays: number[] = [];
  const sixth = new Promise<void>((resolve) =>
    client.on("disconnected", (d) => {
      assert.equal(d.willReconnect, true);
      delays.push(d.delayMs!);
      if (delays.length === 6) resolve();
    }),
  );
  client.connect().catch(() => {});
  await sixth;
  client.close();
  delays.forEach((d, i) => {
    const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** i);
    assert.ok(d >= base / 2 - 1 && d <= base, `delay ${i} = ${d}, expected ${base / 2}..${base}`);
  });
});
