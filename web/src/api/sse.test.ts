import { describe, expect, it } from "vitest";
import { SSEParser } from "./sse";

describe("SSEParser", () => {
  it("reads the inbox stream's events, ids, retry and pings", () => {
    const p = new SSEParser();
    const evs = p.push('retry: 3000\n\nid: a-1\nevent: conversation\ndata: {"id":"c1"}\n\n: ping\n\nid: a-2\nevent: message\ndata: {"id":"m1"}\n\n');
    expect(p.retry).toBe(3000);
    expect(evs).toEqual([
      { id: "a-1", event: "conversation", data: '{"id":"c1"}' },
      { id: "a-2", event: "message", data: '{"id":"m1"}' },
    ]);
    expect(p.lastId).toBe("a-2");
  });

  it("joins an event split across chunks, at any byte, and CRLF lines", () => {
    const text = "id: 7\r\nevent: note\r\ndata: one\r\ndata: two\r\n\r\n";
    for (let i = 1; i < text.length; i++) {
      const p = new SSEParser();
      const evs = [...p.push(text.slice(0, i)), ...p.push(text.slice(i))];
      expect(evs).toEqual([{ id: "7", event: "note", data: "one\ntwo" }]);
    }
  });

  it("sends a reset event with no id, and ignores unknown fields", () => {
    const p = new SSEParser();
    expect(p.push("foo: bar\nevent: reset\ndata: {}\n\n")).toEqual([{ id: "", event: "reset", data: "{}" }]);
  });
});
