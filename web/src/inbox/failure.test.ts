import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import type { Message } from "../api/types";
import { DeliveryFailure } from "./failure";

function render(m: Partial<Message>): string {
  const msg = { direction: "out", status: "sent", ...m } as Message;
  return renderToStaticMarkup(createElement(DeliveryFailure, { m: msg }));
}

describe("a failed message's reason", () => {
  it("shows the platform's code and text under a failed message", () => {
    expect(render({ status: "failed", error: { code: "131047", message: "Re-engagement message" } })).toBe(
      '<p class="msg-failed small"><strong>Not delivered</strong> · 131047 Re-engagement message</p>',
    );
  });
  it("shows Tandem's reason alone when the platform gave no code", () => {
    expect(render({ status: "failed", error: { message: "the customer's 24-hour window is closed" } })).toContain(
      "</strong> · the customer&#x27;s 24-hour window is closed",
    );
  });
  it("still marks a failed message whose reason is not known", () => {
    expect(render({ status: "failed" })).toBe('<p class="msg-failed small"><strong>Not delivered</strong></p>');
  });
  it("shows nothing for a message that was sent, delivered or read, or a customer's", () => {
    for (const status of ["sent", "delivered", "read", undefined] as const) expect(render({ status })).toBe("");
    expect(render({ direction: "in", status: "failed" })).toBe("");
  });
});
