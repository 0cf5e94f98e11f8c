package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// salesFlow assigns the conversation to the sales team and completes.
const salesFlow = `format: 1
id: sales
name: Sales
trigger: {on: message, match: {contains: buy}, priority: 10}
steps:
  - {id: route, type: assign, team: sales}
  - {id: hi, type: message, text: "Sales here."}
`

type conversationList struct {
	Conversations []conversationJSON `json:"conversations"`
	NextCursor    string             `json:"next_cursor"`
}

// The conversations list filters by status and team, and pages with a cursor.
func TestConversationList(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, options{db: db, flows: []string{salesFlow}})
		a, _ := e.say("u-1", "m-1", "hello")
		b, _ := e.say("u-2", "m-2", "I want to buy")
		c, _ := e.say("u-3", "m-3", "hello")
		e.drain()
		ids := func(l conversationList) []string {
			var out []string
			for _, c := range l.Conversations {
				out = append(out, c.ID)
			}
			slices.Sort(out)
			return out
		}
		all := []string{a, b, c}
		slices.Sort(all)
		tests := []struct {
			query string
			want  []string
		}{
			{"", all},
			{"?status=bot", all},
			{"?status=closed", nil},
			{"?status=queued", nil},
			{"?team=sales", []string{b}},
			{"?team=support", nil},
			{"?status=bot&team=sales", []string{b}},
			{"?status=closed&team=sales", nil},
		}
		for _, tt := range tests {
			t.Run(tt.query, func(t *testing.T) {
				e := e.with(t)
				var l conversationList
				e.do(request{method: "GET", path: "/api/v1/conversations" + tt.query}).mustStatus(t, http.StatusOK).json(t, &l)
				if got := ids(l); !slices.Equal(got, tt.want) {
					t.Errorf("conversations %q, want %q", got, tt.want)
				}
				if l.Conversations == nil {
					t.Error(`"conversations" is null, want a list`)
				}
			})
		}
		// The full list, most recently updated first; then page by one.
		var full conversationList
		e.do(request{method: "GET", path: "/api/v1/conversations"}).mustStatus(t, http.StatusOK).json(t, &full)
		var paged []string
		cursor := ""
		for range 10 {
			var l conversationList
			e.do(request{method: "GET", path: "/api/v1/conversations?limit=1&cursor=" + cursor}).mustStatus(t, http.StatusOK).json(t, &l)
			for _, c := range l.Conversations {
				paged = append(paged, c.ID)
			}
			if l.NextCursor == "" {
				break
			}
			cursor = l.NextCursor
		}
		var order []string
		for _, c := range full.Conversations {
			order = append(order, c.ID)
		}
		if !slices.Equal(paged, order) {
			t.Errorf("paged %q, want the list's order %q", paged, order)
		}
		for _, tt := range []struct{ query, mention string }{
			{"?status=open", "status"},
			{"?limit=0", "limit"},
			{"?limit=501", "limit"},
			{"?cursor=garbage", "cursor"},
		} {
			r := e.do(request{method: "GET", path: "/api/v1/conversations" + tt.query}).mustStatus(t, http.StatusBadRequest)
			if _, msg := r.err(t); !strings.Contains(msg, tt.mention) {
				t.Errorf("%s: message %q does not name %q", tt.query, msg, tt.mention)
			}
		}
	})
}

// GET /conversations/{id}: contact, status, bot, handoff and the active run.
func TestConversationGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{flows: []string{salesFlow}})
	waiting, _ := e.say("u-1", "m-1", "hello")
	done, _ := e.say("u-2", "m-2", "I want to buy")
	e.drain()

	var c conversationJSON
	e.do(request{method: "GET", path: "/api/v1/conversations/" + waiting}).mustStatus(t, http.StatusOK).json(t, &c)
	if c.ID != waiting || c.Status != "bot" || c.Bot != "active" || c.Handoff.Status != "none" || c.ChannelID != "api" || c.ChannelKind != "api" {
		t.Errorf("conversation %+v, want bot, active, no handoff, on api", c)
	}
	if c.Contact == nil || c.Contact.ExternalID != "u-1" || c.Contact.Name != "Ana Souza" || c.Contact.ID != c.ContactID {
		t.Errorf("contact %+v, want u-1 Ana Souza", c.Contact)
	}
	if r := c.ActiveRun; r == nil || r.FlowID != "echo" || r.FlowVersion != 1 || r.Status != "waiting" || r.Step != "ask" || r.ID == "" {
		t.Errorf("active_run %+v, want echo v1 waiting at ask", c.ActiveRun)
	}

	var d conversationJSON
	raw := e.do(request{method: "GET", path: "/api/v1/conversations/" + done}).mustStatus(t, http.StatusOK)
	raw.json(t, &d)
	if d.ActiveRun != nil || d.LastRun == nil || d.LastRun.FlowID != "sales" || d.LastRun.Status != "completed" || d.Team != "sales" {
		t.Errorf("conversation %+v, want no active run, sales completed, team sales", d)
	}
	if !strings.Contains(string(raw.body), `"active_run":null`) {
		t.Errorf(`no active run is not shown as "active_run": null: %s`, raw.body)
	}
	r := e.do(request{method: "GET", path: "/api/v1/conversations/nope"}).mustStatus(t, http.StatusNotFound)
	if code, _ := r.err(t); code != "not_found" {
		t.Errorf("code %q, want not_found", code)
	}
}

// GET /conversations/{id}/runs lists a conversation's runs, the newest first, in pages with a
// cursor, without their traces.
func TestConversationRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{flows: []string{salesFlow}})
	conv, _ := e.say("u-1", "m-1", "I want to buy")
	for i, text := range []string{"buy again", "buy a third"} {
		e.drain()
		e.say("u-1", "m-"+strconv.Itoa(i+2), text)
	}
	e.say("u-1", "m-9", "hello") // the echo flow: waits at its question
	e.drain()

	type page struct {
		Runs []struct {
			ID             string `json:"id"`
			ConversationID string `json:"conversation_id"`
			FlowID         string `json:"flow_id"`
			Status         string `json:"status"`
			Trace          any    `json:"trace"`
		}
		NextCursor string `json:"next_cursor"`
	}
	var flows, statuses []string
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 4 {
			t.Fatal("the cursor does not end")
		}
		var p page
		e.do(request{method: "GET", path: "/api/v1/conversations/" + conv + "/runs?limit=3&cursor=" + cursor}).mustStatus(t, http.StatusOK).json(t, &p)
		for _, r := range p.Runs {
			if r.ConversationID != conv || r.ID == "" || seen[r.ID] || r.Trace != nil {
				t.Errorf("run %+v: want a new run of %s without its trace", r, conv)
			}
			seen[r.ID] = true
			flows, statuses = append(flows, r.FlowID), append(statuses, r.Status)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if want := []string{"echo", "sales", "sales", "sales"}; !slices.Equal(flows, want) {
		t.Errorf("runs of flows %v, want %v (newest first)", flows, want)
	}
	if want := []string{"waiting", "completed", "completed", "completed"}; !slices.Equal(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}

	for _, tc := range []struct {
		path   string
		status int
		field  string
	}{
		{"/api/v1/conversations/nope/runs", http.StatusNotFound, ""},
		{"/api/v1/conversations/" + conv + "/runs?limit=0", http.StatusBadRequest, "limit"},
		{"/api/v1/conversations/" + conv + "/runs?cursor=zzz", http.StatusBadRequest, "cursor"},
	} {
		r := e.do(request{method: "GET", path: tc.path}).mustStatus(t, tc.status)
		if _, msg := r.err(t); !strings.Contains(msg, tc.field) {
			t.Errorf("%s: %q does not name %q", tc.path, msg, tc.field)
		}
	}
}

// Contacts: GET, and PATCH with validation (e-mail), normalisation (phone in E.164) and
// attribute removal with null. A refused patch changes nothing.
func TestContacts(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, options{db: db})
		conv, _ := e.say("u-1", "m-1", "hello")
		var c conversationJSON
		e.do(request{method: "GET", path: "/api/v1/conversations/" + conv}).mustStatus(t, http.StatusOK).json(t, &c)
		path := "/api/v1/contacts/" + c.ContactID

		var got contactJSON
		e.do(request{method: "GET", path: path}).mustStatus(t, http.StatusOK).json(t, &got)
		if got.ID != c.ContactID || got.ExternalID != "u-1" || got.Name != "Ana Souza" || got.ChannelID != "api" || got.Attributes == nil || got.Tags == nil {
			t.Errorf("contact %+v, want u-1 Ana Souza on api with attributes and tags", got)
		}
		// first_name is the first word of the name unless set, last_name the rest (flows.md).
		if got.FirstName != "Ana" || got.LastName != "Souza" {
			t.Errorf("first_name %q, last_name %q; want Ana, Souza from the name", got.FirstName, got.LastName)
		}

		tests := []struct {
			name   string
			patch  string
			status int
			check  func(c contactJSON) bool
		}{
			{"email", `{"email": " ana@acme.com "}`, 200, func(c contactJSON) bool { return c.Email == "ana@acme.com" }},
			{"phone to E.164", `{"phone": "+55 (11) 99999-0000"}`, 200, func(c contactJSON) bool { return c.Phone == "+5511999990000" }},
			{"attributes", `{"attributes": {"plan": "gold", "seats": 3}}`, 200, func(c contactJSON) bool {
				return c.Attributes["plan"] == "gold" && c.Attributes["seats"] == 3.0
			}},
			{"attribute null removes it", `{"attributes": {"plan": null}}`, 200, func(c contactJSON) bool {
				_, has := c.Attributes["plan"]
				return !has && c.Attributes["seats"] == 3.0
			}},
			{"name and tags", `{"name": "Ana Lima", "tags": ["vip"]}`, 200, func(c contactJSON) bool {
				return c.Name == "Ana Lima" && c.FirstName == "Ana" && c.LastName == "Lima" && slices.Equal(c.Tags, []string{"vip"})
			}},
			{"first name set", `{"first_name": "Aninha"}`, 200, func(c contactJSON) bool {
				return c.Name == "Ana Lima" && c.FirstName == "Aninha" && c.LastName == "Lima"
			}},
			{"bad email", `{"email": "not-an-email", "name": "X"}`, 400, nil},
			{"bad phone", `{"phone": "12", "name": "X"}`, 400, nil},
			{"unknown field", `{"nickname": "A"}`, 400, nil},
			{"malformed", `{"name": `, 400, nil},
			{"wrong type", `{"name": 5}`, 400, nil},
		}
		mentions := map[string]string{"bad email": "email", "bad phone": "phone", "unknown field": "nickname", "malformed": "JSON", "wrong type": "name"}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := e.with(t)
				r := e.do(request{method: "PATCH", path: path, body: tt.patch}).mustStatus(t, tt.status)
				if tt.status != 200 {
					if code, msg := r.err(t); code != "invalid" || !strings.Contains(msg, mentions[tt.name]) {
						t.Errorf("error %s %q, want invalid naming %q", code, msg, mentions[tt.name])
					}
					return
				}
				var c contactJSON
				r.json(t, &c)
				if !tt.check(c) {
					t.Errorf("after %s: %+v", tt.patch, c)
				}
				var again contactJSON
				e.do(request{method: "GET", path: path}).mustStatus(t, http.StatusOK).json(t, &again)
				if !tt.check(again) {
					t.Errorf("GET after %s: %+v", tt.patch, again)
				}
			})
		}
		// The refused patches changed nothing.
		e.do(request{method: "GET", path: path}).mustStatus(t, http.StatusOK).json(t, &got)
		if got.Name != "Ana Lima" || got.Email != "ana@acme.com" || got.Phone != "+5511999990000" {
			t.Errorf("contact %+v after refused patches, want the last accepted one", got)
		}
		for _, req := range []request{
			{method: "GET", path: "/api/v1/contacts/nope"},
			{method: "PATCH", path: "/api/v1/contacts/nope", body: `{"name": "X"}`},
		} {
			r := e.do(req).mustStatus(t, http.StatusNotFound)
			if code, _ := r.err(t); code != "not_found" {
				t.Errorf("%s %s: code %q", req.method, req.path, code)
			}
		}
	})
}
