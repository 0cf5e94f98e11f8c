package desktest

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk"
	"github.com/tandemchat/tandem/engine"
)

// Kind is one desk kind under the suite.
type Kind struct {
	Name string
	// DeskID is the id flows name (default DeskID; the built-in inbox is "inbox").
	DeskID string
	// NeedsEmail: the desk asks for the customer's e-mail before a handoff.
	NeedsEmail bool
	// Remote: the desk is an outside service (calls that fail, time out, a health check).
	Remote bool
	// Webhooks: agents' actions come in through the desk's authenticated webhooks.
	Webhooks bool
	// OwnErrors: the webhooks answer errors in a shape the kind's own contract fixes (the
	// webhook desk's {"code", "message"}, Chatwoot's {"error": "<text>"}); every other kind
	// answers them as the API does, {"error": {"code", "message"}}, and the suite checks it.
	OwnErrors bool
	// New starts what the kind needs (its fake service) and returns its driver.
	New func(t *testing.T) Driver
}

// Driver drives one kind's desk from the outside, as its agents and its service would.
type Driver interface {
	// Entry is the desks: entry of the desk (one YAML line), the ${VAR}s it uses, and the
	// client that reaches the fake service (nil: none).
	Entry() (entry string, vars map[string]string, client *http.Client)
	// Secrets are the credentials that must never show in logs, API answers or traces.
	Secrets() []string
	// Bind is called once Tandem runs.
	Bind(e *Env)
	// Handoff returns what the desk holds of the handoff of a Tandem conversation (whose
	// handoff session is session), false when it holds nothing.
	Handoff(t *testing.T, e *Env, conv, session string) (Handoff, bool)
	// Reply makes an agent reply in the handoff: the webhook that carries it (a zero Hook when
	// the desk takes it directly, as the inbox does).
	Reply(t *testing.T, e *Env, h Handoff, text string) Hook
	// Close makes the agent close the handoff.
	Close(t *testing.T, e *Env, h Handoff) Hook
	// Forge returns the webhook with a wrong or missing credential.
	Forge(hook Hook) Hook
	// Malformed returns a webhook whose body is not JSON, as authenticated as the desk allows.
	Malformed() Hook
	// FailStart and FailSend script the next answers of the call that opens a handoff and of
	// the one that forwards a customer message.
	FailStart(replies ...Reply)
	FailSend(replies ...Reply)
	// TooMany is the service's 429 asking to wait d.
	TooMany(e *Env, d time.Duration) Reply
	// Down makes the service fail (or work again).
	Down(down bool)
}

// Handoff is what a desk holds of one handoff.
type Handoff struct {
	Ref string
	// Email is the contact's e-mail as the desk got it.
	Email string
	// Transcript is what the agent sees of the conversation before the handoff.
	Transcript string
	// Messages are the customer's messages forwarded during the handoff, in order.
	Messages []string
	// Closed is set when Tandem told the desk the handoff ended.
	Closed bool
	// About is what the desk shows agents of the handoff besides the conversation, when the
	// Transcript does not hold it: its reason, flow and summary.
	About string
}

// Hook is a webhook to post to Tandem.
type Hook struct {
	Path   string
	Header http.Header
	Body   []byte
}

// Post sends the hook to Tandem and returns the status (0 for a zero Hook).
func (h Hook) Post(t *testing.T, e *Env) int {
	t.Helper()
	s, _ := h.Send(t, e)
	return s
}

// Send sends the hook to Tandem and returns the status and the body of the answer (0 and nil
// for a zero Hook).
func (h Hook) Send(t *testing.T, e *Env) (int, []byte) {
	t.Helper()
	if h.Path == "" {
		return 0, nil
	}
	return Post(t, e.Server.Client(), e.URL(h.Path), h.Header, h.Body)
}

// apiError checks that an answer is the API's error: the status, and {"error": {"code",
// "message"}} with the code and a message that shows no secret.
func apiError(t *testing.T, what string, status int, body []byte, wantStatus int, wantCode string, secrets []string) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("%s: %d, want %d", what, status, wantStatus)
	}
	var got struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &got); err != nil || got.Error == nil {
		t.Errorf(`%s: answer %s, want {"error": {"code", "message"}}`, what, body)
		return
	}
	if got.Error.Code != wantCode || got.Error.Message == "" {
		t.Errorf("%s: error %+v, want code %q and a message", what, *got.Error, wantCode)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(string(body), s) {
			t.Errorf("%s: the answer shows a secret: %s", what, body)
		}
	}
}

// Run runs the suite on a kind: every desk must pass it.
func Run(t *testing.T, k Kind) {
	if k.DeskID == "" {
		k.DeskID = DeskID
	}
	start := func(t *testing.T) (*Env, Driver) {
		t.Helper()
		d := k.New(t)
		entry, vars, client := d.Entry()
		o := Options{Vars: vars, HTTP: client, Flows: []string{HandoffFlow(k.DeskID)}}
		if entry != "" {
			o.Desks = []string{entry}
		}
		e := NewEnv(t, o)
		d.Bind(e)
		return e, d
	}
	email := func(user string) string { return user + "@example.com" }
	// handoff brings a customer (with an e-mail) to an open handoff.
	handoff := func(t *testing.T, e *Env, d Driver, user string) (string, Handoff) {
		t.Helper()
		conv := e.Customer(user, email(user), user+"-1", Question1)
		e.Customer(user, email(user), user+"-2", Question2)
		h, ok := d.Handoff(t, e, conv, e.HandoffSession(conv))
		if !ok {
			t.Fatalf("the desk holds no handoff; the customer got %q", e.View(conv))
		}
		return conv, h
	}
	last := func(t *testing.T, e *Env, conv string) string {
		t.Helper()
		v := e.View(conv)
		if len(v) == 0 {
			return ""
		}
		return v[len(v)-1]
	}
	count := func(v []string, s string) int {
		n := 0
		for _, x := range v {
			if x == s {
				n++
			}
		}
		return n
	}
	connected := "bot: " + engine.BuiltinText("en", "connected")

	t.Run("handoff with the transcript and the contact", func(t *testing.T) {
		t.Parallel()
		e, d := start(t)
		conv, h := handoff(t, e, d, "bob")
		for _, want := range []string{Question1, TextReply, Question2} {
			if !strings.Contains(h.Transcript, want) {
				t.Errorf("the agent's view of the conversation lacks %q:\n%s", want, h.Transcript)
			}
		}
		if k.NeedsEmail && h.Email != email("bob") {
			t.Errorf("the desk got e-mail %q, want %q", h.Email, email("bob"))
		}
		if got := e.View(conv); !slices.Contains(got, "bot: "+engine.BuiltinText("en", "connecting")) {
			t.Errorf("the customer got %q, want the connecting text", got)
		}
		if st := e.Conversation(conv)["status"]; st != tandem.ConversationQueued {
			t.Errorf("conversation status %v, want queued", st)
		}
	})

	t.Run("the reason, the flow and the summary reach the agents", func(t *testing.T) {
		t.Parallel()
		for _, provider := range []string{"", "down"} {
			d := k.New(t)
			entry, vars, client := d.Entry()
			o := Options{Vars: vars, HTTP: client, Flows: []string{SummaryFlow(k.DeskID, provider)}}
			if entry != "" {
				o.Desks = []string{entry}
			}
			e := NewEnv(t, o)
			d.Bind(e)
			conv, h := handoff(t, e, d, "bob")
			seen := h.Transcript + "\n" + h.About
			for _, want := range []string{Reason, "helpdesk"} {
				if !strings.Contains(seen, want) {
					t.Errorf("the agents do not see %q:\n%s", want, seen)
				}
			}
			hf, _ := e.Conversation(conv)["handoff"].(map[string]any)
			if hf["reason"] != Reason || hf["flow_id"] != "helpdesk" {
				t.Errorf("the API shows the handoff %v, want reason %q and flow_id helpdesk", hf, Reason)
			}
			if provider == "" {
				if !strings.Contains(seen, Summary) {
					t.Errorf("the agents do not see the summary:\n%s", seen)
				}
				if hf["summary"] != Summary {
					t.Errorf("the API shows the summary %v, want %q", hf["summary"], Summary)
				}
				continue
			}
			// The summary failed: the handoff went on without one, and the log says why.
			if strings.Contains(seen, Summary) || hf["summary"] != nil {
				t.Errorf("a failed summary reached the desk: %v\n%s", hf["summary"], seen)
			}
			if !strings.Contains(e.Logs.String(), "the model is overloaded") {
				t.Error("the log does not say why the handoff has no summary")
			}
		}
	})

	t.Run("e-mail rules", func(t *testing.T) {
		t.Parallel()
		e, d := start(t)
		conv := e.Customer("eve", "", "eve-1", Question1)
		e.Customer("eve", "", "eve-2", Question2)
		if !k.NeedsEmail {
			if _, ok := d.Handoff(t, e, conv, e.HandoffSession(conv)); !ok {
				t.Fatalf("a desk that needs no e-mail got no handoff; the customer got %q", e.View(conv))
			}
			return
		}
		if got := last(t, e, conv); got != "bot: "+engine.BuiltinText("en", "ask_email") {
			t.Fatalf("the customer got %q, want to be asked for an e-mail", got)
		}
		e.Customer("eve", "", "eve-3", "not an address")
		if got := last(t, e, conv); got != "bot: "+engine.BuiltinText("en", "invalid_email") {
			t.Errorf("after an invalid address the customer got %q", got)
		}
		e.Customer("eve", "", "eve-4", "eve@example.com")
		h, ok := d.Handoff(t, e, conv, e.HandoffSession(conv))
		if !ok || h.Email != "eve@example.com" {
			t.Errorf("handoff %+v (%v), want it with the e-mail given", h, ok)
		}
	})

	t.Run("customer messages in order", func(t *testing.T) {
		t.Parallel()
		e, d := start(t)
		conv, h := handoff(t, e, d, "bob")
		if k.Remote {
			d.FailSend(Reply{Status: http.StatusServiceUnavailable}) // the first fails once
		}
		sent := []string{"order 123", "it is late", "thanks"}
		for i, text := range sent {
			e.Customer("bob", email("bob"), "bob-m"+strconv.Itoa(i), text)
		}
		for range 5 { // retries of the outbox, on the virtual clock
			e.Advance(30 * time.Second)
		}
		h, _ = d.Handoff(t, e, conv, e.HandoffSession(conv))
		if got := h.Messages; !slices.Equal(lastN(got, 3), sent) {
			t.Errorf("the desk got %q, want them to end with %q in order", got, sent)
		}
	})

	t.Run("agent messages and closes", func(t *testing.T) {
		t.Parallel()
		e, d := start(t)
		conv, h := handoff(t, e, d, "bob")
		reply := d.Reply(t, e, h, "Hi Bob, this is Ana.")
		for range 2 { // the desk delivers it twice
			if s := reply.Post(t, e); s != 0 && (s < 200 || s > 299) {
				t.Errorf("agent reply: %d", s)
			}
		}
		e.Drain()
		got := e.View(conv)
		if n := count(got, "agent: Hi Bob, this is Ana."); n != 1 {
			t.Errorf("the reply reached the customer %d times, want once: %q", n, got)
		}
		if i, j := slices.Index(got, connected), slices.Index(got, "agent: Hi Bob, this is Ana."); i < 0 || i > j {
			t.Errorf("the connected text should come before the first reply: %q", got)
		}
		if st := e.Conversation(conv)["status"]; st != tandem.ConversationAssigned {
			t.Errorf("conversation status %v, want assigned", st)
		}
		closed := d.Close(t, e, h)
		for range 2 {
			if s := closed.Post(t, e); s != 0 && (s < 200 || s > 299) {
				t.Errorf("agent close: %d", s)
			}
		}
		e.Drain()
		got = e.View(conv)
		if count(got, "bot: "+engine.BuiltinText("en", "agent_closed")) != 1 || got[len(got)-1] != "bot: "+TextBack {
			t.Errorf("after the agent's close the customer got %q, want the agent_closed text once and the bot back", got)
		}
		if h, _ := d.Handoff(t, e, conv, e.HandoffSession(conv)); h.Closed {
			t.Error("Tandem told the desk the handoff ended, after the desk ended it")
		}
	})

	t.Run("the desk is told when the customer ends or times out", func(t *testing.T) {
		t.Parallel()
		e, d := start(t)
		conv, _ := handoff(t, e, d, "bob")
		e.Customer("bob", email("bob"), "bob-end", "/end")
		if h, _ := d.Handoff(t, e, conv, e.HandoffSession(conv)); !h.Closed {
			t.Error("after /end the desk was not told")
		}
		if got := last(t, e, conv); got != "bot: "+TextBye {
			t.Errorf("after /end the customer got %q", got)
		}
		conv2, h2 := handoff(t, e, d, "eve")
		d.Reply(t, e, h2, "Hello Eve").Post(t, e)
		e.Drain()
		e.Advance(SessionLimit + time.Second)
		if h, _ := d.Handoff(t, e, conv2, e.HandoffSession(conv2)); !h.Closed {
			t.Error("after the session timeout the desk was not told")
		}
		if got := e.View(conv2); !slices.Contains(got, "bot: "+engine.BuiltinText("en", "session_timeout")) {
			t.Errorf("after the session timeout the customer got %q", got)
		}
	})

	t.Run("webhooks that fail their checks store nothing", func(t *testing.T) {
		if !k.Webhooks {
			t.Skip("agents act in Tandem itself")
		}
		t.Parallel()
		e, d := start(t)
		conv, h := handoff(t, e, d, "bob")
		before := e.View(conv)
		reply := d.Reply(t, e, h, "Forged or not?")
		forged, forgedBody := d.Forge(reply).Send(t, e)
		malformed, malformedBody := d.Malformed().Send(t, e)
		unknown := reply
		unknown.Path = strings.Replace(reply.Path, "/"+k.DeskID, "/no-such-desk", 1)
		missing, missingBody := unknown.Send(t, e)
		if k.OwnErrors {
			if forged != http.StatusUnauthorized {
				t.Errorf("a wrong credential: %d, want 401", forged)
			}
			if malformed != http.StatusBadRequest {
				t.Errorf("a malformed body: %d, want 400", malformed)
			}
			if missing != http.StatusNotFound {
				t.Errorf("an unknown desk: %d, want 404", missing)
			}
		} else {
			apiError(t, "a wrong credential", forged, forgedBody, http.StatusUnauthorized, tandem.EUNAUTHORIZED, d.Secrets())
			apiError(t, "a malformed body", malformed, malformedBody, http.StatusBadRequest, tandem.EINVALID, d.Secrets())
			apiError(t, "an unknown desk", missing, missingBody, http.StatusNotFound, tandem.ENOTFOUND, d.Secrets())
		}
		e.Drain()
		if got := e.View(conv); !slices.Equal(got, before) {
			t.Errorf("refused webhooks changed the conversation: %q", got)
		}
		if st := e.Conversation(conv)["status"]; st != tandem.ConversationQueued {
			t.Errorf("conversation status %v after refused webhooks, want queued", st)
		}
	})

	t.Run("429 and 5xx are retried, honouring Retry-After", func(t *testing.T) {
		if !k.Remote {
			t.Skip("no outside service")
		}
		t.Parallel()
		e, d := start(t)
		d.FailStart(d.TooMany(e, 3*time.Second), Reply{Status: http.StatusBadGateway})
		handoff(t, e, d, "bob")
		s := e.Sleeps()
		if !slices.ContainsFunc(s, func(x time.Duration) bool { return x >= 3*time.Second }) {
			t.Errorf("waits %v, want one of 3 s at least (Retry-After)", s)
		}
	})

	t.Run("every call has a timeout", func(t *testing.T) {
		if !k.Remote {
			t.Skip("no outside service")
		}
		t.Parallel()
		e, d := start(t)
		d.FailStart(Reply{Stall: 20 * time.Second})
		began := time.Now()
		handoff(t, e, d, "bob")
		if took := time.Since(began); took > 15*time.Second {
			t.Errorf("a stalled call held the handoff %s", took)
		}
	})

	t.Run("health: not configured, unavailable, available", func(t *testing.T) {
		t.Parallel()
		e, d := start(t)
		if k.Remote {
			bare, err := desk.New(desk.Config{ID: "bare", Kind: k.Name}, desk.Deps{Store: e.DB})
			if err != nil {
				t.Fatal(err)
			}
			if err := bare.Health(e.Ctx); err == nil {
				t.Error("a desk without its settings is healthy")
			}
			if s, ok := bare.(desk.Statuser); ok && s.Status() != desk.StatusNotConfigured {
				t.Errorf("a desk without its settings is %s", s.Status())
			}
			d.Down(true)
			conv := e.Customer("bob", email("bob"), "bob-1", Question1)
			e.Customer("bob", email("bob"), "bob-2", Question2)
			if got := last(t, e, conv); got != "bot: "+TextSorry {
				t.Errorf("with the desk down the customer got %q, want on_unavailable", got)
			}
			if _, ok := d.Handoff(t, e, conv, e.HandoffSession(conv)); ok {
				t.Error("a handoff reached a desk that is down")
			}
			if s, ok := e.Desks[k.DeskID].(desk.Statuser); ok && s.Status() != desk.StatusUnavailable {
				t.Errorf("a desk that is down is %s", s.Status())
			}
			d.Down(false)
			e.Advance(2 * time.Minute)
		}
		handoff(t, e, d, "eve")
		status, body := e.Do("GET", "/api/v1/desks", nil)
		var list struct {
			Desks []struct {
				ID     string      `json:"id"`
				Health desk.Health `json:"health"`
			} `json:"desks"`
		}
		json.Unmarshal(body, &list)
		found := false
		for _, x := range list.Desks {
			if x.ID == k.DeskID {
				found = true
				if x.Health.Status != desk.StatusAvailable {
					t.Errorf("GET /api/v1/desks: %s is %+v, want available", x.ID, x.Health)
				}
			}
		}
		if status != http.StatusOK || !found {
			t.Errorf("GET /api/v1/desks: %d %s", status, body)
		}
	})

	t.Run("credentials never show", func(t *testing.T) {
		t.Parallel()
		e, d := start(t)
		conv, h := handoff(t, e, d, "bob")
		if k.Remote {
			d.FailSend(Reply{Status: http.StatusUnauthorized, Body: `{"error":"bad token ` + strings.Join(d.Secrets(), " ") + `"}`})
		}
		e.Customer("bob", email("bob"), "bob-3", "one more")
		e.Advance(time.Minute)
		d.Reply(t, e, h, "ok").Post(t, e)
		d.Forge(d.Reply(t, e, h, "forged")).Post(t, e)
		e.Drain()
		e.Do("GET", "/api/v1/desks", nil)
		e.NoSecrets(d.Secrets(), conv)
		ctx, cancel := context.WithTimeout(e.Ctx, 5*time.Second)
		defer cancel()
		if dk := e.Desks[k.DeskID]; dk != nil {
			if err := dk.Health(ctx); err != nil {
				for _, s := range d.Secrets() {
					if s != "" && strings.Contains(err.Error(), s) {
						t.Errorf("Health's error shows a credential")
					}
				}
			}
		}
	})
}

func lastN(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
