import { forwardRef, useImperativeHandle, useRef, useState, type KeyboardEvent } from "react";
import { client, call } from "../api/client";
import type { Conversation } from "../api/types";

export interface ComposerHandle {
  focus: (mode: "reply" | "note") => void;
}

interface Props {
  id: string;
  conv: Conversation;
  onSent: (c: Conversation | null) => void;
}

/** Composer is the reply box: a reply to the customer, or an internal note (mode switch, or the
 * r and n shortcuts). Enter sends, Shift+Enter makes a new line. */
export const Composer = forwardRef<ComposerHandle, Props>(function Composer({ id, conv, onSent }, ref) {
  const [mode, setMode] = useState<"reply" | "note">("reply");
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const area = useRef<HTMLTextAreaElement>(null);

  useImperativeHandle(ref, () => ({
    focus(m) {
      setMode(m);
      area.current?.focus();
    },
  }));

  const send = async () => {
    const t = text.trim();
    if (!t || busy) return;
    setBusy(true);
    setError("");
    // The box empties at once, so the agent can type the next message while this one goes;
    // if it fails, the text comes back (unless the agent already wrote something else).
    setText("");
    const path = { params: { path: { id } }, body: { text: t } };
    try {
      if (mode === "note") {
        await call(client.POST("/api/v1/inbox/conversations/{id}/notes", path));
        onSent(null);
      } else {
        onSent(await call(client.POST("/api/v1/inbox/conversations/{id}/messages", path)));
      }
    } catch (err) {
      setError((err as Error).message);
      setText((cur) => cur || t);
    } finally {
      setBusy(false);
    }
  };

  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      void send();
    }
  };

  const closed = conv.status === "closed";
  const label = mode === "note" ? "Internal note (only agents see it)" : "Reply to the customer";
  return (
    <form
      className={"composer " + mode}
      onSubmit={(e) => {
        e.preventDefault();
        void send();
      }}
    >
      <div className="composer-modes" role="radiogroup" aria-label="What to write">
        <label className={"mode" + (mode === "reply" ? " on" : "")}>
          <input type="radio" name="mode" value="reply" checked={mode === "reply"} onChange={() => setMode("reply")} /> Reply <kbd>r</kbd>
        </label>
        <label className={"mode" + (mode === "note" ? " on" : "")}>
          <input type="radio" name="mode" value="note" checked={mode === "note"} onChange={() => setMode("note")} /> Note <kbd>n</kbd>
        </label>
      </div>
      <label htmlFor="composer-text" className="sr-only">
        {label}
      </label>
      <textarea
        id="composer-text"
        ref={area}
        rows={3}
        value={text}
        placeholder={closed && mode === "reply" ? "This conversation is closed." : mode === "note" ? "Write a note for your team…" : "Write a reply…  (Enter sends, Shift+Enter new line)"}
        disabled={closed && mode === "reply"}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKey}
        maxLength={4096}
      />
      <div className="composer-bar">
        <p className="form-error" role="alert">
          {error}
        </p>
        <button className="btn primary" type="submit" disabled={busy || !text.trim()}>
          {mode === "note" ? "Add note" : "Send"}
        </button>
      </div>
    </form>
  );
});
