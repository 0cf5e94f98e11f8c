package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// pngOf is a picture of w×h pixels, as PNG.
func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{R: uint8(x * 2), G: 120, B: 200, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// awaitConversation polls the API until the conversation is in the state cond accepts.
func (c apiClient) awaitConversation(id, what string, cond func(status, handoff string) bool) {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var conv struct {
			Status  string `json:"status"`
			Handoff struct {
				Status string `json:"status"`
			} `json:"handoff"`
		}
		c.call("GET", "/api/v1/conversations/"+id, nil, &conv)
		if cond(conv.Status, conv.Handoff.Status) {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("conversation %s never got %s (status %s, handoff %s)", id, what, conv.Status, conv.Handoff.Status)
		}
		time.Sleep(50 * time.Millisecond) // waiting on the server's runner, bounded by the deadline
	}
}

// What an agent reads and does beyond the main path: a tone and a notification when a
// conversation is assigned to them, unread markers, live counts, search and filters, the bot's
// buttons as the customer saw them, the run collapsed, the contact's earlier conversations, a
// file sent from the reply box (shown in place, as the customer got it) and "typing" for the
// customer.
func TestBrowserConversationDetails(t *testing.T) {
	t.Parallel()
	base, api, out := inboxServer(t)
	// The customer's files are links to their platform's (https) addresses.
	files := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/photo.png" {
			w.Header().Set("Content-Type", "image/png")
			w.Write(pngOf(t, 90, 60))
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		w.Write([]byte("%PDF-1.4 an invoice"))
	}))
	t.Cleanup(files.Close)
	p := &page{t: t, ctx: browser(t, 1366, 860, chromedp.Flag("ignore-certificate-errors", true)), base: base, dir: t.ArtifactDir()}
	p.login("ana@acme.com", "a-long-password")
	p.waitText(".queues", "Live")

	// An earlier conversation of the customer, handed over and closed.
	old, _ := api.say("u-7", "m-7a", "My parcel is late")
	api.awaitConversation(old, "a handoff", func(st, h string) bool { return h == "queued" || h == "connected" })
	api.call("POST", "/api/v1/inbox/conversations/"+old+"/close", map[string]any{}, nil)
	api.awaitConversation(old, "the handoff closed", func(st, h string) bool { return h != "queued" && h != "connected" })
	api.call("POST", "/api/v1/inbox/conversations/"+old+"/close", map[string]any{}, nil)
	api.awaitConversation(old, "closed", func(st, h string) bool { return st == "closed" })

	// The browser's notifications and sound, recorded; the first click readies them.
	p.eval(`window.__notes = []; window.Notification = class { static permission = "granted"; static requestPermission() { return Promise.resolve("granted"); } constructor(title, o) { window.__notes.push(title + ": " + o.body); } close() {} };
window.__tones = 0; const osc = AudioContext.prototype.createOscillator; AudioContext.prototype.createOscillator = function () { window.__tones++; return osc.call(this); };`)
	p.run("open all open conversations", chromedp.Click(chromedp.CSS(`a[href="/inbox/all"]`)))

	// The customer comes back: the menu (buttons), then a person. Ana is online: it is hers.
	conv, _ := api.say("u-7", "m-7b", "menu")
	if conv == old {
		t.Fatal("the customer's new message reopened the closed conversation")
	}
	api.awaitBot(conv, "", 1)
	api.say("u-7", "m-7c", "A person")
	p.waitFor("a notification of the assignment", `window.__notes.length > 0`)
	if n := evalTo[string](p, `window.__notes[0]`); !bytes.Contains([]byte(n), []byte("New conversation assigned to you: Ana Souza")) {
		t.Errorf("the notification says %q, want the assignment and the customer", n)
	}
	if tones := evalTo[int](p, `window.__tones`); tones < 2 {
		t.Errorf("%d notes of the tone played, want 2", tones)
	}
	p.waitText(`a[href="/inbox/mine"] .count`, "1")
	api.say("u-7", "m-7d", "Are you there?")
	p.waitFor("the unread marker", `!!document.querySelector('[data-conversation="`+conv+`"].unread')`)

	// Another customer waits in the queue while ana is away.
	p.waitText(`a[href="/inbox/team-support"]`, "1 online")
	p.choose("#presence", "away")
	p.waitFor("away", `document.querySelector(".presence .dot").classList.contains("away")`)
	p.waitText(`a[href="/inbox/team-support"]`, "0 online")
	other, _ := api.say("u-8", "m-8", "I need a human please")
	p.waitFor("the second conversation", `!!document.querySelector('[data-conversation="`+other+`"]')`)
	p.waitText(`a[href="/inbox/all"] .count`, "2")
	p.waitText(`a[href="/inbox/queued"] .count`, "1")

	// Filters and search narrow the list.
	p.run("open the filters", chromedp.Click(chromedp.CSS(".filters summary")))
	p.choose("#filter-status", "queued")
	p.waitText(".list-count", "1 conversation")
	p.waitFor("only the queued one", `!!document.querySelector('[data-conversation="`+other+`"]') && !document.querySelector('[data-conversation="`+conv+`"]')`)
	p.choose("#filter-status", "")
	p.choose("#filter-tag", "vip")
	p.waitFor("only the vip one", `!!document.querySelector('[data-conversation="`+conv+`"]') && !document.querySelector('[data-conversation="`+other+`"]')`)
	p.shot("filters")
	p.choose("#filter-tag", "")
	p.choose("#filter-team", "sales")
	p.waitText(".empty-list", "No conversation matches")
	p.choose("#filter-team", "support")
	p.choose("#filter-channel", "api")
	p.waitText(".list-count", "2 conversations")
	p.button("Clear filters")
	p.waitText(".list-count", "2 conversations")
	p.run("search", chromedp.SendKeys(chromedp.CSS("#search"), "Are you there"))
	p.waitText(".list-count", "1 conversation")
	p.run("search for nothing", chromedp.SendKeys(chromedp.CSS("#search"), " zzz"))
	p.waitText(".empty-list", "No conversation matches")
	p.eval(`(() => { const i = document.querySelector("#search"); Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set.call(i, ""); i.dispatchEvent(new Event("input", {bubbles: true})); })()`)
	p.waitText(".list-count", "2 conversations")

	// The customer sends a photo and an invoice.
	for i, m := range []map[string]any{
		{"type": "image", "text": "The box arrived like this", "media": map[string]any{"url": files.URL + "/photo.png", "mime": "image/png"}},
		{"type": "file", "media": map[string]any{"url": files.URL + "/invoice.pdf", "mime": "application/pdf", "name": "invoice.pdf"}},
	} {
		m["id"] = fmt.Sprintf("m-7-file-%d", i)
		if st := api.call("POST", "/api/v1/channels/api/messages", map[string]any{"contact": map[string]any{"external_id": "u-7"}, "message": m}, nil); st != http.StatusAccepted {
			t.Fatalf("the customer's file answered %d", st)
		}
	}

	// The conversation: the bot's buttons as the customer saw them, the run collapsed, the
	// earlier conversation in the panel; opening it reads it and clears the marker.
	p.run("open the conversation", chromedp.Click(chromedp.CSS(`[data-conversation="`+conv+`"]`)))
	p.waitText(".messages", "Are you there?")
	// The customer's picture in place, the invoice as a link, as the customer sent them.
	p.waitFor("the customer's photo", `(() => { const i = document.querySelector('.messages .msg.in img.media'); return !!i && i.complete && i.naturalWidth === 90; })()`)
	p.waitText(".messages", "The box arrived like this")
	p.waitFor("the invoice as a link", `[...document.querySelectorAll(".messages .msg.in a.file")].some((a) => a.innerText.includes("invoice.pdf") && a.href.endsWith("/invoice.pdf"))`)
	p.waitText(".messages .choices", "Order status")
	p.waitText(".messages .choices", "A person")
	p.waitFor("the marker to clear", `!document.querySelector('[data-conversation="`+conv+`"].unread')`)
	p.waitText(".trace summary", "Bot run: menu")
	if evalTo[bool](p, `document.querySelector("details.trace").open`) {
		t.Error("the bot's run is open; it should be collapsed until asked for")
	}
	// Why the bot handed over, and its summary for the agent.
	p.waitText(`[aria-label="Contact and handoff"]`, "Picked A person in the menu")
	p.waitText(`[aria-label="Contact and handoff"]`, summary)
	p.waitFor("the earlier conversation", `!!document.querySelector('[data-earlier="`+old+`"]')`)
	p.waitText(`[data-earlier="`+old+`"]`, "Closed")

	// A picture from the reply box, with a caption: the customer gets it as an image.
	pic := filepath.Join(t.TempDir(), "label.png")
	if err := os.WriteFile(pic, pngOf(t, 120, 80), 0o600); err != nil {
		t.Fatal(err)
	}
	p.run("write a caption", chromedp.SendKeys(chromedp.CSS("#composer-text"), "Here is your return label."))
	p.run("attach the picture", chromedp.SetUploadFiles(chromedp.CSS("#composer-file"), []string{pic}))
	p.waitText(".attachment", "label.png")
	p.shot("attachment")
	p.button("Send")
	out.await(t, `"name":"label.png"`)
	out.await(t, "Here is your return label.")
	p.waitFor("the picture in the history", `(() => { const i = document.querySelector(".messages .msg.out img.media"); return !!i && i.src.startsWith("blob:") && i.complete && i.naturalWidth === 120; })()`)
	if !evalTo[bool](p, `performance.getEntriesByType("resource").some((e) => e.name.endsWith("/typing"))`) {
		t.Error("writing a reply never told the customer the agent is typing (POST .../typing)")
	}
	p.run("open the details", chromedp.Evaluate[chromedp.Void](`document.querySelector(".history").scrollTop = 1e9`))
	p.shot("conversation-details")

	// The earlier conversation opens from the panel.
	p.run("open the earlier conversation", chromedp.Click(chromedp.CSS(`[data-earlier="`+old+`"]`)))
	p.waitText(".messages", "My parcel is late")
	p.waitText(".view-title", "Closed")
	p.shot("earlier-conversation")
	if st := api.call("GET", "/api/v1/conversations/"+old, nil, nil); st != http.StatusOK {
		t.Errorf("the earlier conversation answers %d", st)
	}
}
