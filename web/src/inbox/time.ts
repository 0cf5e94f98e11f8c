/** ago says how long ago a time was, shortly (now, 5 min, 3 h, 2 d, or the date). */
export function ago(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (!t) return "";
  const s = Math.max(0, (now - t) / 1000);
  if (s < 60) return "now";
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  if (s < 7 * 86400) return `${Math.floor(s / 86400)} d`;
  return new Date(t).toLocaleDateString();
}

/** clock is a message's time of day, with the date when not today. */
export function clock(iso: string): string {
  const d = new Date(iso);
  const today = new Date().toDateString() === d.toDateString();
  const hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  return today ? hm : `${d.toLocaleDateString()} ${hm}`;
}
