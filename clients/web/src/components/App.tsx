import { useEffect, useMemo, useState } from "preact/hooks";

import { Chat } from "../chat";
import { clearSession, loadSession, saveSession, type StoredSession } from "../session";
import { Login } from "./Login";
import { Shell } from "./Shell";

export function App({ server }: { server: string }) {
  const [session, setSession] = useState<StoredSession | null>(loadSession);
  const [notice, setNotice] = useState<string | null>(null);

  // One Chat (one connection) per session; a new session closes the old one.
  const chat = useMemo(
    () =>
      session &&
      new Chat(server, session, (reason) => {
        clearSession();
        setNotice(reason);
        setSession(null);
      }),
    [server, session?.token],
  );
  useEffect(() => {
    if (!chat) return;
    chat.start();
    return () => chat.stop();
  }, [chat]);

  if (!session || !chat) {
    return (
      <Login
        server={server}
        notice={notice}
        onLoggedIn={(s) => {
          saveSession(s);
          setNotice(null);
          setSession(s);
        }}
      />
    );
  }
  return (
    <Shell
      chat={chat}
      onLogOut={() => {
        // This page's connection closes first (the chat stops with the
        // session), then the session ends on the server, so that the
        // server's 4001 close finds nothing here to report.
        const http = chat.http;
        clearSession();
        setSession(null);
        void http.endSession().catch(() => undefined);
      }}
    />
  );
}
