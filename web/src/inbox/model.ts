// The inbox's rules on the client side, pure and unit-tested: which conversations belong in the
// inbox, which queue shows them, the filters and search, and what is unread.
import type { Agent, Conversation, InboxConversation, Message, Team } from "../api/types";

/** inInbox mirrors the server: queued or assigned, and not handed to another desk. */
export function inInbox(c: Pick<Conversation, "status" | "handoff">): boolean {
  if (c.status !== "queued" && c.status !== "assigned") return false;
  const h = c.handoff;
  const active = h?.status === "queued" || h?.status === "connected";
  return !(active && h?.desk && h.desk !== "inbox");
}

/** Queue names a list in the sidebar: mine, queued, all, or a team ("team:support"). */
export type Queue = string;

/** queueOf turns the address's queue segment into a queue (team-support → team:support). */
export function queueOf(seg: string | undefined): Queue {
  if (!seg) return "mine";
  return seg.startsWith("team-") ? "team:" + seg.slice(5) : seg;
}

/** queuePath is the address segment of a queue. */
export function queuePath(q: Queue): string {
  return q.startsWith("team:") ? "team-" + q.slice(5) : q;
}

export function inQueue(c: InboxConversation, q: Queue, me: string): boolean {
  if (q === "mine") return c.status === "assigned" && c.assignee === me;
  if (q === "queued") return c.status === "queued";
  if (q.startsWith("team:")) return c.team === q.slice(5);
  return true;
}

/** Filters narrow a queue's list. Empty fields do not filter. */
export interface Filters {
  search: string;
  status: string;
  team: string;
  channel: string;
  tag: string;
}

export const noFilters: Filters = { search: "", status: "", team: "", channel: "", tag: "" };

export function matches(c: InboxConversation, f: Filters): boolean {
  if (f.status && c.status !== f.status) return false;
  if (f.team && c.team !== f.team) return false;
  if (f.channel && c.channel_id !== f.channel) return false;
  if (f.tag && !(c.tags ?? []).includes(f.tag)) return false;
  const q = f.search.trim().toLowerCase();
  if (!q) return true;
  const ct = c.contact;
  const hay = [ct?.name, ct?.email, ct?.phone, ct?.external_id, c.last_message?.text, c.assignee, c.team, c.id];
  return hay.some((s) => typeof s === "string" && s.toLowerCase().includes(q));
}

/** sortConversations orders a list as the server does: most recently updated first. */
export function sortConversations(list: InboxConversation[]): InboxConversation[] {
  const at = (c: InboxConversation) => c.updated_at ?? "";
  return list.sort((a, b) => (at(a) < at(b) ? 1 : at(a) > at(b) ? -1 : a.id < b.id ? 1 : -1));
}

/** isUnread: the last message is the customer's and this agent has not opened it yet. */
export function isUnread(c: InboxConversation, seen: Record<string, string>): boolean {
  const m = c.last_message;
  if (!m || m.direction !== "in") return false;
  const s = seen[c.id];
  return !s || s < m.id;
}

/** lastMessage is what a conversation's line shows as its last message once m comes (from the
 * stream or a read of the list): m when it is newer, or a newer copy of the same message (the
 * stream sends a message again when it fails, with why), but never a copy that would hide its
 * failure: failed is final. */
export function lastMessage(cur: Message | null | undefined, m: Message): Message {
  if (!cur || cur.id < m.id) return m;
  if (cur.id > m.id) return cur;
  return cur.status === "failed" && m.status !== "failed" ? cur : m;
}

/** counts are the numbers beside each queue. */
export function counts(list: Iterable<InboxConversation>, me: string): Record<string, number> {
  const out: Record<string, number> = { mine: 0, queued: 0, all: 0 };
  for (const c of list) {
    out.all++;
    if (inQueue(c, "mine", me)) out.mine++;
    if (c.status === "queued") out.queued++;
    if (c.team) out["team:" + c.team] = (out["team:" + c.team] ?? 0) + 1;
  }
  return out;
}

/** contactName is how a conversation is named in lists. */
export function contactName(c: Pick<InboxConversation, "contact" | "contact_id">): string {
  const ct = c.contact;
  return ct?.name || ct?.email || ct?.phone || ct?.external_id || "Customer " + (c.contact_id ?? "").slice(-6);
}

/** latest returns the newer of two states of a conversation by updated_at (the incoming one on
 * a tie): an action's answer, read when the action was queued, must not undo a change the event
 * stream already reported (a close that has since moved it out of the inbox). */
export function latest<T extends { updated_at?: string }>(cur: T | null | undefined, next: T): T {
  if (cur?.updated_at && next.updated_at && next.updated_at < cur.updated_at) return cur;
  return next;
}

/** onlineIn is how many of a team's members are online now, from the agents' presence, which
 * the event stream keeps current (the team's own count is as it was when the list was read). */
export function onlineIn(team: Pick<Team, "id" | "members" | "online">, agents: Pick<Agent, "email" | "teams" | "status" | "active">[]): number {
  if (agents.length === 0) return team.online;
  return agents.filter((a) => a.active && a.status === "online" && (team.members.includes(a.email) || a.teams.includes(team.id))).length;
}
