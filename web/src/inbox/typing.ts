// The agent's "typing…" for the customer: while the agent writes a reply, the server is told
// at most once every few seconds (the widget shows "<name> is typing…" for a few seconds each).

/** typingPinger returns a function to call on every keystroke of a reply; it calls send on the
 * first and then at most once per `every` ms. */
export function typingPinger(send: () => void, every = 3000, now: () => number = Date.now): () => void {
  let last = -Infinity;
  return () => {
    const t = now();
    if (t - last < every) return;
    last = t;
    send();
  };
}
