// The conversation view's history: messages and internal notes, in the order they were written.
import type { Message, Note } from "../api/types";

export type Item = { kind: "message"; m: Message } | { kind: "note"; n: Note };

const keyOf = (x: Item) => (x.kind === "message" ? x.m.id : x.n.id);

/** addItem adds an item the history does not hold yet, in its place. One it holds is kept,
 * unless the new copy is of a message that failed: the event stream sends a message again
 * once it fails, with why. */
export function addItem(cur: Item[], it: Item): Item[] {
  const i = cur.findIndex((x) => keyOf(x) === keyOf(it));
  if (i < 0) return sortItems([...cur, it]);
  if (it.kind !== "message" || it.m.status !== "failed") return cur;
  const next = cur.slice();
  next[i] = it;
  return next;
}

/** withLoaded is the history as loaded, with what events brought meanwhile added. */
export function withLoaded(loaded: Item[], cur: Item[]): Item[] {
  let out = sortItems(loaded.slice());
  for (const x of cur) out = addItem(out, x);
  return out;
}

export function sortItems(list: Item[]): Item[] {
  const at = (x: Item) => (x.kind === "message" ? x.m.created_at + x.m.id : x.n.created_at + x.n.id);
  return list.sort((a, b) => (at(a) < at(b) ? -1 : 1));
}
