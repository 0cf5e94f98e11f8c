// The inbox's live state: every open conversation of the inbox, loaded once and then kept
// current by the event stream (no polling). The open conversation's view listens to its own
// messages, notes and changes through watch().
import { useSyncExternalStore } from "react";
import { client, call } from "../api/client";
import type { Agent, Canned, Conversation, InboxConversation, Message, Note, Team } from "../api/types";
import { openStream, type SSEEvent } from "../api/sse";
import { session } from "../session/session";
import { inInbox, lastMessage, latest, sortConversations } from "./model";

const SEEN = "tandem.seen";

export type ConversationEvent =
  | { kind: "message"; message: Message }
  | { kind: "note"; note: Note }
  | { kind: "conversation"; conversation: Conversation };

interface Snapshot {
  list: InboxConversation[];
  teams: Team[];
  agents: Agent[];
  canned: Canned[];
  seen: Record<string, string>;
  loading: boolean;
  error: string;
  connected: boolean;
}

export class InboxStore {
  private byId = new Map<string, InboxConversation>();
  private snap: Snapshot = { list: [], teams: [], agents: [], canned: [], seen: loadSeen(), loading: true, error: "", connected: false };
  private listeners = new Set<() => void>();
  private watchers = new Map<string, Set<(e: ConversationEvent) => void>>();
  private stream: { close: () => void } | null = null;
  /** onAssigned is called when a conversation is newly assigned to this agent. */
  onAssigned: (c: InboxConversation) => void = () => {};
  /** onMessageShown is called after a customer message is rendered (the latency probe). */
  me: string;

  constructor(me: string) {
    this.me = me;
  }

  subscribe = (l: () => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };
  get = () => this.snap;

  /** start loads the lists and opens the event stream. */
  start() {
    this.stream = openStream({
      url: "/api/v1/inbox/events",
      token: session.token,
      onEvent: (ev) => this.apply(ev),
      onState: (connected) => {
        const first = connected && !this.snap.connected;
        this.set({ connected });
        if (first) void this.load();
      },
      onUnauthorized: () => session.expire("Your session has ended; log in again."),
    });
  }

  stop() {
    this.stream?.close();
  }

  // While a load is in flight, what events changed (null: removed), so the load's older read
  // does not undo them.
  private touched: Map<string, InboxConversation | null> | null = null;

  private touch(id: string) {
    this.touched?.set(id, this.byId.get(id) ?? null);
  }

  /** load reads every open conversation of the inbox, the teams and the agents. */
  async load() {
    this.touched = new Map();
    try {
      const all: InboxConversation[] = [];
      let cursor = "";
      for (let page = 0; page < 100; page++) {
        const r = await call(client.GET("/api/v1/inbox/conversations", { params: { query: { limit: 500, ...(cursor ? { cursor } : {}) } } }));
        all.push(...r.conversations);
        cursor = r.next_cursor;
        if (!cursor) break;
      }
      const [teams, agents, canned] = await Promise.all([
        call(client.GET("/api/v1/inbox/teams")),
        call(client.GET("/api/v1/inbox/agents")),
        call(client.GET("/api/v1/inbox/canned-responses")),
      ]);
      const next = new Map(all.map((c) => [c.id, c]));
      for (const [id, c] of this.touched) {
        if (c) next.set(id, c);
        else next.delete(id);
      }
      this.touched = null;
      this.byId = next;
      this.set({ teams: teams.teams, agents: agents.agents, canned: canned.canned_responses, loading: false, error: "" }, true);
    } catch (err) {
      this.touched = null;
      this.set({ loading: false, error: (err as Error).message });
    }
  }

  /** apply takes one event of the stream. */
  apply(ev: SSEEvent) {
    let data: unknown;
    try {
      data = JSON.parse(ev.data);
    } catch {
      return;
    }
    switch (ev.event) {
      case "conversation":
        this.conversation(data as Conversation);
        break;
      case "message": {
        const m = data as Message;
        const c = this.byId.get(m.conversation_id);
        if (c && lastMessage(c.last_message, m) === m) {
          // A message's status comes with it; a failure later comes as the message again.
          this.byId.set(c.id, { ...c, last_message: m, updated_at: m.created_at > (c.updated_at ?? "") ? m.created_at : c.updated_at });
          this.touch(c.id);
          this.set({}, true);
        }
        this.emit(m.conversation_id, { kind: "message", message: m });
        break;
      }
      case "note": {
        const n = data as Note;
        this.emit(n.conversation_id, { kind: "note", note: n });
        break;
      }
      case "presence": {
        const a = data as Agent;
        const agents = this.snap.agents.map((x) => (x.email === a.email ? a : x));
        this.set({ agents });
        if (a.email === this.me) session.update(a);
        break;
      }
      case "reset":
        void this.load();
        break;
    }
  }

  private conversation(c: Conversation) {
    const old = this.byId.get(c.id);
    this.emit(c.id, { kind: "conversation", conversation: c });
    if (!inInbox(c)) {
      this.left.set(c.id, { updated_at: c.updated_at });
      this.byId.delete(c.id);
      this.touch(c.id);
      if (old) this.set({}, true);
      return;
    }
    const next: InboxConversation = { ...c, contact: c.contact ?? old?.contact, last_message: old?.last_message ?? null };
    this.byId.set(c.id, next);
    this.touch(c.id);
    this.set({}, true);
    const assigned = c.assignee === this.me && old?.assignee !== this.me;
    if (!next.contact || !next.last_message) {
      // The agent is told who it is: once the contact and last message are read.
      if (assigned) this.announce.add(c.id);
      this.fillSoon(c.id);
    } else if (assigned) this.onAssigned(next);
  }

  // Conversations newly assigned to this agent, announced once fill has read their contact.
  private announce = new Set<string>();

  private announceFilled(ids: string[]) {
    for (const id of ids) {
      if (!this.announce.delete(id)) continue;
      const c = this.byId.get(id);
      if (c && c.assignee === this.me) this.onAssigned(c);
    }
  }

  private pending = new Set<string>();
  private fillTimer: ReturnType<typeof setTimeout> | undefined;

  /** fillSoon completes conversations that came in through the stream (their contact and last
   * message are not in a conversation event): one read of the newest page of the inbox for all
   * that came within 50 ms, then one read per conversation still missing its contact. */
  private fillSoon(id: string) {
    this.pending.add(id);
    if (this.fillTimer) return;
    this.fillTimer = setTimeout(() => void this.fill(), 50);
  }

  private async fill() {
    const ids = [...this.pending];
    this.pending.clear();
    this.fillTimer = undefined;
    try {
      const r = await call(client.GET("/api/v1/inbox/conversations", { params: { query: { limit: Math.min(500, Math.max(50, ids.length * 2)) } } }));
      for (const it of r.conversations) {
        const cur = this.byId.get(it.id);
        if (!cur) continue;
        const lm = it.last_message ? lastMessage(cur.last_message, it.last_message) : cur.last_message;
        this.byId.set(it.id, { ...cur, contact: cur.contact ?? it.contact, last_message: lm });
      }
      this.set({}, true);
      for (const id of ids) {
        if (this.byId.get(id) && !this.byId.get(id)!.contact) {
          const full = await call(client.GET("/api/v1/conversations/{id}", { params: { path: { id } } }));
          const cur = this.byId.get(id);
          if (cur) this.byId.set(id, { ...cur, contact: full.contact });
        }
      }
      this.set({}, true);
    } catch {
      // the list shows what it has until the next event or load
    }
    this.announceFilled(ids);
  }

  /** put replaces a conversation with what an action answered, unless the stream already
   * reported a newer state (the answer may have been read before the change it queued). */
  put(c: Conversation) {
    const known = this.byId.get(c.id) ?? this.left.get(c.id);
    if (known && latest(known, c) !== c) return;
    this.conversation(c);
  }

  // Conversations that left the inbox, as they last were: an older answer must not bring one back.
  private left = new Map<string, Pick<Conversation, "updated_at">>();

  /** markSeen records that this agent read the conversation up to its last message. */
  markSeen(id: string) {
    const c = this.byId.get(id);
    const m = c?.last_message;
    if (!m || this.snap.seen[id] === m.id) return;
    const seen = { ...this.snap.seen, [id]: m.id };
    // Only conversations still open are worth remembering.
    for (const k of Object.keys(seen)) if (!this.byId.has(k)) delete seen[k];
    globalThis.localStorage?.setItem(SEEN, JSON.stringify(seen));
    this.set({ seen });
  }

  conversationById(id: string) {
    return this.byId.get(id);
  }

  /** watch calls f with every event of one conversation until the returned function is called. */
  watch(id: string, f: (e: ConversationEvent) => void) {
    let set = this.watchers.get(id);
    if (!set) this.watchers.set(id, (set = new Set()));
    set.add(f);
    return () => {
      set.delete(f);
      if (set.size === 0) this.watchers.delete(id);
    };
  }

  private emit(id: string, e: ConversationEvent) {
    for (const f of this.watchers.get(id) ?? []) f(e);
  }

  private set(p: Partial<Snapshot>, listChanged = false) {
    this.snap = { ...this.snap, ...p };
    if (listChanged) this.snap.list = sortConversations([...this.byId.values()]);
    for (const l of this.listeners) l();
  }
}

function loadSeen(): Record<string, string> {
  try {
    return JSON.parse(globalThis.localStorage?.getItem(SEEN) ?? "{}") ?? {};
  } catch {
    return {};
  }
}

/** useInbox reads the store's snapshot. */
export function useInbox(store: InboxStore) {
  return useSyncExternalStore(store.subscribe, store.get);
}
