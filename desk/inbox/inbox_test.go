package inbox_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk/inbox"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// Round robin gives each online member of the team a conversation in turn, skipping those who
// are not online.
func TestRoundRobin(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, time.Hour)
		h.presence(inbox.Online, "ana@acme.com", "bob@acme.com", "cid@acme.com")
		var got []string
		for i := range 6 {
			id := h.say(fmt.Sprintf("c%d", i), "help me")
			c := h.conv(id)
			if c.Status != tandem.ConversationAssigned || c.Team != "support" {
				t.Fatalf("conversation %d: status %s team %s, want assigned in support", i, c.Status, c.Team)
			}
			got = append(got, c.Assignee)
		}
		want := []string{"ana@acme.com", "bob@acme.com", "cid@acme.com", "ana@acme.com", "bob@acme.com", "cid@acme.com"}
		if !slices.Equal(got, want) {
			t.Errorf("assignees %q, want %q", got, want)
		}
		// Bob steps away: the turn goes on among ana and cid.
		h.presence(inbox.Away, "bob@acme.com")
		got = nil
		for i := range 3 {
			got = append(got, h.conv(h.say(fmt.Sprintf("d%d", i), "help me")).Assignee)
		}
		if want := []string{"ana@acme.com", "cid@acme.com", "ana@acme.com"}; !slices.Equal(got, want) {
			t.Errorf("with bob away, assignees %q, want %q", got, want)
		}
	})
}

// Least busy gives the conversation to the online member with the fewest assigned
// conversations; ties go round robin.
func TestLeastBusy(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, time.Hour)
		h.presence(inbox.Online, "ana@acme.com")
		for i := range 2 {
			if a := h.conv(h.say(fmt.Sprintf("a%d", i), "sales please")).Assignee; a != "ana@acme.com" {
				t.Fatalf("with ana alone online, assignee %q", a)
			}
		}
		h.presence(inbox.Online, "bob@acme.com")
		var got []string
		for i := range 4 {
			got = append(got, h.conv(h.say(fmt.Sprintf("b%d", i), "sales please")).Assignee)
		}
		// bob 0 < ana 2; bob 1 < 2; tie 2-2 after bob: ana; bob 2 < ana 3.
		if want := []string{"bob@acme.com", "bob@acme.com", "ana@acme.com", "bob@acme.com"}; !slices.Equal(got, want) {
			t.Errorf("assignees %q, want %q", got, want)
		}
	})
}

// With nobody online a handoff stays queued; the first member to come online gets it, and so
// does one coming back from an absence when the round finds it.
func TestQueuedUntilOnline(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, 5*time.Minute)
		a := h.say("a", "help me")
		b := h.say("b", "sales now")
		for _, id := range []string{a, b} {
			if c := h.conv(id); c.Status != tandem.ConversationQueued || c.Assignee != "" || c.Handoff != tandem.HandoffQueued {
				t.Fatalf("with nobody online: status %s assignee %q handoff %s, want queued", c.Status, c.Assignee, c.Handoff)
			}
		}
		h.tick()
		if c := h.conv(a); c.Status != tandem.ConversationQueued {
			t.Fatalf("a round with nobody online assigned: %s %s", c.Status, c.Assignee)
		}
		h.presence(inbox.Online, "cid@acme.com")
		if c := h.conv(a); c.Status != tandem.ConversationAssigned || c.Assignee != "cid@acme.com" {
			t.Errorf("cid came online: a is %s %q, want assigned to cid", c.Status, c.Assignee)
		}
		if c := h.conv(b); c.Status != tandem.ConversationQueued {
			t.Errorf("cid is not in sales, yet b is %s %q", c.Status, c.Assignee)
		}
		// Bob set himself online long ago and went unseen: offline. His next request brings
		// him back, and the sales queue to him.
		h.presence(inbox.Online, "bob@acme.com")
		if c := h.conv(b); c.Assignee != "bob@acme.com" {
			t.Fatalf("b is %s %q, want bob's", c.Status, c.Assignee)
		}
		c2 := h.say("c2", "sales again")
		if c := h.conv(c2); c.Assignee != "bob@acme.com" {
			t.Fatalf("c2 is %s %q, want bob's", c.Status, c.Assignee)
		}
		h.advance(6 * time.Minute)
		c3 := h.say("c3", "sales once more")
		if c := h.conv(c3); c.Status != tandem.ConversationQueued {
			t.Fatalf("bob is unseen for 6 minutes, yet c3 is %s %q", c.Status, c.Assignee)
		}
		if _, err := h.ib.Actor(h.ctx, &store.Token{Agent: "bob@acme.com"}); err != nil {
			t.Fatal(err)
		}
		if c := h.conv(c3); c.Assignee != "bob@acme.com" {
			t.Errorf("bob is back, yet c3 is %s %q", c.Status, c.Assignee)
		}
	})
}

// An assignment the agent does not answer within the team's reassign_after goes to another
// online member; an answered one stays; with nobody else online, an offline agent's goes back
// to the queue and an online agent keeps it.
func TestReassignAfter(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, time.Hour)
		h.presence(inbox.Online, "ana@acme.com", "bob@acme.com")
		a := h.say("a", "help me")
		b := h.say("b", "help me too")
		if x, y := h.conv(a).Assignee, h.conv(b).Assignee; x != "ana@acme.com" || y != "bob@acme.com" {
			t.Fatalf("assignees %q %q", x, y)
		}
		// Bob answers b; ana leaves a unanswered.
		if _, err := h.ib.Message(h.ctx, agent("bob@acme.com"), b, "Hi, Bob here."); err != nil {
			t.Fatal(err)
		}
		h.drain()
		if c := h.conv(b); c.Handoff != tandem.HandoffConnected {
			t.Fatalf("b after bob's answer: handoff %s", c.Handoff)
		}
		h.advance(4 * time.Minute)
		h.tick()
		if c := h.conv(a); c.Assignee != "ana@acme.com" {
			t.Fatalf("after 4 minutes a is %q's, want still ana's", c.Assignee)
		}
		h.advance(2 * time.Minute)
		h.tick()
		if c := h.conv(a); c.Assignee != "bob@acme.com" || c.Status != tandem.ConversationAssigned {
			t.Errorf("after 6 minutes a is %s %q, want bob's", c.Status, c.Assignee)
		}
		// An answered conversation is never reassigned (by now its session timed out and the
		// bot has it back, so it is nobody's).
		if c := h.conv(b); c.Assignee == "ana@acme.com" {
			t.Errorf("b (answered) went to %q", c.Assignee)
		}
		// Bob is the only one online now: he keeps a for another period.
		h.presence(inbox.Offline, "ana@acme.com")
		h.advance(6 * time.Minute)
		h.tick()
		if c := h.conv(a); c.Assignee != "bob@acme.com" || c.Status != tandem.ConversationAssigned {
			t.Errorf("with bob alone online, a is %s %q, want still bob's", c.Status, c.Assignee)
		}
		// Bob goes offline too: a goes back to the queue, and to the first member back.
		h.presence(inbox.Offline, "bob@acme.com")
		h.advance(6 * time.Minute)
		h.tick()
		if c := h.conv(a); c.Status != tandem.ConversationQueued || c.Assignee != "" {
			t.Errorf("with nobody online, a is %s %q, want queued", c.Status, c.Assignee)
		}
		h.presence(inbox.Online, "cid@acme.com")
		if c := h.conv(a); c.Assignee != "cid@acme.com" {
			t.Errorf("cid came online, a is %s %q", c.Status, c.Assignee)
		}
		// The customer was told nothing of all this but that someone is coming.
		for _, text := range h.ch.texts(a) {
			if strings.Contains(text, "agent:") {
				t.Errorf("the customer of a got an agent message: %q", text)
			}
		}
	})
}

// Presence: what an agent set counts while it is seen; unseen for OfflineAfter it is offline;
// any request brings it back.
func TestPresenceAutoOffline(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, 5*time.Minute)
		status := func(email string) string {
			t.Helper()
			v, err := h.ib.Agent(h.ctx, agent(email), email)
			if err != nil {
				t.Fatal(err)
			}
			return v.Status
		}
		if s := status("ana@acme.com"); s != inbox.Offline {
			t.Errorf("a new agent is %s, want offline", s)
		}
		h.presence(inbox.Online, "ana@acme.com")
		h.presence(inbox.Away, "bob@acme.com")
		if a, b := status("ana@acme.com"), status("bob@acme.com"); a != inbox.Online || b != inbox.Away {
			t.Errorf("statuses %s %s, want online away", a, b)
		}
		h.advance(4 * time.Minute)
		if s := status("ana@acme.com"); s != inbox.Online {
			t.Errorf("after 4 minutes ana is %s", s)
		}
		h.advance(2 * time.Minute)
		agents, err := h.ib.Agents(h.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range agents {
			if a.Status != inbox.Offline {
				t.Errorf("after 6 minutes unseen %s is %s (set %s), want offline", a.Email, a.Status, a.Presence)
			}
		}
		if _, err := h.ib.Actor(h.ctx, &store.Token{Agent: "ana@acme.com"}); err != nil {
			t.Fatal(err)
		}
		if s := status("ana@acme.com"); s != inbox.Online {
			t.Errorf("after a request ana is %s, want online", s)
		}
		if _, err := h.ib.SetPresence(h.ctx, inbox.Actor{Admin: true}, inbox.Online); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("presence with an API token: %v, want invalid", err)
		}
		if _, err := h.ib.SetPresence(h.ctx, agent("ana@acme.com"), "busy"); tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("presence busy: %v, want invalid", err)
		}
		if _, err := h.ib.Actor(h.ctx, &store.Token{Agent: "gone@acme.com"}); tandem.ErrorCode(err) != tandem.EUNAUTHORIZED {
			t.Errorf("a token of an unknown agent: %v, want unauthorized", err)
		}
	})
}

// Logins: a good password gets a token of the agent; a wrong password and an unknown agent get
// the same error; passwords are checked on creation.
func TestLoginAndAgents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, time.Hour)
		admin := inbox.Actor{Admin: true, Token: "ops"}
		if _, err := h.ib.CreateAgent(h.ctx, agent("ana@acme.com"), inbox.NewAgent{Email: "eve@acme.com", Password: "correct horse"}); tandem.ErrorCode(err) != tandem.EFORBIDDEN {
			t.Errorf("an agent creating agents: %v, want forbidden", err)
		}
		for _, tt := range []struct {
			p     inbox.NewAgent
			field string
		}{
			{inbox.NewAgent{Email: "not-an-email", Password: "correct horse"}, "email"},
			{inbox.NewAgent{Email: "eve@acme.com", Password: "short"}, "password"},
			{inbox.NewAgent{Email: "eve@acme.com", Password: strings.Repeat("x", 73)}, "password"},
			{inbox.NewAgent{Email: "eve@acme.com", Password: "correct horse", Role: "boss"}, "role"},
			{inbox.NewAgent{Email: "eve@acme.com", Password: "correct horse", Teams: []string{"nope"}}, "teams"},
		} {
			_, err := h.ib.CreateAgent(h.ctx, admin, tt.p)
			if tandem.ErrorCode(err) != tandem.EINVALID || !strings.HasPrefix(tandem.ErrorMessage(err), tt.field+":") {
				t.Errorf("CreateAgent(%+v): %v, want invalid naming %s", tt.p, err, tt.field)
			}
		}
		eve, err := h.ib.CreateAgent(h.ctx, admin, inbox.NewAgent{Email: "Eve@Acme.com", Name: "Eve", Password: "correct horse", Teams: []string{"sales"}})
		if err != nil {
			t.Fatal(err)
		}
		if eve.Email != "eve@acme.com" || eve.Role != "agent" || !slices.Equal(eve.Teams, []string{"sales"}) || eve.Status != inbox.Offline {
			t.Errorf("created %+v", eve)
		}
		if _, err := h.ib.CreateAgent(h.ctx, admin, inbox.NewAgent{Email: "eve@acme.com", Password: "correct horse"}); tandem.ErrorCode(err) != tandem.ECONFLICT {
			t.Errorf("creating eve twice: %v, want conflict", err)
		}
		token, a, err := h.ib.Login(h.ctx, "EVE@acme.com", "correct horse")
		if err != nil || token == "" || a.Email != "eve@acme.com" {
			t.Fatalf("Login = %q, %+v, %v", token, a, err)
		}
		tok, err := db.TokenLookup(h.ctx, token)
		if err != nil || tok.Agent != "eve@acme.com" {
			t.Errorf("the login token is %+v, %v; want eve's", tok, err)
		}
		_, _, errWrong := h.ib.Login(h.ctx, "eve@acme.com", "wrong horse")
		_, _, errUnknown := h.ib.Login(h.ctx, "nobody@acme.com", "correct horse")
		_, _, errNoPassword := h.ib.Login(h.ctx, "ana@acme.com", "")
		for _, err := range []error{errWrong, errUnknown, errNoPassword} {
			if tandem.ErrorCode(err) != tandem.EUNAUTHORIZED || tandem.ErrorMessage(err) != tandem.ErrorMessage(errWrong) {
				t.Errorf("a failed login: %v, want the one unauthorized answer", err)
			}
		}
		teams, err := h.ib.Teams(h.ctx)
		if err != nil || len(teams) != 2 || teams[1].ID != "sales" || !slices.Equal(teams[1].Members, []string{"ana@acme.com", "bob@acme.com", "eve@acme.com"}) {
			t.Errorf("Teams = %+v, %v", teams, err)
		}
	})
}

// The stream replays what a reconnecting client missed, or tells it to reload.
func TestEventsResume(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite(t), time.Hour)
	if err := h.ib.Start(h.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.ib.Stop)
	sub := h.ib.Subscribe()
	defer sub.Close()
	id := h.say("a", "help me")
	if _, err := h.ib.Note(h.ctx, agent("ana@acme.com"), id, "first"); err != nil {
		t.Fatal(err)
	}
	var seen []inbox.Event
	deadline := time.After(10 * time.Second)
	for len(seen) < 2 || seen[len(seen)-1].Kind != inbox.EventNote {
		select {
		case ev := <-sub.C:
			seen = append(seen, ev)
		case <-deadline:
			t.Fatalf("events so far %+v; want a conversation and a note", seen)
		}
	}
	if seen[0].Kind != inbox.EventConversation || seen[0].Conversation.ID != id {
		t.Errorf("first event %+v, want the conversation", seen[0])
	}
	rest, ok := h.ib.Since(seen[0].ID)
	if !ok || len(rest) != len(seen)-1 || rest[len(rest)-1].ID != seen[len(seen)-1].ID {
		t.Errorf("Since(first) = %d events, %v; want the %d after it", len(rest), ok, len(seen)-1)
	}
	if rest, ok := h.ib.Since(seen[len(seen)-1].ID); !ok || len(rest) != 0 {
		t.Errorf("Since(last) = %v, %v; want nothing, ok", rest, ok)
	}
	for _, id := range []string{"other-1", "garbage", strings.Split(seen[0].ID, "-")[0] + "-999999"} {
		if _, ok := h.ib.Since(id); ok {
			t.Errorf("Since(%q) is ok; want a reset", id)
		}
	}
	h.ib.Stop()
	select {
	case _, open := <-sub.C:
		for open {
			_, open = <-sub.C
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the subscription did not end when the inbox stopped")
	}
}

// A message that fails after the stream reported it is sent again, once, with why: an agent
// who has the conversation open sees the failure come.
func TestEventsFailedMessage(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, time.Hour)
		if err := h.ib.Start(h.ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.ib.Stop)
		sub := h.ib.Subscribe()
		defer sub.Close()
		id := h.say("a", "help me")
		if _, err := h.ib.Message(h.ctx, agent("ana@acme.com"), id, "Let me check."); err != nil {
			t.Fatal(err)
		}
		h.drain()
		msgs, err := db.Messages(h.ctx, store.MessagesParams{ConversationID: id})
		if err != nil || len(msgs) == 0 || msgs[len(msgs)-1].Text != "Let me check." {
			t.Fatalf("messages %+v, %v; want the agent's reply last", msgs, err)
		}
		reply := msgs[len(msgs)-1].ID
		// next waits for an event that matches, and returns the events up to it.
		next := func(what string, match func(inbox.Event) bool) []inbox.Event {
			t.Helper()
			var seen []inbox.Event
			deadline := time.After(10 * time.Second)
			for {
				select {
				case ev := <-sub.C:
					seen = append(seen, ev)
					if match(ev) {
						return seen
					}
				case <-deadline:
					t.Fatalf("no %s; events so far %+v", what, seen)
				}
			}
		}
		failed := func(ev inbox.Event) bool {
			return ev.Kind == inbox.EventMessage && ev.Message.ID == reply && ev.Message.Status == "failed"
		}
		next("reply", func(ev inbox.Event) bool { return ev.Kind == inbox.EventMessage && ev.Message.ID == reply })
		if _, err := db.Delivery(h.ctx, store.DeliveryParams{ChannelID: "api", ConversationID: id, MessageID: reply, Status: "failed",
			Code: "131047", Error: "Re-engagement message", Now: h.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		h.ib.Notify(id)
		evs := next("failed reply", failed)
		got := evs[len(evs)-1].Message
		if want := (tandem.MessageError{Code: "131047", Message: "Re-engagement message"}); got.Error == nil || *got.Error != want || got.Text != "Let me check." {
			t.Errorf("failed reply %+v (error %+v), want its text and error %+v", got, got.Error, want)
		}
		// Later looks do not send it again.
		if _, err := h.ib.Note(h.ctx, agent("ana@acme.com"), id, "customer away?"); err != nil {
			t.Fatal(err)
		}
		for _, ev := range next("note", func(ev inbox.Event) bool { return ev.Kind == inbox.EventNote }) {
			if failed(ev) {
				t.Errorf("the failed reply was sent again: %+v", ev)
			}
		}
	})
}

// A message comes in the stream with its delivery as it stands when the stream first reports
// it, as the messages' list has it: an agent who has the conversation open sees a reply that
// was already delivered, or already refused and why, without reloading.
func TestEventsMessageStatus(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		h := newHarness(t, db, time.Hour)
		h.ch.refuse = "Refused reply"
		// The stream's loop does not run: it looks when the test says (its baseline first).
		if err := h.ib.PollOnce(h.ctx); err != nil {
			t.Fatal(err)
		}
		sub := h.ib.Subscribe()
		defer sub.Close()
		id := h.say("a", "help me")
		for _, text := range []string{"Let me check.", "Refused reply"} {
			if _, err := h.ib.Message(h.ctx, agent("ana@acme.com"), id, text); err != nil {
				t.Fatal(err)
			}
			h.drain()
		}
		msgs, err := db.Messages(h.ctx, store.MessagesParams{ConversationID: id})
		if err != nil || len(msgs) < 2 {
			t.Fatalf("messages %+v, %v; want the agent's two replies", msgs, err)
		}
		sent, refused := msgs[len(msgs)-2], msgs[len(msgs)-1]
		if sent.Text != "Let me check." || refused.Text != "Refused reply" || refused.Status != "failed" {
			t.Fatalf("last messages %+v and %+v; want Ana's reply and her refused one", sent, refused)
		}
		if _, err := db.Delivery(h.ctx, store.DeliveryParams{ChannelID: "api", ConversationID: id, MessageID: sent.ID, Status: "delivered", Now: h.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		if err := h.ib.PollOnce(h.ctx); err != nil {
			t.Fatal(err)
		}
		first := map[string]*tandem.Message{}
		for len(sub.C) > 0 {
			if ev := <-sub.C; ev.Kind == inbox.EventMessage && first[ev.Message.ID] == nil {
				first[ev.Message.ID] = ev.Message
			}
		}
		if m := first[sent.ID]; m == nil || m.Status != "delivered" || m.Error != nil {
			t.Errorf("the delivered reply came as %+v; want status delivered", m)
		}
		want := tandem.MessageError{Message: "the customer's chat is gone"}
		if m := first[refused.ID]; m == nil || m.Status != "failed" || m.Error == nil || *m.Error != want {
			t.Errorf("the refused reply came as %+v; want status failed with %+v", m, want)
		}
		if m := first[msgs[0].ID]; m == nil || m.Status != "" || m.Text != "help me" {
			t.Errorf("the customer's message came as %+v; want it with no status", m)
		}
	})
}

// A conversation an agent's app read in the inbox's list, which the event stream never saw
// there (it entered and left between two of the stream's looks), is reported when it leaves:
// the app does not keep showing it. A browser test saw a closed conversation stay in "Mine":
// the app's first read of the list, slow on a busy machine, was answered after the
// conversation was handed over, and it left the inbox before the stream looked again.
func TestEventsReportTheLeavingOfWhatTheListShowed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, storetest.SQLite(t), time.Hour)
	sub := h.ib.Subscribe()
	defer sub.Close()
	// Before the stream's first look: here the list is read while the conversation is in the
	// inbox, and it leaves before the stream looks.
	id := h.say("a", "help me")
	admin := inbox.Actor{Admin: true, Token: "ops"}
	list, _, err := h.ib.List(h.ctx, admin, inbox.ListParams{})
	if err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("the list: %d conversations, %v; want %s", len(list), err, id)
	}
	if _, err := h.ib.Close(h.ctx, admin, id); err != nil {
		t.Fatal(err)
	}
	h.drain()
	if err := h.ib.Start(h.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.ib.Stop)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-sub.C:
			if c := ev.Conversation; ev.Kind == inbox.EventConversation && c.ID == id {
				if c.Status == tandem.ConversationQueued || c.Status == tandem.ConversationAssigned {
					t.Fatalf("the conversation is reported %s, want it out of the inbox", c.Status)
				}
				return
			}
		case <-deadline:
			t.Fatal("the conversation the list showed left the inbox unreported")
		}
	}
}
