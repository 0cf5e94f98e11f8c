import { Link } from "wouter";
import { counts, onlineIn, queuePath } from "./model";
import { type InboxStore, useInbox } from "./store";

/** Queues is the sidebar: my conversations, the queue, all open, and each team, with live counts. */
export function Queues({ store, queue, me }: { store: InboxStore; queue: string; me: string }) {
  const snap = useInbox(store);
  const n = counts(snap.list, me);
  const item = (q: string, label: string, extra?: string) => (
    <li key={q}>
      <Link href={`/${queuePath(q)}`} className="queue" aria-current={queue === q ? "page" : undefined}>
        <span className="queue-name">{label}</span>
        {extra && <span className="muted small">{extra}</span>}
        <span className="count" aria-label={`${n[q] ?? 0} conversations`}>
          {n[q] ?? 0}
        </span>
      </Link>
    </li>
  );
  return (
    <nav className="queues" aria-label="Queues">
      <ul>
        {item("mine", "Mine")}
        {item("queued", "Queued")}
        {item("all", "All open")}
      </ul>
      <h2 className="queues-title">Teams</h2>
      {snap.teams.length === 0 ? (
        <p className="muted small pad-s">No teams yet. An admin adds them in tandem.yaml or under Admin → Teams.</p>
      ) : (
        <ul>{snap.teams.map((t) => item("team:" + t.id, t.name || t.id, `${onlineIn(t, snap.agents)} online`))}</ul>
      )}
      <p className={"conn small " + (snap.connected ? "ok" : "")} role="status">
        <span className={"dot " + (snap.connected ? "online" : "")} aria-hidden="true" /> {snap.connected ? "Live" : "Reconnecting…"}
      </p>
    </nav>
  );
}
