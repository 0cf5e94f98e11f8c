package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/flow"
	"github.com/tandemchat/tandem/internal/fields"
	"github.com/tandemchat/tandem/internal/jsonhttp"
	"github.com/tandemchat/tandem/store"
)

var flowID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// flowJSON is a flow as the API lists it.
type flowJSON struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Format        string    `json:"format"`
	LatestVersion int       `json:"latest_version"`
	Source        string    `json:"source,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

func toFlowJSON(d *store.FlowDraft, withSource bool) flowJSON {
	f := flowJSON{ID: d.ID, Name: d.Name, Format: d.Format, LatestVersion: d.LatestVersion, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	if withSource {
		f.Source = d.Source
	}
	return f
}

func (s *Server) flowList(w http.ResponseWriter, r *http.Request) error {
	list, err := s.cfg.DB.FlowList(r.Context())
	if err != nil {
		return err
	}
	out := make([]flowJSON, len(list))
	for i := range list {
		out[i] = toFlowJSON(&list[i], false)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"flows": out})
}

// readDraft reads a flow document (YAML or JSON) from the body and checks it is well formed:
// it parses and is a map with a valid id. Full validation happens at publish.
func readDraft(r *http.Request) (*store.FlowDraft, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		if isMaxBytes(err) {
			return nil, tandem.Errorf(tandem.ETOOLARGE, "The flow document is too large.")
		}
		return nil, err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, tandem.Errorf(tandem.EINVALID, "The request body is empty; send a flow document in YAML or JSON.")
	}
	if !utf8.Valid(b) {
		return nil, tandem.Errorf(tandem.EINVALID, "The flow document is not valid UTF-8; save it as UTF-8.")
	}
	if bytes.IndexByte(b, 0) >= 0 {
		return nil, tandem.Errorf(tandem.EINVALID, "The flow document holds a NUL character, which no text may hold; remove it.")
	}
	format := "yaml"
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	trimmed := strings.TrimSpace(string(b))
	if ct == "application/json" || (ct == "" && strings.HasPrefix(trimmed, "{")) {
		format = "json"
	}
	if format == "json" {
		var probe any
		if json.NewDecoder(bytes.NewReader(b)).Decode(&probe) == nil {
			// JSON (not YAML's flow style): one object and nothing after it, as every JSON
			// body; YAML's parser would take a stray brace or a second document after it.
			var m map[string]any
			if err := jsonhttp.DecodeBytes(b, &m); err != nil {
				return nil, err
			}
		}
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		line, msg := flow.YAMLError(err, b)
		if line > 0 {
			msg = fmt.Sprintf("line %d: %s", line, msg)
		}
		return nil, tandem.Errorf(tandem.EINVALID, "The flow document is not valid %s: %s.", strings.ToUpper(format), msg)
	}
	if doc == nil {
		return nil, tandem.Errorf(tandem.EINVALID, "The flow document must be a map with format, id and steps.")
	}
	if path, ok := nulAt("", doc); ok {
		return nil, invalid(path, "holds a NUL character (an escape such as \\0 or \\u0000), which no text may hold; remove it.")
	}
	id, _ := doc["id"].(string)
	if !flowID.MatchString(id) {
		return nil, invalid("id", "required, a slug such as support-gpt ([a-z0-9][a-z0-9-_]*).")
	}
	name, _ := doc["name"].(string)
	if err := fields.Text("name", name, fields.MaxName); err != nil {
		return nil, err
	}
	return &store.FlowDraft{ID: id, Name: name, Source: string(b), Format: format}, nil
}

// nulAt finds a text of a parsed document holding a NUL (written as an escape) and says where.
func nulAt(path string, v any) (string, bool) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch x := v.(type) {
	case string:
		return path, strings.IndexByte(x, 0) >= 0
	case map[string]any:
		for k, e := range x {
			if strings.IndexByte(k, 0) >= 0 {
				return join(k), true
			}
			if p, ok := nulAt(join(k), e); ok {
				return p, true
			}
		}
	case []any:
		for i, e := range x {
			if p, ok := nulAt(fmt.Sprintf("%s[%d]", path, i), e); ok {
				return p, true
			}
		}
	}
	return "", false
}

func (s *Server) flowCreate(w http.ResponseWriter, r *http.Request) error {
	d, err := readDraft(r)
	if err != nil {
		return err
	}
	if err := s.cfg.DB.FlowCreate(r.Context(), *d, s.cfg.Clock.Now()); err != nil {
		return err
	}
	saved, err := s.cfg.DB.FlowGet(r.Context(), d.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/flows/"+d.ID)
	return writeJSON(w, http.StatusCreated, toFlowJSON(saved, false))
}

func (s *Server) flowGet(w http.ResponseWriter, r *http.Request) error {
	d, err := s.cfg.DB.FlowGet(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	accept := r.Header.Get("Accept")
	if strings.Contains(accept, "yaml") || (strings.Contains(accept, "application/json") && d.Format == "json" && r.URL.Query().Get("raw") != "") {
		// Asked for YAML, the answer is labelled YAML even for a JSON draft: JSON is YAML.
		w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
		if d.Format == "json" && !strings.Contains(accept, "yaml") {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
		}
		_, err := io.WriteString(w, d.Source)
		return err
	}
	return writeJSON(w, http.StatusOK, toFlowJSON(d, true))
}

func (s *Server) flowPut(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if !flowID.MatchString(id) {
		return invalid("id", "%q is not a flow id ([a-z0-9][a-z0-9-_]*).", id)
	}
	d, err := readDraft(r)
	if err != nil {
		return err
	}
	if d.ID != id {
		return invalid("id", "the document's id %q differs from the URL's %q.", d.ID, id)
	}
	created, err := s.cfg.DB.FlowPut(r.Context(), *d, s.cfg.Clock.Now())
	if err != nil {
		return err
	}
	saved, err := s.cfg.DB.FlowGet(r.Context(), id)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return writeJSON(w, status, toFlowJSON(saved, false))
}

func (s *Server) flowDelete(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := s.cfg.DB.FlowDelete(r.Context(), id); err != nil {
		return err
	}
	s.cfg.Runner.Unpublish(id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// flowPublish validates the draft fully and stores it as a new immutable version.
func (s *Server) flowPublish(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	d, err := s.cfg.DB.FlowGet(r.Context(), id)
	if err != nil {
		return err
	}
	env := s.cfg.Workspace.FlowEnv()
	if s.cfg.Inbox != nil {
		// Teams made in the admin screens count as the configuration's do.
		for _, t := range s.cfg.Inbox.TeamIDs() {
			env.Teams[t] = true
		}
	}
	env.Flows = map[string]bool{}
	if list, err := s.cfg.DB.FlowList(r.Context()); err == nil {
		for _, f := range list {
			env.Flows[f.ID] = true
		}
	}
	f, findings := flow.Load(id+"."+d.Format, []byte(d.Source), env)
	if f == nil {
		var problems []flow.Finding
		for _, fd := range findings {
			if fd.Severity == flow.SeverityError {
				problems = append(problems, fd)
			}
		}
		return &tandem.Error{Code: tandem.EINVALIDFLOW, Message: "The flow has errors; fix them and publish again.", Details: problems}
	}
	version, created, err := s.cfg.Runner.Publish(r.Context(), f, d.Format)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	warnings := []flow.Finding{}
	findings = append(findings, flow.TriggerWarnings(f, s.cfg.Runner.Env().Flows.Triggerable())...)
	for _, fd := range findings {
		if fd.Severity == flow.SeverityWarning {
			warnings = append(warnings, fd)
		}
	}
	return writeJSON(w, status, map[string]any{"version": version, "hash": f.Hash, "warnings": warnings})
}

func (s *Server) flowVersions(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.cfg.DB.FlowGet(r.Context(), id); err != nil {
		return err
	}
	vs, err := s.cfg.DB.FlowVersions(r.Context(), id)
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []store.FlowVersion{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"versions": vs})
}

// runBody starts a flow for a contact.
type runBody struct {
	Channel string `json:"channel"`
	Contact struct {
		ExternalID string `json:"external_id"`
		Name       string `json:"name"`
		Email      string `json:"email"`
		Phone      string `json:"phone"`
		Language   string `json:"language"`
	} `json:"contact"`
	Variables map[string]any `json:"variables"`
}

// flowRun is POST /api/v1/flows/{id}/runs: start the flow's newest version for a contact on a
// channel (default: the first API channel), with variables.
func (s *Server) flowRun(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.cfg.Runner.Env().Flows.Latest(id); err != nil {
		if _, gerr := s.cfg.DB.FlowGet(r.Context(), id); gerr != nil {
			return gerr
		}
		return tandem.Errorf(tandem.ECONFLICT, "Flow %q has no published version; publish it first.", id)
	}
	var body runBody
	if err := decode(r, &body); err != nil {
		return err
	}
	ct := tandem.Contact{ExternalID: body.Contact.ExternalID, Name: body.Contact.Name, Email: body.Contact.Email, Phone: body.Contact.Phone, Language: body.Contact.Language}
	if err := fields.Contact("contact", &ct); err != nil {
		return err
	}
	if err := fields.Map("variables", body.Variables); err != nil {
		return err
	}
	if err := fields.Text("channel", body.Channel, fields.MaxID); err != nil {
		return err
	}
	if body.Contact.ExternalID == "" {
		return invalid("contact.external_id", "required: your id for the customer.")
	}
	chID := body.Channel
	if chID == "" {
		for _, c := range s.cfg.Workspace.Channels {
			if c.Kind == "api" {
				chID = c.ID
				break
			}
		}
		if chID == "" {
			return invalid("channel", "required: this workspace has no API channel to default to.")
		}
	}
	ch, ok := s.cfg.Workspace.Channel(chID)
	if !ok {
		return invalid("channel", "%q is not a channel of this workspace.", chID)
	}
	now := s.cfg.Clock.Now()
	convID, contactID, err := s.cfg.DB.ConversationOpen(r.Context(), store.ConversationCreateParams{
		ChannelID: ch.ID, ChannelKind: ch.Kind, Now: now, NewID: s.cfg.NewID,
		Contact: ct,
	})
	if err != nil {
		return err
	}
	runID := s.cfg.NewID()
	err = s.cfg.Runner.Enqueue(r.Context(), tandem.Event{ConversationID: convID, Kind: tandem.EventStart, At: now,
		Start: &tandem.StartRun{FlowID: id, Variables: body.Variables, Source: "api", RunID: runID}})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, map[string]string{"run_id": runID, "conversation_id": convID, "contact_id": contactID})
}
