package main

import (
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/tandemchat/tandem/channel/web"
)

// recordEvents is a host page's script that keeps every tandem:* window event in window.got.
const recordEvents = `window.got = []; for (const n of ["ready", "open", "close", "message", "conversation", "unread", "error"]) addEventListener("tandem:" + n, (e) => got.push({name: n, detail: e.detail}));`

// settle waits until the frame answered a call made now: the events it posted before have
// reached the page by then (postMessage keeps their order).
func settle(p *page) {
	p.t.Helper()
	p.eval(`window.settled = false; Tandem.setContactAttributes({visited: true}).then(() => window.settled = true)`)
	p.waitFor("the frame's answer", `window.settled`)
}

// verdict runs a promise-returning JavaScript call of the page and returns "ok" or the code of
// its error.
func verdict(p *page, call string) string {
	p.t.Helper()
	p.eval(`window.verdict = ""; ` + call + `.then(() => window.verdict = "ok", (e) => window.verdict = String(e.code))`)
	p.waitFor("the answer to "+call, `window.verdict !== ""`)
	return evalTo[string](p, `window.verdict`)
}

// TestBrowserWidgetAPI drives the JavaScript API of the widget as a site would, and checks the
// events it gets: the page's variables in every flow; `message` events for new messages only,
// and `unread` counting what came while the chat was closed, also after a reload; setLocale;
// the attribute limits; a session the server forgot is opened again with the page's variables;
// reset() forgets the session on the server and greets again; the standalone page's address
// parameters; a stream the server ends with 204 stops.
func TestBrowserWidgetAPI(t *testing.T) { // not parallel, as TestBrowserWidget
	shopURL, tandemBase := widgetShop(t, `{channel: "web", variables: {plan: "pro", source: "ad"}}`, recordEvents, varFlows)
	widget := &widgetClient{t: t, base: tandemBase + "/widget/v1/web/"}

	p := newPage(t, shopURL, 1280, 800)
	p.run("open the shop", chromedp.Navigate(shopURL+"/"))
	p.waitFor("the widget is ready", `!!window.Tandem && got.some(e => e.name === "ready")`)
	p.eval(`Tandem.open()`)
	f := chatFrame(t, p)
	f.wait("the greeting with the page's variables", logHas("Hello, pro customer."))
	p.waitFor("open, conversation and message events", `got.some(e => e.name === "open") && got.some(e => e.name === "conversation" && e.detail.status === "bot" && !!e.detail.id)
		&& got.some(e => e.name === "message" && e.detail.text === "Hello, pro customer." && e.detail.author === "bot" && e.detail.direction === "out" && e.detail.seq === 1)`)

	// Closed, the page sends a message for the visitor: the answer is unread.
	p.eval(`Tandem.close(); Tandem.sendMessage("which plan do I have?")`)
	p.waitFor("the answer, unread", `got.some(e => e.name === "message" && e.detail.text === "Your plan: pro (from ad). Anything else?")
		&& got.some(e => e.name === "unread" && e.detail.count === 1) && got.some(e => e.name === "close")`)
	badge := `(() => { const b = document.querySelector('button[aria-label="Open chat"] span'); return b && b.style.display !== "none" ? b.textContent : ""; })()`
	p.waitFor("the badge", badge+` === "1"`)
	if own := evalTo[bool](p, `got.some(e => e.name === "message" && e.detail.direction === "in" && e.detail.text === "which plan do I have?" && !!e.detail.client_id)`); !own {
		t.Error("no message event for the visitor's own message")
	}
	p.shot("unread")

	// A reload: the history is not news (no message events) and the badge still says 1.
	p.run("reload", chromedp.Reload())
	p.waitFor("the widget is ready again", `!!window.Tandem`)
	f = chatFrame(t, p)
	f.wait("the history", logHas("Your plan: pro (from ad). Anything else?"))
	settle(p)
	if got := evalTo[string](p, `JSON.stringify(got.filter(e => e.name === "message" || e.name === "unread").map(e => e.name === "unread" ? e.detail.count : e.detail.text))`); got != "[1]" {
		t.Errorf("after a reload the page got %s; want [1] (one unread, no history as messages)", got)
	}
	if got := evalTo[string](p, badge); got != "1" {
		t.Errorf("after a reload the badge says %q, want 1", got)
	}
	p.shot("unread-after-reload")
	p.eval(`Tandem.open()`)
	p.waitFor("read", `got.some(e => e.name === "unread" && e.detail.count === 0) && `+badge+` === ""`)
	p.run("reload", chromedp.Reload())
	p.waitFor("the widget is ready again", `!!window.Tandem`)
	f = chatFrame(t, p)
	f.wait("the history", logHas("Your plan: pro (from ad). Anything else?"))
	settle(p)
	if got := evalTo[string](p, badge); got != "" {
		t.Errorf("after reading and a reload the badge says %q", got)
	}

	// setLocale: the chat and the launcher speak Spanish.
	p.eval(`Tandem.open(); Tandem.setLocale("es")`)
	f.wait("Spanish", `document.documentElement.lang === "es" && document.querySelector("#text").placeholder === "Escribe un mensaje…"`)
	p.waitFor("the launcher in Spanish", `!!document.querySelector('button[aria-label="Cerrar chat"]')`)
	p.shot("spanish")

	// Attributes: at most 50 keys, values of at most 1024 characters, keys in lowercase.
	for _, tc := range []struct{ call, want string }{
		{`Tandem.setContactAttributes(Object.fromEntries(Array.from({length: 50}, (_, i) => ["k" + i, "é".repeat(1024)])))`, "ok"},
		{`Tandem.setContactAttributes(Object.fromEntries(Array.from({length: 51}, (_, i) => ["k" + i, "x"])))`, "too_large"},
		{`Tandem.setContactAttributes({note: "x".repeat(1025)})`, "too_large"},
		{`Tandem.setContactAttributes({Plan: "pro"})`, "invalid"},
		{`Tandem.setConversationAttributes({order: 10234})`, "ok"},
	} {
		if got := verdict(p, tc.call); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.call, got, tc.want)
		}
	}
	// A message the server refuses (over 4096 characters) rejects the call and is an error
	// event; the chat shows it as not sent.
	if got := verdict(p, `Tandem.sendMessage("x".repeat(5000))`); got != "invalid" {
		t.Errorf("a message of 5000 characters: %s, want invalid", got)
	}
	p.waitFor("the error event", `got.some(e => e.name === "error" && e.detail.code === "invalid" && !!e.detail.message)`)
	f.wait("not sent", `!!document.querySelector(".msg.failed .retry")`)

	// The server forgets the session (as when it expires): the next message opens a new one,
	// with the page's variables, and the chat shows only the new session's conversation.
	old := f.text(`localStorage.getItem("tandem:web:token")`)
	if a := (&widgetClient{t: t, base: widget.base, token: old}).do("DELETE", "sessions", nil); a.status != 204 {
		t.Fatalf("forget the session: %d %v", a.status, a.body)
	}
	p.eval(`Tandem.sendMessage("my plan again?")`)
	f.wait("the answer in a new session", logHas("Your plan: pro (from ad). Anything else?")+` && !document.querySelector(".log").innerText.includes("Hello, pro customer.")`)
	renewed := f.text(`localStorage.getItem("tandem:web:token")`)
	if renewed == old {
		t.Error("the frame kept the forgotten token")
	}

	// reset(): the server forgets the session; a new one greets the visitor, with the variables.
	p.eval(`window.reset = false; Tandem.reset().then(() => window.reset = true)`)
	p.waitFor("reset", `window.reset`)
	f.wait("a new greeting", logHas("Hello, pro customer.")+` && !document.querySelector(".log").innerText.includes("my plan again?")`)
	if a := (&widgetClient{t: t, base: widget.base, token: renewed}).do("GET", "messages", nil); a.status != 401 {
		t.Errorf("the token before reset(): %d, want 401", a.status)
	}
	p.shot("after-reset")

	// A stream the server ends with 204 is not opened again; the chat says it is unavailable.
	var stopped atomic.Int32
	intercept(t, p, func(e *fetch.EventRequestPaused) {
		stopped.Add(1)
		chromedp.Call(p.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: e.RequestID, ResponseCode: 204})
	}, "*/widget/v1/web/events*")
	p.eval(`Tandem.reset()`)
	f.wait("unavailable", `document.querySelector(".notice").innerText === "El chat no está disponible ahora." && document.querySelector("#text").disabled && !document.querySelector("main.connecting")`)
	p.shot("stopped")
	settle(p)
	if n := stopped.Load(); n != 1 {
		t.Errorf("the frame asked for the stream %d times after a 204, want once", n)
	}

	// The standalone page: the address's identity and variables are used, then removed.
	q := newPage(t, tandemBase, 800, 800)
	q.run("open the standalone chat", chromedp.Navigate(tandemBase+"/widget/v1/frame?channel=web&locale=pt&user_id=u-5&user_hash="+
		web.IdentityHash(widgetSecret, "u-5")+"&email=u5%40shop.test&v.plan=gold"))
	q.waitFor("the greeting with the address's variables", logHas("Hello, gold customer."))
	q.waitFor("the chat in Portuguese", `document.documentElement.lang === "pt" && document.querySelector("#text").placeholder === "Escreva uma mensagem…" && document.querySelector("#status").innerText === "Estamos online" && document.querySelector(".send").getAttribute("aria-label") === "Enviar"`)
	if got := evalTo[string](q, `location.search`); got != "?channel=web&locale=pt" {
		t.Errorf("the standalone page's address keeps %q", got)
	}
	token := evalTo[string](q, `localStorage.getItem("tandem:web:token")`)
	if a := (&widgetClient{t: t, base: widget.base}).do("POST", "sessions", map[string]any{"token": token, "origin": shopURL}); a.body["verified"] != true {
		t.Errorf("the standalone page's session: %v", a.body)
	}
	q.shot("standalone")

	// Tandem.setEmail after a valid setUser keeps the visitor identified: a session opened
	// again (the server forgot the first) is still the user's.
	r := newPage(t, shopURL, 1280, 800)
	r.run("open the shop", chromedp.Navigate(shopURL+"/"))
	r.waitFor("the widget is ready", `!!window.Tandem`)
	if got := verdict(r, `Tandem.setUser({externalId: "u-7", hash: "`+web.IdentityHash(widgetSecret, "u-7")+`"})`); got != "ok" {
		t.Fatalf("setUser: %s", got)
	}
	if got := verdict(r, `Tandem.setEmail("u7@shop.test")`); got != "ok" {
		t.Fatalf("setEmail: %s", got)
	}
	rf := chatFrame(t, r)
	first := rf.text(`localStorage.getItem("tandem:web:token")`)
	(&widgetClient{t: t, base: widget.base, token: first}).do("DELETE", "sessions", nil)
	if got := verdict(r, `Tandem.sendMessage("hello again")`); got != "ok" {
		t.Fatalf("sendMessage: %s", got)
	}
	again := rf.text(`localStorage.getItem("tandem:web:token")`)
	if a := (&widgetClient{t: t, base: widget.base}).do("POST", "sessions", map[string]any{"token": again, "origin": shopURL}); again == first || a.body["verified"] != true {
		t.Errorf("after setEmail, the session opened again is not the user's: %v", a.body)
	}
}
