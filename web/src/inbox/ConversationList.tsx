import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useMemo, useRef, type RefObject } from "react";
import type { InboxConversation } from "../api/types";
import { contactName, isUnread, noFilters, queuePath, type Filters } from "./model";
import { Preview } from "./preview";
import { type InboxStore, useInbox } from "./store";
import { ago } from "./time";

const ROW = 76; // px; rows have a fixed height, so the list never jumps as data streams in

interface Props {
  store: InboxStore;
  list: InboxConversation[];
  queue: string;
  openId: string;
  filters: Filters;
  setFilters: (f: Filters) => void;
  searchRef: RefObject<HTMLInputElement | null>;
  onOpen: (id: string) => void;
}

/** ConversationList is the searchable, filterable list of a queue, virtualised: only the rows
 * on screen exist in the page, so thousands of open conversations stay fast. */
export function ConversationList({ store, list, queue, openId, filters, setFilters, searchRef, onOpen }: Props) {
  const me = store.me;
  const snap = useInbox(store);
  const scroller = useRef<HTMLDivElement>(null);
  const v = useVirtualizer({ count: list.length, getScrollElement: () => scroller.current, estimateSize: () => ROW, overscan: 8, getItemKey: (i) => list[i].id });
  const openIndex = list.findIndex((c) => c.id === openId);
  useEffect(() => {
    if (openIndex >= 0) v.scrollToIndex(openIndex, { align: "auto" });
  }, [openIndex, v]);

  const channels = useMemo(() => [...new Set(snap.list.map((c) => c.channel_id))].sort(), [snap.list]);
  const tags = useMemo(() => [...new Set(snap.list.flatMap((c) => c.tags ?? []))].sort(), [snap.list]);
  const set = (k: keyof Filters) => (e: { target: { value: string } }) => setFilters({ ...filters, [k]: e.target.value });
  const filtered = JSON.stringify(filters) !== JSON.stringify(noFilters);

  return (
    <section className="list" aria-label="Conversations">
      <div className="list-tools">
        <label htmlFor="search" className="sr-only">
          Search conversations
        </label>
        <input id="search" ref={searchRef} type="search" placeholder="Search name, e-mail, phone, message…" title="Search (shortcut: /)" value={filters.search} onChange={set("search")} />
        <details className="filters">
          <summary>Filters{filtered ? " (on)" : ""}</summary>
          <div className="filter-grid">
            <label>
              Status
              <select id="filter-status" value={filters.status} onChange={set("status")}>
                <option value="">Any</option>
                <option value="queued">Queued</option>
                <option value="assigned">Assigned</option>
              </select>
            </label>
            <label>
              Team
              <select id="filter-team" value={filters.team} onChange={set("team")}>
                <option value="">Any</option>
                {snap.teams.map((t) => (
                  <option key={t.id} value={t.id}>
                    {t.name || t.id}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Channel
              <select id="filter-channel" value={filters.channel} onChange={set("channel")}>
                <option value="">Any</option>
                {channels.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            </label>
            <label>
              Tag
              <select id="filter-tag" value={filters.tag} onChange={set("tag")}>
                <option value="">Any</option>
                {tags.map((t) => (
                  <option key={t}>{t}</option>
                ))}
              </select>
            </label>
            <button className="btn small" onClick={() => setFilters(noFilters)} disabled={!filtered}>
              Clear filters
            </button>
          </div>
        </details>
      </div>
      <p className="list-count muted small" aria-live="polite">
        {snap.loading ? "Loading…" : `${list.length} conversation${list.length === 1 ? "" : "s"}`}
      </p>
      {snap.error && (
        <p className="form-error pad-s" role="alert">
          {snap.error}
        </p>
      )}
      <div ref={scroller} className="list-scroll" data-testid="conversation-list">
        {!snap.loading && list.length === 0 ? (
          <EmptyList queue={queue} filtered={filtered} total={snap.list.length} />
        ) : (
          <ul role="list" className="rows" style={{ height: v.getTotalSize() }}>
            {v.getVirtualItems().map((it) => {
              const c = list[it.index];
              const unread = isUnread(c, snap.seen);
              return (
                <li key={it.key} className="row-wrap" style={{ transform: `translateY(${it.start}px)`, height: ROW }}>
                  <a
                    href={`/inbox/${queuePath(queue)}/${c.id}`}
                    className={"row" + (c.id === openId ? " open" : "") + (unread ? " unread" : "")}
                    aria-current={c.id === openId ? "true" : undefined}
                    data-conversation={c.id}
                    onClick={(e) => {
                      e.preventDefault();
                      onOpen(c.id);
                    }}
                  >
                    <span className="row-top">
                      {unread && <span className="unread-dot" aria-label="Unread" />}
                      <span className="row-name">{contactName(c)}</span>
                      <time className="muted small" dateTime={c.updated_at}>
                        {ago(c.updated_at ?? "")}
                      </time>
                    </span>
                    <span className="row-text muted small">
                      <Preview c={c} me={me} />
                    </span>
                    <span className="row-meta">
                      <span className={"badge " + c.status}>{c.status === "queued" ? "Queued" : c.assignee ? "Assigned" : c.status}</span>
                      {c.team && <span className="badge">{c.team}</span>}
                      <span className="badge">{c.channel_id}</span>
                      {c.assignee && <span className="muted small ellipsis">{c.assignee}</span>}
                    </span>
                  </a>
                </li>
              );
            })}
          </ul>
        )}
      </div>
    </section>
  );
}

function EmptyList({ queue, filtered, total }: { queue: string; filtered: boolean; total: number }) {
  let text = "Nothing here.";
  if (filtered) text = "No conversation matches the search and filters.";
  else if (total === 0) text = "No open conversations. When a flow hands a customer over to the inbox, the conversation appears here at once.";
  else if (queue === "mine") text = "Nothing assigned to you. Take one from Queued, or stay online and conversations come to you.";
  else if (queue === "queued") text = "Nobody is waiting. Well done.";
  return <p className="empty-list muted">{text}</p>;
}
