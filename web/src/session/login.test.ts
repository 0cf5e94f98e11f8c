import { describe, expect, it } from "vitest";
import { HTTPError } from "../api/client";
import { loginMessage } from "./Login";

describe("loginMessage", () => {
  it("says how long a throttled agent waits", () => {
    expect(loginMessage(new HTTPError(429, "rate_limited", "x", 6))).toBe("Too many attempts. Wait 6 seconds before trying again.");
    expect(loginMessage(new HTTPError(429, "rate_limited", "x", 1))).toBe("Too many attempts. Wait 1 second before trying again.");
    expect(loginMessage(new HTTPError(429, "rate_limited", "x", 90))).toBe("Too many attempts. Wait 2 minutes before trying again.");
  });
  it("does not tell which of e-mail and password was wrong", () => {
    expect(loginMessage(new HTTPError(401, "unauthorized", "x"))).toBe("That e-mail and password do not match an agent.");
  });
});
