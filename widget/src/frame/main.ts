// The chat frame: a page on Tandem's origin, shown in the loader's iframe (or alone, as a
// standalone chat page). It holds the session token, sends the visitor's messages, and reads
// the server's events (SSE through fetch, with a long-poll fallback).
import { CALL, EVENT, INIT, READY, RESULT, SHOWN, WANT, isWire, type Wire } from "../protocol";
import { fill, pick, type Texts } from "./i18n";
import { Stream, ordered } from "./stream";

type Button = { id: string; title: string };
type Media = { url: string; mime?: string; name?: string };
type Msg = {
  id: string;
  seq: number;
  conversation_id: string;
  direction: "in" | "out";
  author: "contact" | "bot" | "agent" | "system";
  type: string;
  text?: string;
  buttons?: Button[] | null;
  render?: string;
  media?: Media | null;
  client_id?: string | null;
  agent?: { name: string; avatar_url?: string } | null;
  created_at: string;
};
type Conv = { conversation_id: string; status: string; agent?: { name: string; avatar_url?: string } | null };
// A change of a conversation's status: an event numbered with its messages.
type Status = Conv & { seq: number };
type Config = {
  channel: string;
  title?: string;
  color?: string;
  position?: "left" | "right";
  launcher_text?: string;
  locale?: string;
  uploads?: boolean;
  max_upload_bytes?: number;
  max_text?: number;
};
// An own message not yet confirmed by the server.
type Outgoing = { client_id: string; body: Record<string, unknown>; el: HTMLElement; state: "sending" | "sent" | "failed" };

const d = document;
const cfg: Config = JSON.parse(d.getElementById("tandem-config")?.textContent || "{}");
const url = new URL(location.href);
const params = url.searchParams;
const channel = cfg.channel || params.get("channel") || "web";
const base = new URL(encodeURIComponent(channel) + "/", location.href).href; // …/widget/v1/{channel}/
const parentOrigin = window.parent !== window ? params.get("origin") || "" : "";
const tokenKey = "tandem:" + channel + ":token";
const standalone = !parentOrigin;

let [locale, t] = pick(params.get("locale") || cfg.locale || navigator.language);
let token = "";
let verified = false;
let shown = standalone;
let unread = 0;
let status: Conv = { conversation_id: "", status: "" };
let conversationId = "";
let blocked = ""; // a reason sending is impossible (origin not allowed, login required)
const lastSeq: Record<string, number> = {}; // per conversation: the last seq taken (a message or a status change)
const lastCursor: Record<string, string> = {}; // per conversation: the cursor of that event
let told = ""; // the conversation, status and agent the page was last told (`conversation` event)
const rendered = new Set<string>(); // message ids on screen
const outgoing = new Map<string, Outgoing>(); // by client_id
let stream: Stream | null = null;
// What the page said of the visitor and its variables: a session opened again (the first
// expired or was forgotten) gets them too. reset() forgets the user, not the variables.
let pageUser: Record<string, unknown> | undefined;
let pageVars: Record<string, unknown> = {};

// Marks, kept in localStorage across the site's pages: per conversation, the last message
// shown (older ones are history: no `message` event) and the last one shown while the chat
// was open (newer messages from the bot or agents are unread).
type Marks = { seen: Record<string, number>; read: Record<string, number> };
const marksKey = "tandem:" + channel + ":marks";
let marks: Marks = { seen: {}, read: {} };
try {
  const m = JSON.parse(localStorage.getItem(marksKey) || "null");
  if (m && m.seen && m.read) marks = m;
} catch {}
function saveMarks() {
  for (const k of ["seen", "read"] as const) {
    const ids = Object.keys(marks[k]);
    for (const id of ids.slice(0, Math.max(0, ids.length - 50))) delete marks[k][id]; // the last 50 conversations
  }
  try {
    localStorage.setItem(marksKey, JSON.stringify(marks));
  } catch {}
}

// ---- the page ----

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const el = d.createElement(tag);
  for (const k in attrs) el.setAttribute(k, attrs[k]);
  el.append(...kids);
  return el;
}

const titleEl = h("h1", { id: "title" });
const statusEl = h("p", { class: "status", id: "status" });
const avatarEl = h("span", { class: "avatar", "aria-hidden": "true" });
const closeBtn = h("button", { type: "button", class: "icon close" });
closeBtn.innerHTML = '<svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2.5" stroke-linecap="round"><path d="M6 6l12 12M18 6L6 18"/></svg>';
const header = h("header", {}, avatarEl, h("div", { class: "who" }, titleEl, statusEl), closeBtn);
const log = h("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", tabindex: "0" });
const typingEl = h("p", { class: "typing", "aria-live": "polite" });
const noticeEl = h("p", { class: "notice", role: "alert" });
const input = h("textarea", { id: "text", rows: "1", maxlength: String(cfg.max_text || 4096) });
const inputLabel = h("label", { for: "text", class: "sr" });
const sendBtn = h("button", { type: "submit", class: "icon send" });
sendBtn.innerHTML = '<svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true" fill="currentColor"><path d="M3 20.5l18-8.5L3 3.5 3 10l12 2-12 2z"/></svg>';
const fileInput = h("input", { type: "file", class: "sr", tabindex: "-1" });
const attachBtn = h("button", { type: "button", class: "icon attach" });
attachBtn.innerHTML = '<svg width="20" height="20" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round"><path d="M21 11l-8.5 8.5a5 5 0 0 1-7-7L14 4a3.5 3.5 0 0 1 5 5l-8.5 8.5a2 2 0 0 1-3-3L15 7"/></svg>';
const form = h("form", { class: "composer" }, inputLabel, input, fileInput, sendBtn);
if (cfg.uploads) form.insertBefore(attachBtn, sendBtn);
const main = h("main", { "aria-labelledby": "title" }, header, log, typingEl, noticeEl, form);
if (standalone) main.classList.add("standalone");
d.body.append(main);
if (cfg.color) d.documentElement.style.setProperty("--accent", cfg.color);

function paintTexts() {
  d.documentElement.lang = locale;
  titleEl.textContent = cfg.title || t.title;
  input.placeholder = t.placeholder;
  inputLabel.textContent = t.placeholder;
  sendBtn.setAttribute("aria-label", t.send);
  attachBtn.setAttribute("aria-label", t.attach);
  closeBtn.setAttribute("aria-label", t.close);
  log.setAttribute("aria-label", t.messages);
  closeBtn.hidden = standalone;
  paintStatus();
}

let connected = false;
let stopped = false; // the server ended the stream for good (204)
function paintStatus() {
  const a = status.agent;
  let s = t.online;
  if (stopped) s = ""; // the notice says it
  else if (!connected) s = t.connecting;
  else if (status.status === "queued") s = t.queued;
  else if (status.status === "assigned" && a) s = fill(t.assigned, { name: a.name });
  else if (status.status === "closed") s = t.closed;
  statusEl.textContent = s;
  main.classList.toggle("connecting", !connected && !stopped);
  paintAvatar(avatarEl, status.status === "assigned" && a ? a : null);
}

function paintAvatar(el: HTMLElement, who: { name: string; avatar_url?: string } | null) {
  el.textContent = "";
  el.classList.toggle("agent", !!who);
  if (who && who.avatar_url) el.append(h("img", { src: who.avatar_url, alt: "" }));
  else if (who) {
    const i = initials(who.name);
    if (i) el.textContent = i;
    else el.innerHTML = personIcon; // a name without letters
  }
}

const personIcon = '<svg width="60%" height="60%" viewBox="0 0 24 24" aria-hidden="true" fill="currentColor"><circle cx="12" cy="8" r="4.5"/><path d="M3 21a9 9 0 0 1 18 0z"/></svg>';

// initials are the first letters of a name's first and last words ("Ana Lima" → "AL"), leaving
// out what is in brackets ("Ana (demo agent)" → "A") and anything that is not a letter
// (punctuation, digits, emoji); "" when no word has a letter.
function initials(name: string): string {
  const letters = (s: string) =>
    s
      .split(/\s+/)
      .map((w) => (w.match(/\p{L}\p{M}*/u) || [""])[0])
      .filter(Boolean);
  let words = letters(name.replace(/\([^)]*\)|\[[^\]]*\]/g, " "));
  if (!words.length) words = letters(name); // all of it in brackets
  return (words.length > 1 ? words[0] + words[words.length - 1] : words.join("")).toLocaleUpperCase();
}

function notice(text: string) {
  noticeEl.textContent = text;
  noticeEl.hidden = !text;
}

// ---- talking to the loader ----

function toParent(type: string, payload?: unknown, id?: string) {
  if (!parentOrigin) return;
  const m: Wire = { tandem: 1, type, payload };
  if (id) m.id = id;
  window.parent.postMessage(m, parentOrigin);
}

function emit(name: string, detail?: unknown) {
  toParent(EVENT, { name, detail });
}

let initDone: (v: any) => void;
const initP = new Promise<any>((r) => (initDone = r));

window.addEventListener("message", (e: MessageEvent) => {
  if (!parentOrigin || e.origin !== parentOrigin || e.source !== window.parent || !isWire(e.data)) return;
  const m = e.data;
  const p = m.payload || {};
  if (m.type === INIT) initDone(p);
  else if (m.type === SHOWN) onShown(!!p.open);
  else if (m.type === CALL) {
    const fn = (calls as any)[p.method];
    Promise.resolve()
      .then(() => {
        if (!fn) throw apiError("invalid", "Tandem." + p.method + " is not a function.");
        return fn(...(p.args || []));
      })
      .then(
        (value) => toParent(RESULT, { ok: true, value }, m.id),
        (err) => toParent(RESULT, { ok: false, error: { code: err.code || "error", message: err.message } }, m.id),
      );
  }
});

function apiError(code: string, message: string) {
  return Object.assign(new Error(message), { code });
}

const calls = {
  async setUser(user: Record<string, unknown>) {
    // An e-mail or a name alone (Tandem.setEmail) adds to the user the page identified: the
    // session stays theirs, now and when it is opened again.
    if (!user.externalId && pageUser?.externalId) user = { ...pageUser, ...user };
    const r = await session({ user });
    pageUser = user;
    return { verified: r.verified };
  },
  async reset() {
    // The server forgets the session (its token stops working); a new anonymous one starts,
    // with the page's variables, and greets the visitor if the chat is open.
    const old = token;
    token = "";
    pageUser = undefined;
    marks = { seen: {}, read: {} };
    try {
      localStorage.removeItem(tokenKey);
      localStorage.removeItem(marksKey);
    } catch {}
    if (old) fetch(base + "sessions", { method: "DELETE", headers: { Authorization: "Bearer " + old } }).catch(() => {});
    clearLog();
    setUnread(0);
    await session(identity());
    connect();
    if (shown) openConversation();
  },
  async setContactAttributes(a: Record<string, unknown>) {
    await call("POST", "attributes", { contact: a });
  },
  async setConversationAttributes(a: Record<string, unknown>) {
    await call("POST", "attributes", { conversation: a });
  },
  async setLocale(l: string) {
    [locale, t] = pick(l);
    paintTexts();
    await session({ locale: l });
  },
  async sendMessage(text: string) {
    return send({ text: String(text) }, String(text));
  },
};

function onShown(v: boolean) {
  shown = v;
  if (v) {
    for (const conv in lastSeq) marks.read[conv] = Math.max(marks.read[conv] || 0, lastSeq[conv]);
    saveMarks();
    setUnread(0);
    input.focus();
    // What came while the chat was hidden was laid out without a height: show the newest.
    requestAnimationFrame(() => (log.scrollTop = log.scrollHeight));
    openConversation();
  }
}

// openConversation starts a conversation (and its greeting) unless one is open.
function openConversation() {
  if (!conversationId && token && !blocked) call("POST", "conversations", {}).catch(() => {});
}

function setUnread(n: number) {
  if (n === unread) return;
  unread = n;
  emit("unread", { count: n });
}

// identity is what a new session is opened with: the page's user and variables.
function identity(): Record<string, unknown> {
  const x: Record<string, unknown> = {};
  if (pageUser) x.user = pageUser;
  if (Object.keys(pageVars).length) x.variables = pageVars;
  return x;
}

// renew replaces a session the server no longer knows (it expired, or was forgotten) with a
// new one, once however many calls met the 401: another tab's new session if it stored one,
// else a new session with the page's user and variables. The stream starts again on it.
let renewing: Promise<void> | null = null;
function renew(stale: string): Promise<void> {
  if (token !== stale) return Promise.resolve(); // renewed meanwhile
  if (!renewing) {
    renewing = (async () => {
      try {
        try {
          token = localStorage.getItem(tokenKey) || stale;
        } catch {}
        try {
          await session(identity());
        } catch (e: any) {
          if (e.code !== "identity_invalid") throw e;
          pageUser = undefined; // no longer valid: anonymous
          await session(identity());
        }
        if (token !== stale) connect();
      } finally {
        renewing = null;
      }
    })();
  }
  return renewing;
}

// ---- HTTP ----

type Answer = { status: number; body: any; retryAfter: number };

async function call(method: string, path: string, body?: unknown): Promise<any> {
  const a = await request(method, path, body);
  if (a.status >= 400) throw apiError(a.body?.error?.code || "error", a.body?.error?.message || t.error);
  return a.body;
}

async function request(method: string, path: string, body?: unknown, form?: FormData, again = false): Promise<Answer> {
  const used = token;
  const headers: Record<string, string> = {};
  if (used) headers.Authorization = "Bearer " + used;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(base + path, { method, headers, body: form || (body === undefined ? undefined : JSON.stringify(body)) });
  let b: any = null;
  try {
    b = await r.json();
  } catch {}
  if (r.status === 401 && path !== "sessions" && !again) {
    // The session expired or was forgotten: a new one, then the call again.
    await renew(used);
    return request(method, path, body, form, true);
  }
  return { status: r.status, body: b, retryAfter: Number(r.headers.get("Retry-After")) || 0 };
}

let sessionExtra: Record<string, unknown> = {};
async function session(extra: Record<string, unknown>): Promise<any> {
  const body: Record<string, unknown> = { ...sessionExtra, ...extra, locale, page_url: sessionExtra.page_url, origin: parentOrigin || location.origin };
  if (token) body.token = token;
  const a = await request("POST", "sessions", body);
  if (a.status >= 400) {
    const code = a.body?.error?.code;
    if (code === "origin_not_allowed") block(t.notAllowed);
    const err = apiError(code || "error", a.body?.error?.message || t.error);
    if (code !== "identity_invalid") emit("error", { code: err.code, message: err.message });
    throw err;
  }
  const b = a.body;
  if (b.token !== token) {
    if (token) clearLog(); // a new session: what was shown belongs to another
    token = b.token;
    try {
      localStorage.setItem(tokenKey, token);
    } catch {}
  }
  verified = !!b.verified;
  if (b.conversation_id) conversationId = b.conversation_id;
  if (b.identity_required && !verified) block(t.loginRequired);
  else if (blocked === t.loginRequired) block("");
  return b;
}

function block(why: string) {
  blocked = why;
  notice(why);
  input.disabled = sendBtn.disabled = attachBtn.disabled = !!why;
}

// ---- the conversation ----

function clearLog() {
  log.textContent = "";
  rendered.clear();
  outgoing.clear();
  for (const k in lastSeq) delete lastSeq[k];
  for (const k in lastCursor) delete lastCursor[k];
  conversationId = "";
  status = { conversation_id: "", status: "" };
  told = "";
  stream?.reset();
}

// Where an event of a conversation (a message or a status change) stands among those taken:
// OLD (taken before: dropped), GAP (events before it are missing: they are read first, and it
// again) or NEXT (taken: its seq is the conversation's last). skip takes it even after a gap:
// the events come from a re-read, and what the server does not have does not exist.
const OLD = 0,
  GAP = 1,
  NEXT = 2;
function place(conv: string, seq: number, cursor: string, skip: boolean): number {
  const last = lastSeq[conv] || 0;
  if (seq <= last) return OLD;
  if (last > 0 && seq > last + 1 && !skip) {
    fillGap(conv);
    return GAP;
  }
  lastSeq[conv] = seq;
  if (cursor) lastCursor[conv] = cursor;
  return NEXT;
}

// onMessage shows a message once, in order; false when it comes after a gap (not shown: the
// missing ones are read first, and this one again).
function onMessage(m: Msg, cursor: string, skip = false): boolean {
  const conv = m.conversation_id;
  if (rendered.has(m.id)) return true;
  const at = place(conv, m.seq, cursor, skip);
  if (at !== NEXT) return at === OLD;
  conversationId = conv;
  rendered.add(m.id);
  const own = m.client_id ? outgoing.get(m.client_id) : undefined;
  if (own) {
    outgoing.delete(m.client_id!);
    own.el.replaceWith(bubble(m));
  } else log.append(bubble(m));
  settleButtons();
  log.scrollTop = log.scrollHeight;
  const fresh = m.seq > (marks.seen[conv] || 0);
  if (fresh) marks.seen[conv] = m.seq;
  if (m.direction === "out") {
    if (fresh) showTyping("");
    if (shown) marks.read[conv] = m.seq;
    else if (m.seq > (marks.read[conv] || 0)) setUnread(unread + 1);
  }
  saveMarks();
  if (fresh) emit("message", m);
  return true;
}

// onStatus takes a change of the conversation's status once, in order with its messages; false
// after a gap, as onMessage. The page is told of a change that is news (not history replayed).
function onStatus(c: Status, cursor: string, skip = false): boolean {
  const conv = c.conversation_id;
  const at = place(conv, c.seq, cursor, skip);
  if (at !== NEXT) return at === OLD;
  const fresh = c.seq > (marks.seen[conv] || 0);
  if (fresh) {
    marks.seen[conv] = c.seq;
    saveMarks();
  }
  onConversation(c, fresh);
  return true;
}

let gapFilling = false;
async function fillGap(conv: string) {
  if (gapFilling) return;
  gapFilling = true;
  try {
    const b = await call("GET", "messages?after=" + encodeURIComponent(lastCursor[conv] || ""));
    // Read once: a seq the server still lacks is skipped, never read again and again.
    for (const [kind, v] of ordered(b)) {
      if (kind === "status") onStatus(v, "", true);
      else onMessage(v, "", true);
    }
  } catch {
  } finally {
    gapFilling = false;
  }
}

// onConversation shows the conversation's status; with tell, the page is told when it is not
// what it was told last.
function onConversation(c: Conv, tell = true) {
  status = c;
  conversationId = c.conversation_id;
  paintStatus();
  if (c.status !== "bot") showTyping("");
  const now = c.conversation_id + " " + c.status + " " + (c.agent?.name || "");
  if (tell && now !== told) {
    told = now;
    emit("conversation", { id: c.conversation_id, status: c.status });
  }
}

function bubble(m: Msg): HTMLElement {
  const mine = m.direction === "in";
  const who = mine ? t.you : m.author === "agent" ? m.agent?.name || t.agent : t.bot;
  const row = h("div", { class: "msg " + (mine ? "in" : "out " + m.author), "data-id": m.id });
  if (m.client_id) row.dataset.client = m.client_id;
  const body = h("div", { class: "body" });
  body.append(h("span", { class: "sr" }, who + ": "));
  if (!mine && m.author === "agent") {
    const av = h("span", { class: "avatar agent", "aria-hidden": "true" });
    paintAvatar(av, m.agent || { name: who });
    row.append(av);
    body.append(h("span", { class: "name", "aria-hidden": "true" }, who));
  }
  if (m.media) body.append(mediaEl(m.media, m.type));
  if (m.text) body.append(h("p", { class: "text" }, ...linkify(m.text)));
  row.append(body);
  if (!mine && m.buttons && m.buttons.length) row.append(buttons(m));
  if (m.created_at) row.title = new Date(m.created_at).toLocaleString(locale);
  return row;
}

function buttons(m: Msg): HTMLElement {
  const list = m.render === "list";
  const box = h("div", { class: list ? "choices list" : "choices", role: "group", "aria-label": t.options });
  for (const b of m.buttons || []) {
    const btn = h("button", { type: "button" }, b.title);
    btn.addEventListener("click", () => {
      settleButtons(true);
      send({ reply: { button_id: b.id } }, b.title);
    });
    box.append(btn);
  }
  return box;
}

// settleButtons keeps only the newest message's choices usable: older ones were answered.
function settleButtons(all = false) {
  const boxes = log.querySelectorAll(".choices");
  boxes.forEach((b, i) => {
    const old = all || i < boxes.length - 1 || b.parentElement !== log.lastElementChild;
    b.querySelectorAll("button").forEach((x) => ((x as HTMLButtonElement).disabled = old));
    b.classList.toggle("answered", old);
  });
}

function linkify(text: string): (Node | string)[] {
  const out: (Node | string)[] = [];
  const re = /https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]]/g;
  let at = 0;
  for (let m; (m = re.exec(text)); ) {
    out.push(text.slice(at, m.index), h("a", { href: m[0], target: "_blank", rel: "noopener noreferrer" }, m[0]));
    at = m.index + m[0].length;
  }
  out.push(text.slice(at));
  return out;
}

function mediaEl(media: Media, type: string): HTMLElement {
  const name = media.name || (type === "image" ? t.image : t.file);
  const a = h("a", { class: "file", href: "#" }, name);
  // Media need the session token: fetched, then shown from a blob URL.
  const load = async () => {
    const r = await fetch(new URL(media.url, location.href).href, { headers: { Authorization: "Bearer " + token } });
    if (!r.ok) throw new Error(String(r.status));
    return URL.createObjectURL(await r.blob());
  };
  if (type === "image" || (media.mime || "").startsWith("image/")) {
    const img = h("img", { alt: name, class: "image" });
    load().then((u) => (img.src = u), () => (img.alt = name + " ✕"));
    return img;
  }
  a.addEventListener("click", async (e) => {
    e.preventDefault();
    try {
      const u = await load();
      const dl = h("a", { href: u, download: name });
      dl.click();
    } catch {
      notice(t.error);
    }
  });
  return a;
}

// ---- sending ----

function uuid(): string {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  const x = Array.from(b, (v) => v.toString(16).padStart(2, "0")).join("");
  return x.slice(0, 8) + "-" + x.slice(8, 12) + "-" + x.slice(12, 16) + "-" + x.slice(16, 20) + "-" + x.slice(20);
}

function send(body: Record<string, unknown>, shownText: string, media?: Media): Promise<any> {
  if (blocked) return Promise.reject(apiError("blocked", blocked));
  const client_id = uuid();
  const el = bubble({ id: "", seq: 0, conversation_id: "", direction: "in", author: "contact", type: media ? "file" : "text", text: shownText, client_id, created_at: "" });
  el.classList.add("pending");
  el.append(h("span", { class: "state" }, t.sending));
  log.append(el);
  log.scrollTop = log.scrollHeight;
  const o: Outgoing = { client_id, body: { client_id, ...body }, el, state: "sending" };
  outgoing.set(client_id, o);
  if (status.status === "bot" || !status.status) showTyping(t.botTyping, 8000);
  return deliver(o);
}

// deliver posts an own message until the server takes it (2xx) or refuses it (4xx), with the
// same client_id each time, so that a retry is never stored twice.
async function deliver(o: Outgoing, attempt = 0): Promise<any> {
  o.state = "sending";
  paintOutgoing(o);
  let a: Answer;
  try {
    a = await request("POST", "messages", o.body);
  } catch {
    a = { status: 0, body: null, retryAfter: 0 };
  }
  if (a.status >= 200 && a.status < 300) {
    o.state = "sent";
    paintOutgoing(o);
    if (a.body?.conversation_id) conversationId = a.body.conversation_id;
    return a.body;
  }
  if (a.status === 429) notice(t.tooFast);
  if (a.status === 0 || a.status === 429 || a.status >= 500) {
    if (!navigator.onLine) {
      notice(t.offline);
      await new Promise((r) => addEventListener("online", r, { once: true }));
      notice("");
    } else await sleep(a.retryAfter ? a.retryAfter * 1000 : backoff(attempt));
    if (a.status === 429) notice("");
    return deliver(o, attempt + 1);
  }
  o.state = "failed";
  paintOutgoing(o);
  showTyping("");
  const err = apiError(a.body?.error?.code || "error", a.body?.error?.message || t.error);
  emit("error", { code: err.code, message: err.message });
  throw err;
}

function paintOutgoing(o: Outgoing) {
  const s = o.el.querySelector(".state");
  if (!s) return;
  o.el.classList.toggle("failed", o.state === "failed");
  s.textContent = o.state === "sending" ? t.sending : o.state === "failed" ? t.failed + " " : "";
  if (o.state === "failed") {
    const retry = h("button", { type: "button", class: "retry" }, t.retry);
    retry.addEventListener("click", () => deliver(o).catch(() => {}));
    s.append(retry);
  }
  if (o.state === "sent") o.el.classList.remove("pending");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const backoff = (n: number) => Math.min(30000, 1000 * 2 ** n) * (0.5 + Math.random() / 2);

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const text = input.value.trim();
  if (!text) return;
  input.value = "";
  typingSent = 0; // the next message typed is news to the agents at once
  grow();
  // Some input methods still deliver the Enter's line break after the keydown: drop it.
  setTimeout(() => {
    if (!input.value.trim()) {
      input.value = "";
      grow();
    }
  });
  send({ text }, text).catch(() => {});
});

input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    form.requestSubmit();
  }
});

let typingSent = 0;
input.addEventListener("input", () => {
  grow();
  const now = Date.now();
  if (token && conversationId && input.value && now - typingSent > 3000) {
    typingSent = now;
    request("POST", "typing", { typing: true }).catch(() => {});
  }
});

function grow() {
  input.style.height = "auto";
  input.style.height = Math.min(input.scrollHeight, 120) + "px";
}

attachBtn.addEventListener("click", () => fileInput.click());
fileInput.addEventListener("change", async () => {
  const f = fileInput.files && fileInput.files[0];
  fileInput.value = "";
  if (!f) return;
  const max = cfg.max_upload_bytes || 10 << 20;
  if (f.size > max) {
    notice(fill(t.tooLarge, { size: bytes(max) }));
    return;
  }
  notice("");
  const fd = new FormData();
  fd.append("file", f, f.name);
  try {
    const a = await request("POST", "uploads", undefined, fd);
    if (a.status >= 400) throw apiError(a.body?.error?.code || "error", a.body?.error?.message || t.error);
    await send({ media_id: a.body.media_id }, f.name, { url: a.body.url, mime: a.body.mime, name: f.name });
  } catch (e: any) {
    notice(e.code === "too_large" ? fill(t.tooLarge, { size: bytes(max) }) : t.error);
  }
});

// bytes says a size as people read it: 10 MB, 2.5 MB, 300 KB, 900 bytes.
function bytes(n: number): string {
  const one = (x: number) => String(Math.round(x * 10) / 10).replace(".", t.decimal);
  return n >= 1 << 20 ? one(n / (1 << 20)) + " MB" : n >= 1024 ? one(n / 1024) + " KB" : n + " bytes";
}

let typingTimer = 0;
function showTyping(text: string, ms = 6000) {
  typingEl.textContent = text;
  clearTimeout(typingTimer);
  if (text) typingTimer = window.setTimeout(() => (typingEl.textContent = ""), ms);
}

closeBtn.addEventListener("click", () => toParent(WANT, { open: false }));
d.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && !standalone) toParent(WANT, { open: false });
});

// ---- the event stream ----

function connect() {
  stream?.stop();
  stream = new Stream(base, () => token, {
    message: (m: Msg, id: string) => onMessage(m, id),
    status: (c: Status, id: string) => onStatus(c, id),
    conversation: (c: Conv) => onConversation(c),
    typing: (x: { typing: boolean; name?: string }) => showTyping(x.typing ? fill(t.typing, { name: x.name || t.agent }) : ""),
    state: (up: boolean) => {
      connected = up;
      paintStatus();
    },
    stopped: () => {
      stopped = true;
      paintStatus();
      block(t.unavailable);
    },
    unauthorized: renew,
  });
  stream.start();
}

// ---- start ----

async function start() {
  paintTexts();
  try {
    token = localStorage.getItem(tokenKey) || "";
  } catch {}
  let init: any = {};
  if (parentOrigin) {
    toParent(INIT);
    init = await initP;
  }
  // URL parameters (a standalone page, a direct iframe): read once, then removed from the
  // address bar and the history.
  const user: Record<string, unknown> = { ...(init.user || {}) };
  const vars: Record<string, unknown> = { ...(init.variables || {}) };
  if (params.get("user_id")) user.externalId = params.get("user_id");
  if (params.get("user_hash")) user.hash = params.get("user_hash");
  if (params.get("email")) user.email = params.get("email");
  if (params.get("name")) user.name = params.get("name");
  params.forEach((v, k) => {
    if (k.startsWith("v.")) vars[k.slice(2)] = v;
  });
  for (const k of ["user_id", "user_hash", "email", "name"]) params.delete(k);
  for (const k of Array.from(params.keys())) if (k.startsWith("v.")) params.delete(k);
  history.replaceState(null, "", url.pathname + "?" + params);
  if (init.locale) [locale, t] = pick(init.locale);
  paintTexts();
  sessionExtra = { page_url: init.page_url || (standalone ? d.referrer : ""), referrer: init.referrer || "" };
  const first: Record<string, unknown> = {};
  if (Object.keys(user).length) first.user = pageUser = user;
  if (Object.keys(vars).length) first.variables = pageVars = vars;
  for (let n = 0; ; n++) {
    try {
      await session(first);
      break;
    } catch (e: any) {
      if (e.code === "origin_not_allowed") return;
      if (e.code === "identity_invalid") {
        delete first.user; // stays anonymous
        pageUser = undefined;
        continue;
      }
      await sleep(backoff(n));
    }
  }
  connect();
  toParent(READY, { look: { color: cfg.color, position: cfg.position, launcher_text: cfg.launcher_text, title: cfg.title }, locale });
  if (standalone || params.get("open") === "1") {
    if (!standalone) toParent(WANT, { open: true });
    onShown(true);
  }
}

start();
