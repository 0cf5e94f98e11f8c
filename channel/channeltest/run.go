package channeltest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
)

// Run runs the behaviour suite on a channel kind.
func Run(t *testing.T, s *Suite) {
	for _, part := range []struct {
		name string
		test func(t *testing.T, s *Suite)
	}{
		{"incoming", testIncoming}, {"replayed", testReplayed}, {"forged", testForged}, {"statuses", testStatuses},
		{"outgoing", testOutgoing}, {"errors", testErrors}, {"retried", testRetried}, {"secrets", testSecrets},
	} {
		t.Run(part.name, func(t *testing.T) {
			t.Parallel()
			if why, ok := s.Skip[part.name]; ok {
				t.Skip(why)
			}
			part.test(t, s)
		})
	}
}

// Each payload stores exactly the messages it holds, normalised; files are kept and served.
func testIncoming(t *testing.T, s *Suite) {
	if len(s.Incoming) == 0 {
		t.Fatal("the suite has no incoming payloads")
	}
	for _, in := range s.Incoming {
		t.Run(in.Name, func(t *testing.T) {
			t.Parallel()
			e := NewEnv(t, s)
			if st := e.Post(in.Body, true, nil); st/100 != 2 {
				t.Fatalf("status %d, want 2xx", st)
			}
			var got []Message
			var contacts []tandem.Contact
			for _, c := range e.Conversations() {
				for _, m := range c.Messages {
					if m.Direction == tandem.DirectionIn {
						got = append(got, m)
						contacts = append(contacts, c.Contact)
					}
				}
			}
			if len(got) != len(in.Want) {
				t.Fatalf("%d messages stored, want %d: %+v", len(got), len(in.Want), got)
			}
			for i, w := range in.Want {
				e.check(t, fmt.Sprintf("message %d", i), got[i], contacts[i], w)
			}
		})
	}
}

func (e *Env) check(t *testing.T, what string, m Message, ct tandem.Contact, w Want) {
	t.Helper()
	eq := func(field, got, want string) {
		if want != "" && got != want {
			t.Errorf("%s: %s = %q, want %q", what, field, got, want)
		}
	}
	eq("contact.external_id", ct.ExternalID, w.ExternalID)
	eq("contact.name", ct.Name, w.Name)
	eq("type", m.Type, w.Type)
	eq("text", m.Text, w.Text)
	eq("option", m.Option, w.Option)
	eq("reaction", m.Reaction, w.Reaction)
	eq("refers_to", m.RefersTo, w.RefersTo)
	if w.Location != nil && (m.Location == nil || *m.Location != *w.Location) {
		t.Errorf("%s: location %+v, want %+v", what, m.Location, w.Location)
	}
	if w.Contacts != nil && !reflect.DeepEqual(m.Contacts, w.Contacts) {
		t.Errorf("%s: contacts %+v, want %+v", what, m.Contacts, w.Contacts)
	}
	if w.Data != nil {
		got, _ := json.Marshal(m.Data)
		var g any
		json.Unmarshal(got, &g)
		want, _ := json.Marshal(w.Data)
		var wv any
		json.Unmarshal(want, &wv)
		if err := Contains(g, wv); err != nil {
			t.Errorf("%s: data %s: %v", what, got, err)
		}
	}
	switch {
	case w.MediaSize > 0:
		if m.Media == nil || m.Media.URL == "" || m.Media.Error != "" {
			t.Fatalf("%s: media %+v, want a kept file", what, m.Media)
		}
		eq("media.mime", m.Media.Mime, w.MediaMime)
		data, ctype := e.fetch(t, m.Media.URL)
		if int64(len(data)) != w.MediaSize || m.Media.Size != w.MediaSize {
			t.Errorf("%s: the kept file has %d bytes (media.size %d), want %d", what, len(data), m.Media.Size, w.MediaSize)
		}
		if w.MediaMime != "" && ctype != w.MediaMime {
			t.Errorf("%s: the file is served as %q, want %q", what, ctype, w.MediaMime)
		}
	case w.MediaError:
		if m.Media == nil || m.Media.Error == "" || m.Media.URL != "" {
			t.Errorf("%s: media %+v, want one not kept, with the reason", what, m.Media)
		}
	}
}

// fetch reads a kept file at its URL with the test's token.
func (e *Env) fetch(t *testing.T, url string) ([]byte, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.API.URL+url, nil)
	req.Header.Set("Authorization", "Bearer "+e.Token)
	resp, err := e.API.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, data)
	}
	return data, resp.Header.Get("Content-Type")
}

// A platform's retry of a payload is acknowledged and stores nothing more.
func testReplayed(t *testing.T, s *Suite) {
	for _, in := range s.Incoming {
		if len(in.Want) == 0 {
			continue
		}
		t.Run(in.Name, func(t *testing.T) {
			t.Parallel()
			e := NewEnv(t, s)
			for i := range 3 {
				if st := e.Post(in.Body, true, nil); st/100 != 2 {
					t.Fatalf("post %d: status %d, want 2xx", i+1, st)
				}
				e.Drain()
			}
			if got := e.Inbound(); len(got) != len(in.Want) {
				t.Errorf("%d messages stored after 3 posts of the same payload, want %d", len(got), len(in.Want))
			}
		})
	}
}

// A request without its signature, or with a wrong one, is 401 and stores nothing.
func testForged(t *testing.T, s *Suite) {
	if s.Sign == nil && s.Start == nil {
		t.Skip("the route takes an API token, checked by the API server's own tests")
	}
	if len(s.Forgeries) == 0 {
		t.Fatal("the suite has no forgeries")
	}
	e := NewEnv(t, s)
	for name, forge := range s.Forgeries {
		for _, in := range s.Incoming {
			if st := e.Post(in.Body, true, forge); st != http.StatusUnauthorized {
				t.Errorf("%s, %s: status %d, want 401", name, in.Name, st)
			}
		}
	}
	if got := e.Conversations(); len(got) != 0 {
		t.Errorf("forged requests opened %d conversations", len(got))
	}
	if why, ok := s.Skip["forged.logged"]; ok {
		t.Log("refusals are not logged: " + why)
		return
	}
	if !strings.Contains(e.Logs.String(), "signature") && !strings.Contains(e.Logs.String(), "secret") {
		t.Error("refused requests are not logged: an operator with a wrong secret would not know")
	}
}

// Delivery reports reach a message step: failed takes on_failed with the platform's code and
// message; delivered goes on; a report on an unknown message changes nothing.
func testStatuses(t *testing.T, s *Suite) {
	if s.StatusBody == nil {
		t.Skip("the kind reports no delivery")
	}
	for _, tc := range []struct {
		status, code, err, want string
	}{
		{channel.StatusDelivered, "", "", "went on: delivered"},
		{channel.StatusRead, "", "", "went on: read"},
		{channel.StatusFailed, "131026", "Message undeliverable", "failed: 131026: Message undeliverable"},
	} {
		t.Run(tc.status, func(t *testing.T) {
			t.Parallel()
			e := NewEnv(t, s)
			conv, customer := e.Open(t)
			e.Start(conv, "track")
			tracked := e.Last(t, conv, "Your code is 1234")
			if st := e.Post(s.StatusBody(channel.Status{ChannelMessageID: "wamid.unknown", ConversationID: conv, MessageID: "nope", Status: channel.StatusFailed}, customer), true, nil); st/100 != 2 {
				t.Fatalf("a report on an unknown message: status %d, want 2xx", st)
			}
			e.Drain()
			if got := e.Outbound(t, conv); got[len(got)-1] != "Your code is 1234" {
				t.Fatalf("a report on an unknown message moved the flow: %q", got)
			}
			st := channel.Status{ChannelMessageID: "wamid.tracked", ConversationID: conv, MessageID: tracked, Status: tc.status, Code: tc.code, Error: tc.err}
			if code := e.Post(s.StatusBody(st, customer), true, nil); code/100 != 2 {
				t.Fatalf("status report: %d, want 2xx", code)
			}
			e.Drain()
			got := e.Outbound(t, conv)
			if got[len(got)-1] != tc.want {
				t.Errorf("after a %s report the bot sent %q, want %q last", tc.status, got, tc.want)
			}
			var why *tandem.MessageError
			if tc.status == channel.StatusFailed {
				why = &tandem.MessageError{Code: tc.code, Message: tc.err}
			}
			for _, m := range e.Conversations()[0].Messages {
				if m.ID == tracked && m.Status != tc.status {
					t.Errorf("the message's status is %q, want %q", m.Status, tc.status)
				}
				if m.ID == tracked && !reflect.DeepEqual(m.Error, why) {
					t.Errorf("the message's error is %+v, want %+v", m.Error, why)
				}
			}
		})
	}
}

// Open posts the suite's first payload and does the work it causes; it returns the
// conversation and the customer's external id.
func (e *Env) Open(t *testing.T) (conv, customer string) {
	t.Helper()
	if st := e.Post(e.Suite.Incoming[0].Body, true, nil); st/100 != 2 {
		t.Fatalf("opening payload: status %d", st)
	}
	e.Drain()
	cs := e.Conversations()
	if len(cs) != 1 {
		t.Fatalf("%d conversations after the opening payload, want 1", len(cs))
	}
	return cs[0].ID, cs[0].Contact.ExternalID
}

// Outbound returns the texts of the bot's messages in a conversation.
func (e *Env) Outbound(t *testing.T, conv string) []string {
	t.Helper()
	var l struct {
		Messages []Message `json:"messages"`
	}
	e.Get("/api/v1/conversations/"+conv+"/messages?limit=1000", &l)
	var out []string
	for _, m := range l.Messages {
		if m.Direction == tandem.DirectionOut {
			out = append(out, m.Text)
		}
	}
	if len(out) == 0 {
		t.Fatal("the bot sent nothing")
	}
	return out
}

// Last returns the id of the bot's message with a text.
func (e *Env) Last(t *testing.T, conv, text string) string {
	t.Helper()
	var l struct {
		Messages []Message `json:"messages"`
	}
	e.Get("/api/v1/conversations/"+conv+"/messages?limit=1000", &l)
	for i := len(l.Messages) - 1; i >= 0; i-- {
		if m := l.Messages[i]; m.Direction == tandem.DirectionOut && m.Text == text {
			return m.ID
		}
	}
	t.Fatalf("the bot did not send %q", text)
	return ""
}

// Each outbound message makes the requests of its golden file.
func testOutgoing(t *testing.T, s *Suite) {
	if len(s.Outgoing) == 0 {
		t.Fatal("the suite has no outgoing messages")
	}
	for _, o := range s.Outgoing {
		t.Run(o.Name, func(t *testing.T) {
			t.Parallel()
			e := NewEnv(t, s)
			if o.Setup != nil {
				o.Setup(e)
			}
			m := o.Message
			if m.ID == "" {
				m.ID = "msg-1"
			}
			ct := o.Contact
			res, err := e.Channel.Send(context.Background(), tandem.Outbound{Conversation: &tandem.Conversation{ID: "conv-1"}, Contact: &ct,
				Message: &m, IdempotencyKey: m.ID, UseTemplate: o.UseTemplate, LastInboundAt: T0})
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if res.ChannelMessageID == "" && s.Sign != nil {
				t.Error("the send answered no platform id: delivery reports could not name it")
			}
			var bodies []json.RawMessage
			for _, r := range e.Platform.Sends() {
				bodies = append(bodies, r.Body)
			}
			if len(bodies) == 0 {
				t.Fatal("nothing was sent")
			}
			if o.Golden == "" {
				return // an upload: its multipart body is checked by the kind's own tests
			}
			var got []byte
			if len(bodies) == 1 {
				got = bodies[0]
			} else {
				got, _ = json.Marshal(bodies)
			}
			Golden(t, o.Golden, got)
		})
	}
}

// Throttling is retried no sooner than the platform asks, a server error is retried, and a
// rejection fails the send for good with the platform's code and message.
func testErrors(t *testing.T, s *Suite) {
	send := func(e *Env) error {
		_, err := e.Channel.Send(context.Background(), tandem.Outbound{Conversation: &tandem.Conversation{ID: "conv-1"},
			Contact: &tandem.Contact{ID: "k", ExternalID: s.Outgoing[0].Contact.ExternalID},
			Message: &tandem.Message{ID: "m-1", Type: tandem.MessageText, Text: "hello"}, IdempotencyKey: "m-1", LastInboundAt: T0})
		return err
	}
	e := NewEnv(t, s)
	e.Platform.Queue(s.Throttled)
	err := send(e)
	d, ok := tandem.RetryDelay(err)
	if err == nil || tandem.IsPermanent(err) || !ok || d != s.ThrottleDelay {
		t.Errorf("throttled: err = %v (delay %v, %v); want a retryable error asking to wait %v", err, d, ok, s.ThrottleDelay)
	}
	e.Platform.Queue(s.ServerError)
	if err := send(e); err == nil || tandem.IsPermanent(err) {
		t.Errorf("server error: err = %v, want a retryable error", err)
	}
	if s.Rejected.Status == 0 {
		return // the kind retries every failure
	}
	e.Platform.Queue(s.Rejected)
	err = send(e)
	if err == nil || !tandem.IsPermanent(err) {
		t.Errorf("rejected: err = %v, want a permanent error", err)
	}
	for _, want := range s.RejectedText {
		if err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("rejected: %q does not say %q", err, want)
		}
	}
}

// Through the runner: a throttled reply is sent again once the platform's delay has passed,
// not before, with the same content; a rejected one is marked failed, with no retry.
func testRetried(t *testing.T, s *Suite) {
	t.Run("throttled", func(t *testing.T) {
		t.Parallel()
		e := NewEnv(t, s)
		e.Platform.Queue(s.Throttled)
		e.Open(t)
		if n := len(e.Platform.Sends()); n != 1 {
			t.Fatalf("%d sends after the first message, want 1 (throttled)", n)
		}
		e.Advance(s.ThrottleDelay - time.Second)
		if n := len(e.Platform.Sends()); n != 1 {
			t.Fatalf("the reply was sent again before the platform's delay was over (%d sends)", n)
		}
		e.Advance(2 * time.Second)
		sends := e.Platform.Sends()
		if len(sends) != 2 || string(sends[0].Body) != string(sends[1].Body) {
			t.Fatalf("%d sends after the delay, want the same request twice", len(sends))
		}
	})
	t.Run("rejected", func(t *testing.T) {
		t.Parallel()
		if s.Rejected.Status == 0 {
			t.Skip("the kind retries every failure")
		}
		e := NewEnv(t, s)
		e.Platform.Queue(s.Rejected)
		conv, _ := e.Open(t)
		e.Advance(time.Hour)
		if n := len(e.Platform.Sends()); n != 1 {
			t.Errorf("a rejected send was tried %d times, want 1", n)
		}
		for _, m := range e.Conversations()[0].Messages {
			if m.Direction == tandem.DirectionOut && m.Status != channel.StatusFailed {
				t.Errorf("the rejected message %q has status %q, want failed", m.Text, m.Status)
			}
			if m.Direction == tandem.DirectionOut && (m.Error == nil || *m.Error != s.RejectedError) {
				t.Errorf("the rejected message %q has error %+v, want the platform's %+v", m.Text, m.Error, s.RejectedError)
			}
		}
		_ = conv
	})
}

// No secret shows in logs, traces or API answers, also after errors and forgeries.
func testSecrets(t *testing.T, s *Suite) {
	if len(s.Secrets) == 0 {
		t.Fatal("the suite names no secrets")
	}
	e := NewEnv(t, s)
	if s.Rejected.Status != 0 {
		e.Platform.Queue(s.Rejected)
	}
	e.Open(t)
	for _, forge := range s.Forgeries {
		e.Post(s.Incoming[0].Body, true, forge)
	}
	for _, in := range s.Incoming {
		e.Post(in.Body, true, nil)
	}
	e.Platform.Queue(s.ServerError, s.Throttled)
	e.Drain()
	e.Advance(time.Hour)
	e.CheckSecrets()
}
