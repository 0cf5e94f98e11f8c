import type { Message } from "../api/types";

/** failureText says why an outbound message did not reach the customer ("Not delivered ·
 * 131047 Re-engagement message"); "" for a message that did not fail. */
export function failureText(m: Pick<Message, "direction" | "status" | "error">): string {
  if (m.direction !== "out" || m.status !== "failed") return "";
  const why = [m.error?.code, m.error?.message].filter(Boolean).join(" ");
  return why ? `Not delivered · ${why}` : "Not delivered";
}

/** DeliveryFailure is a failed message's reason, in small text under it: nothing for any other
 * message. */
export function DeliveryFailure({ m }: { m: Pick<Message, "direction" | "status" | "error"> }) {
  const text = failureText(m);
  if (!text) return null;
  return <p className="msg-failed small">{text}</p>;
}
