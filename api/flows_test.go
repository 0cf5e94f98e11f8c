package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

const greetYAML = `format: 1
id: greet
name: Greet
trigger: {on: message, match: {contains: hi}}
steps:
  - id: hello
    type: message
    text: "Hello!"
`

const greetJSON = `{"format": 1, "id": "greet-json", "name": "Greet JSON", "steps": [{"id": "hello", "type": "message", "text": "Hello!"}]}`

// Drafts: create (YAML, JSON), read (JSON with source, or raw), replace, delete.
func TestFlowDrafts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})

	r := e.do(request{method: "POST", path: "/api/v1/flows", body: greetYAML, header: map[string]string{"Content-Type": "application/yaml"}}).mustStatus(t, http.StatusCreated)
	var f flowJSON
	r.json(t, &f)
	if f.ID != "greet" || f.Name != "Greet" || f.Format != "yaml" || f.LatestVersion != 0 {
		t.Errorf("created %+v, want greet, Greet, yaml, not published", f)
	}
	if got := r.header.Get("Location"); got != "/api/v1/flows/greet" {
		t.Errorf("Location %q", got)
	}
	r = e.do(request{method: "POST", path: "/api/v1/flows", body: greetJSON, header: map[string]string{"Content-Type": "application/json"}}).mustStatus(t, http.StatusCreated)
	r.json(t, &f)
	if f.ID != "greet-json" || f.Format != "json" {
		t.Errorf("created %+v, want greet-json in json", f)
	}

	// A second create of the same id is a conflict, and changes nothing.
	r = e.do(request{method: "POST", path: "/api/v1/flows", body: strings.Replace(greetYAML, "Hello!", "Changed", 1)}).mustStatus(t, http.StatusConflict)
	if code, msg := r.err(t); code != "conflict" || !strings.Contains(msg, "greet") {
		t.Errorf("error %s %q, want conflict naming greet", code, msg)
	}

	// GET: JSON with the source; Accept: application/yaml gives the document as it was sent.
	e.do(request{method: "GET", path: "/api/v1/flows/greet"}).mustStatus(t, http.StatusOK).json(t, &f)
	if f.Source != greetYAML {
		t.Errorf("source %q, want the document sent", f.Source)
	}
	r = e.do(request{method: "GET", path: "/api/v1/flows/greet", header: map[string]string{"Accept": "application/yaml"}}).mustStatus(t, http.StatusOK)
	if string(r.body) != greetYAML || !strings.HasPrefix(r.header.Get("Content-Type"), "application/yaml") {
		t.Errorf("raw: %s %q, want the YAML sent", r.header.Get("Content-Type"), r.body)
	}

	// A JSON draft asked for as YAML is sent as stored, labelled YAML (JSON is YAML).
	r = e.do(request{method: "GET", path: "/api/v1/flows/greet-json", header: map[string]string{"Accept": "application/yaml"}}).mustStatus(t, http.StatusOK)
	if string(r.body) != greetJSON || !strings.HasPrefix(r.header.Get("Content-Type"), "application/yaml") {
		t.Errorf("raw JSON draft: %s %q, want the JSON sent as application/yaml", r.header.Get("Content-Type"), r.body)
	}

	// List, without sources.
	var list struct {
		Flows []flowJSON `json:"flows"`
	}
	e.do(request{method: "GET", path: "/api/v1/flows"}).mustStatus(t, http.StatusOK).json(t, &list)
	var ids []string
	for _, f := range list.Flows {
		ids = append(ids, f.ID)
		if f.Source != "" {
			t.Errorf("list shows the source of %s", f.ID)
		}
	}
	for _, id := range []string{"echo", "greet", "greet-json"} {
		if !slices.Contains(ids, id) {
			t.Errorf("list %q lacks %s", ids, id)
		}
	}

	// PUT creates (201) and replaces (200).
	other := strings.ReplaceAll(greetYAML, "greet", "other")
	e.do(request{method: "PUT", path: "/api/v1/flows/other", body: other}).mustStatus(t, http.StatusCreated)
	changed := strings.Replace(other, "Hello!", "Hello again!", 1)
	e.do(request{method: "PUT", path: "/api/v1/flows/other", body: changed}).mustStatus(t, http.StatusOK)
	e.do(request{method: "GET", path: "/api/v1/flows/other"}).mustStatus(t, http.StatusOK).json(t, &f)
	if f.Source != changed {
		t.Errorf("after PUT the source is %q", f.Source)
	}

	// DELETE, then it is gone.
	e.do(request{method: "DELETE", path: "/api/v1/flows/other"}).mustStatus(t, http.StatusNoContent)
	for _, req := range []request{
		{method: "GET", path: "/api/v1/flows/other"},
		{method: "DELETE", path: "/api/v1/flows/other"},
		{method: "GET", path: "/api/v1/flows/other/versions"},
		{method: "POST", path: "/api/v1/flows/other/publish"},
	} {
		r := e.do(req).mustStatus(t, http.StatusNotFound)
		if code, _ := r.err(t); code != "not_found" {
			t.Errorf("%s %s: code %q, want not_found", req.method, req.path, code)
		}
	}
}

// Bad drafts are 400 naming what is wrong, and store nothing.
func TestFlowDraftBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	e.do(request{method: "PUT", path: "/api/v1/flows/greet", body: greetYAML}).mustStatus(t, http.StatusCreated)
	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		ctype   string
		mention string
	}{
		{"not YAML", "POST", "/api/v1/flows", "format: 1\nid: [unclosed\n", "", "YAML: line 2: the [ opened on this line is never closed"},
		{"a tab", "POST", "/api/v1/flows", "format: 1\nid: x\nsteps:\n  - id: a\n\t  type: message\n", "", "YAML: line 5: a tab indents this line"},
		{"not JSON", "POST", "/api/v1/flows", `{"format": 1, "id": "x",`, "application/json", "JSON"},
		{"not a map", "POST", "/api/v1/flows", "- a\n- b\n", "", "YAML"},
		{"empty", "POST", "/api/v1/flows", "  \n", "", "empty"},
		{"no id", "POST", "/api/v1/flows", "format: 1\nsteps: []\n", "", "id"},
		{"bad id", "POST", "/api/v1/flows", "format: 1\nid: Not An Id\nsteps: []\n", "", "id"},
		{"PUT id mismatch", "PUT", "/api/v1/flows/greet", strings.Replace(greetYAML, "id: greet", "id: other", 1), "", "id"},
		{"PUT bad URL id", "PUT", "/api/v1/flows/Bad_ID", greetYAML, "", "id"},
		{"PUT not YAML", "PUT", "/api/v1/flows/greet", "format: 1\nid: greet\nsteps: [\n", "", "YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			h := map[string]string{}
			if tt.ctype != "" {
				h["Content-Type"] = tt.ctype
			}
			r := e.do(request{method: tt.method, path: tt.path, body: tt.body, header: h}).mustStatus(t, http.StatusBadRequest)
			code, msg := r.err(t)
			if code != "invalid" || !strings.Contains(msg, tt.mention) {
				t.Errorf("error %s %q, want invalid naming %q", code, msg, tt.mention)
			}
		})
	}
	var f flowJSON
	e.do(request{method: "GET", path: "/api/v1/flows/greet"}).mustStatus(t, http.StatusOK).json(t, &f)
	if f.Source != greetYAML {
		t.Errorf("a refused PUT changed the draft: %q", f.Source)
	}
	var list struct {
		Flows []flowJSON `json:"flows"`
	}
	e.do(request{method: "GET", path: "/api/v1/flows"}).mustStatus(t, http.StatusOK).json(t, &list)
	if len(list.Flows) != 2 {
		t.Errorf("%d flows after refused drafts, want echo and greet", len(list.Flows))
	}
}

// Publishing: 201 {version: 1}; unchanged 200 {version: 1}; changed 201 {version: 2}; the
// versions list; a draft with errors is 422 listing every problem with line, step and field.
func TestFlowPublish(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, options{db: db})
		e.do(request{method: "POST", path: "/api/v1/flows", body: greetYAML}).mustStatus(t, http.StatusCreated)
		type published struct {
			Version  int    `json:"version"`
			Hash     string `json:"hash"`
			Warnings []any  `json:"warnings"`
		}
		var p1, p2, p3 published
		e.do(request{method: "POST", path: "/api/v1/flows/greet/publish"}).mustStatus(t, http.StatusCreated).json(t, &p1)
		e.do(request{method: "POST", path: "/api/v1/flows/greet/publish"}).mustStatus(t, http.StatusOK).json(t, &p2)
		if p1.Version != 1 || p2.Version != 1 || p1.Hash == "" || p1.Hash != p2.Hash {
			t.Errorf("publish, publish again: %+v %+v; want version 1 twice, same hash", p1, p2)
		}
		e.do(request{method: "PUT", path: "/api/v1/flows/greet", body: strings.Replace(greetYAML, "Hello!", "Hi there!", 1)}).mustStatus(t, http.StatusOK)
		e.do(request{method: "POST", path: "/api/v1/flows/greet/publish"}).mustStatus(t, http.StatusCreated).json(t, &p3)
		if p3.Version != 2 || p3.Hash == p1.Hash {
			t.Errorf("publish after a change: %+v, want version 2 with another hash", p3)
		}
		var f flowJSON
		e.do(request{method: "GET", path: "/api/v1/flows/greet"}).mustStatus(t, http.StatusOK).json(t, &f)
		if f.LatestVersion != 2 {
			t.Errorf("latest_version %d, want 2", f.LatestVersion)
		}
		var vs struct {
			Versions []struct {
				Version int    `json:"version"`
				Hash    string `json:"hash"`
			} `json:"versions"`
		}
		e.do(request{method: "GET", path: "/api/v1/flows/greet/versions"}).mustStatus(t, http.StatusOK).json(t, &vs)
		var got []int
		for _, v := range vs.Versions {
			got = append(got, v.Version)
		}
		slices.Sort(got)
		if !slices.Equal(got, []int{1, 2}) {
			t.Errorf("versions %v, want 1 and 2", got)
		}
		// A new draft has no versions yet.
		e.do(request{method: "PUT", path: "/api/v1/flows/draft", body: strings.ReplaceAll(greetYAML, "greet", "draft")}).mustStatus(t, http.StatusCreated)
		e.do(request{method: "GET", path: "/api/v1/flows/draft/versions"}).mustStatus(t, http.StatusOK).json(t, &vs)
		if len(vs.Versions) != 0 {
			t.Errorf("an unpublished draft has versions %+v", vs.Versions)
		}
		// The published flow runs: "hi" now answers with version 2.
		conv, _ := e.say("u-1", "m-1", "hi")
		e.drain()
		if got := texts(e.messages(conv, "").Messages); !slices.Contains(got, "bot: Hi there!") {
			t.Errorf("messages %q, want version 2's answer", got)
		}
	})
}

func TestFlowPublishInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	broken := `format: 1
id: broken
steps:
  - id: a
    type: message
    text: hi
    next: nowhere
  - id: b
    type: question
    text: "Pick"
    answer: option
    options:
      - {id: x, title: X, next: missing}
  - {id: a, type: bogus}
  - {id: w, type: wait, for: 5x}
`
	e.do(request{method: "POST", path: "/api/v1/flows", body: broken}).mustStatus(t, http.StatusCreated) // a well-formed draft is stored
	r := e.do(request{method: "POST", path: "/api/v1/flows/broken/publish"}).mustStatus(t, http.StatusUnprocessableEntity)
	var body struct {
		Error struct {
			Code     string `json:"code"`
			Message  string `json:"message"`
			Problems []struct {
				Line     int    `json:"line"`
				Step     string `json:"step"`
				Field    string `json:"field"`
				Severity string `json:"severity"`
				Message  string `json:"message"`
			} `json:"problems"`
		} `json:"error"`
	}
	r.json(t, &body)
	if body.Error.Code != "invalid_flow" || body.Error.Message == "" {
		t.Errorf("error %+v, want invalid_flow with a message", body.Error)
	}
	found := map[string]bool{}
	for _, p := range body.Error.Problems {
		if p.Line == 0 || p.Step == "" || p.Field == "" || p.Severity != "error" || p.Message == "" {
			t.Errorf("problem %+v lacks line, step, field, severity or message", p)
		}
		found[p.Step+" "+p.Field] = true
	}
	// Every error at once: the schema's (an unknown type, a bad duration) hide none of the
	// others (a duplicate id, next naming no step).
	for _, want := range []string{"a next", "b options[0].next", "a id", "a type", "w for"} {
		if !found[want] {
			t.Errorf("problems %v lack one for step/field %q", found, want)
		}
	}
	// Nothing was published.
	var vs struct {
		Versions []any `json:"versions"`
	}
	e.do(request{method: "GET", path: "/api/v1/flows/broken/versions"}).mustStatus(t, http.StatusOK).json(t, &vs)
	if len(vs.Versions) != 0 {
		t.Errorf("an invalid flow got versions %v", vs.Versions)
	}
	// Unknown flow.
	e.do(request{method: "POST", path: "/api/v1/flows/nope/publish"}).mustStatus(t, http.StatusNotFound)
}

const lookupYAML = `format: 1
id: lookup
name: Lookup
trigger: {on: api}
variables: {order: ""}
steps:
  - id: call
    type: http
    method: GET
    url: "https://shop.example.com/orders/{{var.order}}"
    headers: {Authorization: "Bearer {{secret.API_KEY}}"}
    save: [{target: var.status, from: response.status}]
  - id: tell
    type: message
    text: "Order {{var.order}} is {{var.status}}."
`

// POST /flows/{id}/runs starts a published flow for a contact with variables; GET /runs/{id}
// shows it with its trace, the secret masked (invariant 7).
func TestFlowRun(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		doer := &fakeHTTP{}
		e := newEnv(t, options{db: db, http: doer})
		e.do(request{method: "POST", path: "/api/v1/flows", body: lookupYAML}).mustStatus(t, http.StatusCreated)

		runBody := map[string]any{"contact": map[string]any{"external_id": "u-9", "name": "Bia"}, "variables": map[string]any{"order": "10234"}}
		r := e.do(request{method: "POST", path: "/api/v1/flows/lookup/runs", body: runBody}).mustStatus(t, http.StatusConflict)
		if code, msg := r.err(t); code != "conflict" || !strings.Contains(msg, "publish") {
			t.Errorf("unpublished: %s %q, want conflict saying to publish", code, msg)
		}
		e.do(request{method: "POST", path: "/api/v1/flows/lookup/publish"}).mustStatus(t, http.StatusCreated)

		var started struct {
			RunID          string `json:"run_id"`
			ConversationID string `json:"conversation_id"`
			ContactID      string `json:"contact_id"`
		}
		e.do(request{method: "POST", path: "/api/v1/flows/lookup/runs", body: runBody}).mustStatus(t, http.StatusAccepted).json(t, &started)
		if started.RunID == "" || started.ConversationID == "" {
			t.Fatalf("run start answered %+v", started)
		}
		e.drain()

		var run struct {
			ID             string `json:"id"`
			ConversationID string `json:"conversation_id"`
			FlowID         string `json:"flow_id"`
			FlowVersion    int    `json:"flow_version"`
			Status         string `json:"status"`
			Trace          []struct {
				Step   string         `json:"step"`
				Type   string         `json:"type"`
				Input  map[string]any `json:"input"`
				Output map[string]any `json:"output"`
			} `json:"trace"`
		}
		r = e.do(request{method: "GET", path: "/api/v1/runs/" + started.RunID}).mustStatus(t, http.StatusOK)
		r.json(t, &run)
		if run.ID != started.RunID || run.ConversationID != started.ConversationID || run.FlowID != "lookup" || run.FlowVersion != 1 || run.Status != "completed" {
			t.Errorf("run %+v, want %s of lookup v1 completed", run, started.RunID)
		}
		var steps []string
		for _, s := range run.Trace {
			steps = append(steps, s.Step)
		}
		if !slices.Contains(steps, "call") || !slices.Contains(steps, "tell") {
			t.Errorf("trace steps %q, want call and tell", steps)
		}
		if got := texts(e.messages(started.ConversationID, "").Messages); !slices.Equal(got, []string{"bot: Order 10234 is shipped."}) {
			t.Errorf("messages %q, want the run's answer", got)
		}
		// The call did carry the secret...
		reqs := doer.requests()
		if len(reqs) != 1 || reqs[0].Header.Get("Authorization") != "Bearer "+secretValue || !strings.HasSuffix(reqs[0].URL.Path, "/orders/10234") {
			t.Fatalf("http step requests %v, want one with the secret", reqs)
		}
		// ...but nothing the API shows does.
		var c conversationJSON
		conv := e.do(request{method: "GET", path: "/api/v1/conversations/" + started.ConversationID}).mustStatus(t, http.StatusOK)
		conv.json(t, &c)
		for _, b := range [][]byte{r.body, conv.body, e.do(request{method: "GET", path: "/api/v1/conversations/" + started.ConversationID + "/messages"}).body} {
			if strings.Contains(string(b), secretValue) {
				t.Errorf("the secret is in an API answer: %s", b)
			}
		}
		if !strings.Contains(string(r.body), `"Authorization":"Bearer ***"`) {
			t.Errorf("the trace does not show the call's Authorization header masked: %s", r.body)
		}
		if c.Contact == nil || c.Contact.ExternalID != "u-9" || c.Contact.Name != "Bia" || c.LastRun == nil || c.LastRun.ID != started.RunID {
			t.Errorf("conversation %+v, want contact u-9 Bia and the run", c)
		}
	})
}

func TestFlowRunBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	tests := []struct {
		name    string
		flow    string
		body    string
		status  int
		mention string
	}{
		{"unknown flow", "nope", `{"contact": {"external_id": "u-1"}}`, 404, "nope"},
		{"no contact", "echo", `{"variables": {}}`, 400, "contact.external_id"},
		{"unknown channel", "echo", `{"channel": "nope", "contact": {"external_id": "u-1"}}`, 400, "channel"},
		{"unknown field", "echo", `{"contact": {"external_id": "u-1"}, "vars": {}}`, 400, "vars"},
		{"malformed", "echo", `{"contact": `, 400, "JSON"},
		{"variables not a map", "echo", `{"contact": {"external_id": "u-1"}, "variables": [1]}`, 400, "variables"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			r := e.do(request{method: "POST", path: "/api/v1/flows/" + tt.flow + "/runs", body: tt.body}).mustStatus(t, tt.status)
			if _, msg := r.err(t); !strings.Contains(msg, tt.mention) {
				t.Errorf("message %q does not name %q", msg, tt.mention)
			}
		})
	}
	e.do(request{method: "GET", path: "/api/v1/runs/nope"}).mustStatus(t, http.StatusNotFound)
	var list struct {
		Conversations []any `json:"conversations"`
	}
	e.do(request{method: "GET", path: "/api/v1/conversations"}).mustStatus(t, http.StatusOK).json(t, &list)
	if len(list.Conversations) != 0 {
		t.Errorf("refused runs opened %d conversations", len(list.Conversations))
	}
}

// Deleting a flow stops new runs, but a conversation waiting in it keeps its pinned version
// (invariant 5); publishing the id again continues the version numbers.
func TestFlowDeleteKeepsRunningConversations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	conv, _ := e.say("u-1", "m-1", "hello")
	e.drain()
	e.do(request{method: "DELETE", path: "/api/v1/flows/echo"}).mustStatus(t, http.StatusNoContent)

	e.say("u-1", "m-2", "a@b.co")
	e.drain()
	want := []string{"contact: hello", "bot: You said: hello", "bot: What is your e-mail?", "contact: a@b.co", "bot: Thanks, a@b.co."}
	if got := texts(e.messages(conv, "").Messages); !slices.Equal(got, want) {
		t.Errorf("the waiting conversation after the delete: %q, want %q", got, want)
	}
	other, _ := e.say("u-2", "m-3", "hello")
	e.drain()
	if got := texts(e.messages(other, "").Messages); !slices.Equal(got, []string{"contact: hello"}) {
		t.Errorf("a new conversation after the delete: %q, want no bot answer", got)
	}

	e.do(request{method: "PUT", path: "/api/v1/flows/echo", body: strings.Replace(echoFlow, "You said", "You wrote", 1)}).mustStatus(t, http.StatusCreated)
	var p struct {
		Version int `json:"version"`
	}
	e.do(request{method: "POST", path: "/api/v1/flows/echo/publish"}).mustStatus(t, http.StatusCreated).json(t, &p)
	if p.Version != 2 {
		t.Errorf("published again as version %d, want 2", p.Version)
	}
}

// Publishing a second flow that starts on any message with the priority of one already
// published warns that the flow id decides between them.
func TestFlowPublishWarnsOfTwoCatchAlls(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	catchAll := strings.Replace(strings.ReplaceAll(greetYAML, "greet", "any-bot"), "match: {contains: hi}", "match: any", 1)
	e.do(request{method: "PUT", path: "/api/v1/flows/any-bot", body: catchAll}).mustStatus(t, http.StatusCreated)
	var p struct {
		Warnings []struct{ Field, Severity, Message string } `json:"warnings"`
	}
	e.do(request{method: "POST", path: "/api/v1/flows/any-bot/publish"}).mustStatus(t, http.StatusCreated).json(t, &p)
	want := `flows "any-bot" and "echo" both start on any message with priority 0, so "any-bot" always wins (the lower id) and "echo" never starts this way; give one of them another priority`
	if len(p.Warnings) != 1 || p.Warnings[0].Message != want || p.Warnings[0].Field != "trigger.match" || p.Warnings[0].Severity != "warning" {
		t.Errorf("warnings %+v, want one on trigger.match: %s", p.Warnings, want)
	}
}
