package store_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

func TestInbound(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		first, err := db.Inbound(f.ctx, store.InboundParams{
			ChannelID: "api", ChannelKind: "api",
			Contact: tandem.Contact{ExternalID: "c1", Name: "Ann", Language: "en"},
			Message: tandem.Message{Text: "hello", ChannelMessageID: "p1"},
			Now:     t0, NewID: f.id,
		})
		if err != nil {
			t.Fatal(err)
		}
		if first.Duplicate || first.ConversationID == "" || first.MessageID == "" || first.ContactID == "" {
			t.Fatalf("first Inbound = %+v, want new ids", first)
		}

		// contact, conversation, message and event are there
		c, err := db.ContactGet(f.ctx, first.ContactID)
		if err != nil {
			t.Fatal(err)
		}
		if c.ExternalID != "c1" || c.ChannelID != "api" || c.Name != "Ann" || !c.CreatedAt.Equal(t0) {
			t.Errorf("contact = %+v", c)
		}
		conv := f.conversation(first.ConversationID)
		if conv.ContactID != first.ContactID || conv.ChannelID != "api" || conv.ChannelKind != "api" || conv.Status != tandem.ConversationBot || conv.Handoff != tandem.HandoffNone {
			t.Errorf("conversation = %+v", conv)
		}
		ms := f.messages(first.ConversationID)
		if len(ms) != 1 || ms[0].ID != first.MessageID || ms[0].Text != "hello" || ms[0].Direction != tandem.DirectionIn ||
			ms[0].Author != tandem.AuthorContact || ms[0].Type != tandem.MessageText || ms[0].ChannelMessageID != "p1" || !ms[0].CreatedAt.Equal(t0) {
			t.Errorf("messages = %+v", ms)
		}
		evs := f.queued(first.ConversationID)
		if len(evs) != 1 || evs[0].Kind != tandem.EventMessage || evs[0].Seq != 1 || evs[0].Message == nil || evs[0].Message.ID != first.MessageID || evs[0].Message.Text != "hello" {
			t.Errorf("queued events = %+v", evs)
		}

		// A provider's retry is recognised: same ids, nothing stored.
		dup, err := db.Inbound(f.ctx, store.InboundParams{
			ChannelID: "api", ChannelKind: "api",
			Contact: tandem.Contact{ExternalID: "c1"},
			Message: tandem.Message{Text: "hello again", ChannelMessageID: "p1"},
			Now:     t0.Add(time.Second), NewID: f.id,
		})
		if err != nil {
			t.Fatal(err)
		}
		want := first
		want.Duplicate = true
		if dup != want {
			t.Errorf("duplicate Inbound = %+v, want %+v", dup, want)
		}
		if got := len(f.messages(first.ConversationID)); got != 1 {
			t.Errorf("after a duplicate, %d messages, want 1", got)
		}
		if got := len(f.queued(first.ConversationID)); got != 1 {
			t.Errorf("after a duplicate, %d queued events, want 1", got)
		}

		// The same provider id on another channel is another message (and another contact).
		other, err := db.Inbound(f.ctx, store.InboundParams{
			ChannelID: "web", ChannelKind: "web",
			Contact: tandem.Contact{ExternalID: "c1"},
			Message: tandem.Message{Text: "from the widget", ChannelMessageID: "p1"},
			Now:     t0, NewID: f.id,
		})
		if err != nil {
			t.Fatal(err)
		}
		if other.Duplicate || other.ConversationID == first.ConversationID || other.ContactID == first.ContactID {
			t.Errorf("same provider id on another channel = %+v, want a new message", other)
		}

		// A new message of the contact goes to the open conversation; contact fields fill only
		// the empty ones.
		second, err := db.Inbound(f.ctx, store.InboundParams{
			ChannelID: "api", ChannelKind: "api",
			Contact: tandem.Contact{ExternalID: "c1", Name: "Bob", Phone: "+15550001", Language: "fr"},
			Message: tandem.Message{Text: "are you there?"},
			Now:     t0.Add(time.Minute), NewID: f.id,
		})
		if err != nil {
			t.Fatal(err)
		}
		if second.ConversationID != first.ConversationID || second.ContactID != first.ContactID || second.MessageID == first.MessageID {
			t.Errorf("second Inbound = %+v, want the conversation of %+v", second, first)
		}
		c, err = db.ContactGet(f.ctx, first.ContactID)
		if err != nil {
			t.Fatal(err)
		}
		if c.Name != "Ann" || c.Phone != "+15550001" || c.Language != "en" || !c.UpdatedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("contact after filling = %+v, want Name Ann, Phone +15550001, Language en", c)
		}
		if got := len(f.messages(first.ConversationID)); got != 2 {
			t.Errorf("%d messages, want 2", got)
		}

		// Once the conversation is closed, the next message opens a new one.
		f.process(first.ConversationID, func(b *store.Batch, ch *store.Changes) {
			ch.Conversation.Status = tandem.ConversationClosed
		})
		third := f.inbound("c1", "new question", "p3")
		if third.ConversationID == first.ConversationID || third.ContactID != first.ContactID {
			t.Errorf("Inbound after close = %+v, want a new conversation of contact %s", third, first.ContactID)
		}
		if got := f.conversation(third.ConversationID).Status; got != tandem.ConversationBot {
			t.Errorf("new conversation status = %s", got)
		}
		if got := f.inbound("c1", "more", "").ConversationID; got != third.ConversationID {
			t.Errorf("next message went to %s, want the new conversation %s", got, third.ConversationID)
		}

		// A message without a contact id is refused and stores nothing.
		_, err = db.Inbound(f.ctx, store.InboundParams{ChannelID: "api", ChannelKind: "api", Message: tandem.Message{Text: "x", ChannelMessageID: "p9"}, Now: t0, NewID: f.id})
		wantCode(t, "Inbound without external id", err, tandem.EINVALID)
		if n := f.count(`SELECT COUNT(*) FROM inbound_keys WHERE provider_id = 'p9'`); n != 0 {
			t.Errorf("a refused message left %d inbound keys", n)
		}
	})
}

func TestConversationOpen(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		p := store.ConversationCreateParams{ChannelID: "api", ChannelKind: "api", Contact: tandem.Contact{ExternalID: "c1", Email: "a@example.com"}, Now: t0, NewID: f.id}
		conv, contact, err := db.ConversationOpen(f.ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		conv2, contact2, err := db.ConversationOpen(f.ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if conv2 != conv || contact2 != contact {
			t.Errorf("second ConversationOpen = %s, %s; want %s, %s", conv2, contact2, conv, contact)
		}
		if got := f.inbound("c1", "hi", "").ConversationID; got != conv {
			t.Errorf("Inbound went to %s, want the opened conversation %s", got, conv)
		}
		if len(f.messages(conv)) != 1 {
			t.Errorf("messages = %d, want 1", len(f.messages(conv)))
		}
	})
}

func TestEnqueue(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		err := db.Enqueue(f.ctx, tandem.Event{ConversationID: "nope", Kind: tandem.EventStart, At: t0})
		wantCode(t, "Enqueue to an unknown conversation", err, tandem.ENOTFOUND)
		conv := f.inbound("c1", "hi", "").ConversationID
		ev := tandem.Event{ConversationID: conv, Kind: tandem.EventAgent, At: t0.Add(time.Second), Agent: &tandem.AgentAction{Action: tandem.AgentTake, Agent: "u1"}}
		if err := db.Enqueue(f.ctx, ev); err != nil {
			t.Fatal(err)
		}
		evs := f.queued(conv)
		if len(evs) != 2 {
			t.Fatalf("queued = %+v", evs)
		}
		ev.Seq = 2
		if !reflect.DeepEqual(evs[1], ev) {
			t.Errorf("queued event = %+v, want %+v", evs[1], ev)
		}
		ids, err := db.Pending(f.ctx, 10)
		if err != nil || len(ids) != 1 || ids[0] != conv {
			t.Errorf("Pending = %v, %v; want [%s]", ids, err, conv)
		}
	})
}

func TestProcessOrder(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		conv := f.inbound("c1", "one", "").ConversationID
		f.inbound("c1", "two", "")
		if err := db.Enqueue(f.ctx, tandem.Event{ConversationID: conv, Kind: tandem.EventTimer, At: t0, Timer: &tandem.TimerFired{ID: "t", Key: "wait", Due: t0}}); err != nil {
			t.Fatal(err)
		}
		f.inbound("c1", "three", "")

		// Two at a time: more is reported until the queue is empty.
		var seen []int64
		var kinds []string
		for i, want := range []struct {
			n    int
			more bool
		}{{2, true}, {2, false}, {0, false}} {
			n, more, err := db.Process(f.ctx, conv, 2, func(b *store.Batch) (*store.Changes, error) {
				for _, ev := range b.Events {
					seen = append(seen, ev.Seq)
					kinds = append(kinds, ev.Kind)
				}
				return &store.Changes{Conversation: b.Conversation, State: b.State, DoneSeq: b.Events[len(b.Events)-1].Seq}, nil
			})
			if err != nil || n != want.n || more != want.more {
				t.Errorf("Process #%d = %d, %v, %v; want %d, %v", i+1, n, more, err, want.n, want.more)
			}
		}
		if want := []int64{1, 2, 3, 4}; !reflect.DeepEqual(seen, want) {
			t.Errorf("events seen in order %v, want %v", seen, want)
		}
		if want := []string{"message", "message", "timer", "message"}; !reflect.DeepEqual(kinds, want) {
			t.Errorf("event kinds %v, want %v", kinds, want)
		}

		// A callback may stop early: the rest stays queued and more says so.
		for _, text := range []string{"a", "b", "c"} {
			f.inbound("c1", text, "")
		}
		n, more, err := db.Process(f.ctx, conv, 10, func(b *store.Batch) (*store.Changes, error) {
			return &store.Changes{Conversation: b.Conversation, State: b.State, DoneSeq: b.Events[0].Seq}, nil
		})
		if err != nil || n != 1 || !more {
			t.Errorf("Process stopping after one event = %d, %v, %v; want 1, true, nil", n, more, err)
		}
		if evs := f.queued(conv); len(evs) != 2 || evs[0].Message.Text != "b" {
			t.Errorf("queued after stopping early = %+v, want b and c", evs)
		}

		// A callback may not skip events it was not given, nor go back.
		for _, bad := range []int64{100, 2} {
			_, _, err = db.Process(f.ctx, conv, 1, func(b *store.Batch) (*store.Changes, error) {
				return &store.Changes{Conversation: b.Conversation, State: []byte(`{"bad":true}`), DoneSeq: bad}, nil
			})
			if err == nil {
				t.Errorf("Process with DoneSeq %d: no error", bad)
			}
		}
		if evs := f.queued(conv); len(evs) != 2 {
			t.Errorf("after refused Process calls, %d queued events, want 2", len(evs))
		}

		// Nothing queued: the callback is not called.
		other := f.inbound("c2", "x", "").ConversationID
		f.process(other, nil)
		n, more, err = db.Process(f.ctx, other, 10, func(b *store.Batch) (*store.Changes, error) {
			t.Error("callback called without events")
			return nil, store.ErrNothing
		})
		if n != 0 || more || err != nil {
			t.Errorf("Process without events = %d, %v, %v", n, more, err)
		}
		_, _, err = db.Process(f.ctx, "nope", 10, func(b *store.Batch) (*store.Changes, error) { return nil, store.ErrNothing })
		wantCode(t, "Process of an unknown conversation", err, tandem.ENOTFOUND)
	})
}

func TestProcessWritesChanges(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		in := f.inbound("c1", "hi", "")
		conv := in.ConversationID
		f.process(conv, func(b *store.Batch, ch *store.Changes) {
			ch.State = []byte(`{"n":1}`)
			ch.Timers = []tandem.Timer{{ID: "t-old", Due: t0.Add(time.Hour), Key: "wait"}, {ID: "t-keep", Due: t0.Add(3 * time.Hour), Key: "keep"}}
		})

		t1 := t0.Add(time.Minute)
		ended := t0.Add(2 * time.Minute)
		send := tandem.Message{ID: "e-send", Direction: tandem.DirectionOut, Author: tandem.AuthorBot, Type: tandem.MessageText, Text: "Pick one",
			Buttons: []tandem.Button{{ID: "y", Title: "Yes"}}, Render: "buttons", CreatedAt: t1}
		run := tandem.Run{ID: "run1", ConversationID: conv, FlowID: "f", FlowVersion: 3, Status: tandem.RunWaiting, Step: "ask",
			StartedAt: t0, UpdatedAt: t1, Usage: tandem.Usage{Calls: 1, InputTokens: 10, OutputTokens: 5}}
		trace := []tandem.StepTrace{
			{Seq: 1, RunID: "run1", FlowID: "f", Step: "hello", Type: "send", Input: map[string]any{"text": "Pick one"}, StartedAt: t0, DurationUS: 7},
			{Seq: 2, RunID: "run1", FlowID: "f", Step: "ask", Type: "question", Output: map[string]any{"asked": true}, Next: "done", StartedAt: t1, DurationUS: 9},
		}
		note := tandem.Note{ID: "n1", ConversationID: conv, Author: tandem.AuthorBot, Text: "customer is in a hurry", CreatedAt: t1}
		var contact tandem.Contact
		f.turn(conv, func(b *store.Batch, ch *store.Changes) {
			c := *b.Conversation
			c.Status, c.Team, c.Assignee, c.BotPaused = tandem.ConversationQueued, "sales", "u1", true
			c.Attributes, c.Tags = map[string]any{"plan": "gold"}, []string{"vip"}
			c.UpdatedAt = t1
			contact = *b.Contact
			contact.Email, contact.UpdatedAt = "ann@example.com", t1
			ch.Conversation, ch.Contact = &c, &contact
			ch.State = []byte(`{"n":2}`)
			ch.RunID, ch.RunStatus, ch.Handoff = "run1", tandem.RunWaiting, "queued"
			ch.Effects = []tandem.Effect{
				{ID: "e-send", Kind: tandem.EffectSend, Send: &send},
				{ID: "e-http", Kind: tandem.EffectHTTP, Await: true, HTTP: &tandem.HTTPRequest{Method: "GET", URL: "https://example.com/x"}},
				{ID: "e-notify", Kind: tandem.EffectNotify, Notify: &tandem.Notification{Text: "new lead", Team: "sales"}},
			}
			ch.Timers = []tandem.Timer{{ID: "t-new", Due: t0.Add(2 * time.Hour), Key: "timeout"}}
			ch.CancelTimers = []string{"t-old"}
			ch.Runs = []tandem.Run{run}
			ch.Trace = trace
			ch.Notes = []tandem.Note{note}
		})

		info := f.conversation(conv)
		if string(info.State) != `{"n":2}` || info.Status != tandem.ConversationQueued || info.Team != "sales" || info.Assignee != "u1" || !info.BotPaused ||
			info.Handoff != "queued" || info.RunID != "run1" || info.RunStatus != tandem.RunWaiting || !info.UpdatedAt.Equal(t1) ||
			info.Attributes["plan"] != "gold" || !reflect.DeepEqual(info.Tags, []string{"vip"}) {
			t.Errorf("conversation = %+v, state %s", info.Conversation, info.State)
		}
		if got, err := db.ContactGet(f.ctx, in.ContactID); err != nil || got.Email != "ann@example.com" {
			t.Errorf("contact = %+v, %v", got, err)
		}
		if evs := f.queued(conv); len(evs) != 0 {
			t.Errorf("processed events still queued: %+v", evs)
		}

		// The send is an outbound message and, like the call, an outbox row; the notification is not.
		ms := f.messages(conv)
		if len(ms) != 2 {
			t.Fatalf("messages = %+v", ms)
		}
		send.ConversationID = conv
		if !reflect.DeepEqual(ms[1], send) {
			t.Errorf("outbound message = %+v, want %+v", ms[1], send)
		}
		items, err := db.OutboxClaim(f.ctx, t1, 10, store.Claim{Owner: "test", Until: t1.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if got := claimedIDs(items); !reflect.DeepEqual(got, []string{"e-http", "e-send"}) {
			t.Errorf("outbox = %v, want e-http and e-send", got)
		}
		for _, it := range items {
			if it.ConversationID != conv || !it.CreatedAt.Equal(t1) || it.Attempts != 0 {
				t.Errorf("outbox item = %+v", it)
			}
			if it.Effect.ID == "e-http" && (!it.Effect.Await || it.Effect.HTTP == nil || it.Effect.HTTP.URL != "https://example.com/x") {
				t.Errorf("http effect = %+v", it.Effect)
			}
		}
		ns, err := db.Notifications(f.ctx, conv)
		if err != nil || !reflect.DeepEqual(ns, []tandem.Notification{{Text: "new lead", Team: "sales"}}) {
			t.Errorf("Notifications = %+v, %v", ns, err)
		}

		// Timers: t-old canceled, t-keep and t-new set.
		next, ok, err := db.TimerNext(f.ctx)
		if err != nil || !ok || !next.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("TimerNext = %v, %v, %v; want t-new's due", next, ok, err)
		}
		if got := f.count(`SELECT COUNT(*) FROM timers WHERE conversation_id = ?`, conv); got != 2 {
			t.Errorf("%d timers, want 2", got)
		}

		// Runs, trace, notes.
		r, err := db.RunGet(f.ctx, "run1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*r, run) {
			t.Errorf("RunGet = %+v, want %+v", *r, run)
		}
		tr, err := db.RunTrace(f.ctx, conv, "run1")
		if err != nil || !reflect.DeepEqual(tr, trace) {
			t.Errorf("RunTrace = %+v, %v; want %+v", tr, err, trace)
		}
		notes, err := db.Notes(f.ctx, conv)
		if err != nil || !reflect.DeepEqual(notes, []tandem.Note{note}) {
			t.Errorf("Notes = %+v, %v", notes, err)
		}

		// A later turn leaves the run waiting at another step: its step, usage and time are
		// updated in place (on SQLite without setting the status again).
		later := run
		later.Step, later.UpdatedAt, later.Usage = "confirm", ended, tandem.Usage{Calls: 2, InputTokens: 30, OutputTokens: 9}
		f.turn(conv, func(b *store.Batch, ch *store.Changes) {
			ch.Runs = []tandem.Run{later}
		})
		if r, err := db.RunGet(f.ctx, "run1"); err != nil || !reflect.DeepEqual(*r, later) {
			t.Errorf("run still waiting = %+v, %v; want %+v", r, err, later)
		}

		// A later turn ends the run: the run row is updated in place.
		f.turn(conv, func(b *store.Batch, ch *store.Changes) {
			r := run
			r.Status, r.Reason, r.Error, r.UpdatedAt, r.EndedAt = tandem.RunFailed, tandem.ReasonError, "boom", ended, &ended
			ch.Runs = []tandem.Run{r}
		})
		r, err = db.RunGet(f.ctx, "run1")
		if err != nil || r.Status != tandem.RunFailed || r.Reason != tandem.ReasonError || r.Error != "boom" || r.EndedAt == nil || !r.EndedAt.Equal(ended) || r.FlowVersion != 3 {
			t.Errorf("ended run = %+v, %v", r, err)
		}
		if runs, err := db.Runs(f.ctx, conv); err != nil || len(runs) != 1 {
			t.Errorf("Runs = %+v, %v", runs, err)
		}
	})
}

// TestProcessAtomic: a callback error, ErrNothing, or a failure half-way through writing the
// changes leaves everything as it was.
func TestProcessAtomic(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		err     error // returned by the callback
		wantErr error
		changes func(conv string, ch *store.Changes)
	}{
		{name: "callback error", err: boom, wantErr: boom},
		{name: "nothing", err: store.ErrNothing},
		{name: "write fails half-way", changes: func(conv string, ch *store.Changes) {
			// the second note repeats the first one's id
			n := tandem.Note{ID: "dup", ConversationID: conv, Author: "bot", Text: "x", CreatedAt: t0}
			ch.Notes = []tandem.Note{n, n}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				f := newFixture(t, db)
				conv := f.inbound("c1", "hi", "").ConversationID
				f.process(conv, func(b *store.Batch, ch *store.Changes) {
					ch.State = []byte(`{"v":1}`)
					ch.Timers = []tandem.Timer{{ID: "t1", Due: t0.Add(time.Hour), Key: "wait"}}
				})
				f.inbound("c1", "again", "")
				before := f.queued(conv)

				n, more, err := db.Process(f.ctx, conv, 10, func(b *store.Batch) (*store.Changes, error) {
					c := *b.Conversation
					c.Status = tandem.ConversationClosed
					ch := &store.Changes{Conversation: &c, State: []byte(`{"v":2}`), DoneSeq: b.Events[len(b.Events)-1].Seq,
						Effects:      []tandem.Effect{{ID: "e1", Kind: tandem.EffectSend, Send: &tandem.Message{ID: "e1", Text: "x"}}},
						Timers:       []tandem.Timer{{ID: "t2", Due: t0.Add(time.Minute), Key: "wait"}},
						CancelTimers: []string{"t1"},
						Runs:         []tandem.Run{{ID: "r1", ConversationID: conv, FlowID: "f", Status: tandem.RunRunning, StartedAt: t0, UpdatedAt: t0}},
					}
					if tc.changes != nil {
						tc.changes(conv, ch)
					}
					return ch, tc.err
				})
				switch {
				case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
					t.Errorf("Process error %v, want %v", err, tc.wantErr)
				case tc.err == nil && err == nil:
					t.Errorf("Process succeeded, want the write to fail")
				case tc.err == store.ErrNothing && err != nil:
					t.Errorf("Process with ErrNothing: %v", err)
				}
				if n != 0 || more {
					t.Errorf("Process = %d, %v; want 0, false", n, more)
				}
				info := f.conversation(conv)
				if string(info.State) != `{"v":1}` || info.Status != tandem.ConversationBot {
					t.Errorf("conversation changed: state %s, status %s", info.State, info.Status)
				}
				if after := f.queued(conv); !reflect.DeepEqual(after, before) {
					t.Errorf("queued events changed: %+v, want %+v", after, before)
				}
				if got := len(f.messages(conv)); got != 2 {
					t.Errorf("%d messages, want 2", got)
				}
				for query, want := range map[string]int64{
					`SELECT COUNT(*) FROM outbox`:                  0,
					`SELECT COUNT(*) FROM runs`:                    0,
					`SELECT COUNT(*) FROM notes`:                   0,
					`SELECT COUNT(*) FROM timers WHERE id = 't1'`:  1,
					`SELECT COUNT(*) FROM timers WHERE id <> 't1'`: 0,
				} {
					if got := f.count(query); got != want {
						t.Errorf("%s = %d, want %d", query, got, want)
					}
				}
			})
		})
	}
}

// A client's message id (ClientID) is a repeat only with the same content: the same id with
// another contact or text is an idempotency conflict that stores nothing; a platform's id is a
// retry whatever it carries. Two contacts racing with one id: one wins, the other conflicts.
func TestInboundClientIDs(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		in := func(ext, text, id string, client bool) (store.InboundResult, error) {
			return db.Inbound(f.ctx, store.InboundParams{ChannelID: "api", ChannelKind: "api", ClientID: client,
				Contact: tandem.Contact{ExternalID: ext}, Message: tandem.Message{Type: tandem.MessageText, Text: text, ChannelMessageID: id}, Now: t0, NewID: f.id})
		}
		first, err := in("alice", "hello", "m-1", true)
		if err != nil {
			t.Fatal(err)
		}
		again, err := in("alice", "hello", "m-1", true)
		if err != nil || !again.Duplicate || again.MessageID != first.MessageID || again.ConversationID != first.ConversationID {
			t.Errorf("the same content again = %+v, %v; want the first's ids, duplicate", again, err)
		}
		contacts := f.count(`SELECT COUNT(*) FROM contacts`)
		for _, tt := range []struct{ ext, text string }{{"alice", "changed"}, {"bob", "hello"}} {
			res, err := in(tt.ext, tt.text, "m-1", true)
			wantCode(t, "m-1 from "+tt.ext+" with "+tt.text, err, tandem.EIDEMPOTENCY)
			if res.ConversationID != "" {
				t.Errorf("a conflict answered %+v", res)
			}
		}
		if n := f.count(`SELECT COUNT(*) FROM contacts`); n != contacts {
			t.Errorf("%d contacts after the conflicts, want %d", n, contacts)
		}
		if n := len(f.messages(first.ConversationID)); n != 1 {
			t.Errorf("%d messages, want 1", n)
		}
		// A platform's id: a retry, even with other content (the platform's details changed).
		p, err := in("wa-1", "hi", "wamid.1", false)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := in("wa-1", "hi (edited)", "wamid.1", false); err != nil || !r.Duplicate || r.MessageID != p.MessageID {
			t.Errorf("a platform's retry = %+v, %v; want the first's ids", r, err)
		}
		// Two contacts with one new id at once.
		errs := make(chan error, 2)
		for _, ext := range []string{"carol", "dave"} {
			go func() {
				_, err := in(ext, "race", "m-race", true)
				errs <- err
			}()
		}
		var ok, conflicts int
		for range 2 {
			switch err := <-errs; tandem.ErrorCode(err) {
			case "":
				ok++
			case tandem.EIDEMPOTENCY:
				conflicts++
			default:
				t.Errorf("racing: %v", err)
			}
		}
		if ok != 1 || conflicts != 1 {
			t.Errorf("racing: %d stored, %d conflicts; want 1 and 1", ok, conflicts)
		}
	})
}

// A turn's consecutive steps of a run are stored in one row, and read back as the steps they
// were, in order, with a called flow's steps (another run) between them: a W1 turn wrote six
// rows, each a B-tree insert.
func TestTraceStepsOfATurnInOneRow(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		conv := f.inbound("c1", "hello", "").ConversationID
		at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
		trace := []tandem.StepTrace{
			{Seq: 1, RunID: "main", FlowID: "f", Step: "ask", Type: "question:answer", Output: map[string]any{"text": "42"}, Next: "check", StartedAt: at(1), DurationUS: 3},
			{Seq: 2, RunID: "main", FlowID: "f", Step: "check", Type: "condition", Output: map[string]any{"branch": "#1"}, Next: "lookup", StartedAt: at(2), DurationUS: 4},
			{Seq: 3, RunID: "main", FlowID: "f", Step: "lookup", Type: "call", Input: map[string]any{"flow": "orders"}, StartedAt: at(3)},
			{Seq: 1, RunID: "sub", FlowID: "orders", Step: "fetch", Type: "http", Error: "timeout", StartedAt: at(4), DurationUS: 5000000},
			{Seq: 4, RunID: "main", FlowID: "f", Step: "say", Type: "message", Input: map[string]any{"text": "Order 42 is shipped"}, StartedAt: at(5), DurationUS: 6},
		}
		f.turn(conv, func(b *store.Batch, ch *store.Changes) { ch.Trace = trace })
		if got := f.count(`SELECT COUNT(*) FROM run_steps WHERE conversation_id = ?`, conv); got != 3 {
			t.Errorf("%d trace rows, want 3 (the first three steps of main, sub's step, main's last)", got)
		}
		main, err := db.RunTrace(f.ctx, conv, "main")
		if want := []tandem.StepTrace{trace[0], trace[1], trace[2], trace[4]}; err != nil || !reflect.DeepEqual(main, want) {
			t.Errorf("RunTrace(main) = %+v, %v\nwant %+v", main, err, want)
		}
		sub, err := db.RunTrace(f.ctx, conv, "sub")
		if want := []tandem.StepTrace{trace[3]}; err != nil || !reflect.DeepEqual(sub, want) {
			t.Errorf("RunTrace(sub) = %+v, %v\nwant %+v", sub, err, want)
		}
	})
}
