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

	// A customer writes on WhatsApp and is handed over (to Ana, the one online); she replies.
	hook([]byte(`{"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
  "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881", "phone_number_id": "` + phoneID + `"},
  "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
  "messages": [{"from": "16505551234", "id": "wamid.in-1", "timestamp": "` + fmt.Sprint(time.Now().Unix()) + `", "type": "text", "text": {"body": "Where is my parcel? I need a person"}}]}}]}]}`))
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
	p.shot("undelivered-live")
	p.run("open the conversation again", chromedp.Reload())
	p.waitText(".messages", why)
	p.waitText("[data-testid=conversation-list]", "Sheena Nelson")
	p.waitFor("the side panel", `!document.querySelector(".view").innerText.includes("loading")`)
	p.shot("undelivered")
	// Under the reply, visible as it is, and under no other message.
	got := evalTo[[]string](p, `[...document.querySelectorAll(".messages .msg-failed")].map(e => {
  const li = e.closest("li"); const r = e.getBoundingClientRect();
  return li.querySelector(".msg-text").innerText + " | " + e.innerText + " | " + (r.width > 0 && r.height > 0 && getComputedStyle(e).visibility === "visible");
})`)
	if len(got) != 1 || !strings.HasPrefix(got[0], reply+" | "+why) || !strings.HasSuffix(got[0], "| true") {
		t.Errorf("failure marks %q; want one, visible, under %q saying %q", got, reply, why)
	}
}
