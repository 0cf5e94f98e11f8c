import { describe, expect, it } from "vitest";
import type { Message } from "../api/types";
import { addItem, type Item, withLoaded } from "./items";

function msg(id: string, at: string, p: Partial<Message> = {}): Item {
  return { kind: "message", m: { id, conversation_id: "c1", direction: "out", author: "agent", type: "text", text: id, created_at: at, ...p } as Message };
}
const ids = (l: Item[]) => l.map((x) => (x.kind === "message" ? `${x.m.id}:${x.m.status ?? ""}` : x.n.id));

describe("the conversation's history", () => {
  it("adds new messages in the order they were written, once", () => {
    let l = addItem([], msg("b", "2026-01-01T10:00:02Z"));
    l = addItem(l, msg("a", "2026-01-01T10:00:01Z"));
    l = addItem(l, msg("b", "2026-01-01T10:00:02Z"));
    expect(ids(l)).toEqual(["a:", "b:"]);
  });
  it("shows a message's failure when the stream sends it again", () => {
    const l = [msg("a", "2026-01-01T10:00:01Z"), msg("b", "2026-01-01T10:00:02Z", { status: "sent" })];
    const failed = msg("a", "2026-01-01T10:00:01Z", { status: "failed", error: { code: "131047", message: "Re-engagement message" } });
    const got = addItem(l, failed);
    expect(ids(got)).toEqual(["a:failed", "b:sent"]);
    expect(got[0]).toBe(failed);
  });
  it("keeps a failure the load read over an earlier event's copy", () => {
    const loaded = [msg("a", "2026-01-01T10:00:01Z", { status: "failed", error: { message: "the customer's window is closed" } })];
    const got = withLoaded(loaded, [msg("a", "2026-01-01T10:00:01Z"), msg("c", "2026-01-01T10:00:03Z")]);
    expect(ids(got)).toEqual(["a:failed", "c:"]);
  });
});
