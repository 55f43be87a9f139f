// Client-chosen ids. crypto.randomUUID is avoided on purpose: browsers only
// offer it on secure origins (https, localhost), and a chat page on plain
// http would fail to send. getRandomValues exists everywhere we run.

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

function randomBytes(n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  const c = (globalThis as { crypto?: { getRandomValues?(a: Uint8Array): Uint8Array } }).crypto;
  if (c?.getRandomValues) {
    c.getRandomValues(bytes);
  } else {
    for (let i = 0; i < n; i++) bytes[i] = Math.floor(Math.random() * 256);
  }
  return bytes;
}

/** A random id of `length` characters of [0-9a-z] (about 5.2 bits each). */
export function randomId(length = 22): string {
  let out = "";
  for (const b of randomBytes(length)) out += ALPHABET[b % ALPHABET.length];
  return out;
}

/** A new `client_msg_id`: the time (sortable, for debugging) and 16 random characters. */
export function newClientMsgId(): string {
  return `${Date.now().toString(36)}-${randomId(16)}`;
}
