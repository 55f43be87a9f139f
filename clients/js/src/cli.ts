#!/usr/bin/env node
// parley: a command-line client for a Parley server, built on the SDK.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

import { ParleyClient } from "./client.js";
import { ParleyError } from "./errors.js";
import { ParleyHttp } from "./http.js";
import type { ConversationId, Message, Recipient, ServerEvent, UserId } from "./types.js";

const USAGE = `usage: parley [--server URL] [--json] <command> [args]

accounts
  signup <username> [--password P]            create an account
  login <username> [--password P] [--device D] log in; the session is stored in the config file
  logout                                      end this device's session and forget it
  whoami                                      the stored session's user and device

messages (TARGET: @username, user:ID, group:ID, channel:ID; a conversation id where one is asked)
  send <TARGET> <text...>                     send a message (prints its message_id)
  tail [TARGET|CONVERSATION] [--count N] [--no-ack]
                                              what this device missed, then live events (inbox or one conversation)
  sync [--no-ack] [--limit N]                 print inbox entries after this device's cursor and ack them
  history <TARGET|CONVERSATION> [--limit N] [--before MESSAGE_ID]
                                              a conversation's messages, oldest first
  conversations [--limit N]                   conversations, most recent first, with unread counts
  search <words...> [--in TARGET|CONVERSATION] [--limit N]

people and rooms
  friends                                     friends and pending requests
  friends add|accept|remove|block|unblock @user
  groups                                      the groups you are in
  groups create <name> [@member...]           prints the group id
  groups add|remove <group-id> @user          (remove without @user: leave)
  channels create <name> [--admins-only]
  channels join|leave <channel-id>

--password defaults to $PARLEY_PASSWORD, else a line read from stdin.
--server defaults to $PARLEY_SERVER, else the stored session's server, else http://127.0.0.1:8080.
The config file is $PARLEY_CONFIG, else $XDG_CONFIG_HOME/parley/config.json (~/.config/parley/config.json).
--json prints one JSON object per line.`;

interface Config {
  server?: string;
  username?: string;
  user_id?: UserId;
  device_id?: string;
  token?: string;
}

class UsageError extends Error {}

function configPath(): string {
  if (process.env.PARLEY_CONFIG) return process.env.PARLEY_CONFIG;
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "parley", "config.json");
}

function loadConfig(): Config {
  try {
    return JSON.parse(readFileSync(configPath(), "utf8")) as Config;
  } catch {
    return {};
  }
}

function saveConfig(config: Config): void {
  const path = configPath();
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
}

const { values: flags, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        server: { type: "string" },
        json: { type: "boolean", default: false },
        password: { type: "string" },
        device: { type: "string" },
        limit: { type: "string" },
        before: { type: "string" },
        count: { type: "string" },
        in: { type: "string" },
        "no-ack": { type: "boolean", default: false },
        "admins-only": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`parley: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
})();

const config = loadConfig();
const server = flags.server ?? process.env.PARLEY_SERVER ?? config.server ?? "http://127.0.0.1:8080";

function out(json: unknown, text: string): void {
  process.stdout.write((flags.json ? JSON.stringify(json) : text) + "\n");
}

function intFlag(name: "limit" | "count", fallback?: number): number | undefined {
  const v = flags[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer`);
  return n;
}

async function password(): Promise<string> {
  if (flags.password !== undefined) return flags.password;
  if (process.env.PARLEY_PASSWORD) return process.env.PARLEY_PASSWORD;
  if (process.stdin.isTTY) process.stderr.write("password: ");
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  throw new UsageError("no password: pass --password, set PARLEY_PASSWORD or write it on stdin");
}

function session(): Required<Pick<Config, "token" | "user_id" | "device_id">> {
  if (!config.token || !config.user_id || !config.device_id) throw new UsageError("not logged in: run `parley login <username>`");
  return { token: config.token, user_id: config.user_id, device_id: config.device_id };
}

function http(): ParleyHttp {
  return new ParleyHttp(server, config.token ? { token: config.token } : {});
}

/** A connection for one-shot commands: no catch-up, no reconnect, no heartbeat. */
async function connectOnce(): Promise<ParleyClient> {
  const s = session();
  const client = new ParleyClient({ server, token: s.token, deviceId: s.device_id, userId: s.user_id, reconnect: false, catchUp: false, heartbeatMs: 0 });
  await client.connect();
  return client;
}

async function withClient<T>(fn: (client: ParleyClient) => Promise<T>): Promise<T> {
  const client = await connectOnce();
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

// ---- targets -----------------------------------------------------------------

async function userId(name: string): Promise<UserId> {
  if (/^\d+$/.test(name)) return name;
  return (await http().userByName(name.replace(/^@/, ""))).user_id;
}

/** `@name`, `user:ID`, `group:ID`, `channel:ID` as a recipient; undefined for anything else. */
async function recipient(target: string): Promise<Recipient | undefined> {
  if (target.startsWith("@")) return { user: await userId(target) };
  const m = /^(user|group|channel):(\d+)$/.exec(target);
  if (!m) return undefined;
  const id = m[2]!;
  return m[1] === "user" ? { user: id } : m[1] === "group" ? { group: id } : { channel: id };
}

/** True if `message` belongs to the conversation with `to` (as seen by `me`). */
function inConversation(message: Message, to: Recipient, me: UserId): boolean {
  if ("group" in to) return "group" in message.to && message.to.group === to.group;
  if ("channel" in to) return "channel" in message.to && message.to.channel === to.channel;
  if (!("user" in message.to)) return false;
  return (message.from === me && message.to.user === to.user) || (message.from === to.user && message.to.user === me);
}

/** The conversation id a target names: found in the user's conversation list (the id is opaque). */
async function conversationOf(client: ParleyClient, target: string): Promise<ConversationId> {
  const to = await recipient(target);
  if (to === undefined) return target; // a conversation id as given
  const me = session().user_id;
  const { conversations } = await client.conversations(500);
  const found = conversations.find((c) => c.last_message !== null && inConversation(c.last_message, to, me));
  if (found === undefined) throw new ParleyError("not_found", `no conversation with ${target} yet`);
  return found.conversation;
}

// ---- output ------------------------------------------------------------------

function describeTo(to: Recipient): string {
  return "user" in to ? `user:${to.user}` : "group" in to ? `group:${to.group}` : `channel:${to.channel}`;
}

// A message's text, or what stands for a tombstone's.
function textOf(m: Message): string {
  return m.deleted ? "(deleted)" : (m.body ?? "");
}

function messageLine(m: Message, seq?: number): string {
  const me = config.user_id;
  const when = new Date(m.sent_at).toISOString().replace("T", " ").slice(0, 19);
  const from = m.from === me ? "me" : `user:${m.from}`;
  const where = "user" in m.to ? (m.to.user === me ? "me" : describeTo(m.to)) : describeTo(m.to);
  return `${when} ${seq !== undefined ? `#${seq} ` : ""}${from} -> ${where}: ${textOf(m)}`;
}

function eventLine(ev: ServerEvent): string {
  switch (ev.ev) {
    case "message":
      return messageLine(ev.message, ev.seq);
    case "presence":
      return `* user:${ev.user} is ${ev.status}`;
    case "typing":
      return `* user:${ev.user} is typing in ${ev.conversation}`;
    case "receipt":
      return `* user:${ev.user} read ${ev.conversation} up to ${ev.message_id}`;
    case "error":
      return `* server error: ${ev.error.code}: ${ev.error.message}`;
  }
}

// ---- commands ----------------------------------------------------------------

async function signup(args: string[]): Promise<void> {
  const [name] = args;
  if (!name) throw new UsageError("signup needs a username");
  const { user_id } = await http().signUp(name, await password());
  out({ user_id, username: name }, `created ${name} (user:${user_id})`);
}

async function login(args: string[]): Promise<void> {
  const [name] = args;
  if (!name) throw new UsageError("login needs a username");
  const device = flags.device ?? config.device_id ?? "cli";
  const s = await new ParleyHttp(server).logIn(name, await password(), device);
  saveConfig({ server, username: name, user_id: s.user_id, device_id: s.device_id, token: s.token });
  out({ user_id: s.user_id, username: name, device_id: s.device_id }, `logged in as ${name} (user:${s.user_id}) on device ${s.device_id}`);
}

/** Ends the session on the server (its token is refused from then on), then forgets it here. */
async function logout(): Promise<void> {
  const { token, ...rest } = config;
  if (token !== undefined) {
    // A session that already ended (expired, removed) is just as logged out.
    await new ParleyHttp(server, { token }).endSession().catch((e: unknown) => {
      if (!(e instanceof ParleyError && e.code === "unauthorized")) throw e;
    });
  }
  saveConfig(rest);
  out({ logged_out: true }, "logged out");
}

function whoami(): void {
  const s = session();
  out({ user_id: s.user_id, username: config.username, device_id: s.device_id, server }, `${config.username} (user:${s.user_id}) on device ${s.device_id} at ${server}`);
}

async function send(args: string[]): Promise<void> {
  const [target, ...words] = args;
  if (!target || words.length === 0) throw new UsageError("send needs a target and a text");
  const to = await recipient(target);
  if (to === undefined) throw new UsageError(`not a target: ${target} (use @username, user:ID, group:ID or channel:ID)`);
  const reply = await withClient((c) => c.send(to, words.join(" "), { timeoutMs: 30000 }));
  out(reply, `sent ${reply.message_id} in ${reply.conversation}`);
}

async function tail(args: string[]): Promise<void> {
  const s = session();
  const count = intFlag("count");
  const target = args[0];
  const client = new ParleyClient({ server, token: s.token, deviceId: s.device_id, userId: s.user_id, autoAck: !flags["no-ack"] });
  let to: Recipient | undefined;
  let conversation: string | undefined;
  if (target !== undefined) {
    to = await recipient(target);
    if (to === undefined) conversation = target;
  }
  const wanted = (ev: ServerEvent): boolean => {
    if (target === undefined) return true;
    if (ev.ev === "message") return to ? inConversation(ev.message, to, s.user_id) : ev.message.conversation === conversation;
    if (ev.ev === "typing" || ev.ev === "receipt") return conversation !== undefined && ev.conversation === conversation;
    return false;
  };
  let printed = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => (done = resolve));
  const show = (ev: ServerEvent) => {
    if (count !== undefined && printed >= count) return;
    if (!wanted(ev)) return;
    out(ev, eventLine(ev));
    if (count !== undefined && ++printed >= count) done();
  };
  for (const name of ["message", "presence", "typing", "receipt", "error"] as const) client.on(name, show);
  client.on("disconnected", (d) => process.stderr.write(`parley: disconnected (${d.code}); ${d.willReconnect ? `reconnecting in ${d.delayMs} ms` : "giving up"}\n`));
  client.on("synced", () => process.stderr.write(`parley: tailing ${target ?? "the inbox"}\n`));
  const failed = new Promise<void>((_, reject) => client.on("closed", ({ error }) => error && reject(error)));
  failed.catch(() => {}); // reported through the race below, or by connect()
  process.once("SIGINT", done);
  process.once("SIGTERM", done);
  try {
    await client.connect();
    await Promise.race([finished, failed]);
    if (!flags["no-ack"]) await client.flushAcks();
  } finally {
    client.close();
  }
}

async function sync(): Promise<void> {
  const limit = intFlag("limit", 100)!;
  await withClient(async (c) => {
    let after: number | undefined;
    let last = 0;
    for (;;) {
      const page = await c.sync(after === undefined ? { limit } : { after, limit });
      for (const e of page.entries) out(e, messageLine(e.message, e.seq));
      if (page.entries.length > 0) last = page.entries[page.entries.length - 1]!.seq;
      if (!page.more || page.entries.length === 0) break;
      after = last;
    }
    if (last > 0 && !flags["no-ack"]) await c.request("ack", { seq: last });
  });
}

async function history(args: string[]): Promise<void> {
  const [target] = args;
  if (!target) throw new UsageError("history needs a target or conversation");
  const limit = intFlag("limit", 50)!;
  await withClient(async (c) => {
    const conversation = await conversationOf(c, target);
    const { messages } = await c.history(conversation, { limit, ...(flags.before ? { before: flags.before } : {}) });
    for (const m of messages.reverse()) out(m, messageLine(m));
  });
}

async function conversations(): Promise<void> {
  const limit = intFlag("limit");
  await withClient(async (c) => {
    for (const conv of (await c.conversations(limit)).conversations) {
      const last = conv.last_message ? textOf(conv.last_message) : "(no messages)";
      out(conv, `${conv.conversation} ${conv.kind} unread=${conv.unread} ${last}`);
    }
  });
}

async function search(args: string[]): Promise<void> {
  if (args.length === 0) throw new UsageError("search needs words");
  const limit = intFlag("limit");
  await withClient(async (c) => {
    const conversation = flags.in ? await conversationOf(c, flags.in) : undefined;
    const { messages } = await c.search(args.join(" "), {
      ...(conversation ? { conversation } : {}),
      ...(limit ? { limit } : {}),
    });
    for (const m of messages) out(m, messageLine(m));
  });
}

async function friends(args: string[]): Promise<void> {
  const [action, who] = args;
  await withClient(async (c) => {
    if (action === undefined || action === "list") {
      const list = await c.friends();
      for (const f of list.friends) out({ friend: f }, `${f.username} (user:${f.user_id}) ${f.status}`);
      for (const r of list.requests) out({ request: r }, `${r.username} (user:${r.user_id}) asks to be friends`);
      return;
    }
    if (!who) throw new UsageError(`friends ${action} needs a user`);
    const user = await userId(who);
    switch (action) {
      case "add": {
        const { state } = await c.friendRequest(user);
        out({ user_id: user, state }, state === "friends" ? `you and ${who} are friends` : `asked ${who}`);
        return;
      }
      case "accept":
        await c.friendAccept(user);
        break;
      case "remove":
        await c.friendRemove(user);
        break;
      case "block":
        await c.block(user);
        break;
      case "unblock":
        await c.unblock(user);
        break;
      default:
        throw new UsageError(`unknown friends action: ${action}`);
    }
    out({ user_id: user, done: action }, `${action}: ${who}`);
  });
}

async function groups(args: string[]): Promise<void> {
  const [action, first, ...rest] = args;
  await withClient(async (c) => {
    if (action === undefined || action === "list") {
      for (const conv of (await c.conversations(500)).conversations.filter((x) => x.kind === "group")) {
        const groupId = conv.last_message && "group" in conv.last_message.to ? conv.last_message.to.group : undefined;
        out(conv, `${conv.conversation}${groupId ? ` (group:${groupId})` : ""} unread=${conv.unread}`);
      }
      return;
    }
    if (!first) throw new UsageError(`groups ${action} needs an argument`);
    const group = first.replace(/^group:/, "");
    switch (action) {
      case "create": {
        const members = await Promise.all(rest.map(userId));
        const reply = await c.createGroup(first, members);
        out(reply, `created group:${reply.group_id} (${reply.conversation})`);
        return;
      }
      case "add":
        if (!rest[0]) throw new UsageError("groups add needs a user");
        await c.groupAdd(group, await userId(rest[0]));
        break;
      case "remove":
      case "leave": {
        const user = rest[0] ? await userId(rest[0]) : undefined;
        await c.groupRemove(group, user);
        break;
      }
      default:
        throw new UsageError(`unknown groups action: ${action}`);
    }
    out({ group_id: group, done: action }, `${action}: group:${group}`);
  });
}

async function channels(args: string[]): Promise<void> {
  const [action, name] = args;
  if (!action || !name) throw new UsageError("channels create|join|leave needs an argument");
  const id = name.replace(/^channel:/, "");
  await withClient(async (c) => {
    switch (action) {
      case "create": {
        const reply = await c.createChannel(name, flags["admins-only"] ? "admins" : "everyone");
        out(reply, `created channel:${reply.channel_id} (${reply.conversation})`);
        return;
      }
      case "join":
        await c.channelJoin(id);
        break;
      case "leave":
        await c.channelLeave(id);
        break;
      default:
        throw new UsageError(`unknown channels action: ${action}`);
    }
    out({ channel_id: id, done: action }, `${action}: channel:${id}`);
  });
}

const COMMANDS: Record<string, (args: string[]) => Promise<void> | void> = {
  signup,
  login,
  logout,
  whoami,
  send,
  tail,
  sync,
  history,
  conversations,
  search,
  friends,
  groups,
  channels,
};

async function main(): Promise<number> {
  const [command, ...args] = positionals;
  if (flags.help || command === undefined || command === "help") {
    process.stdout.write(USAGE + "\n");
    return command === undefined && !flags.help ? 2 : 0;
  }
  const run = COMMANDS[command];
  if (run === undefined) throw new UsageError(`unknown command: ${command}`);
  if (!["signup", "login", "logout"].includes(command)) session(); // fails early when not logged in
  await run(args);
  return 0;
}

/** Exits once what was written reached stdout (writes to a pipe may be asynchronous). */
function exit(code: number): void {
  process.stdout.write("", () => process.exit(code));
}

main().then(exit, (err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`parley: ${err.message}\n(see parley --help)\n`);
    exit(2);
    return;
  }
  const prefix = err instanceof ParleyError ? `${err.code}: ` : "";
  process.stderr.write(`parley: ${prefix}${(err as Error).message}\n`);
  exit(1);
});
