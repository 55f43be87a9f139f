// ParleyClient: one device's WebSocket connection, kept up across drops.
//
// What it guarantees the app:
//  - reconnects with exponential backoff and jitter until close();
//  - after every (re)connect, catches up with `sync` from the device's stored
//    cursor, page by page, before delivering live inbox events (which arrive
//    meanwhile and are held back), so inbox messages come in seq order;
//  - every inbox entry reaches `on("message")` once: repeats (an entry both
//    live and in a sync page, or synced again after a reconnect because it was
//    not acked yet) are dropped by `seq`;
//  - `ack(seq)` moves the device's cursor as the app consumes, re-sent after
//    a reconnect if it did not get through;
//  - `send` retries with the same `client_msg_id` (across reconnects, and on
//    `unavailable`/`rate_limited`) until the server acknowledges it, and
//    resolves with the server's reply: the server keeps one message per
//    client_msg_id, so retries never duplicate it.

import { Emitter } from "./emitter.js";
import { ConnectionClosedError, ParleyError, TimeoutError, isRetryable } from "./errors.js";
import { ParleyHttp, webSocketUrl, type HttpOptions } from "./http.js";
import { newClientMsgId } from "./ids.js";
import { defaultSocketFactory, refusedStatus, type SocketFactory, type SocketLike } from "./socket.js";
import type {
  ChannelId,
  ConversationId,
  ErrorEvent,
  GroupId,
  MessageEvent,
  MessageId,
  Op,
  PresenceEvent,
  PushPlatform,
  ReceiptEvent,
  Recipient,
  ReplyFields,
  RequestFields,
  Role,
  ServerEvent,
  TypingEvent,
  UserId,
} from "./types.js";

export interface ReconnectOptions {
  /** First delay after a drop, ms (default 250). */
  initialDelayMs: number;
  /** Largest delay, ms (default 30000). */
  maxDelayMs: number;
  /** Growth per failed attempt (default 2). */
  factor: number;
  /** Fraction of each delay that is random, 0–1 (default 0.5: between half and all of it). */
  jitter: number;
}

export interface ClientOptions {
  /** The server's HTTP base URL, e.g. `http://127.0.0.1:8080`. */
  server: string;
  /** A session token from `POST /v1/sessions` (it names the user and the device). */
  token: string;
  /** The device the token was issued for (informational). */
  deviceId?: string;
  /** The user the token was issued for (informational). */
  userId?: UserId;
  /** The WebSocket URL; default: the server's `/v1/ws`. */
  url?: string;
  /** Ask `GET /v1/connect` for the least loaded server before each connection. */
  discover?: boolean;
  /** Opens sockets; default: the global WebSocket, else the `ws` package. */
  socketFactory?: SocketFactory;
  /** Reconnect policy, or false to stay closed after the first drop. */
  reconnect?: Partial<ReconnectOptions> | false;
  /** How long a request waits for its reply, ms (default 15000). */
  requestTimeoutMs?: number;
  /** Ping interval while connected, ms (default 5000; 0: none). A ping without reply drops the connection. */
  heartbeatMs?: number;
  /** Catch up with `sync` after each (re)connect (default true). */
  catchUp?: boolean;
  /** Entries per `sync` page during catch-up (1–500, default 100). */
  syncPageSize?: number;
  /** Ack each inbox entry right after the `message` listeners ran (default false: call `ack`). */
  autoAck?: boolean;
  /** Options for the HTTP calls (`discover`). */
  http?: HttpOptions;
}

/** The client's events: the protocol's, and the connection's own. */
export interface ClientEvents {
  /** An inbox entry (once per seq) or a channel message (no seq). */
  message: MessageEvent;
  presence: PresenceEvent;
  receipt: ReceiptEvent;
  typing: TypingEvent;
  /** The server could not read a frame as a request. */
  error: ErrorEvent;
  /** The socket opened (`reconnect`: not the first time). */
  open: { reconnect: boolean };
  /** Catch-up after an open is done: `delivered` entries came from sync. */
  synced: { delivered: number };
  /** The socket dropped; the client reconnects after `delayMs` unless `willReconnect` is false. */
  disconnected: { code: number; reason: string; willReconnect: boolean; delayMs?: number; status?: number };
  /** The client is closed for good: by `close()` (no error) or a refusal it cannot retry (error). */
  closed: { error?: Error };
}

/** The close status of a connection whose session ended (logged out, device removed, password changed). */
export const SESSION_ENDED = 4001;

export type ClientState = "idle" | "connecting" | "open" | "closed";

export interface SendOptions {
  /** Reuse an id to make a retry from the app's side (default: a new random one). */
  clientMsgId?: string;
  /** Give up after this long, ms (default: never, until close()); the message may still arrive. */
  timeoutMs?: number;
}

export type SendResult = ReplyFields<"send"> & { client_msg_id: string };

interface Pending {
  op: Op;
  resolve(reply: Record<string, unknown>): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

interface Outgoing {
  fields: RequestFields<"send">;
  resolve(reply: SendResult): void;
  reject(err: Error): void;
  inFlight: boolean;
  attempt: number;
  retryTimer?: ReturnType<typeof setTimeout>;
  deadline?: ReturnType<typeof setTimeout>;
}

const DEFAULT_RECONNECT: ReconnectOptions = { initialDelayMs: 250, maxDelayMs: 30000, factor: 2, jitter: 0.5 };

export class ParleyClient extends Emitter<ClientEvents> {
  readonly deviceId: string | undefined;
  readonly userId: UserId | undefined;

  private readonly opts: Required<Pick<ClientOptions, "requestTimeoutMs" | "heartbeatMs" | "catchUp" | "syncPageSize" | "autoAck">>;
  private readonly reconnectPolicy: ReconnectOptions | false;
  private readonly factory: SocketFactory;
  private readonly http: ParleyHttp;
  private readonly token: string;
  private readonly url: string;
  private readonly discover: boolean;

  private _state: ClientState = "idle";
  private socket: SocketLike | null = null;
  private liveGen = -1; // the attempt whose socket callbacks count
  private gen = 0;
  private opens = 0;
  private failures = 0; // attempts since the last successful catch-up
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private refusal: number | undefined; // HTTP status of the last refused upgrade
  private everOpened = false; // this attempt's socket opened

  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly outbox = new Map<string, Outgoing>();
  private openWaiters: Array<{ resolve(): void; reject(err: Error): void }> = [];
  private ready: Promise<void> | undefined;

  // Exactly-once delivery: entries at or below `floor` (the cursor the server
  // confirmed) or in `delivered` were shown already.
  private floor = 0;
  private readonly delivered = new Set<number>();
  private catchingUp = false;
  private held: MessageEvent[] = []; // live inbox events that came during catch-up
  private ackWanted = 0; // highest seq the app acked
  private ackInFlight = 0; // highest seq sent in an ack not yet answered

  constructor(options: ClientOptions) {
    super();
    this.token = options.token;
    this.deviceId = options.deviceId;
    this.userId = options.userId;
    this.url = options.url ?? webSocketUrl(options.server);
    this.discover = options.discover ?? false;
    this.factory = options.socketFactory ?? defaultSocketFactory;
    this.http = new ParleyHttp(options.server, options.http);
    this.reconnectPolicy = options.reconnect === false ? false : { ...DEFAULT_RECONNECT, ...options.reconnect };
    this.opts = {
      requestTimeoutMs: options.requestTimeoutMs ?? 15000,
      heartbeatMs: options.heartbeatMs ?? 5000,
      catchUp: options.catchUp ?? true,
      syncPageSize: options.syncPageSize ?? 100,
      autoAck: options.autoAck ?? false,
    };
  }

  /** Logs in over HTTP and returns a client for that session (not yet connected). */
  static async logIn(
    options: Omit<ClientOptions, "token" | "deviceId" | "userId"> & { username: string; password: string; deviceId: string },
  ): Promise<ParleyClient> {
    const http = new ParleyHttp(options.server, options.http);
    const session = await http.logIn(options.username, options.password, options.deviceId);
    return new ParleyClient({ ...options, token: session.token, deviceId: session.device_id, userId: session.user_id });
  }

  get state(): ClientState {
    return this._state;
  }

  /** The device's cursor as the server last confirmed it (0 before any ack). */
  get cursor(): number {
    return this.floor;
  }

  /**
   * Starts connecting (and reconnecting, until `close()`). Resolves once the
   * first connection is open and caught up; rejects if the server refuses the
   * token, or the first attempt fails with reconnect off.
   */
  connect(): Promise<void> {
    if (this._state === "closed") return Promise.reject(new ConnectionClosedError("the client is closed"));
    if (this.ready) return this.ready;
    this.ready = new Promise<void>((resolve, reject) => {
      const offReady = this.once(this.opts.catchUp ? "synced" : "open", () => {
        offClosed();
        resolve();
      });
      const offClosed = this.once("closed", ({ error }) => {
        offReady();
        reject(error ?? new ConnectionClosedError("the client was closed before it connected"));
      });
    });
    void this.attempt();
    return this.ready;
  }

  /** Closes the connection for good; sends and requests still waiting fail with ConnectionClosedError. */
  close(): void {
    this.shutDown();
  }

  // ---- requests ------------------------------------------------------------

  /**
   * Sends one request and resolves with its reply's fields, or rejects with a
   * ParleyError carrying the protocol's code. Waits for the connection to be
   * open (within the timeout); not retried if the connection drops (use `send`
   * for messages, which is).
   */
  async request<K extends Op>(op: K, fields: RequestFields<K>, options: { timeoutMs?: number } = {}): Promise<ReplyFields<K>> {
    const timeoutMs = options.timeoutMs ?? this.opts.requestTimeoutMs;
    const started = Date.now();
    await this.whenOpen(timeoutMs);
    return this.transmit(op, fields, Math.max(1, timeoutMs - (Date.now() - started)));
  }

  /**
   * Sends a message; resolves with the server's reply (`message_id`,
   * `conversation`, `sent_at`) and the `client_msg_id` used. Retried with the
   * same client_msg_id until acknowledged; rejects on an error that a retry
   * cannot fix (`forbidden`, `not_found`, `too_large`, `bad_request`…), on
   * `timeoutMs`, or on close().
   */
  send(to: Recipient, body: string, options: SendOptions = {}): Promise<SendResult> {
    if (this._state === "closed") return Promise.reject(new ConnectionClosedError("the client is closed"));
    const clientMsgId = options.clientMsgId ?? newClientMsgId();
    const existing = this.outbox.get(clientMsgId);
    return new Promise<SendResult>((resolve, reject) => {
      if (existing) {
        // The same message again while it is pending: share its outcome.
        const [res, rej] = [existing.resolve, existing.reject];
        existing.resolve = (r) => (res(r), resolve(r));
        existing.reject = (e) => (rej(e), reject(e));
        return;
      }
      const item: Outgoing = { fields: { to, client_msg_id: clientMsgId, body }, resolve, reject, inFlight: false, attempt: 0 };
      if (options.timeoutMs !== undefined) {
        item.deadline = setTimeout(() => {
          this.finishSend(clientMsgId, new TimeoutError(`send ${clientMsgId} not acknowledged within ${options.timeoutMs} ms`));
        }, options.timeoutMs);
      }
      this.outbox.set(clientMsgId, item);
      if (this._state === "open") this.transmitSend(clientMsgId);
    });
  }

  /** Sends not yet acknowledged by the server. */
  get unsent(): number {
    return this.outbox.size;
  }

  /**
   * The app consumed inbox entries up to `seq`: the device's cursor moves
   * there (never back). Sent at once when connected, else after reconnecting.
   */
  ack(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq <= 0) throw new RangeError(`ack: bad seq ${seq}`);
    if (seq <= this.ackWanted) return;
    this.ackWanted = seq;
    this.pushAck();
  }

  /** Sends any ack still owed now and resolves with the cursor the server confirms. */
  async flushAcks(): Promise<number> {
    if (this.ackWanted <= this.floor) return this.floor;
    const { cursor } = await this.request("ack", { seq: this.ackWanted });
    this.confirmCursor(cursor);
    return cursor;
  }

  /** Resolves with the next event `name` (matching `pred`) that arrives, or rejects after `timeoutMs`. */
  next<K extends keyof ClientEvents>(
    name: K,
    pred: (value: ClientEvents[K]) => boolean = () => true,
    timeoutMs = this.opts.requestTimeoutMs,
  ): Promise<ClientEvents[K]> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new TimeoutError(`no ${String(name)} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on(name, (value) => {
        if (!pred(value)) return;
        clearTimeout(timer);
        off();
        resolve(value);
      });
    });
  }

  // ---- one method per op -----------------------------------------------------

  /** One raw `sync` page (the client catches up by itself; this is for tools). */
  sync(fields: RequestFields<"sync"> = {}) {
    return this.request("sync", fields);
  }
  history(conversation: ConversationId, options: { before?: MessageId; limit?: number } = {}) {
    return this.request("history", { conversation, ...options });
  }
  conversations(limit?: number) {
    return this.request("conversations", limit === undefined ? {} : { limit });
  }
  ping() {
    return this.request("ping", {});
  }
  setPresence(status: "online" | "away") {
    return this.request("presence", { status });
  }
  friendRequest(user: UserId) {
    return this.request("friend_request", { user });
  }
  friendAccept(user: UserId) {
    return this.request("friend_accept", { user });
  }
  friendRemove(user: UserId) {
    return this.request("friend_remove", { user });
  }
  block(user: UserId) {
    return this.request("block", { user });
  }
  unblock(user: UserId) {
    return this.request("unblock", { user });
  }
  friends() {
    return this.request("friends", {});
  }
  createGroup(name: string, members: UserId[]) {
    return this.request("group_create", { name, members });
  }
  groupAdd(group: GroupId, user: UserId) {
    return this.request("group_add", { group, user });
  }
  /** Removes `user`, or leaves the group without one. */
  groupRemove(group: GroupId, user?: UserId) {
    return this.request("group_remove", user === undefined ? { group } : { group, user });
  }
  groupRole(group: GroupId, user: UserId, role: Role) {
    return this.request("group_role", { group, user, role });
  }
  /** `isPrivate`: joined only by being added by the owner or an admin. */
  createChannel(name: string, post?: "everyone" | "admins", isPrivate?: boolean) {
    return this.request("channel_create", {
      name,
      ...(post === undefined ? {} : { post }),
      ...(isPrivate === undefined ? {} : { private: isPrivate }),
    });
  }
  channelJoin(channel: ChannelId, user?: UserId) {
    return this.request("channel_join", user === undefined ? { channel } : { channel, user });
  }
  channelLeave(channel: ChannelId, user?: UserId) {
    return this.request("channel_leave", user === undefined ? { channel } : { channel, user });
  }
  channelRole(channel: ChannelId, user: UserId, role: Role) {
    return this.request("channel_role", { channel, user, role });
  }
  /** Marks the conversation read up to `messageId` (a `receipt` event to the others). */
  markRead(conversation: ConversationId, messageId: MessageId) {
    return this.request("read", { conversation, message_id: messageId });
  }
  typing(conversation: ConversationId) {
    return this.request("typing", { conversation });
  }
  pushRegister(platform: PushPlatform, token: string) {
    return this.request("push_register", { platform, token });
  }
  search(q: string, options: { conversation?: ConversationId; limit?: number } = {}) {
    return this.request("search", { q, ...options });
  }

  // ---- connection ------------------------------------------------------------

  private async attempt(): Promise<void> {
    this.reconnectTimer = undefined;
    const gen = ++this.gen;
    this.liveGen = gen;
    this._state = "connecting";
    this.refusal = undefined;
    this.everOpened = false;
    let socket: SocketLike;
    try {
      const url = this.discover ? (await this.http.pickServer()).url : this.url;
      if (gen !== this.liveGen) return;
      socket = await this.factory(url, this.token);
    } catch (err) {
      this.socketGone(gen, 1006, err instanceof Error ? err.message : String(err));
      return;
    }
    if (gen !== this.liveGen) {
      socket.close();
      return;
    }
    this.socket = socket;
    socket.onopen = () => this.opened(gen);
    socket.onmessage = (ev) => this.frame(gen, ev.data);
    socket.onerror = (ev) => {
      if (gen === this.liveGen) this.refusal = refusedStatus(ev) ?? this.refusal;
    };
    socket.onclose = (ev) => this.socketGone(gen, ev.code, ev.reason);
  }

  private opened(gen: number): void {
    if (gen !== this.liveGen) return;
    this._state = "open";
    this.everOpened = true;
    const reconnect = this.opens++ > 0;
    this.startHeartbeat();
    for (const w of this.openWaiters.splice(0)) w.resolve();
    this.emit("open", { reconnect });
    for (const id of this.outbox.keys()) this.transmitSend(id);
    this.pushAck();
    if (this.opts.catchUp) void this.catchUp(gen);
    else this.failures = 0;
  }

  private async catchUp(gen: number): Promise<void> {
    this.catchingUp = true;
    let delivered = 0;
    try {
      let after: number | undefined; // first page: from the device's stored cursor
      for (;;) {
        const fields = after === undefined ? { limit: this.opts.syncPageSize } : { after, limit: this.opts.syncPageSize };
        const page = await this.transmit("sync", fields, this.opts.requestTimeoutMs);
        if (gen !== this.liveGen) return;
        for (const entry of page.entries) {
          if (gen !== this.liveGen) return; // a listener closed the client
          if (this.deliver({ ev: "message", seq: entry.seq, message: entry.message })) delivered++;
        }
        if (!page.more || page.entries.length === 0) break;
        after = page.entries[page.entries.length - 1]!.seq;
      }
    } catch (err) {
      if (gen === this.liveGen && !(err instanceof ConnectionClosedError)) {
        // The server could not serve the catch-up now: drop and retry with backoff.
        this.dropSocket(`catch-up failed: ${(err as Error).message}`);
      }
      return;
    } finally {
      if (gen === this.liveGen) this.catchingUp = false;
    }
    const held = this.held.sort((a, b) => a.seq! - b.seq!);
    this.held = [];
    for (const ev of held) if (this.deliver(ev)) delivered++;
    this.failures = 0;
    this.emit("synced", { delivered });
  }

  private socketGone(gen: number, code: number, reason: string): void {
    if (gen !== this.liveGen) return;
    this.liveGen = -1;
    this.socket = null;
    this.stopHeartbeat();
    this.catchingUp = false;
    this.held = []; // not acked, so the next catch-up brings them again
    this.failPending(new ConnectionClosedError(`connection closed (${code}${reason ? ` ${reason}` : ""})`));
    for (const item of this.outbox.values()) {
      item.inFlight = false;
      clearTimeout(item.retryTimer);
    }
    this.ackInFlight = 0;
    if (this._state === "closed") return;

    if (code === SESSION_ENDED) {
      // Logged out, removed, or the password changed elsewhere: the token
      // is refused from now on, so reconnecting is pointless.
      this.emit("disconnected", { code, reason, willReconnect: false });
      this.shutDown(new ParleyError("unauthorized", `the session ended${reason ? ` (${reason})` : ""}`, { status: 401 }));
      return;
    }
    const status = this.refusal;
    if (status === 401 || status === 403) {
      const error = new ParleyError(status === 401 ? "unauthorized" : "forbidden", `the server refused the connection (HTTP ${status})`, { status });
      this.emit("disconnected", { code, reason, willReconnect: false, status });
      this.shutDown(error);
      return;
    }
    if (this.reconnectPolicy === false) {
      this.emit("disconnected", { code, reason, willReconnect: false, ...(status ? { status } : {}) });
      this.shutDown(new ConnectionClosedError(`connection closed (${code}) and reconnect is off`));
      return;
    }
    if (status === undefined && !this.everOpened) this.probeToken();
    const delayMs = this.backoff(this.failures++);
    this._state = "connecting";
    this.emit("disconnected", { code, reason, willReconnect: true, delayMs, ...(status ? { status } : {}) });
    this.reconnectTimer = setTimeout(() => void this.attempt(), delayMs);
  }

  /**
   * A browser's WebSocket does not tell why an upgrade failed. When one fails
   * before opening, ask HTTP whether the token is still good: a lookup with a
   * bad token is 401, with a good one 200 or 404. A revoked token then ends
   * the client instead of reconnecting for ever.
   */
  private probeToken(): void {
    const http = new ParleyHttp(this.http.baseUrl, { token: this.token, timeoutMs: this.opts.requestTimeoutMs });
    http.userByName("x").catch((err: unknown) => {
      if (err instanceof ParleyError && err.code === "unauthorized" && this._state !== "closed" && this._state !== "open") {
        this.emit("disconnected", { code: 1006, reason: "token refused", willReconnect: false, status: 401 });
        this.shutDown(new ParleyError("unauthorized", "the server refused the token (HTTP 401)", { status: 401 }));
      }
    });
  }

  private backoff(failures: number): number {
    const p = this.reconnectPolicy as ReconnectOptions;
    const base = Math.min(p.maxDelayMs, p.initialDelayMs * Math.pow(p.factor, failures));
    const jitter = Math.min(1, Math.max(0, p.jitter));
    return Math.round(base * (1 - jitter) + Math.random() * base * jitter);
  }

  /** Abandons the current socket now (its late callbacks are ignored). */
  private dropSocket(reason: string): void {
    const socket = this.socket;
    this.socketGone(this.liveGen, 4000, reason);
    if (socket) {
      const terminate = (socket as { terminate?: () => void }).terminate;
      if (terminate) terminate.call(socket);
      else socket.close(4000, reason);
    }
  }

  private shutDown(error?: Error): void {
    if (this._state === "closed") return;
    this._state = "closed";
    clearTimeout(this.reconnectTimer);
    this.stopHeartbeat();
    const socket = this.socket;
    this.socket = null;
    this.liveGen = -1;
    if (socket) {
      try {
        socket.close(1000, "client closed");
      } catch {
        // already closing
      }
    }
    const err = error ?? new ConnectionClosedError("the client was closed");
    this.failPending(err);
    for (const id of [...this.outbox.keys()]) this.finishSend(id, err);
    for (const w of this.openWaiters.splice(0)) w.reject(err);
    this.emit("closed", error ? { error } : {});
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    if (this.opts.heartbeatMs <= 0) return;
    this.heartbeatTimer = setInterval(() => {
      if (this._state !== "open") return;
      this.transmit("ping", {}, this.opts.requestTimeoutMs).catch((err: unknown) => {
        if (err instanceof TimeoutError && this._state === "open") this.dropSocket("heartbeat timed out");
      });
    }, this.opts.heartbeatMs);
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private whenOpen(timeoutMs: number): Promise<void> {
    if (this._state === "open") return Promise.resolve();
    if (this._state === "closed") return Promise.reject(new ConnectionClosedError("the client is closed"));
    if (this._state === "idle") return Promise.reject(new ConnectionClosedError("not connected: call connect() first"));
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        this.openWaiters = this.openWaiters.filter((w) => w !== waiter);
        reject(new TimeoutError(`not connected within ${timeoutMs} ms`));
      }, timeoutMs);
      this.openWaiters.push(waiter);
    });
  }

  // ---- frames ----------------------------------------------------------------

  /** Writes one request on the open socket and awaits its reply. */
  private transmit<K extends Op>(op: K, fields: RequestFields<K>, timeoutMs: number): Promise<ReplyFields<K>> {
    const socket = this.socket;
    if (socket === null || this._state !== "open") {
      return Promise.reject(new ConnectionClosedError("not connected"));
    }
    const id = this.nextId++;
    return new Promise<ReplyFields<K>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new TimeoutError(`${op}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { op, resolve: resolve as (r: Record<string, unknown>) => void, reject, timer });
      try {
        socket.send(JSON.stringify({ ...fields, op, id }));
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new ConnectionClosedError(`${op}: could not write: ${(err as Error).message}`));
      }
    });
  }

  private frame(gen: number, data: unknown): void {
    if (gen !== this.liveGen) return;
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(typeof data === "string" ? data : String(data)) as Record<string, unknown>;
    } catch {
      return; // not JSON: nothing the protocol sends
    }
    if (typeof msg !== "object" || msg === null) return;
    if ("re" in msg) {
      const p = typeof msg.re === "number" ? this.pending.get(msg.re) : undefined;
      if (p === undefined) return; // timed out already
      this.pending.delete(msg.re as number);
      clearTimeout(p.timer);
      if (msg.ok === true) {
        const { re: _re, ok: _ok, ...fields } = msg;
        p.resolve(fields);
      } else {
        p.reject(ParleyError.from(msg.error, { op: p.op }));
      }
      return;
    }
    const ev = msg as unknown as ServerEvent;
    switch (ev.ev) {
      case "message":
        if (ev.seq !== undefined && this.catchingUp) this.held.push(ev);
        else this.deliver(ev);
        break;
      case "presence":
        this.emit("presence", ev);
        break;
      case "receipt":
        this.emit("receipt", ev);
        break;
      case "typing":
        this.emit("typing", ev);
        break;
      case "error":
        this.emit("error", ev);
        break;
      default:
        break; // an event this version does not know
    }
  }

  /** Emits a message event unless its seq was shown already; true if emitted. */
  private deliver(ev: MessageEvent): boolean {
    const seq = ev.seq;
    if (seq === undefined) {
      this.emit("message", ev); // a channel message: never repeated by sync
      return true;
    }
    if (seq <= this.floor || this.delivered.has(seq)) return false;
    this.delivered.add(seq);
    this.emit("message", ev);
    if (this.opts.autoAck) this.ack(seq);
    return true;
  }

  // ---- sends and acks ----------------------------------------------------------

  private transmitSend(clientMsgId: string): void {
    const item = this.outbox.get(clientMsgId);
    if (item === undefined || item.inFlight || this._state !== "open") return;
    item.inFlight = true;
    clearTimeout(item.retryTimer);
    this.transmit("send", item.fields, this.opts.requestTimeoutMs).then(
      (reply) => this.finishSend(clientMsgId, { ...reply, client_msg_id: clientMsgId }),
      (err: unknown) => {
        if (this.outbox.get(clientMsgId) !== item) return;
        item.inFlight = false;
        if (err instanceof ConnectionClosedError) return; // re-sent when the connection is back
        if (err instanceof ParleyError && !isRetryable(err.code)) {
          this.finishSend(clientMsgId, err);
          return;
        }
        // unavailable, rate_limited, internal or no reply: same client_msg_id, after a backoff.
        const p = this.reconnectPolicy === false ? DEFAULT_RECONNECT : this.reconnectPolicy;
        const delay = Math.min(p.maxDelayMs, p.initialDelayMs * Math.pow(p.factor, item.attempt++));
        item.retryTimer = setTimeout(() => this.transmitSend(clientMsgId), delay * (0.5 + Math.random() / 2));
      },
    );
  }

  private finishSend(clientMsgId: string, outcome: SendResult | Error): void {
    const item = this.outbox.get(clientMsgId);
    if (item === undefined) return;
    this.outbox.delete(clientMsgId);
    clearTimeout(item.retryTimer);
    clearTimeout(item.deadline);
    if (outcome instanceof Error) item.reject(outcome);
    else item.resolve(outcome);
  }

  private pushAck(): void {
    const seq = this.ackWanted;
    if (seq <= this.floor || seq <= this.ackInFlight || this._state !== "open") return;
    this.ackInFlight = seq;
    this.transmit("ack", { seq }, this.opts.requestTimeoutMs).then(
      ({ cursor }) => {
        if (this.ackInFlight === seq) this.ackInFlight = 0;
        this.confirmCursor(typeof cursor === "number" ? cursor : seq);
        this.pushAck(); // a later ack may have come meanwhile
      },
      () => {
        if (this.ackInFlight === seq) this.ackInFlight = 0; // re-sent after the reconnect
      },
    );
  }

  private confirmCursor(cursor: number): void {
    if (cursor <= this.floor) return;
    this.floor = cursor;
    for (const seq of this.delivered) if (seq <= cursor) this.delivered.delete(seq);
  }

  private failPending(err: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
  }
}
