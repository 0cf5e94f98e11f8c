// loader.js: the script of the snippet. It adds the launcher bubble and the chat frame (an
// iframe on Tandem's origin) to the host page, and defines window.Tandem, whose calls it
// relays to the frame with postMessage. It never talks to Tandem's API itself.
import { CALL, EVENT, INIT, READY, RESULT, SHOWN, WANT, isWire, type Look, type Wire } from "./protocol";

type Settings = {
  channel?: string;
  locale?: string;
  position?: "left" | "right";
  launcher?: "bubble" | "none";
  open?: boolean;
  user?: Record<string, unknown>;
  variables?: Record<string, unknown>;
  color?: string;
  launcherText?: string;
};

type Handler = (detail: unknown) => void;

const w = window as any;
const d = document;

(function () {
  if (w.Tandem || w.__tandemLoading) return;
  w.__tandemLoading = 1;
  const settings: Settings = w.tandemSettings || {};
  const script = (d.currentScript as HTMLScriptElement | null) || d.querySelector<HTMLScriptElement>('script[src*="/widget/v1/loader.js"]');
  if (!script) return;
  const src = new URL(script.src, location.href);
  const origin = src.origin;
  const base = src.href.replace(/loader\.js(\?.*)?$/, "");
  const channel = settings.channel || "web";
  const texts: Record<string, [string, string]> = {
    en: ["Open chat", "Close chat"],
    es: ["Abrir chat", "Cerrar chat"],
    pt: ["Abrir chat", "Fechar chat"],
  };
  let locale = (settings.locale || navigator.language || "en").slice(0, 2).toLowerCase();
  const label = (i: number) => (texts[locale] || texts.en)[i];

  const handlers: Record<string, Handler[]> = {};
  const pending: Record<string, [(v: unknown) => void, (e: Error) => void]> = {};
  let seq = 0;
  let open = false;
  let ready = false;
  let look: Look = {};

  const style = (el: HTMLElement, s: Partial<CSSStyleDeclaration>) => Object.assign(el.style, s);

  const frame = d.createElement("iframe");
  const q = new URLSearchParams({ channel, origin: location.origin, locale });
  frame.src = base + "frame?" + q;
  frame.title = "Chat";
  frame.setAttribute("allow", "clipboard-write");
  style(frame, {
    position: "fixed", bottom: "88px", width: "380px", height: "600px", maxHeight: "calc(100vh - 104px)",
    maxWidth: "calc(100vw - 32px)", border: "0", borderRadius: "16px", boxShadow: "0 8px 32px rgba(0,0,0,.25)",
    zIndex: "2147483000", display: "none", background: "#fff", colorScheme: "normal",
  });

  const bubble = d.createElement("button");
  bubble.type = "button";
  style(bubble, {
    position: "fixed", bottom: "20px", height: "56px", minWidth: "56px", borderRadius: "28px", border: "0",
    cursor: "pointer", zIndex: "2147483000", display: "none", alignItems: "center", justifyContent: "center", gap: "8px",
    color: "#fff", font: "600 15px system-ui,sans-serif", boxShadow: "0 4px 16px rgba(0,0,0,.25)",
  });
  const badge = d.createElement("span");
  style(badge, {
    position: "absolute", top: "-4px", right: "-4px", minWidth: "20px", height: "20px", borderRadius: "10px",
    background: "#d93025", color: "#fff", font: "700 12px/20px system-ui,sans-serif", display: "none", textAlign: "center",
  });

  const icon = (closed: boolean) =>
    closed
      ? '<svg width="26" height="26" viewBox="0 0 24 24" aria-hidden="true" fill="currentColor"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>'
      : '<svg width="22" height="22" viewBox="0 0 24 24" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="2.5" stroke-linecap="round"><path d="M6 6l12 12M18 6L6 18"/></svg>';

  function paint() {
    const side = settings.position || look.position || "right";
    for (const el of [frame, bubble]) {
      el.style.left = side === "left" ? "20px" : "";
      el.style.right = side === "left" ? "" : "20px";
    }
    bubble.style.background = settings.color || look.color || "#1f6feb";
    const text = open ? "" : settings.launcherText || look.launcher_text || "";
    bubble.innerHTML = icon(!open);
    if (text) bubble.appendChild(d.createTextNode(text));
    bubble.style.padding = text ? "0 20px 0 16px" : "0"; // the icon alone: a circle
    bubble.appendChild(badge);
    bubble.setAttribute("aria-label", label(open ? 1 : 0));
    bubble.setAttribute("aria-expanded", String(open));
    // Small screens: the chat takes the whole window. Else it stands above the bubble, or in
    // the corner without one.
    const small = innerWidth < 480;
    const above = settings.launcher === "none" ? 20 : 88;
    style(frame, small
      ? { bottom: "0", left: "0", right: "0", width: "100vw", height: "100%", maxHeight: "100%", maxWidth: "100vw", borderRadius: "0" }
      : { bottom: above + "px", width: "380px", height: "600px", maxHeight: `calc(100vh - ${above + 16}px)`, maxWidth: "calc(100vw - 32px)", borderRadius: "16px" });
    if (small && open) bubble.style.display = "none";
    else if (ready && settings.launcher !== "none") bubble.style.display = "flex";
  }

  function post(type: string, payload?: unknown, id?: string) {
    const m: Wire = { tandem: 1, type, payload };
    if (id) m.id = id;
    frame.contentWindow?.postMessage(m, origin);
  }

  function emit(name: string, detail?: unknown) {
    for (const h of (handlers[name] || []).slice()) {
      try {
        h(detail);
      } catch (e) {
        setTimeout(() => { throw e; });
      }
    }
    w.dispatchEvent(new CustomEvent("tandem:" + name, { detail }));
  }

  function show(v: boolean, focus = true) {
    if (v === open) return;
    open = v;
    frame.style.display = v ? "block" : "none";
    paint();
    post(SHOWN, { open: v });
    if (v && focus) frame.focus();
    if (!v && focus && bubble.style.display !== "none") bubble.focus();
    emit(v ? "open" : "close");
  }

  function call(method: string, ...args: unknown[]): Promise<any> {
    const id = "c" + ++seq;
    return new Promise((resolve, reject) => {
      pending[id] = [resolve, reject];
      post(CALL, { method, args }, id);
    });
  }

  const api = {
    open: () => show(true),
    close: () => show(false),
    toggle: () => show(!open),
    isOpen: () => open,
    setUser: (user: Record<string, unknown>) => call("setUser", user),
    setEmail: (email: string) => call("setUser", { email }),
    reset: () => call("reset"),
    setContactAttributes: (a: Record<string, unknown>) => call("setContactAttributes", a),
    setConversationAttributes: (a: Record<string, unknown>) => call("setConversationAttributes", a),
    setLocale: (l: string) => {
      locale = String(l).slice(0, 2).toLowerCase();
      paint();
      return call("setLocale", l);
    },
    sendMessage: (text: string) => call("sendMessage", text),
    on: (name: string, fn: Handler) => { (handlers[name] = handlers[name] || []).push(fn); },
    off: (name: string, fn: Handler) => { handlers[name] = (handlers[name] || []).filter((h) => h !== fn); },
  };

  w.addEventListener("message", (e: MessageEvent) => {
    if (e.origin !== origin || e.source !== frame.contentWindow || !isWire(e.data)) return;
    const m = e.data;
    const p = m.payload || {};
    switch (m.type) {
      case INIT:
        // The frame asks for what the snippet set: identity, variables, the page.
        post(INIT, { user: settings.user, variables: settings.variables, locale: settings.locale, page_url: location.href, referrer: d.referrer });
        break;
      case READY:
        look = p.look || {};
        if (!ready) {
          ready = true;
          w.Tandem = api;
          paint();
          if (settings.open) show(true, false);
          emit("ready");
        }
        break;
      case RESULT: {
        const cb = pending[m.id || ""];
        if (!cb) break;
        delete pending[m.id || ""];
        if (p.ok) cb[0](p.value);
        else cb[1](Object.assign(new Error(p.error?.message || "error"), { code: p.error?.code }));
        break;
      }
      case EVENT:
        if (p.name === "unread") {
          const n = (p.detail && p.detail.count) || 0;
          badge.textContent = n > 9 ? "9+" : String(n);
          badge.style.display = n && !open ? "block" : "none";
        }
        emit(p.name, p.detail);
        break;
      case WANT:
        show(!!p.open);
        break;
    }
  });

  bubble.addEventListener("click", () => show(!open));
  w.addEventListener("resize", paint);
  const mount = () => {
    d.body.appendChild(frame);
    d.body.appendChild(bubble);
  };
  if (d.body) mount();
  else d.addEventListener("DOMContentLoaded", mount);
})();
