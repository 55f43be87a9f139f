import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, test } from "node:test";

import { PACKAGE_DIR, TestServer } from "./server.js";

const CLI = join(PACKAGE_DIR, "dist", "src", "cli.js");

/** Every test gives up after a minute rather than hang the suite. */
const T = { timeout: 60_000 };

let server: TestServer;
let home: string;

beforeEach(async () => {
  server = await new TestServer().start();
  home = mkdtempSync(join(tmpdir(), "parley-cli-"));
});

// CLI processes still running when a test ends (a failed one) are killed.
const running = new Set<ChildProcess>();

afterEach(async () => {
  for (const proc of running) proc.kill("SIGKILL");
  running.clear();
  await server.stop();
  rmSync(home, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `parley args` as `who` (one config file each); `onStderr` sees stderr as it comes. */
function start(who: string, args: string[], onStderr?: (text: string) => void) {
  const proc = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, PARLEY_CONFIG: join(home, `${who}.json`), PARLEY_SERVER: server.url, PARLEY_PASSWORD: "" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  running.add(proc);
  proc.on("exit", () => running.delete(proc));
  let stdout = "";
  let stderr = "";
  proc.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    onStderr?.(stderr);
  });
  const done = new Promise<Run>((resolve) => proc.on("close", (code) => resolve({ code, stdout, stderr })));
  return { proc, done };
}

async function parley(who: string, ...args: string[]): Promise<Run> {
  const { proc, done } = start(who, args);
  proc.stdin.end();
  return done;
}

/** Runs a command that must succeed; returns its stdout's JSON lines. */
async function json(who: string, ...args: string[]): Promise<Record<string, any>[]> {
  const r = await parley(who, "--json", ...args);
  assert.equal(r.code, 0, `parley ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

test("the CLI: signup, login, send, sync, history, friends, groups, search, and tail --json", T, async () => {
  const [alice] = await json("alice", "signup", "alice", "--password", "alice secret 1");
  assert.match(alice!.user_id, /^\d+$/);
  const [bob] = await json("bob", "signup", "bob", "--password", "bob secret 12");

  // A taken name fails with the protocol's code and status 1.
  const taken = await parley("carol", "signup", "alice", "--password", "whatever pw 3");
  assert.equal(taken.code, 1);
  assert.match(taken.stderr, /^parley: conflict: /);

  // login: the password also comes on stdin; the session is stored in the config file.
  const login = start("alice", ["--json", "login", "alice"]);
  login.proc.stdin.end("alice secret 1\n");
  const loggedIn = await login.done;
  assert.equal(loggedIn.code, 0, loggedIn.stderr);
  assert.deepEqual(JSON.parse(loggedIn.stdout), { user_id: alice!.user_id, username: "alice", device_id: "cli" });
  const stored = JSON.parse(readFileSync(join(home, "alice.json"), "utf8"));
  assert.equal(stored.user_id, alice!.user_id);
  assert.equal(typeof stored.token, "string");
  assert.equal(statSync(join(home, "alice.json")).mode & 0o777, 0o600);
  assert.deepEqual(await json("bob", "login", "bob", "--password", "bob secret 12", "--device", "tablet"), [
    { user_id: bob!.user_id, username: "bob", device_id: "tablet" },
  ]);

  // send, then bob's sync shows it once and acks it.
  const [first] = await json("alice", "send", "@bob", "hello", "from", "the", "cli");
  assert.match(first!.message_id, /^\d+$/);
  const synced = await json("bob", "sync");
  assert.equal(synced.length, 1);
  assert.equal(synced[0]!.message.body, "hello from the cli");
  assert.equal(synced[0]!.message.message_id, first!.message_id);
  assert.deepEqual(await json("bob", "sync"), []);

  // tail --json: bob sees alice's next messages live, as protocol events.
  let ready!: () => void;
  const tailing = new Promise<void>((resolve) => (ready = resolve));
  const tail = start("bob", ["--json", "tail", "@alice", "--count", "2"], (err) => {
    if (err.includes("parley: tailing @alice")) ready();
  });
  await tailing;
  const [second] = await json("alice", "send", `user:${bob!.user_id}`, "second");
  const [third] = await json("alice", "send", "@bob", "third");
  const tailed = await tail.done;
  assert.equal(tailed.code, 0, tailed.stderr);
  const events = tailed.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(events.map((e) => [e.ev, e.message.body, e.message.message_id, e.message.from]), [
    ["message", "second", second!.message_id, alice!.user_id],
    ["message", "third", third!.message_id, alice!.user_id],
  ]);
  assert.ok(events[1].seq > events[0].seq);
  // tail acked what it showed.
  assert.deepEqual(await json("bob", "sync"), []);

  // history: oldest first, exact content; text output too.
  const history = await json("bob", "history", "@alice");
  assert.deepEqual(history.map((m) => m.body), ["hello from the cli", "second", "third"]);
  const text = await parley("bob", "history", "@alice", "--limit", "1");
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d user:\d+ -> me: third\n$/);

  // friends and groups.
  assert.deepEqual(await json("alice", "friends", "add", "@bob"), [{ user_id: bob!.user_id, state: "pending" }]);
  assert.deepEqual(await json("bob", "friends"), [{ request: { user_id: alice!.user_id, username: "alice" } }]);
  await json("bob", "friends", "accept", "@alice");
  const friends = await json("alice", "friends");
  assert.deepEqual(friends.map((f) => f.friend.username), ["bob"]);
  const [group] = await json("alice", "groups", "create", "trip", "@bob");
  await json("alice", "send", `group:${group!.group_id}`, "pack the zeppelin");
  const groupHistory = await json("bob", "history", group!.conversation);
  assert.deepEqual(groupHistory.map((m) => [m.body, m.to]), [["pack the zeppelin", { group: group!.group_id }]]);
  const groups = await json("bob", "groups");
  assert.deepEqual(groups.map((g) => g.conversation), [group!.conversation]);

  // channels: create, join, post, read back.
  const [channel] = await json("alice", "channels", "create", "news");
  assert.deepEqual(await json("bob", "channels", "join", `channel:${channel!.channel_id}`), [
    { channel_id: channel!.channel_id, done: "join" },
  ]);
  await json("alice", "send", `channel:${channel!.channel_id}`, "extra extra");
  const news = await json("bob", "history", channel!.conversation);
  assert.deepEqual(news.map((m) => [m.body, m.from]), [["extra extra", alice!.user_id]]);

  // search (indexed shortly after the send: asked until it shows).
  let found: Record<string, any>[] = [];
  for (let i = 0; i < 30 && found.length === 0; i++) {
    found = await json("bob", "search", "zeppelin");
    if (found.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  assert.deepEqual(found.map((m) => m.body), ["pack the zeppelin"]);

  // Not logged in, and logged out: a usage error, exit status 2.
  await json("alice", "logout");
  const out = await parley("alice", "send", "@bob", "hi");
  assert.equal(out.code, 2);
  assert.match(out.stderr, /not logged in/);
});
