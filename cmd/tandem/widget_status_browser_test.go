package main

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"
)

// TestBrowserWidgetStatus: the conversation's status changes reach the visitor as events
// numbered with the messages. The header follows them (waiting, then the agent's name); the
// page is told each change once (`conversation`: bot, queued, assigned), and a reload does not
// tell the history's changes again; the frame never re-reads for a gap, since the status
// changes fill the numbers between messages.
func TestBrowserWidgetStatus(t *testing.T) { // not parallel, as TestBrowserWidget
	shop, base := widgetShop(t, `{channel: "web"}`, recordEvents, map[string]string{"human.yaml": humanFlow})
	p := newPage(t, shop, 1280, 800)
	var looks atomic.Int32
	intercept(t, p, func(e *fetch.EventRequestPaused) {
		looks.Add(1)
		chromedp.Call(p.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: e.RequestID})
	}, "*/widget/v1/web/messages?after=*")
	p.run("open the shop", chromedp.Navigate(shop+"/"))
	f := openWidget(t, p)
	f.wait("the greeting", logHas("How can we help?"))
	p.eval(`Tandem.sendMessage("agent please")`)
	f.wait("queued", `document.querySelector("#status").innerText.includes("Waiting for an agent")`)
	p.shot("widget-queued")
	ana := agentAna(t, base)
	conv := queued(t, ana, true)
	f.wait("assigned, by name", `document.querySelector("#status").innerText.includes("Ana Lima")`)
	if st := ana.call("POST", "/api/v1/inbox/conversations/"+conv+"/messages", map[string]string{"text": "Ana here, how can I help?"}, nil); st != 202 {
		t.Fatalf("agent message: %d", st)
	}
	f.wait("the agent's message", logHas("Ana here, how can I help?"))
	settle(p)
	p.shot("widget-assigned")
	told := `got.filter(e => e.name === "conversation").map(e => e.detail.status + ":" + (e.detail.id === "` + conv + `")).join(" ")`
	if got := evalTo[string](p, told); got != "bot:true queued:true assigned:true" {
		t.Errorf("conversation events %q, want bot, queued and assigned, once each", got)
	}

	p.run("reload", chromedp.Reload())
	f = openWidget(t, p)
	f.wait("the history, with the agent's name", logHas("Ana here, how can I help?")+` && document.querySelector("#status").innerText.includes("Ana Lima")`)
	settle(p)
	if got := evalTo[string](p, told); got != "assigned:true" {
		t.Errorf("conversation events after the reload %q, want the current status once", got)
	}
	if n := looks.Load(); n != 0 {
		t.Errorf("the frame read %d times for a gap; the status changes leave none", n)
	}
	if strings.Contains(f.text(`document.querySelector(".log").innerText`), "queued") {
		t.Error("a status change shows as a message")
	}
}
