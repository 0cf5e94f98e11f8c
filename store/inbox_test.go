package store_test

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// handOff makes a conversation queued in a team, its handoff queued, as the engine does when a
// handoff starts.
func (f *fixture) handOff(conv, team string) {
	f.t.Helper()
	f.turn(conv, func(b *store.Batch, ch *store.Changes) {
		ch.Conversation.Status, ch.Conversation.Team = tandem.ConversationQueued, team
		ch.Handoff = tandem.HandoffQueued
	})
}

// Agents: the configuration's are synced (memberships replaced, API ones kept), the API's
// created once, e-mails compared without case; presence and last seen.
func TestAgents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		err := db.AgentSync(f.ctx, []store.Agent{
			{Email: "Ana@Acme.com", Name: "Ana", Role: "admin", PasswordHash: "hash-ana"},
			{Email: "bob@acme.com", Name: "Bob", Role: "agent"},
		}, map[string][]string{"support": {"ana@acme.com", "bob@acme.com"}, "sales": {"bob@acme.com"}}, t0)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.AgentCreate(f.ctx, store.Agent{Email: "Cid@Acme.com", Name: "Cid", Role: "agent", PasswordHash: "hash-cid", Teams: []string{"sales"}}, t0); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "AgentCreate twice", db.AgentCreate(f.ctx, store.Agent{Email: "cid@acme.com", Role: "agent"}, t0), tandem.ECONFLICT)
		wantCode(t, "AgentCreate over a configured agent", db.AgentCreate(f.ctx, store.Agent{Email: "bob@acme.com", Role: "agent"}, t0), tandem.ECONFLICT)

		a, err := db.AgentGet(f.ctx, "ANA@acme.com")
		if err != nil {
			t.Fatal(err)
		}
		if a.Email != "ana@acme.com" || a.Name != "Ana" || a.Role != "admin" || a.PasswordHash != "hash-ana" || a.Presence != "offline" || !slices.Equal(a.Teams, []string{"support"}) {
			t.Errorf("AgentGet(ana) = %+v", a)
		}
		_, err = db.AgentGet(f.ctx, "nobody@acme.com")
		wantCode(t, "AgentGet(unknown)", err, tandem.ENOTFOUND)

		// A new sync: bob leaves support, ana's hash is kept when the configuration gives none;
		// cid's membership (from the API) stays.
		err = db.AgentSync(f.ctx, []store.Agent{{Email: "ana@acme.com", Name: "Ana S.", Role: "agent"}, {Email: "bob@acme.com", Name: "Bob", Role: "agent"}},
			map[string][]string{"support": {"ana@acme.com"}, "sales": {"bob@acme.com"}}, t0)
		if err != nil {
			t.Fatal(err)
		}
		list, err := db.AgentList(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]store.Agent{}
		for _, a := range list {
			got[a.Email] = a
		}
		if len(list) != 3 || got["ana@acme.com"].Name != "Ana S." || got["ana@acme.com"].Role != "agent" || got["ana@acme.com"].PasswordHash != "hash-ana" {
			t.Errorf("AgentList = %+v", list)
		}
		for email, want := range map[string][]string{"ana@acme.com": {"support"}, "bob@acme.com": {"sales"}, "cid@acme.com": {"sales"}} {
			if !slices.Equal(got[email].Teams, want) {
				t.Errorf("%s teams %q, want %q", email, got[email].Teams, want)
			}
		}
		members, err := db.TeamMembers(f.ctx)
		if err != nil || !slices.Equal(members["sales"], []string{"bob@acme.com", "cid@acme.com"}) || !slices.Equal(members["support"], []string{"ana@acme.com"}) {
			t.Errorf("TeamMembers = %v, %v", members, err)
		}

		// Presence marks the agent seen; seen never moves back.
		if err := db.AgentPresence(f.ctx, "ana@acme.com", "online", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		before, err := db.AgentSeen(f.ctx, "ana@acme.com", t0.Add(2*time.Minute))
		if err != nil || !before.Equal(t0.Add(time.Minute)) {
			t.Errorf("AgentSeen = %v, %v; want the presence's time", before, err)
		}
		if _, err := db.AgentSeen(f.ctx, "ana@acme.com", t0); err != nil {
			t.Fatal(err)
		}
		a, _ = db.AgentGet(f.ctx, "ana@acme.com")
		if a.Presence != "online" || !a.LastSeenAt.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("after presence and seen: %+v", a)
		}
		wantCode(t, "AgentPresence(unknown)", db.AgentPresence(f.ctx, "nobody@acme.com", "online", t0), tandem.ENOTFOUND)
		_, err = db.AgentSeen(f.ctx, "nobody@acme.com", t0)
		wantCode(t, "AgentSeen(unknown)", err, tandem.ENOTFOUND)
	})
}

// Of many agents taking one conversation at once, exactly one wins; a closed conversation is
// never assigned; an unknown one is not found.
func TestConversationAssignRace(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		const convs, agents = 10, 4
		for i := range convs {
			res := f.inbound(fmt.Sprintf("c%d", i), "help", "")
			f.handOff(res.ConversationID, "support")
			var wg sync.WaitGroup
			var mu sync.Mutex
			var winners []string
			for a := range agents {
				agent := fmt.Sprintf("agent%d@acme.com", a)
				wg.Go(func() {
					ok, err := db.ConversationAssign(f.ctx, res.ConversationID, agent, true, t0)
					if err != nil {
						t.Error(err)
					}
					if ok {
						mu.Lock()
						winners = append(winners, agent)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(winners) != 1 {
				t.Fatalf("conversation %d: winners %q, want exactly one", i, winners)
			}
			c := f.conversation(res.ConversationID)
			if c.Status != tandem.ConversationAssigned || c.Assignee != winners[0] {
				t.Errorf("conversation %d: status %s assignee %s, want assigned to %s", i, c.Status, c.Assignee, winners[0])
			}
			// The winner taking it again is fine; a forced assignment moves it.
			if ok, err := db.ConversationAssign(f.ctx, res.ConversationID, winners[0], true, t0); !ok || err != nil {
				t.Errorf("the winner again: %v, %v", ok, err)
			}
			if ok, err := db.ConversationAssign(f.ctx, res.ConversationID, "boss@acme.com", false, t0); !ok || err != nil {
				t.Errorf("forced: %v, %v", ok, err)
			}
		}
		res := f.inbound("closed", "bye", "")
		f.turn(res.ConversationID, func(b *store.Batch, ch *store.Changes) { ch.Conversation.Status = tandem.ConversationClosed })
		for _, only := range []bool{true, false} {
			if ok, err := db.ConversationAssign(f.ctx, res.ConversationID, "ana@acme.com", only, t0); ok || err != nil {
				t.Errorf("closed, onlyIfUnassigned=%v: %v, %v; want false, nil", only, ok, err)
			}
		}
		_, err := db.ConversationAssign(f.ctx, "nope", "ana@acme.com", true, t0)
		wantCode(t, "ConversationAssign(unknown)", err, tandem.ENOTFOUND)
	})
}

// TeamAssign picks with the team's cursor and the candidates' loads, moves the cursor, and
// assigns only a conversation still as expected.
func TestTeamAssign(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		a := f.inbound("a", "help", "").ConversationID
		b := f.inbound("b", "help", "").ConversationID
		f.handOff(a, "support")
		f.handOff(b, "support")
		var gotCursor string
		var gotLoad map[string]int
		first := func(cursor string, load map[string]int) string {
			gotCursor, gotLoad = cursor, load
			return "bob@acme.com"
		}
		p := store.TeamAssignParams{ConversationID: a, Team: "support", Candidates: []string{"ana@acme.com", "bob@acme.com"}, Pick: first, Now: t0}
		agent, err := db.TeamAssign(f.ctx, p)
		if err != nil || agent != "bob@acme.com" {
			t.Fatalf("TeamAssign = %q, %v", agent, err)
		}
		if gotCursor != "" || gotLoad["ana@acme.com"] != 0 || gotLoad["bob@acme.com"] != 0 || len(gotLoad) != 2 {
			t.Errorf("first pick saw cursor %q load %v", gotCursor, gotLoad)
		}
		p.ConversationID = b
		if agent, err = db.TeamAssign(f.ctx, p); err != nil || agent != "bob@acme.com" {
			t.Fatalf("TeamAssign = %q, %v", agent, err)
		}
		if gotCursor != "bob@acme.com" || gotLoad["bob@acme.com"] != 1 {
			t.Errorf("second pick saw cursor %q load %v, want bob's and one", gotCursor, gotLoad)
		}
		// Not queued any more: nothing happens.
		if agent, err = db.TeamAssign(f.ctx, p); err != nil || agent != "" {
			t.Errorf("TeamAssign of an assigned conversation = %q, %v; want nothing", agent, err)
		}
		// Another team's assignment does not take this team's conversation.
		c := f.inbound("c", "help", "").ConversationID
		f.handOff(c, "sales")
		p.ConversationID = c
		if agent, err = db.TeamAssign(f.ctx, p); err != nil || agent != "" {
			t.Errorf("TeamAssign of another team's conversation = %q, %v", agent, err)
		}

		// Unanswered for long enough: overdue; a reassignment from bob moves it.
		overdue, err := db.InboxOverdue(f.ctx, "support", t0, 10)
		if err != nil || len(overdue) != 2 || overdue[0].Agent != "bob@acme.com" {
			t.Fatalf("InboxOverdue = %+v, %v", overdue, err)
		}
		if o, _ := db.InboxOverdue(f.ctx, "support", t0.Add(-time.Second), 10); len(o) != 0 {
			t.Errorf("InboxOverdue before the assignments = %+v", o)
		}
		toAna := func(string, map[string]int) string { return "ana@acme.com" }
		agent, err = db.TeamAssign(f.ctx, store.TeamAssignParams{ConversationID: a, Team: "support", From: "ana@acme.com", Candidates: []string{"ana@acme.com"}, Pick: toAna, Now: t0})
		if err != nil || agent != "" {
			t.Errorf("a reassignment from an agent that does not have it = %q, %v", agent, err)
		}
		agent, err = db.TeamAssign(f.ctx, store.TeamAssignParams{ConversationID: a, Team: "support", From: "bob@acme.com", Candidates: []string{"ana@acme.com"}, Pick: toAna, Now: t0.Add(time.Minute)})
		if err != nil || agent != "ana@acme.com" || f.conversation(a).Assignee != "ana@acme.com" {
			t.Errorf("reassignment = %q, %v", agent, err)
		}
		if o, _ := db.InboxOverdue(f.ctx, "support", t0, 10); len(o) != 1 || o[0].ConversationID != b {
			t.Errorf("after the reassignment, overdue %+v; want only b", o)
		}
		if err := db.AssignmentRenew(f.ctx, b, "bob@acme.com", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if o, _ := db.InboxOverdue(f.ctx, "support", t0.Add(time.Minute), 10); len(o) != 1 || o[0].ConversationID != a {
			t.Errorf("after renewing b, overdue %+v; want only a", o)
		}
		// Answered (the handoff connected): never overdue, never requeued.
		f.turn(a, func(b *store.Batch, ch *store.Changes) { ch.Handoff = tandem.HandoffConnected })
		if o, _ := db.InboxOverdue(f.ctx, "support", t0.Add(time.Minute), 10); len(o) != 0 {
			t.Errorf("an answered conversation is overdue: %+v", o)
		}
		if ok, err := db.ConversationRequeue(f.ctx, a, "ana@acme.com", t0); ok || err != nil {
			t.Errorf("requeue of an answered conversation: %v, %v", ok, err)
		}
		if ok, err := db.ConversationRequeue(f.ctx, b, "bob@acme.com", t0); !ok || err != nil {
			t.Errorf("requeue: %v, %v", ok, err)
		}
		if got := f.conversation(b); got.Status != tandem.ConversationQueued || got.Assignee != "" {
			t.Errorf("requeued: %s %q", got.Status, got.Assignee)
		}
		// Transfer: any inbox conversation to another team's queue, unassigned.
		if ok, err := db.ConversationTransfer(f.ctx, a, "sales", t0); !ok || err != nil {
			t.Errorf("transfer: %v, %v", ok, err)
		}
		if got := f.conversation(a); got.Status != tandem.ConversationQueued || got.Team != "sales" || got.Assignee != "" {
			t.Errorf("transferred: %s %s %q", got.Status, got.Team, got.Assignee)
		}
		bot := f.inbound("d", "hi", "").ConversationID
		if ok, err := db.ConversationTransfer(f.ctx, bot, "sales", t0); ok || err != nil {
			t.Errorf("transfer of a bot conversation: %v, %v; want false", ok, err)
		}
		_, err = db.ConversationTransfer(f.ctx, "nope", "sales", t0)
		wantCode(t, "ConversationTransfer(unknown)", err, tandem.ENOTFOUND)
		queued, next, err := db.InboxQueued(f.ctx, "sales", "", 10)
		if err != nil || len(queued) != 2 || next != "" {
			t.Errorf("InboxQueued(sales) = %d, %q, %v", len(queued), next, err)
		}
		page, next, err := db.InboxQueued(f.ctx, "sales", "", 1)
		if err != nil || len(page) != 1 || next == "" {
			t.Fatalf("InboxQueued page 1 = %d, %q, %v", len(page), next, err)
		}
		if page2, _, err := db.InboxQueued(f.ctx, "sales", next, 1); err != nil || len(page2) != 1 || page2[0].ID == page[0].ID {
			t.Errorf("InboxQueued page 2 = %v, %v", page2, err)
		}
	})
}

// The inbox lists queued and assigned conversations with contact and last message; notes are
// stored apart from messages; changes are read for the event stream.
func TestInboxListNotesChanges(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		a := f.inbound("a", "first", "").ConversationID
		f.inbound("a", "second", "")
		b := f.inbound("b", "help", "").ConversationID
		f.inbound("c", "just the bot", "")
		f.handOff(a, "support")
		f.handOff(b, "sales")
		if ok, err := db.ConversationAssign(f.ctx, b, "bob@acme.com", true, t0); !ok || err != nil {
			t.Fatal(ok, err)
		}
		ids := func(items []store.InboxItem) []string {
			var out []string
			for _, it := range items {
				out = append(out, it.ID)
			}
			slices.Sort(out)
			return out
		}
		both := []string{a, b}
		slices.Sort(both)
		for _, tt := range []struct {
			p    store.InboxListParams
			want []string
		}{
			{store.InboxListParams{}, both},
			{store.InboxListParams{Statuses: []string{"queued"}}, []string{a}},
			{store.InboxListParams{Statuses: []string{"assigned"}}, []string{b}},
			{store.InboxListParams{Team: "support"}, []string{a}},
			{store.InboxListParams{Assignee: "BOB@acme.com"}, []string{b}},
			{store.InboxListParams{Assignee: "ana@acme.com"}, nil},
		} {
			list, _, err := db.InboxList(f.ctx, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(list); !slices.Equal(got, tt.want) {
				t.Errorf("InboxList(%+v) = %q, want %q", tt.p, got, tt.want)
			}
		}
		list, _, err := db.InboxList(f.ctx, store.InboxListParams{Team: "support"})
		if err != nil || len(list) != 1 {
			t.Fatal(list, err)
		}
		if it := list[0]; it.Contact == nil || it.Contact.ExternalID != "a" || it.LastMessage == nil || it.LastMessage.Text != "second" || it.LastMessage.Direction != tandem.DirectionIn {
			t.Errorf("item = %+v contact %+v last %+v", it, it.Contact, it.LastMessage)
		}
		p1, next, err := db.InboxList(f.ctx, store.InboxListParams{Limit: 1})
		if err != nil || len(p1) != 1 || next == "" {
			t.Fatal(p1, next, err)
		}
		p2, next2, err := db.InboxList(f.ctx, store.InboxListParams{Limit: 1, Before: next})
		if err != nil || len(p2) != 1 || p2[0].ID == p1[0].ID {
			t.Errorf("page 2 = %v, %q, %v", p2, next2, err)
		}
		_, _, err = db.InboxList(f.ctx, store.InboxListParams{Before: "garbage"})
		wantCode(t, "InboxList(bad cursor)", err, tandem.EINVALID)

		// Notes: stored, not messages; the conversation is marked updated.
		n := tandem.Note{ID: "n1", ConversationID: a, Author: "ana@acme.com", Text: "VIP", CreatedAt: t0.Add(time.Minute)}
		if err := db.NoteInsert(f.ctx, n); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "NoteInsert(unknown)", db.NoteInsert(f.ctx, tandem.Note{ID: "n2", ConversationID: "nope", Text: "x", CreatedAt: t0}), tandem.ENOTFOUND)
		notes, err := db.NotesSince(f.ctx, a, t0)
		if err != nil || len(notes) != 1 || notes[0] != n {
			t.Errorf("NotesSince = %+v, %v", notes, err)
		}
		if notes, _ := db.NotesSince(f.ctx, a, t0.Add(2*time.Minute)); len(notes) != 0 {
			t.Errorf("NotesSince later = %+v", notes)
		}
		for _, m := range f.messages(a) {
			if m.Text == "VIP" {
				t.Error("a note is among the messages")
			}
		}
		if c := f.conversation(a); !c.UpdatedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("updated_at %v after a note, want the note's time", c.UpdatedAt)
		}

		// Changes: inbox conversations updated since; known ones that left.
		changes, err := db.InboxChanges(f.ctx, t0.Add(time.Second), nil, 100)
		if err != nil || len(changes) != 1 || changes[0].ID != a || changes[0].MsgSeq != 2 {
			t.Errorf("InboxChanges = %+v, %v", changes, err)
		}
		f.turn(b, func(_ *store.Batch, ch *store.Changes) {
			ch.Conversation.Status = tandem.ConversationBot
			ch.Conversation.UpdatedAt = t0.Add(time.Hour)
		})
		changes, err = db.InboxChanges(f.ctx, t0.Add(time.Second), []string{a, b}, 100)
		got := map[string]string{}
		for _, c := range changes {
			got[c.ID] = c.Status
		}
		if err != nil || len(changes) != 2 || got[a] != "queued" || got[b] != "bot" {
			t.Errorf("InboxChanges with known = %v, %v", got, err)
		}
		msgs, last, err := db.MessagesAfterSeq(f.ctx, a, 1, 10)
		if err != nil || len(msgs) != 1 || msgs[0].Text != "second" || last != 2 {
			t.Errorf("MessagesAfterSeq = %+v, %d, %v", msgs, last, err)
		}
		if msgs, last, err := db.MessagesAfterSeq(f.ctx, a, 2, 10); err != nil || len(msgs) != 0 || last != 2 {
			t.Errorf("MessagesAfterSeq at the end = %+v, %d, %v", msgs, last, err)
		}
	})
}

// The inbox's list and its event stream read a message's delivery as the messages' list does:
// its status, and why it failed; an agent sees a last reply that did not reach the customer.
func TestInboxMessageStatus(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, a, _ := outboxFixture(t, db)
		f.handOff(a, "support")
		for _, r := range []store.DeliveryParams{
			{MessageID: "a1", Status: "delivered"},
			{MessageID: "a3", Status: "failed", Code: "131047", Error: "Re-engagement message"},
		} {
			r.ChannelID, r.ConversationID, r.Now = "api", a, t0
			if _, err := db.Delivery(f.ctx, r); err != nil {
				t.Fatalf("Delivery(%s %s): %v", r.MessageID, r.Status, err)
			}
		}
		why := &tandem.MessageError{Code: "131047", Message: "Re-engagement message"}
		list, _, err := db.InboxList(f.ctx, store.InboxListParams{})
		if err != nil || len(list) != 1 || list[0].LastMessage == nil {
			t.Fatalf("InboxList = %+v, %v; want conversation %s with its last message", list, err, a)
		}
		if m := list[0].LastMessage; m.ID != "a3" || m.Status != "failed" || !reflect.DeepEqual(m.Error, why) {
			t.Errorf("last message %s: status %q, error %+v; want a3 failed with %+v", m.ID, m.Status, m.Error, why)
		}
		msgs, _, err := db.MessagesAfterSeq(f.ctx, a, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range msgs {
			if m.Direction == tandem.DirectionOut {
				got = append(got, m.ID+":"+m.Status)
			}
			if want := map[string]*tandem.MessageError{"a3": why}[m.ID]; !reflect.DeepEqual(m.Error, want) {
				t.Errorf("MessagesAfterSeq: %s (%s) has error %+v, want %+v", m.ID, m.Status, m.Error, want)
			}
		}
		if want := []string{"a1:delivered", "a2:", "a3:failed"}; !slices.Equal(got, want) {
			t.Errorf("MessagesAfterSeq's outbound messages %q, want %q", got, want)
		}
	})
}
