import { useState } from "react";
import { client, call } from "../api/client";
import { session, useSession } from "../session/session";
import { enableNotifications } from "./notify";

/** Presence is the agent's status switch in the top bar: only online agents get conversations. */
export function Presence() {
  const s = useSession();
  const [error, setError] = useState("");
  if (!s) return null;
  const status = s.agent.presence || s.agent.status;
  const change = async (v: string) => {
    setError("");
    enableNotifications(); // a user gesture: the moment a browser lets us ask
    try {
      const a = await call(client.PUT("/api/v1/inbox/presence", { body: { status: v as "online" | "away" | "offline" } }));
      session.update(a);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <span className="presence">
      <span className={"dot " + status} aria-hidden="true" />
      <label htmlFor="presence" className="sr-only">
        Your status
      </label>
      <select id="presence" value={status} onChange={(e) => change(e.target.value)} title={error || "Only online agents get new conversations"}>
        <option value="online">Online</option>
        <option value="away">Away</option>
        <option value="offline">Offline</option>
      </select>
    </span>
  );
}
