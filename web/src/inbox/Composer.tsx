import { forwardRef, useEffect, useImperativeHandle, useRef, useState, type KeyboardEvent } from "react";
import { client, call } from "../api/client";
import type { Canned, Conversation } from "../api/types";
import { insertCanned, matchCanned, slashAt } from "./canned";
import { sizeText } from "../api/media";
import { typingPinger } from "./typing";
import { Paperclip } from "./icons";

export interface ComposerHandle {
  focus: (mode: "reply" | "note") => void;
}

interface Props {
  id: string;
  conv: Conversation;
  canned: Canned[];
  onSent: (c: Conversation | null) => void;
}

/** Composer is the reply box: a reply to the customer, or an internal note (mode switch, or the
 * r and n shortcuts). Enter sends, Shift+Enter makes a new line. */
export const Composer = forwardRef<ComposerHandle, Props>(function Composer({ id, conv, canned, onSent }, ref) {
  const [mode, setMode] = useState<"reply" | "note">("reply");
  const [text, setText] = useState("");
  const [caret, setCaret] = useState(0);
  const [pick, setPick] = useState(0);
  const [dismissed, setDismissed] = useState(-1);
  const [error, setError] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const area = useRef<HTMLTextAreaElement>(null);
  const picker = useRef<HTMLInputElement>(null);
  // While the agent writes a reply, the customer sees "typing…" (the web widget does).
  const [typing] = useState(() =>
    typingPinger(() => {
      client.POST("/api/v1/inbox/conversations/{id}/typing", { params: { path: { id } } }).catch(() => {});
    }),
  );
  // A key the box handled on keydown (Enter: send or pick) must not also be typed: browsers drop
  // its keypress when keydown is cancelled, but some synthetic input sends it anyway.
  const handled = useRef("");
  useEffect(() => {
    const el = area.current;
    if (!el) return;
    const onPress = (e: globalThis.KeyboardEvent) => {
      if (handled.current && e.key === handled.current) e.preventDefault();
      handled.current = "";
    };
    const onUp = () => (handled.current = "");
    el.addEventListener("keypress", onPress);
    el.addEventListener("keyup", onUp);
    return () => {
      el.removeEventListener("keypress", onPress);
      el.removeEventListener("keyup", onUp);
    };
  }, []);

  useImperativeHandle(ref, () => ({
    focus(m) {
      setMode(m);
      area.current?.focus();
    },
  }));

  // Sends go one after the other, in the order written: the agent never waits for the last one
  // to be accepted before sending the next (a note right after a reply, say).
  const queue = useRef<Promise<void>>(Promise.resolve());
  const send = () => {
    const t = text.trim();
    const f = mode === "reply" ? file : null;
    if (!t && !f) return;
    const m = mode;
    setError("");
    // The box empties at once; if the send fails, the text (and the file) come back (unless
    // the agent already wrote something else).
    setText("");
    setFile(null);
    const path = { params: { path: { id } }, body: { text: t } };
    queue.current = queue.current.then(async () => {
      try {
        if (m === "note") {
          await call(client.POST("/api/v1/inbox/conversations/{id}/notes", path));
          onSent(null);
        } else if (f) {
          const form = new FormData();
          if (t) form.append("text", t);
          form.append("file", f, f.name);
          onSent(await call(client.POST("/api/v1/inbox/conversations/{id}/attachments", { params: { path: { id } }, body: form as never })));
        } else {
          onSent(await call(client.POST("/api/v1/inbox/conversations/{id}/messages", path)));
        }
      } catch (err) {
        setError((err as Error).message);
        setText((cur) => cur || t);
        if (f) setFile((cur) => cur ?? f);
      }
    });
  };

  // The canned responses offered for the "/word" at the caret.
  const slash = slashAt(text, caret);
  const offers = slash && slash.start !== dismissed ? matchCanned(canned, slash.query) : [];
  const choose = (c: Canned) => {
    if (!slash) return;
    const r = insertCanned(text, slash.start, caret, c.text);
    setText(r.text);
    setCaret(r.caret);
    requestAnimationFrame(() => area.current?.setSelectionRange(r.caret, r.caret));
  };

  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (offers.length > 0) {
      const i = Math.min(pick, offers.length - 1);
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        setPick((i + (e.key === "ArrowDown" ? 1 : offers.length - 1)) % offers.length);
        return;
      }
      if ((e.key === "Enter" || e.key === "Tab") && !e.shiftKey) {
        e.preventDefault();
        handled.current = e.key;
        choose(offers[i]);
        return;
      }
      if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        setDismissed(slash!.start);
        return;
      }
    }
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      handled.current = e.key;
      send();
    }
  };

  const closed = conv.status === "closed";
  const label = mode === "note" ? "Internal note (only agents see it)" : "Reply to the customer";
  return (
    <form
      className={"composer " + mode}
      onSubmit={(e) => {
        e.preventDefault();
        send();
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
        placeholder={closed && mode === "reply" ? "This conversation is closed." : mode === "note" ? "Write a note for your team…" : "Write a reply…  (Enter sends, Shift+Enter new line, / canned responses)"}
        disabled={closed && mode === "reply"}
        onChange={(e) => {
          setText(e.target.value);
          if (mode === "reply" && e.target.value.trim()) typing();
          setCaret(e.target.selectionStart);
          setPick(0);
        }}
        onSelect={(e) => setCaret(e.currentTarget.selectionStart)}
        onKeyDown={onKey}
        role="combobox"
        aria-expanded={offers.length > 0}
        aria-controls="canned-list"
        aria-autocomplete="list"
        aria-activedescendant={offers.length > 0 ? `canned-${offers[Math.min(pick, offers.length - 1)].id}` : undefined}
        maxLength={4096}
      />
      {offers.length > 0 && (
        <ul id="canned-list" role="listbox" className="canned" aria-label="Canned responses">
          {offers.map((c, i) => (
            <li
              key={c.id}
              id={`canned-${c.id}`}
              role="option"
              aria-selected={i === Math.min(pick, offers.length - 1)}
              onMouseDown={(e) => {
                e.preventDefault();
                choose(c);
              }}
            >
              <strong>/{c.shortcut}</strong> {c.title && <span className="muted small">{c.title}</span>}
              <span className="canned-text small">{c.text}</span>
            </li>
          ))}
        </ul>
      )}
      {slash && offers.length === 0 && slash.start !== dismissed && (
        <p className="muted small" role="status">
          {canned.length === 0 ? "No canned responses yet: an admin adds them under Admin → Canned responses." : `No canned response matches /${slash.query}.`}
        </p>
      )}
      {mode === "reply" && file && (
        <p className="attachment">
          <span>
            <Paperclip /> <strong>{file.name}</strong> <span className="muted">({sizeText(file.size)})</span>
          </span>
          <button type="button" className="btn ghost small" onClick={() => setFile(null)} aria-label={`Remove ${file.name}`}>
            ✕
          </button>
        </p>
      )}
      <div className="composer-bar">
        {mode === "reply" && (
          <>
            <input
              ref={picker}
              id="composer-file"
              type="file"
              hidden
              onChange={(e) => {
                setFile(e.target.files?.[0] ?? null);
                e.target.value = "";
                area.current?.focus();
              }}
            />
            <button type="button" className="btn ghost" onClick={() => picker.current?.click()} disabled={closed} title="Attach a file">
              <Paperclip /> Attach
            </button>
          </>
        )}
        <p className="form-error" role="alert">
          {error}
        </p>
        <button className="btn primary" type="submit" disabled={!text.trim() && !(mode === "reply" && file)}>
          {mode === "note" ? "Add note" : "Send"}
        </button>
      </div>
    </form>
  );
});
