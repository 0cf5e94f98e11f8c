package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// sizesFlow asks for a size as a list (more choices than quick replies show well).
const sizesFlow = `format: 1
id: sizes
trigger: {on: message, match: {regex: "^sizes$", ignore_case: true}, priority: 10, preempt: true}
steps:
  - id: size
    type: question
    text: "Which size?"
    answer: option
    render: list
    options:
      - {id: s, title: "Small"}
      - {id: m, title: "Medium"}
      - {id: l, title: "Large"}
      - {id: xl, title: "Extra large"}
  - id: done
    type: message
    text: "Noted: {{step.size}}."
`

// humanFlow hands the conversation to the support team when the visitor asks for an agent.
const humanFlow = `format: 1
id: human
trigger: {on: message, match: {contains: agent}, priority: 20, preempt: true}
steps:
  - {id: to_human, type: handoff, team: support, require_email: never}
`

// widgetShop serves a shop page embedding the widget (with the snippet's settings and a script
// of the page's own) of a tandem serving the widget workspace with extra flows; it returns the
// shop's and tandem's addresses.
func widgetShop(t *testing.T, settings, script string, flows map[string]string) (shopURL, tandemBase string) {
	t.Helper()
	c := cli{env: map[string]string{}}
	data := filepath.Join(t.TempDir(), "data")
	// The shop's page must exist (for its origin) before tandem's configuration names it.
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(hostHTML("Lumen & Co.", tandemBase, settings, script)))
	}))
	t.Cleanup(shop.Close)
	cfg := widgetWorkspace(t, c, shop.URL, data)
	for name, doc := range flows {
		if err := os.WriteFile(filepath.Join(filepath.Dir(cfg), "flows", name), []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, tandemBase = c.serve(t, "--config", cfg, "--data", data)
	return shop.URL, tandemBase
}

// TestBrowserWidgetChat: what a visitor does in the chat beyond buttons, in a real browser: a
// list answered with a click; a file attached (shown as sent), one over max_upload_bytes
// refused with the limit in words; a burst of messages past the rate limit, each delivered
// once (the frame waits Retry-After and sends again with the same client_id); and, once an
// agent has the conversation, the visitor's typing reaches the agent's inbox stream.
func TestBrowserWidgetChat(t *testing.T) { // not parallel, as TestBrowserWidget
	shop, base := widgetShop(t, `{channel: "web"}`, "", map[string]string{"sizes.yaml": sizesFlow, "human.yaml": humanFlow})
	p := newPage(t, shop, 1280, 800)
	p.run("open the shop", chromedp.Navigate(shop+"/"))
	f := openWidget(t, p)
	f.wait("the greeting", logHas("How can we help?"))

	// A list: its rows are buttons, one under the other; a click answers.
	f.typeIn("#text", "sizes"+kb.Enter)
	f.wait("the list", `document.querySelectorAll(".choices.list button").length === 4`)
	p.shot("list")
	f.click("Extra large", ".choices.list button:nth-child(4)")
	f.wait("the answer", logHas("Noted: xl."))
	if n := f.text(`String(document.querySelectorAll(".msg.in .text").length) + ":" + [...document.querySelectorAll(".msg.in .text")].map(e => e.innerText).join("|")`); n != "2:sizes|Extra large" {
		t.Errorf("the visitor's messages: %s", n)
	}

	// A file: sent and shown; one over max_upload_bytes (2048 here) is refused before sending.
	dir := t.TempDir()
	small, big := filepath.Join(dir, "receipt.txt"), filepath.Join(dir, "photo.bin")
	os.WriteFile(small, []byte(strings.Repeat("r", 500)), 0o600)
	os.WriteFile(big, []byte(strings.Repeat("b", 3000)), 0o600)
	attach := func(file string) {
		t.Helper()
		p.run("attach "+file, chromedp.SetUploadFiles(chromedp.CSS(`input[type=file]`), []string{file}, chromedp.FromNode(f.node)))
	}
	attach(small)
	f.wait("the file sent", `[...document.querySelectorAll(".msg.in .file")].some(a => a.innerText === "receipt.txt" && !a.closest(".msg").classList.contains("pending"))`)
	attach(big)
	f.wait("the file refused", `document.querySelector(".notice").innerText === "The file is larger than 2 KB."`)
	p.shot("file-too-large")

	// A burst past the rate limit (10 messages in 10 s): each message is delivered once.
	f.text(`(() => { window.tooFast = ""; const n = document.querySelector(".notice"); new MutationObserver(() => { if (n.innerText.includes("too fast")) window.tooFast = "seen"; }).observe(n, {childList: true, characterData: true, subtree: true}); return "ok"; })()`)
	p.eval(`for (let i = 1; i <= 12; i++) Tandem.sendMessage("burst " + i)`)
	p.run("wait for the burst", chromedp.Poll[chromedp.Void](`[...document.querySelectorAll(".msg.in:not(.pending) .text")].filter(e => e.innerText.startsWith("burst ")).length === 12`,
		inFrame(f.node, 30*time.Second)...))
	for i := 1; i <= 12; i++ {
		if n := f.text(fmt.Sprintf(`String([...document.querySelectorAll(".msg.in .text")].filter(e => e.innerText === "burst %d").length)`, i)); n != "1" {
			t.Errorf("burst %d is shown %s times", i, n)
		}
	}
	if got := f.text(`window.tooFast || "never"`); got != "seen" {
		t.Errorf("the frame never said the visitor sends too fast (%s)", got)
	}
	if n := f.text(`String(document.querySelectorAll(".msg.failed").length)`); n != "0" {
		t.Errorf("%s messages failed", n)
	}

	// Typing, the visitor's way: once an agent has the conversation, the inbox sees it.
	f.wait("the rate limit past", `document.querySelector(".notice").hidden || document.querySelector(".notice").innerText === ""`)
	p.eval(`Tandem.sendMessage("agent please")`) // sent by the page: no typing before the one checked below
	f.wait("queued", `document.querySelector("#status").innerText.includes("Waiting for an agent")`)
	ana := agentAna(t, base)
	conv := queued(t, ana, true)
	inboxEvents := (&widgetClient{t: t, base: base + "/api/v1/inbox/", token: ana.token}).stream("")
	f.typeIn("#text", "I have a ques")
	ev := inboxEvents.next(t, "typing", func(d map[string]any) bool { return d["conversation_id"] == conv })
	if ev.data["author"] != "contact" {
		t.Errorf("the inbox's typing event %v, want the contact typing", ev.data)
	}
}

// TestBrowserWidgetFallback: with the event stream unreachable the header says "Connecting…";
// behind a network that cuts streams before their first byte (a buffering proxy answering 200
// and closing), the frame falls back to long polls: the greeting, a reply and the bot's answer
// all arrive, and it stops asking for the stream.
func TestBrowserWidgetFallback(t *testing.T) { // not parallel, as TestBrowserWidget
	shop, _ := widgetShop(t, `{channel: "web"}`, "", nil)
	p := newPage(t, shop, 1280, 800)

	var mode atomic.Int32 // 0: the stream fails to connect; 1: it answers 200 and ends at once
	var asked atomic.Int32
	intercept(t, p, func(e *fetch.EventRequestPaused) {
		asked.Add(1)
		if mode.Load() == 0 {
			chromedp.Call(p.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: e.RequestID, ErrorReason: network.ErrorReasonConnectionFailed})
		} else {
			chromedp.Call(p.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: e.RequestID, ResponseCode: 200,
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/event-stream"}}})
		}
	}, "*/widget/v1/web/events*")
	p.run("open the shop", chromedp.Navigate(shop+"/"))
	f := openWidget(t, p)
	f.wait("connecting", `document.querySelector("#status").innerText === "Connecting…" && document.querySelector("main").classList.contains("connecting")`)
	p.shot("connecting")

	mode.Store(1)
	f.wait("the greeting, by long poll", logHas("How can we help?")+` && document.querySelector("#status").innerText === "We're online"`)
	f.click("Track my order", ".choices button:nth-child(1)")
	f.wait("the question", logHas("What is your order number?"))
	f.typeIn("#text", "10234"+kb.Enter)
	f.wait("the answer", logHas("Order 10234 is on its way."))
	p.shot("long-poll")
	n := asked.Load()
	if n < 2 {
		t.Errorf("the stream was asked for %d times", n)
	}
	// In long polls, the stream is not asked for again.
	f.typeIn("#text", "thanks"+kb.Enter)
	f.wait("sent", `[...document.querySelectorAll(".msg.in:not(.pending) .text")].some(e => e.innerText === "thanks")`)
	if again := asked.Load(); again != n {
		t.Errorf("the frame asked for the stream %d more times after falling back to long polls", again-n)
	}
}

// intercept answers the page's requests whose address matches one of patterns with answer,
// one at a time in order, instead of the network.
func intercept(t *testing.T, p *page, answer func(*fetch.EventRequestPaused), patterns ...string) {
	t.Helper()
	evs := make(chan *fetch.EventRequestPaused, 64)
	stop := make(chan struct{})
	chromedp.Listen(p.ctx, func(ev any) {
		if e, ok := ev.(*fetch.EventRequestPaused); ok {
			select {
			case evs <- e:
			case <-stop:
			}
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case e := <-evs:
				answer(e)
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	var ps []*fetch.RequestPattern
	for _, pattern := range patterns {
		ps = append(ps, &fetch.RequestPattern{URLPattern: pattern})
	}
	if _, err := chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: ps}); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserWidgetGap: a stream that skips a message (seq 1, then 3) does not lose it: the
// frame shows the messages in order, each once, even when its first look for the missing one
// fails and the stream ends there — the reconnect reads again from before the gap.
func TestBrowserWidgetGap(t *testing.T) { // not parallel, as TestBrowserWidget
	shop, base := widgetShop(t, `{channel: "web"}`, "", nil)
	p := newPage(t, shop, 1280, 800)
	p.run("open the shop", chromedp.Navigate(shop+"/"))
	f := openWidget(t, p)
	f.wait("the greeting", logHas("How can we help?"))
	f.click("Track my order", ".choices button:nth-child(1)")
	f.wait("the question", logHas("What is your order number?"))

	// The conversation's three messages, as the stream gives them.
	w := &widgetClient{t: t, base: base + "/widget/v1/web/", token: f.text(`localStorage.getItem("tandem:web:token")`)}
	a := w.do("GET", "messages", nil)
	msgs, _ := a.body["messages"].([]any)
	if len(msgs) != 3 {
		t.Fatalf("messages: %d %v", a.status, a.body)
	}
	event := func(m any) string {
		d := m.(map[string]any)
		b, _ := json.Marshal(d)
		return fmt.Sprintf("id: %s.%v\nevent: message\ndata: %s\n\n", d["conversation_id"], d["seq"], b)
	}
	skipping := "retry: 3000\n\n" + event(msgs[0]) + event(msgs[2]) // seq 2 is missing

	// After a reload, the first stream skips seq 2 and ends; the first look for it fails.
	var streams, looks atomic.Int32
	intercept(t, p, func(e *fetch.EventRequestPaused) {
		first := false
		if strings.Contains(e.Request.URL, "/events") {
			first = streams.Add(1) == 1
		} else {
			first = looks.Add(1) == 1
		}
		switch {
		case !first:
			chromedp.Call(p.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
		case strings.Contains(e.Request.URL, "/events"):
			chromedp.Call(p.ctx, fetch.FulfillRequest, fetch.FulfillRequestParams{RequestID: e.RequestID, ResponseCode: 200,
				ResponseHeaders: []*fetch.HeaderEntry{{Name: "Content-Type", Value: "text/event-stream"}}, Body: []byte(skipping)})
		default:
			chromedp.Call(p.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: e.RequestID, ErrorReason: network.ErrorReasonConnectionFailed})
		}
	}, "*/widget/v1/web/events*", "*/widget/v1/web/messages?after=*")
	p.run("reload", chromedp.Reload())
	f = openWidget(t, p)
	f.wait("the three messages in order", `[...document.querySelectorAll(".msg .text")].map(e => e.innerText).join("|") === "Hi! Welcome to Lumen & Co. How can we help?|Track my order|What is your order number?"`)
	if streams.Load() < 2 || looks.Load() < 1 {
		t.Errorf("%d streams and %d looks for the gap; want the skipping stream, a failed look and a reconnect", streams.Load(), looks.Load())
	}
}

// TestBrowserWidgetSettings: the snippet's settings — launcher "none" (no bubble: the page
// opens and closes the chat), open on load, the left side, Spanish.
func TestBrowserWidgetSettings(t *testing.T) { // not parallel, as TestBrowserWidget
	shop, _ := widgetShop(t, `{channel: "web", launcher: "none", open: true, position: "left", locale: "es"}`, "", nil)
	p := newPage(t, shop, 1280, 800)
	p.run("open the shop", chromedp.Navigate(shop+"/"))
	p.waitFor("open on load", `!!window.Tandem && Tandem.isOpen()`)
	f := chatFrame(t, p)
	f.wait("the greeting, in Spanish", logHas("How can we help?")+` && document.querySelector("#text").placeholder === "Escribe un mensaje…"`)
	if got := evalTo[string](p, `(() => { const r = document.querySelector("iframe").getBoundingClientRect(); const b = document.querySelector('button[aria-label="Cerrar chat"]'); return r.left + ":" + (innerHeight - r.bottom) + ":" + (b && b.offsetWidth > 0 ? "bubble" : "none"); })()`); got != "20:20:none" {
		t.Errorf("the chat's left and bottom margins, and the launcher: %s, want 20:20:none (in the corner: no bubble to stand above)", got)
	}
	p.shot("settings")
	p.eval(`Tandem.close()`)
	p.waitFor("closed, no launcher", `!Tandem.isOpen() && document.querySelector("iframe").style.display === "none" && [...document.querySelectorAll("button")].every(b => b.offsetWidth === 0)`)
}
