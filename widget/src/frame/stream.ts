// Stream reads the session's events: Server-Sent Events through fetch (EventSource cannot send
// the Authorization header), resumed from the last event id after every break, with backoff
// and jitter; when the network buffers streams (no byte arrives), it falls back to long polls.

type Handlers = {
  // message returns false when the message comes after a gap: the position stays before it,
  // so that a reconnect reads the missing ones again.
  message: (m: any, id: string) => boolean;
  // status: a change of the conversation's status, numbered with its messages; false after a
  // gap, as message.
  status: (c: any, id: string) => boolean;
  conversation: (c: any) => void;
  typing: (x: any) => void;
  state: (connected: boolean) => void;
  // stopped: the server answered 204, "stop reconnecting" (SSE semantics).
  stopped: () => void;
  // unauthorized: the server no longer knows the token the stream used; a new session.
  unauthorized: (token: string) => Promise<void>;
};

const FIRST_BYTE_MS = 10000; // the server writes "retry:" at once; nothing by then: buffered
const EMPTY_STREAMS = 2; // streams in a row that ended before their first byte: cut by the network
const SILENCE_MS = 45000; // pings come every 20 s; nothing for this long: the stream is dead

const EMPTY = -1; // sse(): answered 200, ended before its first byte

// ordered lists the events of a long poll's answer — messages and status changes, numbered
// together per conversation — in their order: by conversation, then by seq.
export function ordered(b: any): [string, any][] {
  const all: [string, any][] = [...(b.messages || []).map((m: any) => ["message", m]), ...(b.statuses || []).map((c: any) => ["status", c])];
  const convs: string[] = [];
  for (const [, v] of all) if (!convs.includes(v.conversation_id)) convs.push(v.conversation_id);
  return all.sort((x, y) => convs.indexOf(x[1].conversation_id) - convs.indexOf(y[1].conversation_id) || x[1].seq - y[1].seq);
}

export class Stream {
  private cursor = "";
  private stopped = false;
  private failures = 0;
  private poll = false;
  private polled = false; // a long poll was answered: the next ones wait for news
  private empty = 0; // streams in a row answered 200 that ended without a byte
  private held = false; // a message came after a gap: the position stays before it
  private ctl: AbortController | null = null;
  private used = ""; // the token of the last request

  constructor(
    private base: string,
    private token: () => string,
    private on: Handlers,
  ) {}

  start() {
    this.loop();
  }

  stop() {
    this.stopped = true;
    this.ctl?.abort();
  }

  // reset forgets the position: the next connection replays the session's history.
  reset() {
    this.cursor = "";
    this.polled = false;
  }

  private async loop() {
    while (!this.stopped) {
      if (!navigator.onLine) {
        this.on.state(false);
        await new Promise((r) => addEventListener("online", r, { once: true }));
      }
      let status = 0;
      try {
        status = this.poll ? await this.longPoll() : await this.sse();
      } catch {
        status = 0;
      }
      if (this.stopped) return;
      if (status === 204) {
        this.on.stopped();
        return; // the server asks us to stop (SSE semantics)
      }
      if (status === 401) {
        try {
          await this.on.unauthorized(this.used);
          this.reset();
          continue;
        } catch {}
      }
      if (status === EMPTY) {
        // The server writes "retry:" first: a stream cut before any byte is a proxy or a
        // network that breaks streaming. Twice in a row: long polls from now on.
        if (++this.empty >= EMPTY_STREAMS && !this.poll) {
          this.poll = true;
          this.failures = 0; // the first long poll soon
        }
      } else if (status === 200) this.empty = 0;
      if (status === 200 && !this.poll) {
        // The stream ended (the server restarts or dropped a slow reader): resume soon.
        await new Promise((r) => setTimeout(r, 500 + Math.random() * 1000));
      } else if (status !== 200) {
        this.on.state(false);
        await new Promise((r) => setTimeout(r, Math.min(30000, 1000 * 2 ** this.failures) * (0.5 + Math.random() / 2)));
        this.failures = Math.min(this.failures + 1, 6);
      }
    }
  }

  private headers(): Record<string, string> {
    this.held = false; // a new connection reads again from the position
    this.used = this.token();
    const h: Record<string, string> = { Authorization: "Bearer " + this.used };
    if (this.cursor) h["Last-Event-ID"] = this.cursor;
    return h;
  }

  private async sse(): Promise<number> {
    const ctl = (this.ctl = new AbortController());
    const r = await fetch(this.base + "events", { headers: this.headers(), signal: ctl.signal, cache: "no-store" });
    if (r.status !== 200 || !r.body) return r.status;
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    let got = false;
    let timer = 0;
    const arm = (ms: number) => {
      clearTimeout(timer);
      timer = window.setTimeout(() => {
        if (!got) this.poll = true; // headers came, but no byte: a buffering proxy
        ctl.abort();
      }, ms);
    };
    arm(FIRST_BYTE_MS);
    let ev = { id: "", event: "message", data: "" };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (!got) {
          got = true;
          this.failures = 0;
          this.on.state(true);
        }
        arm(SILENCE_MS);
        buf += dec.decode(value, { stream: true });
        let nl;
        while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + (buf[nl] === "\r" && buf[nl + 1] === "\n" ? 2 : 1));
          if (line === "") {
            if (ev.data) this.dispatch(ev.event, ev.data, ev.id);
            ev = { id: "", event: "message", data: "" };
            continue;
          }
          if (line[0] === ":") continue;
          const i = line.indexOf(":");
          const field = i < 0 ? line : line.slice(0, i);
          const v = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
          if (field === "data") ev.data += (ev.data ? "\n" : "") + v;
          else if (field === "event") ev.event = v;
          else if (field === "id") ev.id = v;
        }
      }
    } catch {
    } finally {
      clearTimeout(timer);
    }
    return got ? 200 : EMPTY;
  }

  private async longPoll(): Promise<number> {
    const ctl = (this.ctl = new AbortController());
    // The first poll answers at once (the history and the status); the next wait for news.
    const wait = this.polled ? "wait=25s&" : "";
    const r = await fetch(this.base + "messages?" + wait + "after=" + encodeURIComponent(this.cursor), { headers: this.headers(), signal: ctl.signal, cache: "no-store" });
    if (r.status !== 200) return r.status;
    const b = await r.json();
    this.polled = true;
    this.failures = 0;
    this.on.state(true);
    for (const [kind, v] of ordered(b)) if (!(kind === "status" ? this.on.status(v, "") : this.on.message(v, ""))) this.held = true;
    for (const c of b.conversations || []) this.on.conversation(c);
    if (b.next_cursor && !this.held) this.cursor = b.next_cursor;
    return 200;
  }

  private dispatch(event: string, data: string, id: string) {
    let v: any;
    try {
      v = JSON.parse(data);
    } catch {
      return;
    }
    // After a gap the position stays before it, until an event is taken in order again.
    if (event === "message") this.held = !this.on.message(v, id);
    else if (event === "status") this.held = !this.on.status(v, id);
    if (id && !this.held) this.cursor = id;
    if (event === "conversation") this.on.conversation(v);
    else if (event === "typing") this.on.typing(v);
  }
}
