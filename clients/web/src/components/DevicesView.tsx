import { useEffect, useState } from "preact/hooks";

import type { DeviceSession } from "@parley/client";

import type { Chat } from "../chat";
import { attempt } from "../hooks";

interface Props {
  chat: Chat;
  onBack(): void;
  /** Logs this device out (the header's "Log out"). */
  onLogOut(): void;
}

function when(ms: number): string {
  return new Date(ms).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

/**
 * The user's logged-in devices (GET /v1/sessions), each with "Log out":
 * another device is removed (its token, cursor and push registration; its
 * open pages are disconnected), this one logs out.
 */
export function DevicesView({ chat, onBack, onLogOut }: Props) {
  const [devices, setDevices] = useState<DeviceSession[] | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const load = () => attempt(chat, async () => setDevices(await chat.http.sessions()));
  useEffect(() => {
    void load();
  }, [chat]);

  const remove = async (device: string) => {
    setBusy(device);
    await attempt(chat, () => chat.http.removeDevice(device));
    setBusy(null);
    await load();
  };

  return (
    <section class="panel" data-testid="devices">
      <header class="chat-head">
        <button class="ghost back" onClick={onBack} aria-label="Back to conversations">
          ‹
        </button>
        <h2>Devices</h2>
      </header>
      <div class="panel-body">
        <p class="muted small">Where your account is logged in. Logging a device out ends its session there.</p>
        {devices === null ? (
          <p class="muted">Loading…</p>
        ) : (
          <ul class="people">
            {devices.map((d) => (
              <li key={d.device_id} data-testid="device" data-device={d.device_id} data-current={String(d.current)}>
                <span class="person">
                  {d.device_id}
                  {d.current && <span class="badge badge--quiet"> this device</span>}
                  <span class="muted small device-times">
                    {" "}
                    logged in {when(d.created_at)} · last used {when(d.last_used_at)}
                  </span>
                </span>
                <button
                  class="ghost"
                  disabled={busy !== null}
                  onClick={() => (d.current ? onLogOut() : void remove(d.device_id))}
                  data-testid="device-logout"
                >
                  Log out
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}
