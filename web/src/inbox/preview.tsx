// A conversation's line in the list: who wrote the last message and what, marked when that
// message did not reach the customer.
import type { InboxConversation } from "../api/types";
import { failureReason } from "./failure";

/** previewText is the last message in a few words: "You: Hi" (me, the agent looking, wrote it),
 * "bob@acme.com: Hi" (another agent), "Bot: …", an attachment. */
export function previewText(c: Pick<InboxConversation, "last_message">, me?: string): string {
  const m = c.last_message;
  if (!m) return "No messages yet";
  let who = "";
  if (m.direction !== "in") {
    if (m.author === "agent") who = (m.agent && m.agent === me ? "You" : m.agent || "Agent") + ": ";
    else who = m.author === "bot" ? "Bot: " : "";
  }
  return who + (m.text || (m.media ? "Attachment" : m.type));
}

/** Preview is the list's line of a conversation. A last message that did not reach the customer
 * starts it with "Not delivered" in red (why on hover, as under the message), so an agent
 * scanning the list sees which customers did not get the last reply. */
export function Preview({ c, me }: { c: Pick<InboxConversation, "last_message">; me?: string }) {
  const why = c.last_message ? failureReason(c.last_message) : null;
  return (
    <>
      {why !== null && (
        <>
          <span className="row-failed" title={why ? `Not delivered · ${why}` : "Not delivered"}>
            Not delivered
          </span>
          {" · "}
        </>
      )}
      {previewText(c, me)}
    </>
  );
}
