// A client for the inbox's event stream (text/event-stream). EventSource cannot send an
// Authorization header, so this reads the stream with fetch; it reconnects after the server's
// `retry` delay with Last-Event-ID, so events missed while away are replayed (or `reset` comes).

/** SSEEvent is one event of a stream. */
export interface SSEEvent {
  id: string;
  event: string;
  data: string;
}

/** SSEParser turns chunks of a text/event-stream into events (the WHATWG rules). */
export class SSEParser {
  private buf = "";
  private data: string[] = [];
  private event = "";
  /** lastId is the id of the last event (kept across events, as the spec says). */
  lastId = "";
  /** retry is the reconnection delay the server asked for, in ms (0: none asked). */
  retry = 0;

  push(chunk: string): SSEEvent[] {
    this.buf += chunk;
    const out: SSEEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (!m) break;
      // A lone \r at the end of a chunk may be the first half of \r\n: wait for more.
      if (m[0] === "\r" && m.index === this.buf.length - 1) break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      const ev = this.line(line);
      if (ev) out.push(ev);
    }
    return out;
  }

  private line(line: string): SSEEvent | null {
    if (line === "") {
      if (this.data.length === 0) {
        this.event = "";
        return null;
      }
      const ev = { id: this.lastId, event: this.event || "message", data: this.data.join("\n") };
      this.data = [];
      this.event = "";
      return ev;
    }
    if (line.startsWith(":")) return null;
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? "" : line.slice(i + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "data":
        this.data.push(value);
        break;
      case "event":
        this.event = value;
        break;
      case "id":
        if (!value.includes("\0")) this.lastId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
    }
    return null;
  }
}

/** StreamOptions configure a stream. */
export interface StreamOptions {
  url: string;
  token: () => string;
  onEvent: (ev: SSEEvent) => void;
  /** onState tells whether the stream is connected (false while it reconnects). */
  onState?: (connected: boolean) => void;
  /** onUnauthorized is called on a 401 and the stream stops. */
  onUnauthorized?: () => void;
}

/** openStream reads the stream until close() is called, reconnecting when it drops. */
export function openStream(o: StreamOptions): { close: () => void } {
  let closed = false;
  let ctrl: AbortController | null = null;
  let lastId = "";
  let delay = 3000;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const run = async () => {
    if (closed) return;
    ctrl = new AbortController();
    const headers: Record<string, string> = { Authorization: `Bearer ${o.token()}`, Accept: "text/event-stream" };
    if (lastId) headers["Last-Event-ID"] = lastId;
    let failed = false;
    try {
      const res = await fetch(o.url, { headers, signal: ctrl.signal, cache: "no-store" });
      if (res.status === 401) {
        o.onUnauthorized?.();
        closed = true;
        return;
      }
      if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
      o.onState?.(true);
      const p = new SSEParser();
      p.lastId = lastId;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const ev of p.push(value)) {
          lastId = p.lastId;
          o.onEvent(ev);
        }
        if (p.retry) delay = p.retry;
      }
    } catch {
      failed = true;
    }
    if (closed) return;
    o.onState?.(false);
    // The server's retry delay; after a failure (server away) at least that, growing to 30 s.
    const wait = failed ? Math.min(delay * 2, 30000) : delay;
    timer = setTimeout(run, wait);
  };
  run();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      ctrl?.abort();
    },
  };
}
