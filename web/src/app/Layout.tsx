import type { ReactNode } from "react";
import { Link, useLocation } from "wouter";
import { session, useSession } from "../session/session";
import { Presence } from "../inbox/Presence";

/** Layout is the frame of every screen after login: the top bar and the page. */
export function Layout({ children }: { children: ReactNode }) {
  const s = useSession()!;
  const [loc] = useLocation();
  const tab = (href: string, label: string) => (
    <Link href={href} className="nav-link" aria-current={loc.startsWith(href) ? "page" : undefined}>
      {label}
    </Link>
  );
  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">
          <img src="/favicon.svg" alt="" width="22" height="22" /> <span className="brand-name">Tandem</span>
        </span>
        <nav aria-label="Sections" className="nav">
          {tab("/inbox", "Inbox")}
          {s.agent.role === "admin" && tab("/admin", "Admin")}
        </nav>
        <span className="grow" />
        <Presence />
        <span className="who" title={s.agent.email}>
          {s.agent.name || s.agent.email}
        </span>
        <button className="btn ghost" onClick={() => logout()}>
          Log out
        </button>
      </header>
      <div id="main" className="page" tabIndex={-1}>
        {children}
      </div>
    </div>
  );
}

async function logout() {
  try {
    // The server forgets the token where it knows how (a logout route); either way this browser does.
    await fetch("/api/v1/inbox/logout", { method: "POST", headers: { Authorization: `Bearer ${session.token()}` } });
  } catch {
    // offline: the token is forgotten here anyway
  }
  session.end("You logged out.");
}
