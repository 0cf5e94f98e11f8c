import { describe, expect, it } from "vitest";
import type { InboxConversation, Message } from "../api/types";
import { counts, inInbox, isUnread, lastMessage, matches, noFilters, onlineIn, sortConversations } from "./model";

function conv(p: Partial<InboxConversation>): InboxConversation {
  return {
    id: "c1", contact_id: "k1", channel_id: "api", channel_kind: "api", status: "queued", team: "support", assignee: "",
    bot: "paused", handoff: { status: "queued", desk: "inbox" }, active_run: null, tags: [], attributes: {},
    created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:00Z", last_message: null, ...p,
  } as InboxConversation;
}

describe("inbox rules", () => {
  it("keeps queued and assigned conversations that no other desk has", () => {
    expect(inInbox(conv({}))).toBe(true);
    expect(inInbox(conv({ status: "assigned" }))).toBe(true);
    expect(inInbox(conv({ status: "bot" }))).toBe(false);
    expect(inInbox(conv({ status: "closed" }))).toBe(false);
    expect(inInbox(conv({ handoff: { status: "connected", desk: "intercom" } }))).toBe(false);
  });

  it("counts each queue", () => {
    const list = [conv({ id: "a" }), conv({ id: "b", status: "assigned", assignee: "ana@acme.com" }), conv({ id: "c", status: "assigned", assignee: "bob@acme.com", team: "sales" })];
    expect(counts(list, "ana@acme.com")).toEqual({ all: 3, mine: 1, queued: 1, "team:support": 2, "team:sales": 1 });
  });

  it("searches contact fields and the last message, without case", () => {
    const c = conv({ contact: { id: "k1", name: "Ana Souza", email: "ana@x.com" } as InboxConversation["contact"], last_message: { id: "m1", text: "Where is my ORDER?" } as InboxConversation["last_message"] });
    expect(matches(c, { ...noFilters, search: "souza" })).toBe(true);
    expect(matches(c, { ...noFilters, search: "order" })).toBe(true);
    expect(matches(c, { ...noFilters, search: "refund" })).toBe(false);
    expect(matches(c, { ...noFilters, team: "sales" })).toBe(false);
    expect(matches(conv({ tags: ["vip"] }), { ...noFilters, tag: "vip" })).toBe(true);
    expect(matches(conv({ tags: [] }), { ...noFilters, tag: "vip" })).toBe(false);
    expect(matches(c, { ...noFilters, channel: "api" })).toBe(true);
    expect(matches(c, { ...noFilters, channel: "whatsapp" })).toBe(false);
    expect(matches(c, { ...noFilters, status: "queued", team: "support", channel: "api", search: "ana" })).toBe(true);
  });

  it("marks a conversation unread until its last customer message is seen", () => {
    const c = conv({ last_message: { id: "m2", direction: "in" } as InboxConversation["last_message"] });
    expect(isUnread(c, {})).toBe(true);
    expect(isUnread(c, { c1: "m1" })).toBe(true);
    expect(isUnread(c, { c1: "m2" })).toBe(false);
    expect(isUnread(conv({ last_message: { id: "m3", direction: "out" } as InboxConversation["last_message"] }), {})).toBe(false);
  });

  it("sorts most recently updated first", () => {
    const l = sortConversations([conv({ id: "a", updated_at: "2026-01-01T00:00:01Z" }), conv({ id: "b", updated_at: "2026-01-01T00:00:02Z" })]);
    expect(l.map((c) => c.id)).toEqual(["b", "a"]);
  });
});

describe("onlineIn", () => {
  it("counts a team's members online now, as the stream reports presence", () => {
    const team = { id: "support", members: ["ana@acme.com", "bob@acme.com"], online: 2 };
    const agent = (email: string, status: "online" | "away" | "offline", active = true) => ({ email, teams: ["support"], status, active });
    // Ana went away after the teams were read: one online, not the two the team said.
    expect(onlineIn(team, [agent("ana@acme.com", "away"), agent("bob@acme.com", "online"), agent("cid@acme.com", "online")].map((a, i) => (i === 2 ? { ...a, teams: ["sales"] } : a)))).toBe(1);
    expect(onlineIn(team, [agent("ana@acme.com", "online", false)])).toBe(0);
    expect(onlineIn(team, [])).toBe(2); // the agents are not read yet
  });

  it("shows the newest message last, and a failure the stream reports once it comes", () => {
    const m = (id: string, status?: Message["status"]) => ({ id, conversation_id: "c1", direction: "out", author: "agent", type: "text", text: id, created_at: "2026-01-01T10:00:00Z", status }) as Message;
    const sent = m("m2", "sent");
    const failed = m("m2", "failed");
    expect(lastMessage(null, sent)).toBe(sent);
    expect(lastMessage(m("m1"), sent)).toBe(sent);
    expect(lastMessage(sent, m("m1", "failed"))).toBe(sent); // an older message failing is not the last one
    expect(lastMessage(sent, failed)).toBe(failed);
    expect(lastMessage(failed, m("m2", "delivered"))).toBe(failed); // failed is final
    expect(lastMessage(failed, m("m3"))).toEqual(m("m3"));
  });
});
