import type { Message } from "../api/types";

type Sent = Pick<Message, "direction" | "status" | "error">;

/** failureReason says why an outbound message did not reach the customer: the platform's code
 * and words ("131047 Re-engagement message"), or Tandem's reason; "" when unknown, null for a
 * message that did not fail. */
export function failureReason(m: Sent): string | null {
  if (m.direction !== "out" || m.status !== "failed") return null;
  return [m.error?.code, m.error?.message].filter(Boolean).join(" ");
}

/** DeliveryFailure is a failed message's mark and reason, in small text under it ("Not
 * delivered · 131047 Re-engagement message"): nothing for any other message. */
export function DeliveryFailure({ m }: { m: Sent }) {
  const why = failureReason(m);
  if (why === null) return null;
  return (
    <p className="msg-failed small">
      <strong>Not delivered</strong>
      {why && ` · ${why}`}
    </p>
  );
}
