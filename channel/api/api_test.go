package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
)

func TestSendSignsAndCarriesTheKey(t *testing.T) {
	t.Parallel()
	type got struct {
		body []byte
		sig  string
		key  string
	}
	seen := make(chan got, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen <- got{b, r.Header.Get(SignatureHeader), r.Header.Get("Idempotency-Key")}
	}))
	defer srv.Close()
	c := &Channel{ID: "api", OutboundURL: srv.URL, Secret: "s3cret", Client: srv.Client()}
	out := tandem.Outbound{
		Conversation: &tandem.Conversation{ID: "c1"}, Contact: &tandem.Contact{ID: "k1", ExternalID: "u-42"},
		Message:        &tandem.Message{ID: "m1", Author: tandem.AuthorBot, Type: "text", Text: "Hi \"Ana\"", CreatedAt: time.Unix(0, 0).UTC()},
		IdempotencyKey: "m1",
	}
	if _, err := c.Send(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	g := <-seen
	if !Verify("s3cret", g.body, g.sig) {
		t.Errorf("signature %q does not verify the body", g.sig)
	}
	if g.key != "m1" {
		t.Errorf("Idempotency-Key = %q, want m1", g.key)
	}
	var o Outbound
	if err := json.Unmarshal(g.body, &o); err != nil {
		t.Fatal(err)
	}
	if o.Contact.ExternalID != "u-42" || o.Message.Text != `Hi "Ana"` || o.ConversationID != "c1" {
		t.Errorf("body = %+v", o)
	}
}

func TestSendFailsOnNon2xx(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(502) }))
	defer srv.Close()
	c := &Channel{OutboundURL: srv.URL, Client: srv.Client()}
	_, err := c.Send(context.Background(), tandem.Outbound{Conversation: &tandem.Conversation{}, Contact: &tandem.Contact{}, Message: &tandem.Message{}})
	if err == nil || tandem.IsPermanent(err) {
		t.Errorf("err = %v, want a retryable error", err)
	}
}

func TestSendWithoutURLIsPollOnly(t *testing.T) {
	t.Parallel()
	c := &Channel{}
	if _, err := c.Send(context.Background(), tandem.Outbound{}); err != nil {
		t.Errorf("err = %v, want nil", err)
	}
}

// An outbound_url may carry a credential (https://user:pass@host/..., ?key=...): the channel's
// health and its send errors — in the log, and on a failed message that agents see — show the
// URL without its userinfo and query.
func TestOutboundURLCredentialsNeverShown(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer srv.Close()
	out := tandem.Outbound{Conversation: &tandem.Conversation{ID: "c1"}, Contact: &tandem.Contact{ID: "k1"}, Message: &tandem.Message{ID: "m1"}}
	for _, base := range []string{srv.URL, "http://127.0.0.1:1", "http://[::1"} {
		u := strings.Replace(base, "http://", "http://bot:pass-Canary-1@", 1) + "/out?key=key-Canary-2#frag-Canary-3"
		c := &Channel{ID: "api", OutboundURL: u, Client: srv.Client()}
		_, err := c.Send(context.Background(), out)
		if err == nil {
			t.Fatalf("%s: sent; want an error", base)
		}
		for what, text := range map[string]string{"the send error": err.Error(), "the health": c.Health(context.Background()).Detail} {
			if strings.Contains(text, "Canary") {
				t.Errorf("%s shows the URL's credentials: %s", what, text)
			}
		}
		if !strings.Contains(err.Error(), "outbound_url") {
			t.Errorf("the send error %q does not name outbound_url", err)
		}
	}
}
