import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { client, call } from "../api/client";
import type { Conversation, Message, Note } from "../api/types";
import { addItem, type Item, withLoaded } from "./items";
import { Composer, type ComposerHandle } from "./Composer";
import { ContactPanel } from "./ContactPanel";
import { contactName, latest } from "./model";
import { useShortcuts } from "./Shortcuts";
import { type InboxStore, useInbox } from "./store";
import { TransferDialog } from "./TransferDialog";
import { clock } from "./time";
import { Paperclip } from "./icons";
import { DeliveryFailure } from "./failure";
import { downloadMedia, isStored, sizeText, useMediaURL } from "../api/media";


interface Props {
  store: InboxStore;
  id: string;
  me: string;
  back: () => void;
  /** onOpen opens another conversation (an earlier one of the contact). */
  onOpen: (id: string) => void;
}

/** ConversationView is one conversation: the whole history as the customer saw it, with the
 * internal notes between, the actions, the reply box, and the contact and bot on the side. */
export function ConversationView({ store, id, me, back, onOpen }: Props) {
  const snap = useInbox(store);
  const [conv, setConv] = useState<Conversation | null>(null);
  const [items, setItems] = useState<Item[]>([]);
  const [error, setError] = useState("");
  const [actionError, setActionError] = useState("");
  const [busy, setBusy] = useState("");
  const [transfer, setTransfer] = useState(false);
  const [panel, setPanel] = useState(false);
  const composer = useRef<ComposerHandle>(null);
  const history = useRef<HTMLOListElement>(null);
  const stick = useRef(true);

  const add = useCallback((it: Item) => setItems((cur) => addItem(cur, it)), []);

  // Load the conversation, its history and notes; events that arrive meanwhile are merged.
  useEffect(() => {
    let gone = false;
    const off = store.watch(id, (e) => {
      if (e.kind === "message") add({ kind: "message", m: e.message });
      else if (e.kind === "note") add({ kind: "note", n: e.note });
      else setConv((c) => merge(c, e.conversation));
    });
    (async () => {
      try {
        const [c, msgs, notes] = await Promise.all([
          call(client.GET("/api/v1/conversations/{id}", { params: { path: { id } } })),
          loadMessages(id),
          call(client.GET("/api/v1/inbox/conversations/{id}/notes", { params: { path: { id } } })),
        ]);
        if (gone) return;
        setConv((cur) => merge(cur, c));
        const loaded: Item[] = [...msgs.map((m): Item => ({ kind: "message", m })), ...notes.notes.map((n): Item => ({ kind: "note", n }))];
        setItems((cur) => withLoaded(loaded, cur));
      } catch (err) {
        if (!gone) setError((err as Error).message);
      }
    })();
    return () => {
      gone = true;
      off();
    };
  }, [id, store, add]);

  // Reading the conversation marks it seen.
  const last = snap.list.find((c) => c.id === id)?.last_message?.id;
  useEffect(() => {
    store.markSeen(id);
  }, [id, last, store, items.length]);

  // Keep the newest message in view while the agent is at the bottom; never jump otherwise.
  useLayoutEffect(() => {
    const el = history.current?.parentElement;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [items]);
  // An image that finishes loading grows the history: still at the bottom, stay there.
  useEffect(() => {
    const ol = history.current;
    const el = ol?.parentElement;
    if (!ol || !el || typeof ResizeObserver === "undefined") return;
    const ro = new ResizeObserver(() => {
      if (stick.current) el.scrollTop = el.scrollHeight;
    });
    ro.observe(ol);
    return () => ro.disconnect();
  }, []);

  const act = async (name: string, f: () => Promise<Conversation>) => {
    setBusy(name);
    setActionError("");
    try {
      const c = await f();
      setConv((cur) => merge(cur, c));
      store.put(c);
    } catch (err) {
      setActionError((err as Error).message);
    } finally {
      setBusy("");
    }
  };
  const path = { params: { path: { id } } };
  const assignMe = () => act("assign", () => call(client.POST("/api/v1/inbox/conversations/{id}/assign", { ...path, body: { agent: "me" } })));
  const close = () => act("close", () => call(client.POST("/api/v1/inbox/conversations/{id}/close", path)));
  const resume = () => act("resume", () => call(client.POST("/api/v1/inbox/conversations/{id}/resume-bot", path)));

  const open = conv ? conv.status === "queued" || conv.status === "assigned" : false;
  const mine = conv?.assignee === me;
  useShortcuts({
    r: () => composer.current?.focus("reply"),
    n: () => composer.current?.focus("note"),
    a: () => open && !mine && assignMe(),
    e: () => open && close(),
  });

  if (error) {
    return (
      <section className="view" aria-label="Conversation">
        <div className="empty">
          <h2>This conversation cannot be shown</h2>
          <p className="form-error">{error}</p>
          <button className="btn" onClick={back}>
            Back to the list
          </button>
        </div>
      </section>
    );
  }

  const name = conv ? contactName({ contact: conv.contact, contact_id: conv.contact_id ?? "" }) : "";
  return (
    <section className={"view" + (panel ? " show-panel" : "")} aria-labelledby="conv-title">
      <header className="view-head">
        <button className="btn ghost back" onClick={back} aria-label="Back to the list">
          ←
        </button>
        <div className="view-title">
          <h2 id="conv-title">{name || "…"}</h2>
          {conv && (
            <p className="muted small">
              <span className={"badge " + conv.status}>{statusText(conv, me)}</span> {conv.team && <>Team {conv.team} · </>}
              {conv.channel_id}
              {conv.bot === "paused" && " · bot paused"}
            </p>
          )}
        </div>
        <div className="actions" role="toolbar" aria-label="Conversation actions">
          {open && !mine && (
            <button className="btn primary" onClick={assignMe} disabled={!!busy} title="Shortcut: a">
              Assign to me
            </button>
          )}
          {open && (
            <button className="btn" onClick={() => setTransfer(true)} disabled={!!busy}>
              Transfer
            </button>
          )}
          {open && (
            <button className="btn" onClick={close} disabled={!!busy} title="Shortcut: e">
              Close
            </button>
          )}
          {conv && conv.status !== "closed" && (conv.bot === "paused" || open) && (
            <button className="btn" onClick={resume} disabled={!!busy}>
              Resume bot
            </button>
          )}
          <button className="btn ghost panel-toggle" aria-expanded={panel} onClick={() => setPanel(!panel)}>
            Details
          </button>
        </div>
      </header>
      {actionError && (
        <p className="form-error banner" role="alert">
          {actionError}
        </p>
      )}
      <div
        className="history"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
        }}
      >
        <ol ref={history} className="messages" aria-label="Messages" aria-live="polite" aria-relevant="additions">
          {items.map((it) => (it.kind === "message" ? <Bubble key={it.m.id} m={it.m} /> : <NoteItem key={it.n.id} n={it.n} />))}
        </ol>
        {conv && !open && (
          <p className="ended muted small">
            {conv.status === "closed" ? "This conversation is closed." : "The bot has this conversation. Writing a reply takes it over."}
          </p>
        )}
      </div>
      {conv && <Composer ref={composer} id={id} conv={conv} canned={snap.canned} onSent={(c) => c && store.put(c)} />}
      {conv && <ContactPanel conv={conv} onClose={() => setPanel(false)} onOpen={onOpen} />}
      {transfer && conv && (
        <TransferDialog
          store={store}
          conv={conv}
          onClose={() => setTransfer(false)}
          onDone={(c) => {
            setTransfer(false);
            setConv((cur) => merge(cur, c));
            store.put(c);
          }}
        />
      )}
    </section>
  );
}

/** merge takes a new state of the conversation unless the one shown is newer, keeping the
 * contact (events do not carry it). */
function merge(cur: Conversation | null, next: Conversation): Conversation {
  const n = latest(cur, next);
  if (n === cur) return cur;
  return { ...n, contact: n.contact ?? cur?.contact };
}

async function loadMessages(id: string): Promise<Message[]> {
  const out: Message[] = [];
  let after = "";
  for (let i = 0; i < 20; i++) {
    const r = await call(client.GET("/api/v1/conversations/{id}/messages", { params: { path: { id }, query: { limit: 1000, ...(after ? { after } : {}) } } }));
    out.push(...r.messages);
    if (r.messages.length < 1000 || !r.next_cursor) break;
    after = r.next_cursor;
  }
  return out;
}

function statusText(c: Conversation, me: string) {
  if (c.status === "queued") return "Queued";
  if (c.status === "assigned") return c.assignee === me ? "Assigned to you" : `Assigned to ${c.assignee}`;
  if (c.status === "closed") return "Closed";
  return "With the bot";
}

/** Bubble is a message as the customer saw it: text, buttons, media, location. */
function Bubble({ m }: { m: Message }) {
  const who = m.direction === "in" ? "Customer" : m.author === "agent" ? m.agent || "Agent" : m.author === "bot" ? "Bot" : "System";
  return (
    <li className={`msg ${m.direction} ${m.author}`} data-message={m.id}>
      <div className="bubble">
        {m.media && <Media media={m.media} />}
        {m.location && (
          <a href={`https://www.openstreetmap.org/?mlat=${m.location.lat}&mlon=${m.location.lng}`} target="_blank" rel="noreferrer noopener">
            Location: {m.location.name || `${m.location.lat}, ${m.location.lng}`}
          </a>
        )}
        {m.text && <p className="msg-text">{m.text}</p>}
        {m.buttons && m.buttons.length > 0 && (
          <ul className={"choices " + (m.render ?? "buttons")} aria-label="Choices shown to the customer">
            {m.buttons.map((b) => (
              <li key={b.id} className="choice">
                {b.title}
              </li>
            ))}
          </ul>
        )}
      </div>
      <p className="msg-meta muted small">
        {who} · <time dateTime={m.created_at}>{clock(m.created_at)}</time>
      </p>
      <DeliveryFailure m={m} />
    </li>
  );
}

/** Media is a file as the customer got it: images, audio and video in place, other files as a
 * link that saves them. Files Tandem keeps are read with the agent's login. */
function Media({ media }: { media: NonNullable<Message["media"]> }) {
  const { url, mime = "", name = "", size, error: gone } = media;
  const { src, error } = useMediaURL(url);
  const [saveError, setSaveError] = useState("");
  if (gone || !url) return <p className="file muted small"><Paperclip /> {name || "A file"} was not kept: {gone || "it is gone"}.</p>;
  if (error) return <p className="file form-error small"><Paperclip /> {name || "The file"} cannot be shown: {error}</p>;
  const label = name || (mime.startsWith("image/") ? "Image" : "Attachment");
  if (mime.startsWith("image/")) {
    return src ? <img className="media" src={src} alt={name || "Image from the conversation"} /> : <span className="media media-loading" role="img" aria-label={`${label}, loading`} />;
  }
  if (mime.startsWith("audio/") && src) return <audio className="media" controls src={src} aria-label={name || "Audio"} />;
  if (mime.startsWith("video/") && src) return <video className="media" controls src={src} aria-label={name || "Video"} />;
  const meta = [mime, size ? sizeText(size) : ""].filter(Boolean).join(", ");
  const text = (
    <>
      <Paperclip /> {label} {meta && <span className="muted small">({meta})</span>}
    </>
  );
  if (!isStored(url)) {
    return (
      <a href={url} target="_blank" rel="noreferrer noopener" className="file">
        {text}
      </a>
    );
  }
  return (
    <>
      <button
        type="button"
        className="file link"
        onClick={() => {
          setSaveError("");
          downloadMedia(url, name).catch((err: Error) => setSaveError(err.message));
        }}
      >
        {text}
      </button>
      {saveError && <span className="form-error small">{saveError}</span>}
    </>
  );
}

function NoteItem({ n }: { n: Note }) {
  return (
    <li className="note" data-note={n.id}>
      <p className="note-label small">Internal note · the customer does not see it</p>
      <p className="msg-text">{n.text}</p>
      <p className="msg-meta muted small">
        {n.author} · <time dateTime={n.created_at}>{clock(n.created_at)}</time>
      </p>
    </li>
  );
}
