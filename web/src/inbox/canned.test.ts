import { describe, expect, it } from "vitest";
import type { Canned } from "../api/types";
import { insertCanned, matchCanned, slashAt } from "./canned";

const c = (shortcut: string, title: string, text: string) => ({ id: shortcut, shortcut, title, text, created_by: "", created_at: "", updated_at: "" }) as Canned;
const list = [c("thanks", "Thank you", "Thank you for contacting us!"), c("hours", "Opening hours", "We are open 9 to 6."), c("refund", "Refunds", "Refunds take 5 days; thank you for waiting.")];

describe("canned responses in the reply box", () => {
  it("finds the /word at the caret, at the start or after a space", () => {
    expect(slashAt("/th", 3)).toEqual({ start: 0, query: "th" });
    expect(slashAt("Hello /Ho", 9)).toEqual({ start: 6, query: "ho" });
    expect(slashAt("/", 1)).toEqual({ start: 0, query: "" });
    expect(slashAt("and/or", 6)).toBeNull();
    expect(slashAt("/th done", 8)).toBeNull();
  });
  it("ranks a shortcut's prefix before mentions in titles and texts", () => {
    expect(matchCanned(list, "th").map((x) => x.shortcut)).toEqual(["thanks", "refund"]);
    expect(matchCanned(list, "").map((x) => x.shortcut)).toEqual(["hours", "refund", "thanks"]);
    expect(matchCanned(list, "open").map((x) => x.shortcut)).toEqual(["hours"]);
    expect(matchCanned(list, "zzz")).toEqual([]);
  });
  it("puts the text in place of what was typed", () => {
    expect(insertCanned("Hi /ho!", 3, 6, "We are open.")).toEqual({ text: "Hi We are open.!", caret: 15 });
  });
});
