import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import type { InboxConversation, Message } from "../api/types";
import { Preview } from "./preview";

function line(m: Partial<Message> | null, me = "ana@acme.com"): string {
  const last = m && ({ id: "m1", conversation_id: "c1", direction: "out", author: "agent", agent: "ana@acme.com", type: "text", text: "Your parcel left today.", created_at: "2026-01-01T10:00:00Z", ...m } as Message);
  return renderToStaticMarkup(createElement(Preview, { c: { last_message: last } as InboxConversation, me }));
}

describe("a conversation's line in the list", () => {
  it("marks a last reply that did not reach the customer, with why on hover", () => {
    expect(line({ status: "failed", error: { code: "131047", message: "Re-engagement message" } })).toBe(
      '<span class="row-failed" title="Not delivered · 131047 Re-engagement message">Not delivered</span> · You: Your parcel left today.',
    );
    expect(line({ author: "bot", status: "failed" })).toBe('<span class="row-failed" title="Not delivered">Not delivered</span> · Bot: Your parcel left today.');
  });
  it("marks nothing else", () => {
    for (const status of ["sent", "delivered", "read", undefined] as const) expect(line({ status })).toBe("You: Your parcel left today.");
    expect(line({ direction: "in", author: "contact", status: "failed", text: "Hello?" })).toBe("Hello?");
    expect(line(null)).toBe("No messages yet");
  });
  it("says who wrote the last reply: you, another agent by name, or the bot", () => {
    expect(line({})).toBe("You: Your parcel left today.");
    expect(line({}, "bob@acme.com")).toBe("ana@acme.com: Your parcel left today.");
    expect(line({ agent: undefined })).toBe("Agent: Your parcel left today.");
    expect(line({ author: "bot", agent: undefined })).toBe("Bot: Your parcel left today.");
  });
});
