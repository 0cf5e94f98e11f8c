package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The widget's browser test: a shop's page on one 127.0.0.1 port embeds the snippet served by
// tandem on another, and a visitor uses it as a person would, in Debian's chromium.

// hostPage serves a shop's page with the widget's snippet from tandem at base.
func hostPage(t *testing.T, title, base, settings string) *httptest.Server {
	t.Helper()
	page := hostHTML(title, base, settings, "")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// hostHTML is a shop's page with the widget's snippet from tandem at base, and a script of
// the page's own before it.
func hostHTML(title, base, settings, script string) string {
	return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>` + title + `</title>
<style>body{margin:0;font:16px system-ui,sans-serif;background:#faf7f2;color:#222} header{padding:20px 32px;background:#0f766e;color:#fff;font-size:22px;font-weight:700}
main{padding:32px} .p{display:inline-block;width:200px;height:150px;margin:0 16px 16px 0;border-radius:12px;background:#e7efe9}</style></head>
<body><header>` + title + `</header><main><h1>Lamps that last</h1><p>Hand-made lamps, shipped in two days.</p>
<div class="p"></div><div class="p"></div><div class="p"></div></main>
<script>window.tandemSettings = ` + settings + `;` + script + `</script>
<script src="` + base + `/widget/v1/loader.js" async></script></body></html>`
}

// frame is the widget's chat frame in a page: an iframe of tandem's origin, same-site with the
// shop's page here (two ports of 127.0.0.1), so chromium keeps it in the page's process and
// queries reach into it from its element.
type frame struct {
	p    *page
	node *chromedp.Node
}

// chatFrame returns the page's widget frame once its own page is in it. An iframe element
// exists before its page has loaded: its node then holds the iframe's first, empty document,
// and a poll in that document never sees the chat (this failed under load, after reloads). The
// element is looked up again until the chat's page is in it.
func chatFrame(t *testing.T, p *page) *frame {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
		nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(`iframe[src*="/widget/v1/frame"]`)))
		cancel()
		if err != nil || len(nodes) == 0 {
			p.shot("failed")
			t.Fatalf("the widget's frame: %v", err)
		}
		ctx, cancel = context.WithTimeout(p.ctx, 3*time.Second)
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](`!!document.querySelector("main .log")`, inFrame(nodes[0], 2*time.Second)...))
		cancel()
		if err == nil {
			return &frame{p: p, node: nodes[0]}
		}
		if time.Now().After(deadline) {
			p.shot("failed")
			t.Fatalf("the widget's frame never showed the chat: %v", err)
		}
	}
}

// inFrame polls in the frame every 50 ms. Chromium runs no animation frames in a hidden iframe
// (the chat closed), and a poll on animation frames (chromedp's default) checks once there,
// then hangs until its context ends.
func inFrame(node *chromedp.Node, timeout time.Duration) []chromedp.PollOption {
	return []chromedp.PollOption{chromedp.WithPollingInFrame(node), chromedp.WithPollingInterval(50 * time.Millisecond), chromedp.WithPollingTimeout(timeout)}
}

// wait waits until a JavaScript condition holds in the frame.
func (f *frame) wait(what, cond string) {
	f.p.t.Helper()
	f.p.run("wait for "+what, chromedp.Poll[chromedp.Void](cond, inFrame(f.node, 12*time.Second)...))
}

// click clicks the element of a CSS selector in the frame, as a mouse does.
func (f *frame) click(what, sel string) {
	f.p.t.Helper()
	f.p.run("click "+what, chromedp.Click(chromedp.CSS(sel), chromedp.FromNode(f.node), chromedp.NodeVisible))
}

// typeIn types text into the element of a CSS selector in the frame.
func (f *frame) typeIn(sel, text string) {
	f.p.t.Helper()
	f.p.run("type "+text, chromedp.SendKeys(chromedp.CSS(sel), text, chromedp.FromNode(f.node), chromedp.NodeVisible))
}

// text returns a string the frame's JavaScript computes (it must not be empty).
func (f *frame) text(js string) string {
	f.p.t.Helper()
	ctx, cancel := context.WithTimeout(f.p.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Poll[string](js, inFrame(f.node, 10*time.Second)...))
	if err != nil {
		f.p.t.Fatalf("evaluate in the frame %s: %v", js, err)
	}
	return v
}

// logHas is a frame condition: the message log shows text.
func logHas(text string) string {
	return fmt.Sprintf(`!!document.querySelector(".log") && document.querySelector(".log").innerText.includes(%q)`, text)
}

// openWidget clicks the launcher once the loader is ready and returns the frame.
func openWidget(t *testing.T, p *page) *frame {
	t.Helper()
	p.waitFor("the widget is ready", `!!window.Tandem`)
	p.run("open the chat", chromedp.Click(chromedp.CSS(`button[aria-label="Open chat"]`), chromedp.NodeVisible))
	p.waitFor("the chat is open", `Tandem.isOpen()`)
	return chatFrame(t, p)
}

// TestBrowserWidget: a visitor of a shop opens the widget, gets the greeting with buttons,
// clicks one, answers a question, is handed to the inbox; an agent answers through the inbox
// API; the visitor sees the agent's name and message, reloads and sees the whole history
// once. A page of an origin not allowed cannot frame the widget; a forged identity hash stays
// unverified. Screenshots go to the test's artifact folder.
//
// Not parallel: chromium is heavy on a small machine; the browser tests of the web app run in
// parallel after it.
func TestBrowserWidget(t *testing.T) {
	shopURL, tandemBase := widgetShop(t, `{channel: "web"}`, "", nil)
	p := newPage(t, shopURL, 1280, 800)
	p.run("open the shop", chromedp.Navigate(shopURL+"/"))
	p.waitFor("the launcher", `!!document.querySelector('button[aria-label="Open chat"]') && document.querySelector('button[aria-label="Open chat"]').offsetWidth > 0`)
	p.shot("shop-with-launcher")
	if got := evalTo[string](p, `(() => { const r = document.querySelector('button[aria-label="Open chat"]').getBoundingClientRect(); return r.width + "x" + r.height; })()`); got != "56x56" {
		t.Errorf("the launcher is %s px; want a 56 px circle", got)
	}
	f := openWidget(t, p)

	// The greeting with its buttons; a click on one.
	f.wait("the greeting", logHas("Hi! Welcome to Lumen & Co. How can we help?"))
	f.wait("the buttons", `document.querySelectorAll(".choices button").length === 2`)
	f.wait("connected", `!document.querySelector("main").classList.contains("connecting")`)
	p.shot("greeting")
	if got := f.text(`document.querySelector(".choices button:nth-child(2)").innerText`); got != "Talk to a person" {
		t.Fatalf("the second button says %q", got)
	}
	f.click("Talk to a person", ".choices button:nth-child(2)")
	f.wait("the question", logHas("Sure. In a few words, what is it about?"))

	// The answer, typed and sent with Enter; the handoff.
	f.typeIn("#text", "My lamp arrived broken"+kb.Enter)
	f.wait("the handoff", logHas("Connecting you with an agent"))
	f.wait("the queued status", `document.querySelector("#status").innerText.includes("Waiting for an agent")`)
	p.shot("queued")

	// The agent answers through the inbox API.
	ana := agentAna(t, tandemBase)
	conv := queued(t, ana, false)
	ana.call("POST", "/api/v1/inbox/conversations/"+conv+"/typing", nil, nil)
	f.wait("the agent typing", `document.querySelector(".typing").innerText.includes("Ana Lima is typing")`)
	if st := ana.call("POST", "/api/v1/inbox/conversations/"+conv+"/messages", map[string]string{"text": "Hi, I'm Ana. I'm sorry about the lamp: I'm sending a new one today."}, nil); st != 202 {
		t.Fatalf("agent message: %d", st)
	}
	f.wait("the agent's message", logHas("I'm sending a new one today."))
	f.wait("the agent's name", `document.querySelector("#status").innerText.includes("You're chatting with Ana Lima") && document.querySelector(".msg.agent .name").innerText === "Ana Lima"`)
	p.shot("agent-answered")

	// A reload: the whole history, each message once.
	history := []string{"Hi! Welcome to Lumen & Co. How can we help?", "Talk to a person", "Sure. In a few words, what is it about?",
		"My lamp arrived broken", "Connecting you with an agent", "Hi, I'm Ana. I'm sorry about the lamp"}
	p.run("reload", chromedp.Reload())
	f = openWidget(t, p)
	f.wait("the history", logHas("I'm sending a new one today."))
	for _, h := range history {
		if n := f.text(fmt.Sprintf(`String([...document.querySelectorAll(".msg .text")].filter(e => e.innerText.includes(%q)).length)`, h)); n != "1" {
			t.Errorf("after the reload %q is shown %s times, want once", h, n)
		}
	}
	p.shot("after-reload")

	// A forged identity hash stays unverified.
	p.eval(`window.verdict = ""; Tandem.setUser({externalId: "u-42", hash: "` + strings.Repeat("ab", 32) + `", email: "ana@example.com"}).then(r => window.verdict = "verified=" + r.verified, e => window.verdict = "error " + e.code)`)
	p.waitFor("setUser's answer", `window.verdict !== ""`)
	if got := evalTo[string](p, `window.verdict`); got != "verified=false" {
		t.Errorf("a forged identity hash: %s, want verified=false", got)
	}

	// A page of another origin cannot frame the widget: its loader never gets ready, and the
	// frame is refused by frame-ancestors.
	evil := hostPage(t, "Not allowed", tandemBase, `{channel: "web"}`)
	q := newPage(t, evil.URL, 1280, 800)
	q.run("open the other site", chromedp.Navigate(evil.URL+"/"))
	q.waitFor("the frame loaded (or was refused)", `!!document.querySelector("iframe") && performance.getEntriesByType("resource").some(e => e.name.includes("/widget/v1/frame?"))`)
	ctx, cancel := context.WithTimeout(q.ctx, 4*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!window.Tandem`, chromedp.WithPollingTimeout(3*time.Second))); err == nil {
		t.Error("a page of an origin not allowed got a working widget")
	}
	// The refused frame shows chromium's error page, not the chat.
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS(`iframe[src*="/widget/v1/frame"]`)))
	if err == nil && len(nodes) > 0 {
		fctx, cancel := context.WithTimeout(q.ctx, 3*time.Second)
		defer cancel()
		if _, err := chromedp.Run(fctx, chromedp.Poll[bool](`!!document.querySelector("main .log")`, inFrame(nodes[0], 2*time.Second)...)); err == nil {
			t.Error("the widget's frame rendered inside a page of an origin not allowed")
		}
	}
	q.shot("not-allowed")
}

// TestBrowserDemoWidget: `tandem demo` prints its shop's address first; there the widget
// greets with the menu's buttons, and "Order status" with an order number gets the shop's
// answer.
func TestBrowserDemoWidget(t *testing.T) { // not parallel, as TestBrowserWidget
	base, proc := startDemo(t)
	if first := strings.TrimSpace(proc.stdout.String()); !strings.HasPrefix(first, "Open the demo shop") {
		t.Errorf("the demo's output does not start with the shop's address:\n%s", first)
	}
	p := newPage(t, base, 1280, 800)
	p.run("open the demo shop", chromedp.Navigate(base+"/demo/"))
	f := openWidget(t, p)
	f.wait("the greeting", logHas("Welcome to ACME Outdoor"))
	f.wait("the menu's buttons", `[...document.querySelectorAll(".choices button")].map(b => b.innerText).join("|") === "Order status|Talk to sales|A person, please|Ask a question"`)
	p.shot("demo-greeting")
	f.click("Order status", ".choices button:nth-child(1)")
	f.wait("the order question", logHas("order number"))
	f.typeIn("#text", "10234"+kb.Enter)
	f.wait("the shop's answer", `[...document.querySelectorAll(".msg.out .text")].some(e => e.innerText.includes("10234"))`)
	p.shot("demo-order")

	// A person, please: the demo's agent answers through the inbox API; the visitor sees her
	// name, and her initials are letters of her name ("Ana (demo agent)" showed "A(").
	f.typeIn("#text", "A person, please"+kb.Enter)
	f.wait("the queued status", `document.querySelector("#status").innerText.includes("Waiting for an agent")`)
	ana := agentLogin(t, base, demoAgent, demoPassword)
	conv := queued(t, ana, true)
	if st := ana.call("POST", "/api/v1/inbox/conversations/"+conv+"/messages", map[string]string{"text": "Hi, I'm Ana. Let me look at your order."}, nil); st != 202 {
		t.Fatalf("agent message: %d", st)
	}
	f.wait("the agent's message", logHas("Let me look at your order."))
	f.wait("the agent's name", `document.querySelector("#status").innerText === "You're chatting with Ana (demo agent)" && document.querySelector(".msg.agent .name").innerText === "Ana (demo agent)"`)
	if got := f.text(`document.querySelector("header .avatar").innerText + "|" + document.querySelector(".msg.agent .avatar").innerText`); got != "A|A" {
		t.Errorf("the agent's initials (header|message) are %q, want A|A", got)
	}
	p.shot("demo-agent")

	// A reload: the whole history, each message once; a forged identity hash stays unverified.
	p.run("reload", chromedp.Reload())
	f = openWidget(t, p)
	f.wait("the history", logHas("Let me look at your order."))
	for _, h := range []string{"Welcome to ACME Outdoor", "was delivered on", "A person, please", "Let me look at your order."} {
		if n := f.text(fmt.Sprintf(`String([...document.querySelectorAll(".msg .text")].filter(e => e.innerText.includes(%q)).length)`, h)); n != "1" {
			t.Errorf("after the reload %q is shown %s times, want once", h, n)
		}
	}
	p.eval(`window.verdict = ""; Tandem.setUser({externalId: "u-42", hash: "` + strings.Repeat("ab", 32) + `"}).then(r => window.verdict = "verified=" + r.verified, e => window.verdict = "error " + e.code)`)
	p.waitFor("setUser's answer", `window.verdict !== ""`)
	if got := evalTo[string](p, `window.verdict`); got != "verified=false" {
		t.Errorf("a forged identity hash on the demo: %s, want verified=false", got)
	}
}

// TestBrowserWidgetKeyboardPhone: on a phone-sized window, with the keyboard only, the
// launcher opens the chat over the whole window with the focus in the message box; Enter
// sends; Escape closes and gives the focus back to the launcher.
func TestBrowserWidgetKeyboardPhone(t *testing.T) { // not parallel, as TestBrowserWidget
	base, _ := startDemo(t)
	p := newPage(t, base, 390, 740)
	p.run("phone screen", chromedp.EmulateViewport(390, 740, chromedp.EmulateScale(2)))
	p.run("open the demo shop", chromedp.Navigate(base+"/demo/"))
	p.waitFor("the widget is ready", `!!window.Tandem`)
	p.eval(`document.querySelector('button[aria-label="Open chat"]').focus()`)
	p.keys(kb.Enter)
	p.waitFor("the chat over the whole window", `Tandem.isOpen() && document.querySelector("iframe").getBoundingClientRect().width === innerWidth`)
	f := chatFrame(t, p)
	f.wait("the focus in the message box", `document.activeElement && document.activeElement.id === "text" && document.hasFocus()`)
	f.wait("the greeting", logHas("Welcome to ACME Outdoor"))
	f.wait("labels for screen readers", `document.querySelector(".log").getAttribute("aria-live") === "polite" && document.querySelector("label[for=text]").innerText !== "" && document.querySelector(".send").getAttribute("aria-label") === "Send"`)
	if got := f.text(`getComputedStyle(document.querySelector("#text")).fontSize`); got != "16px" {
		t.Errorf("the message box's text is %s on a phone; under 16px, phones zoom the page in when it gets the focus", got)
	}
	p.keys("faq")
	p.keys(kb.Enter)
	f.wait("the message sent by keyboard", `[...document.querySelectorAll(".msg.in .text")].some(e => e.innerText === "faq")`)
	p.shot("phone")
	p.keys(kb.Escape)
	p.waitFor("closed, the focus back on the launcher", `!Tandem.isOpen() && document.activeElement === document.querySelector('button[aria-label="Open chat"]')`)
}

// startDemo starts `tandem demo` and returns the server's address from the line that names its
// shop page.
func startDemo(t *testing.T) (string, *process) {
	t.Helper()
	proc := cli{env: map[string]string{}}.start(t, "demo", "--addr", "127.0.0.1:0")
	m := proc.stdout.wait(t, regexp.MustCompile(`Open the demo shop and chat with the bot: (http://\S+)/demo/|tandem: .*`), 60*time.Second)
	if m[1] == "" {
		t.Fatalf("demo did not start: %s\nstderr: %s", m[0], proc.stderr.String())
	}
	return m[1], proc
}
