package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/tandemchat/tandem/channel/whatsapp"
)

// graph is a WhatsApp Cloud API on 127.0.0.1: every send is accepted with the next wamid,
// which it remembers by the message's text, and signals.
type graph struct {
	mu     sync.Mutex
	n      int
	sent   map[string]string // text -> wamid
	signal chan struct{}     // a send came
}

func (g *graph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Text struct {
			Body string `json:"body"`
		} `json:"text"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	g.mu.Lock()
	g.n++
	id := fmt.Sprintf("wamid.out-%d", g.n)
	if body.Text.Body != "" {
		g.sent[body.Text.Body] = id
	}
	g.mu.Unlock()
	select {
	case g.signal <- struct{}{}:
	default:
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"messaging_product": "whatsapp", "success": true, "messages": [{"id": %q}]}`, id)
}

// await returns the wamid of the send of text, once it came.
func (g *graph) await(t *testing.T, text string) string {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		g.mu.Lock()
		id := g.sent[text]
		g.mu.Unlock()
		if id != "" {
			return id
		}
		select {
		case <-g.signal:
		case <-deadline:
			t.Fatalf("%q never reached WhatsApp", text)
		}
	}
}

// A reply WhatsApp reports undelivered says why under it, in WhatsApp's words, as soon as the
// report comes, and when the agent opens the conversation again: no hover, no other screen.
// The conversation's line in the list says so too, at once and after a reload, so an agent
// scanning the list sees which customer did not get the last reply.
func TestBrowserUndelivered(t *testing.T) {
	t.Parallel()
	g := &graph{sent: map[string]string{}, signal: make(chan struct{}, 1)}
	gs := httptest.NewServer(g)
	t.Cleanup(gs.Close)
	const secret, phoneID = "wa-app-secret", "106540352242922" // the phone number of the status fixture
	base, _, _ := inboxServer(t, fmt.Sprintf(`{id: wa, kind: whatsapp, phone_number_id: %q, access_token: wa-token, app_secret: %q, verify_token: vt, base_url: %q}`,
		phoneID, secret, gs.URL))
	hook := func(body []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/hooks/whatsapp/wa", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", whatsapp.Sign(secret, body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook answered %d, want 200", resp.StatusCode)
		}
	}
	p := newPage(t, base, 1366, 860)
	p.login("ana@acme.com", "a-long-password")
	p.waitFor("the inbox", `!!document.querySelector("#search")`)
	p.run("open all open conversations", chromedp.Click(chromedp.CSS(`a[href="/inbox/all"]`)))

	// customer is a WhatsApp customer's message, as WhatsApp posts it.
	customer := func(name, waID, id, text string) {
		t.Helper()
		hook([]byte(`{"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
  "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881", "phone_number_id": "` + phoneID + `"},
  "contacts": [{"profile": {"name": "` + name + `"}, "wa_id": "` + waID + `"}],
  "messages": [{"from": "` + waID + `", "id": "` + id + `", "timestamp": "` + fmt.Sprint(time.Now().Unix()) + `", "type": "text", "text": {"body": "` + text + `"}}]}}]}]}`))
	}

	// Two customers write on WhatsApp and are handed over (to Ana, the one online); she replies
	// to the first.
	customer("Marcus Chen", "16505550001", "wamid.in-0", "Can I change my delivery address? I need a person")
	p.waitText("[data-testid=conversation-list]", "Marcus Chen")
	customer("Sheena Nelson", "16505551234", "wamid.in-1", "Where is my parcel? I need a person")
	p.waitText("[data-testid=conversation-list]", "Sheena Nelson")
	p.run("open the conversation", chromedp.Click(`//*[@data-conversation][contains(., "Sheena Nelson")]`))
	p.waitText(".messages", "Where is my parcel? I need a person")
	p.waitText(".view-title", "Assigned to you")
	const reply = "Your parcel left our warehouse this morning."
	p.run("reply", chromedp.SendKeys(chromedp.CSS("#composer-text"), reply), chromedp.KeyEvent(kb.Enter))
	p.waitText(".messages", reply)
	wamid := g.await(t, reply)

	// WhatsApp reports it failed (its own payload): the agent reads why where she wrote it.
	fixture, err := os.ReadFile("../../channel/whatsapp/testdata/webhook_status_failed_131049_meta_docs.json")
	if err != nil {
		t.Fatal(err)
	}
	hook(bytes.ReplaceAll(fixture, []byte("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA"), []byte(wamid)))
	const why = "Not delivered · 131049 This message was not delivered to maintain healthy ecosystem engagement."
	p.waitText(".messages", why)
	p.waitText("[data-testid=conversation-list]", "Not delivered · You: "+reply)
	p.shot("undelivered-live")
	listMark(t, p, "live", why)
	p.run("open the conversation again", chromedp.Reload())
	p.waitText(".messages", why)
	p.waitText("[data-testid=conversation-list]", "Sheena Nelson")
	p.waitFor("the side panel", `!document.querySelector(".view").innerText.includes("loading")`)
	p.shot("undelivered")
	listMark(t, p, "after a reload", why)
	// Under the reply, visible as it is, and under no other message.
	got := evalTo[[]string](p, `[...document.querySelectorAll(".messages .msg-failed")].map(e => {
  const li = e.closest("li"); const r = e.getBoundingClientRect();
  return li.querySelector(".msg-text").innerText + " | " + e.innerText + " | " + (r.width > 0 && r.height > 0 && getComputedStyle(e).visibility === "visible");
})`)
	if len(got) != 1 || !strings.HasPrefix(got[0], reply+" | "+why) || !strings.HasSuffix(got[0], "| true") {
		t.Errorf("failure marks %q; want one, visible, under %q saying %q", got, reply, why)
	}
}

// listMark checks that the list marks Sheena Nelson's conversation, and not Marcus Chen's, with
// a visible red "Not delivered" before its last message, the reason on hover.
func listMark(t *testing.T, p *page, when, why string) {
	t.Helper()
	got := evalTo[[]string](p, `[...document.querySelectorAll("[data-testid=conversation-list] .row-failed")].map(e => {
  const r = e.getBoundingClientRect();
  return e.closest("[data-conversation]").querySelector(".row-name").innerText + " | " + e.innerText + " | " + e.title + " | " +
    getComputedStyle(e).color + " | " + (r.width > 0 && r.height > 0);
})`)
	head, tail := "Sheena Nelson | Not delivered | "+why, " | rgb(180, 35, 24) | true"
	if len(got) != 1 || !strings.HasPrefix(got[0], head) || !strings.HasSuffix(got[0], tail) {
		t.Errorf("%s, the list's marks %q; want one: %q…%q", when, got, head, tail)
	}
}
