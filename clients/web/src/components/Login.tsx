import { ParleyHttp } from "@parley/client";
import { useRef, useState } from "preact/hooks";

import { describeError } from "../errors";
import { deviceId, type StoredSession } from "../session";

interface Props {
  server: string;
  notice: string | null;
  onLoggedIn(session: StoredSession): void;
}

export function Login({ server, notice, onLoggedIn }: Props) {
  const [mode, setMode] = useState<"login" | "signup">("login");
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // A second click (or Enter) before the first finished must not log in
  // twice: state updates only show on the next render, a ref at once.
  const inFlight = useRef(false);

  async function submit(e: Event) {
    e.preventDefault();
    if (inFlight.current) return;
    inFlight.current = true;
    setBusy(true);
    setError(null);
    const name = username.trim().toLowerCase();
    try {
      const http = new ParleyHttp(server);
      if (mode === "signup") await http.signUp(name, password);
      const s = await http.logIn(name, password, deviceId());
      onLoggedIn({ ...s, username: name });
    } catch (err) {
      setError(describeLoginError(err, mode));
      inFlight.current = false;
      setBusy(false);
    }
  }

  return (
    <main class="login">
      <form class="login-card" onSubmit={submit} aria-labelledby="login-title">
        <div class="brand">
          <span class="brand-mark" aria-hidden="true" />
          <h1 id="login-title">Parley</h1>
        </div>
        <p class="muted">{mode === "login" ? "Welcome back." : "Make an account: a name and a password."}</p>
        {notice && <p class="notice">{notice}</p>}
        <label>
          Username
          <input
            name="username"
            autoComplete="username"
            autoCapitalize="none"
            spellcheck={false}
            required
            minLength={3}
            maxLength={32}
            pattern="[a-zA-Z0-9_.\-]+"
            title="3–32 letters, digits, _ . or -"
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autoComplete={mode === "login" ? "current-password" : "new-password"}
            required
            minLength={mode === "signup" ? 8 : 1}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "One moment…" : mode === "login" ? "Log in" : "Sign up"}
        </button>
        <p class="switch">
          {mode === "login" ? "New here?" : "Have an account?"}{" "}
          <button
            type="button"
            class="link"
            onClick={() => {
              setMode(mode === "login" ? "signup" : "login");
              setError(null);
            }}
          >
            {mode === "login" ? "Sign up" : "Log in"}
          </button>
        </p>
      </form>
    </main>
  );
}

function describeLoginError(e: unknown, mode: "login" | "signup"): string {
  const text = describeError(e);
  if (mode === "signup" && /conflict|taken|exists/i.test(text)) return "That username is taken. Pick another.";
  return text;
}
