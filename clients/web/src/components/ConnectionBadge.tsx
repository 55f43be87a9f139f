import { useEffect, useState } from "preact/hooks";

import type { Connection } from "../chat";

/** Online, connecting, or reconnecting with a countdown. */
export function ConnectionBadge({ connection }: { connection: Connection }) {
  const [, tick] = useState(0);
  useEffect(() => {
    if (connection.state !== "reconnecting") return;
    const t = setInterval(() => tick((n) => n + 1), 500);
    return () => clearInterval(t);
  }, [connection]);

  let text: string;
  switch (connection.state) {
    case "online":
      text = "Online";
      break;
    case "connecting":
      text = "Connecting…";
      break;
    case "reconnecting": {
      const s = Math.ceil((connection.retryAt - Date.now()) / 1000);
      text = s > 0 ? `Reconnecting in ${s} s…` : "Reconnecting…";
      break;
    }
    case "closed":
      text = "Offline";
      break;
  }
  return (
    <span class={`conn conn--${connection.state}`} data-testid="connection" data-state={connection.state} role="status">
      <span class="dot" aria-hidden="true" />
      {text}
    </span>
  );
}
