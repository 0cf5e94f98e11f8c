import { useEffect, useRef } from "react";

/** useShortcuts binds single keys while focus is not in a text field (Escape leaves one). */
export function useShortcuts(keys: Record<string, () => void>) {
  const ref = useRef(keys);
  useEffect(() => {
    ref.current = keys;
  });
  useEffect(() => {
    // A key that moves the focus into a text field (r, n) must not be typed there too: browsers
    // drop its keypress when keydown is cancelled, but some synthetic input sends it anyway.
    let swallow = "";
    const onPress = (e: KeyboardEvent) => {
      if (swallow && e.key === swallow) e.preventDefault();
      swallow = "";
    };
    const onUp = () => {
      swallow = "";
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
      const t = e.target as HTMLElement;
      const typing = t.closest("input, textarea, select, [contenteditable=true]");
      if (typing) {
        if (e.key === "Escape") (t as HTMLElement).blur();
        return;
      }
      if (t.closest("dialog")) return;
      const f = ref.current[e.key];
      if (f) {
        e.preventDefault();
        swallow = e.key;
        f();
      }
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("keypress", onPress, true);
    document.addEventListener("keyup", onUp, true);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("keypress", onPress, true);
      document.removeEventListener("keyup", onUp, true);
    };
  }, []);
}

const list: [string, string][] = [
  ["j / k", "Next / previous conversation"],
  ["r", "Reply to the customer"],
  ["n", "Write an internal note"],
  ["a", "Assign the conversation to me"],
  ["e", "Close the conversation"],
  ["/", "Search conversations (in the reply box: canned responses)"],
  ["Enter", "Send (Shift+Enter: new line)"],
  ["Esc", "Leave the text field"],
  ["?", "This help"],
];

/** Shortcuts is the help dialog of the keyboard shortcuts. */
export function Shortcuts({ onClose }: { onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current!;
    d.showModal();
    return () => d.close();
  }, []);
  return (
    <dialog ref={ref} className="dialog" aria-labelledby="shortcuts-title" onClose={onClose} onCancel={onClose}>
      <h2 id="shortcuts-title">Keyboard shortcuts</h2>
      <table className="keys">
        <tbody>
          {list.map(([k, v]) => (
            <tr key={k}>
              <th scope="row">
                <kbd>{k}</kbd>
              </th>
              <td>{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <button className="btn primary" autoFocus onClick={onClose}>
        Close
      </button>
    </dialog>
  );
}
