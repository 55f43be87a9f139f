import type { Chat } from "../chat";
import { peerOf } from "../ids";

/** A conversation's initial, with the peer's presence for a 1:1. */
export function Avatar({ chat, id }: { chat: Chat; id: string }) {
  const peer = peerOf(id, chat.me.id);
  const status = peer ? chat.statusOf(peer) : undefined;
  const kind = id.startsWith("g:") ? "group" : id.startsWith("c:") ? "channel" : "direct";
  const title = chat.titleOf(id);
  return (
    <span class={`avatar avatar--${kind}`} aria-hidden="true">
      {kind === "channel" ? "#" : title.slice(0, 1).toUpperCase()}
      {status && <span class={`presence presence--${status}`} />}
    </span>
  );
}
