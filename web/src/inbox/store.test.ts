import { describe, expect, it, vi } from "vitest";

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
    vi.stubGlobal("fetch", (input: Request) => {
      const url = new URL(input.url, "http://x");
      if (url.pathname === "/api/v1/inbox/conversations" && url.searchParams.get("limit") === "500") return page.promise;
      if (url.pathname === "/api/v1/inbox/conversations") return Promise.resolve(json({ conversations: [], next_cursor: "" }));
      if (url.pathname === "/api/v1/inbox/teams") return Promise.resolve(json({ teams: [] }));
      if (url.pathname === "/api/v1/inbox/agents") return Promise.resolve(json({ agents: [] }));
      if (url.pathname === "/api/v1/inbox/canned-responses") return Promise.resolve(json({ canned_responses: [] }));
      return Promise.resolve(json({}));
    });
    const { InboxStore } = await import("./store");
    const s = new InboxStore("ana@acme.com");
    const loading = s.load();
    // While the list is read: c2 enters the inbox, c1 leaves it.
    s.apply({ id: "1", event: "conversation", data: JSON.stringify(conv("c2")) });
    s.apply({ id: "2", event: "conversation", data: JSON.stringify(conv("c1", "closed")) });
    page.resolve(json({ conversations: [conv("c1"), conv("c3")], next_cursor: "" }));
    await loading;
    expect(s.get().list.map((c) => c.id).sort()).toEqual(["c2", "c3"]);
    vi.unstubAllGlobals();
  });
});
