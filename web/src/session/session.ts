// The agent's session: the login token and who is logged in, kept in localStorage so every tab
// shares it. Components read it with useSession; the API client reads the token.
import { useSyncExternalStore } from "react";
import type { Agent } from "../api/types";

const KEY = "tandem.session";

interface Stored {
  token: string;
  agent: Agent;
}

type Listener = () => void;

class Session {
  private cur: Stored | null = load();
  /** notice is a sentence for the login page (why the session ended). */
  notice = "";
  private listeners = new Set<Listener>();

  constructor() {
    // Another tab logging in or out changes this one too.
    if (typeof window === "undefined") return; // unit tests in Node
    window.addEventListener("storage", (e) => {
      if (e.key === KEY) {
        this.cur = load();
        this.emit();
      }
    });
  }

  subscribe = (l: Listener) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  get = () => this.cur;
  token = () => this.cur?.token ?? "";
  agent = () => this.cur?.agent ?? null;

  start(token: string, agent: Agent) {
    this.cur = { token, agent };
    this.notice = "";
    globalThis.localStorage?.setItem(KEY, JSON.stringify(this.cur));
    this.emit();
  }

  /** update replaces the agent (after a presence change, say). */
  update(agent: Agent) {
    if (!this.cur) return;
    this.cur = { ...this.cur, agent };
    globalThis.localStorage?.setItem(KEY, JSON.stringify(this.cur));
    this.emit();
  }

  /** end forgets the session; notice is shown on the login page. */
  end(notice = "") {
    this.cur = null;
    this.notice = notice;
    globalThis.localStorage?.removeItem(KEY);
    this.emit();
  }

  /** expire ends a session the server no longer accepts. */
  expire(notice: string) {
    if (this.cur) this.end(notice);
  }

  private emit() {
    for (const l of this.listeners) l();
  }
}

function load(): Stored | null {
  if (typeof localStorage === "undefined") return null;
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? "null");
    return v && typeof v.token === "string" && v.agent ? v : null;
  } catch {
    return null;
  }
}

export const session = new Session();

/** useSession returns the current session (null when logged out) and re-renders on change. */
export function useSession() {
  return useSyncExternalStore(session.subscribe, session.get);
}
