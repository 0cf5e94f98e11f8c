import { afterAll, describe, expect, it, vi } from "vitest";
import type { Conversation } from "../api/types";

// The API client keeps the fetch it found when first loaded: one stub for the file, answering
// with each test's server.
let server: (input: Request) => Promise<Response> = () => Promise.reject(new Error("no server"));
vi.stubGlobal("fetch", (input: Request) => server(input));
afterAll(() => vi.unstubAllGlobals());

// A page of the inbox list the server answers once the test lets it.
function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const conv = (id: string, status = "queued") => ({
  id, contact_id: "k-" + id, channel_id: "api", channel_kind: "api", status, team: "support", assignee: "", bot: "paused",
  handoff: { status: "queued", desk: "inbox" }, active_run: null, tags: [], attributes: {},
  created_at: "2026-01-01T00:00:00Z", updated_at: "2026-01-01T00:00:0" + id.slice(-1) + "Z", last_message: null,
});

describe("InboxStore", () => {
  it("keeps what the stream changed while the first load was in flight", async () => {
    const page = deferred<Response>();
    const json = (v: unknown) => new Response(JSON.stringify(v), { status: 200, headers: { "Content-Type": "application/json" } });
    server = (input: Request) => {
      const url = new URL(input.url, "http://x");
      if (url.pathname === "/api/v1/inbox/conversations" && url.searchParams.get("limit") === "500") return page.promise;
      if (url.pathname === "/api/v1/inbox/conversations") return Promise.resolve(json({ conversations: [], next_cursor: "" }));
      if (url.pathname === "/api/v1/inbox/teams") return Promise.resolve(json({ teams: [] }));
      if (url.pathname === "/api/v1/inbox/agents") return Promise.resolve(json({ agents: [] }));
      if (url.pathname === "/api/v1/inbox/canned-responses") return Promise.resolve(json({ canned_responses: [] }));
      return Promise.resolve(json({}));
    };
    const { InboxStore } = await import("./store");
    const s = new InboxStore("ana@acme.com");
    const loading = s.load();
    // While the list is read: c2 enters the inbox, c1 leaves it.
    s.apply({ id: "1", event: "conversation", data: JSON.stringify(conv("c2")) });
    s.apply({ id: "2", event: "conversation", data: JSON.stringify(conv("c1", "closed")) });
    page.resolve(json({ conversations: [conv("c1"), conv("c3")], next_cursor: "" }));
    await loading;
    expect(s.get().list.map((c) => c.id).sort()).toEqual(["c2", "c3"]);
  });

  it("announces a new assignment with the customer's name, read after the stream's event", async () => {
    const json = (v: unknown) => new Response(JSON.stringify(v), { status: 200, headers: { "Content-Type": "application/json" } });
    const named = { ...conv("c4", "assigned"), assignee: "ana@acme.com", contact: { id: "k-c4", name: "Ana Souza" }, last_message: { id: "m9", conversation_id: "c4", direction: "in", author: "contact", type: "text", text: "Hello?", created_at: "2026-01-01T00:00:09Z" } };
    server = (input: Request) => {
      const url = new URL(input.url, "http://x");
      if (url.pathname === "/api/v1/inbox/conversations") return Promise.resolve(json({ conversations: [named], next_cursor: "" }));
      return Promise.resolve(json({}));
    };
    const { InboxStore } = await import("./store");
    const s = new InboxStore("ana@acme.com");
    const told: string[] = [];
    s.onAssigned = (c) => told.push(c.contact?.name ?? "no name");
    // The stream's conversation event carries no contact.
    s.apply({ id: "1", event: "conversation", data: JSON.stringify({ ...conv("c4", "assigned"), assignee: "ana@acme.com" }) });
    expect(told).toEqual([]);
    await vi.waitFor(() => expect(told).toEqual(["Ana Souza"]));
  });

  it("does not bring back a conversation the stream saw leave, from an older action's answer", async () => {
    server = () => Promise.resolve(new Response(JSON.stringify({ conversations: [], next_cursor: "" }), { status: 200, headers: { "Content-Type": "application/json" } }));
    const { InboxStore } = await import("./store");
    const s = new InboxStore("ana@acme.com");
    const queued = { ...conv("c5"), updated_at: "2026-01-01T00:00:05Z" } as unknown as Conversation;
    s.put(queued);
    expect(s.get().list.map((c) => c.id)).toEqual(["c5"]);
    // The agent closes: the stream reports it back with the bot before the close's 202 (read
    // when the close was queued) arrives.
    s.apply({ id: "3", event: "conversation", data: JSON.stringify({ ...queued, status: "bot", handoff: { status: "closed" }, updated_at: "2026-01-01T00:00:06Z" }) });
    expect(s.get().list).toEqual([]);
    s.put(queued);
    expect(s.get().list).toEqual([]);
  });

  it("marks a conversation's last reply undelivered as soon as the stream says it failed", async () => {
    const reply = { id: "m7", conversation_id: "c6", direction: "out", author: "agent", type: "text", text: "Your parcel left today.", created_at: "2026-01-01T00:00:07Z" };
    const listed = { ...conv("c6", "assigned"), assignee: "ana@acme.com", contact: { id: "k-c6", name: "Sheena Nelson" }, last_message: { ...reply, status: "sent" } };
    const json = (v: unknown) => new Response(JSON.stringify(v), { status: 200, headers: { "Content-Type": "application/json" } });
    server = (input: Request) => {
      const url = new URL(input.url, "http://x");
      if (url.pathname === "/api/v1/inbox/conversations") return Promise.resolve(json({ conversations: [listed], next_cursor: "" }));
      if (url.pathname === "/api/v1/inbox/canned-responses") return Promise.resolve(json({ canned_responses: [] }));
      return Promise.resolve(json({ teams: [], agents: [] }));
    };
    const { InboxStore } = await import("./store");
    const { failureReason } = await import("./failure");
    const s = new InboxStore("ana@acme.com");
    await s.load();
    const last = () => s.get().list[0].last_message!;
    expect(failureReason(last())).toBeNull();
    const failed = { ...reply, status: "failed", error: { code: "131049", message: "This message was not delivered to maintain healthy ecosystem engagement." } };
    s.apply({ id: "4", event: "message", data: JSON.stringify(failed) });
    expect(failureReason(last())).toBe("131049 This message was not delivered to maintain healthy ecosystem engagement.");
    // A copy of the reply sent before it failed (a replay) does not hide the failure.
    s.apply({ id: "3", event: "message", data: JSON.stringify({ ...reply, status: "sent" }) });
    expect(last().status).toBe("failed");
    // A new message, carrying its status, is the last one.
    s.apply({ id: "5", event: "message", data: JSON.stringify({ ...reply, id: "m8", text: "Are you there?", status: "failed", error: { message: "the customer blocked this business" } }) });
    expect([last().id, failureReason(last())]).toEqual(["m8", "the customer blocked this business"]);
  });
});
