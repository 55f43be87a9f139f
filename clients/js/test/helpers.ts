import { ParleyClient, ParleyHttp, type ClientOptions, type MessageEvent } from "../src/index.js";
import type { TestServer } from "./server.js";

let counter = 0;

/** A fresh username (unique in the test process). */
export function username(prefix: string): string {
  return `${prefix}${process.pid}x${++counter}`;
}

export interface TestUser {
  username: string;
  password: string;
  user_id: string;
}

export async function signUp(server: TestServer, prefix: string): Promise<TestUser> {
  const name = username(prefix);
  const password = `pw-${name}-secret`;
  const { user_id } = await new ParleyHttp(server.url).signUp(name, password);
  return { username: name, password, user_id };
}

/** Logs `user` in as `deviceId` and connects (caught up when it resolves). */
export async function online(
  server: TestServer,
  user: TestUser,
  deviceId: string,
  options: Partial<ClientOptions> = {},
): Promise<ParleyClient> {
  const client = await ParleyClient.logIn({
    server: server.url,
    username: user.username,
    password: user.password,
    deviceId,
    reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    ...options,
  });
  await client.connect();
  return client;
}

/** Records every message event a client shows, and waits for a given count. */
export function recorder(client: ParleyClient) {
  const seen: MessageEvent[] = [];
  let wake: (() => void) | undefined;
  client.on("message", (ev) => {
    seen.push(ev);
    wake?.();
  });
  return {
    seen,
    bodies: () => seen.map((e) => e.message.body),
    /** Resolves once `n` messages were shown; rejects after `timeoutMs`. */
    async until(n: number, timeoutMs = 15000): Promise<MessageEvent[]> {
      const deadline = Date.now() + timeoutMs;
      while (seen.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`saw ${seen.length} of ${n} messages: ${JSON.stringify(seen.map((e) => e.message.body))}`);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
      }
      return seen.slice(0, n);
    },
  };
}
