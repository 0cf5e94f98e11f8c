package main

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserFrameWaitWhileClosed: the frame helpers see a change that comes while the chat is
// closed. Chromium runs no animation frames in a hidden iframe, so a wait polled on animation
// frames checked once and then hung until its deadline, whatever the frame showed meanwhile
// (CI failed so on the widget API test's history after a reload).
func TestBrowserFrameWaitWhileClosed(t *testing.T) {
	shopURL, _ := widgetShop(t, `{channel: "web"}`, "", varFlows)
	p := newPage(t, shopURL, 1280, 800)
	p.run("open the shop", chromedp.Navigate(shopURL+"/"))
	p.waitFor("the widget is ready", `!!window.Tandem && !Tandem.isOpen()`)
	f := chatFrame(t, p)
	if got := f.text(`(() => { setTimeout(() => window.late = "yes", 300); return "armed"; })()`); got != "armed" {
		t.Fatalf("the frame's timer: %q", got)
	}
	f.wait("a change 300 ms later, the chat closed", `window.late === "yes"`)
}
