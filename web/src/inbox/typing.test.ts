import { describe, expect, it } from "vitest";
import { typingPinger } from "./typing";

describe("typingPinger", () => {
  it("tells the server on the first keystroke, then at most once per interval", () => {
    let t = 1000;
    const sent: number[] = [];
    const ping = typingPinger(() => sent.push(t), 3000, () => t);
    ping();
    t += 500;
    ping();
    t += 2000;
    ping();
    expect(sent).toEqual([1000]);
    t += 600; // 3.1 s after the first
    ping();
    ping();
    expect(sent).toEqual([1000, 4100]);
  });
});
