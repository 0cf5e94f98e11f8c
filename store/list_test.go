package store_test

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

func TestConversationList(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		// five conversations, updated at t0+1m … t0+5m; the even ones queued for sales
		var ids []string
		for i := 1; i <= 5; i++ {
			conv := f.inbound(string(rune('a'+i)), "hi", "").ConversationID
			ids = append(ids, conv)
			_, _, err := db.Process(f.ctx, conv, 10, func(b *store.Batch) (*store.Changes, error) {
				c := *b.Conversation
				c.UpdatedAt = t0.Add(time.Duration(i) * time.Minute)
				if i%2 == 0 {
					c.Status, c.Team = tandem.ConversationQueued, "sales"
				}
				return &store.Changes{Conversation: &c, State: []byte(`{}`), DoneSeq: b.Events[0].Seq, RunID: "r", RunStatus: tandem.RunWaiting, Handoff: "queued"}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		list := func(p store.ConversationListParams) ([]string, string) {
			t.Helper()
			out, next, err := db.ConversationList(f.ctx, p)
			if err != nil {
				t.Fatalf("ConversationList(%+v): %v", p, err)
			}
			got := []string{}
			for _, c := range out {
				got = append(got, c.ID)
				if c.RunStatus != tandem.RunWaiting || c.Handoff != "queued" {
					t.Errorf("listed %+v", c)
				}
			}
			return got, next
		}
		got, next := list(store.ConversationListParams{Limit: 2})
		if want := []string{ids[4], ids[3]}; !reflect.DeepEqual(got, want) || next == "" {
			t.Errorf("page 1 = %v, %q; want %v and a cursor", got, next, want)
		}
		got, next = list(store.ConversationListParams{Limit: 2, Before: next})
		if want := []string{ids[2], ids[1]}; !reflect.DeepEqual(got, want) || next == "" {
			t.Errorf("page 2 = %v, %q; want %v", got, next, want)
		}
		got, next = list(store.ConversationListParams{Limit: 2, Before: next})
		if want := []string{ids[0]}; !reflect.DeepEqual(got, want) || next != "" {
			t.Errorf("page 3 = %v, %q; want %v and no cursor", got, next, want)
		}
		got, _ = list(store.ConversationListParams{Status: tandem.ConversationQueued, Team: "sales"})
		if want := []string{ids[3], ids[1]}; !reflect.DeepEqual(got, want) {
			t.Errorf("queued for sales = %v, want %v", got, want)
		}
		for _, bad := range []string{"nope", "12x_id", "_id"} {
			_, _, err := db.ConversationList(f.ctx, store.ConversationListParams{Before: bad})
			wantCode(t, "ConversationList with cursor "+bad, err, tandem.EINVALID)
		}

		counts, err := db.RunCounts(f.ctx)
		if err != nil || !reflect.DeepEqual(counts, map[string]int{"running": 0, "waiting": 5}) {
			t.Errorf("RunCounts = %v, %v", counts, err)
		}
	})
}

func TestContactUpdate(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		res, err := db.Inbound(f.ctx, store.InboundParams{ChannelID: "api", ChannelKind: "api",
			Contact: tandem.Contact{ExternalID: "c1", Name: "Ann", Attributes: map[string]any{"a": "1", "b": "2"}},
			Message: tandem.Message{Text: "hi"}, Now: t0, NewID: f.id})
		if err != nil {
			t.Fatal(err)
		}
		name, email, tags := " Ann B ", "ann@example.com", []string{"vip"}
		c, err := db.ContactUpdate(f.ctx, res.ContactID, store.ContactPatch{Name: &name, Email: &email, Tags: &tags,
			Attributes: map[string]any{"a": nil, "c": "3"}}, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.ContactGet(f.ctx, res.ContactID)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("ContactGet = %+v, %v; want %+v", got, err, c)
		}
		if got.Name != "Ann B" || got.Email != "ann@example.com" || !reflect.DeepEqual(got.Tags, tags) ||
			!reflect.DeepEqual(got.Attributes, map[string]any{"b": "2", "c": "3"}) || !got.UpdatedAt.Equal(t0.Add(time.Hour)) || got.ExternalID != "c1" {
			t.Errorf("updated contact = %+v", got)
		}
		_, err = db.ContactUpdate(f.ctx, "nope", store.ContactPatch{Name: &name}, t0)
		wantCode(t, "ContactUpdate of an unknown contact", err, tandem.ENOTFOUND)
	})
}

func TestTokens(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		token, rec, err := db.TokenCreate(f.ctx, "ci", "u1", t0, f.id)
		if err != nil {
			t.Fatal(err)
		}
		if len(token) < 20 || token[:len(store.TokenPrefix)] != store.TokenPrefix {
			t.Errorf("token %q", token)
		}
		if n := f.count(`SELECT COUNT(*) FROM tokens WHERE hash = ?`, token); n != 0 {
			t.Errorf("the token itself is stored")
		}
		got, err := db.TokenLookup(f.ctx, token)
		if err != nil || *got != *rec || got.Name != "ci" || got.Agent != "u1" || !got.CreatedAt.Equal(t0) {
			t.Errorf("TokenLookup = %+v, %v; want %+v", got, err, rec)
		}
		_, err = db.TokenLookup(f.ctx, token+"x")
		wantCode(t, "TokenLookup of a wrong token", err, tandem.EUNAUTHORIZED)
		if err := db.TokenRevoke(f.ctx, rec.ID, t0); err != nil {
			t.Fatal(err)
		}
		_, err = db.TokenLookup(f.ctx, token)
		wantCode(t, "TokenLookup of a revoked token", err, tandem.EUNAUTHORIZED)
		wantCode(t, "TokenRevoke twice", db.TokenRevoke(f.ctx, rec.ID, t0), tandem.ENOTFOUND)
	})
}

// Sessions carry their agent's role and their expiry; TokenUsed moves it; TokenList keeps the
// live ones unless asked for all.
func TestTokenSessions(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		if err := db.AgentCreate(f.ctx, store.Agent{Email: "ana@acme.com", Role: "admin"}, t0); err != nil {
			t.Fatal(err)
		}
		token, rec, err := db.TokenMint(f.ctx, store.TokenParams{Name: "inbox login", Kind: store.TokenSession, Agent: "Ana@Acme.com",
			ExpiresAt: t0.Add(time.Hour), MaxExpiresAt: t0.Add(24 * time.Hour), Now: t0, NewID: f.id})
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.TokenLookup(f.ctx, token)
		if err != nil || got.Role != "admin" || got.Agent != "ana@acme.com" || got.Kind != store.TokenSession || !got.ExpiresAt.Equal(t0.Add(time.Hour)) || !got.MaxExpiresAt.Equal(t0.Add(24*time.Hour)) {
			t.Fatalf("TokenLookup = %+v, %v", got, err)
		}
		if got.Live(t0.Add(time.Hour)) || !got.Live(t0.Add(time.Hour-time.Second)) {
			t.Error("Live does not end at ExpiresAt")
		}
		if err := db.TokenUsed(f.ctx, rec.ID, t0.Add(30*time.Minute), t0.Add(90*time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got, _ = db.TokenLookup(f.ctx, token); !got.ExpiresAt.Equal(t0.Add(90*time.Minute)) || !got.LastUsedAt.Equal(t0.Add(30*time.Minute)) {
			t.Errorf("after TokenUsed: %+v", got)
		}
		api, _, err := db.TokenMint(f.ctx, store.TokenParams{Name: "backend", Now: t0.Add(time.Second), NewID: f.id})
		if err != nil || api == "" {
			t.Fatal(err)
		}
		list := func(p store.TokenListParams) []string {
			t.Helper()
			l, err := db.TokenList(f.ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tk := range l {
				names = append(names, tk.Name)
			}
			return names
		}
		if got := list(store.TokenListParams{Live: true, Now: t0}); !slices.Equal(got, []string{"backend", "inbox login"}) {
			t.Errorf("live tokens %q, newest first", got)
		}
		if got := list(store.TokenListParams{Live: true, Now: t0.Add(2 * time.Hour)}); !slices.Equal(got, []string{"backend"}) {
			t.Errorf("live tokens once the login expired: %q", got)
		}
		if got := list(store.TokenListParams{Kind: store.TokenSession, Agent: "ANA@acme.com"}); !slices.Equal(got, []string{"inbox login"}) {
			t.Errorf("ana's sessions %q", got)
		}
		// Every agent assigned a conversation handled it, for good.
		res := f.inbound("c1", "hi", "")
		if ok, _ := db.ConversationHandled(f.ctx, res.ConversationID, "ana@acme.com"); ok {
			t.Error("handled before any assignment")
		}
		if ok, err := db.ConversationAssign(f.ctx, res.ConversationID, "ana@acme.com", false, t0); !ok || err != nil {
			t.Fatal(ok, err)
		}
		if _, err := db.ConversationTransfer(f.ctx, res.ConversationID, "sales", t0); err != nil {
			t.Fatal(err)
		}
		if ok, err := db.ConversationHandled(f.ctx, res.ConversationID, "Ana@acme.com"); !ok || err != nil {
			t.Errorf("ConversationHandled after an assignment and a transfer = %v, %v", ok, err)
		}
	})
}
