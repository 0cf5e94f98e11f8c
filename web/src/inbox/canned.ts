// Canned responses in the reply box: typing / and a few letters offers the workspace's canned
// responses; picking one puts its text in place of what was typed.
import type { Canned } from "../api/types";

/** slashAt finds the "/word" being typed at the caret: at the start of the text or after a space. */
export function slashAt(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  const m = /(^|\s)\/([^\s/]*)$/.exec(before);
  if (!m) return null;
  return { start: caret - m[2].length - 1, query: m[2].toLowerCase() };
}

/** matchCanned ranks canned responses for a query: shortcut prefix first, then any mention. */
export function matchCanned(list: Canned[], query: string, max = 8): Canned[] {
  const q = query.toLowerCase();
  const score = (c: Canned) => {
    if (c.shortcut.startsWith(q)) return 0;
    if (c.shortcut.includes(q)) return 1;
    if (c.title.toLowerCase().includes(q)) return 2;
    if (c.text.toLowerCase().includes(q)) return 3;
    return 9;
  };
  return list
    .map((c) => [score(c), c] as const)
    .filter(([s]) => s < 9)
    .sort((a, b) => a[0] - b[0] || (a[1].shortcut < b[1].shortcut ? -1 : 1))
    .slice(0, max)
    .map(([, c]) => c);
}

/** insertCanned replaces the "/query" at start with the canned text; returns the text and caret. */
export function insertCanned(text: string, start: number, caret: number, canned: string): { text: string; caret: number } {
  const out = text.slice(0, start) + canned + text.slice(caret);
  return { text: out, caret: start + canned.length };
}
