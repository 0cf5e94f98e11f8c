// Package intercomtest is a fake Intercom for tests: the REST calls an intercom desk makes (me,
// contacts found by external id, searched, created; conversations created, replied to, assigned,
// closed, searched; admins) kept in memory and answered with the shapes of the fixtures in
// testdata/ (copied from Intercom's OpenAPI examples and webhook samples), including its errors
// (401, 404, 409 with the id, 410 merged, 429 with X-RateLimit-Reset); and helpers that act as
// an admin or a bot in Intercom and build the webhook notification Intercom would send, signed
// with the app's client secret. Failures are scripted per route (desktest.Fake).
package intercomtest

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem/desk/desktest"
	"github.com/tandemchat/tandem/desk/intercom"
)

//go:embed testdata
var testdata embed.FS

var fixtures = desktest.Fixtures{FS: testdata}

// Fixture returns a fixture file of testdata/.
func Fixture(tb testing.TB, name string) []byte { return fixtures.Bytes(tb, name) }

// FixtureMap returns a JSON object fixture of testdata/, decoded.
func FixtureMap(tb testing.TB, name string) map[string]any { return fixtures.Map(tb, name) }

// Contact is a contact in the fake.
type Contact struct {
	ID, Role, ExternalID, Email, Name, Phone string
	Archived                                 bool
	UpdatedAt                                int64
}

// Part is a conversation part in the fake.
type Part struct {
	ID                 string
	Type               string // comment, note, assignment, close, open
	Body               string
	AuthorType         string // user, lead, admin, bot
	AuthorID           string
	AuthorName         string
	AssigneeID         string
	AssigneeType       string
	AppPackage         string
	AttachmentURLs     []string
	FromAPI            bool
	CreatedAt          int64
	InitiatedByContact bool
	FromAIAgent        bool // Fin's answers carry from_ai_agent on their author
}

// Conversation is a conversation in the fake.
type Conversation struct {
	ID        string
	ContactID string
	Open      bool
	CreatedAt int64
	Parts     []*Part
}

// Intercom is the fake.
type Intercom struct {
	*desktest.Fake
	tb      testing.TB
	Token   string
	Secret  string // the app's client secret: signs webhooks
	AppID   string
	AdminID string // the token's admin (GET /me)
	// Hook is Tandem's /hooks/intercom/{desk_id}.
	Hook string
	// Now dates parts (default: the wall clock).
	Now func() time.Time
	// SearchLag hides contacts created by the fake from the next N contact searches.
	SearchLag int

	mu       sync.Mutex
	contacts []*Contact
	convs    map[string]*Conversation
	next     int
	admins   map[string]string
}

// New starts a fake Intercom with token and client secret.
func New(tb testing.TB, token, secret string) *Intercom {
	tb.Helper()
	ic := &Intercom{tb: tb, Token: token, Secret: secret, AppID: "lkqcyt9t", AdminID: "991267459", Now: time.Now,
		convs: map[string]*Conversation{}, next: 360, admins: map[string]string{"991267459": "Ciaran1 Lee", "3330619": "Andy", "814860": "Ana"}}
	ic.Fake = desktest.NewFake(tb, ic.serve)
	return ic
}

func (ic *Intercom) id() string {
	ic.next++
	return fmt.Sprint(ic.next)
}

func (ic *Intercom) contactID() string {
	ic.next++
	return fmt.Sprintf("667d60%018x", ic.next)
}

var (
	reFindExt   = regexp.MustCompile(`^/contacts/find_by_external_id/(.+)$`)
	reUnarchive = regexp.MustCompile(`^/contacts/([^/]+)/unarchive$`)
	reConv      = regexp.MustCompile(`^/conversations/([^/]+)$`)
	reReply     = regexp.MustCompile(`^/conversations/([^/]+)/reply$`)
	reParts     = regexp.MustCompile(`^/conversations/([^/]+)/parts$`)
	reAdmin     = regexp.MustCompile(`^/admins/([^/]+)$`)
)

func (ic *Intercom) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Header.Get("Authorization") != "Bearer "+ic.Token {
		desktest.WriteJSON(w, 401, Fixture(ic.tb, "rest_error_401.json"))
		return
	}
	if v := r.Header.Get("Intercom-Version"); v != "" && !regexp.MustCompile(`^2\.(1[0-7]|[0-9])$|^Unstable$`).MatchString(v) {
		desktest.WriteJSON(w, 400, Fixture(ic.tb, "rest_error_400_intercom_version_invalid_2.16_openapi.json"))
		return
	}
	var in map[string]any
	if len(body) > 0 && json.Unmarshal(body, &in) != nil {
		desktest.WriteJSON(w, 400, `{"type":"error.list","errors":[{"code":"parameter_invalid","message":"bad JSON"}]}`)
		return
	}
	ic.mu.Lock()
	status, out, header := ic.route(r.Method, r.URL.Path, in)
	ic.mu.Unlock()
	for k, v := range header {
		w.Header().Set(k, v)
	}
	desktest.WriteJSON(w, status, out)
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return fmt.Sprint(int64(x))
	}
	return ""
}

func (ic *Intercom) notFound() []byte {
	return Fixture(ic.tb, "rest_reply_error_404_not_found_2.16_openapi.json")
}

// route answers one call; ic.mu is held.
func (ic *Intercom) route(method, p string, in map[string]any) (int, any, map[string]string) {
	switch {
	case method == "GET" && p == "/me":
		out := FixtureMap(ic.tb, "rest_me_response_2.16_openapi.json")
		out["id"] = ic.AdminID
		out["app"].(map[string]any)["id_code"] = ic.AppID
		return 200, out, nil
	case method == "GET" && reAdmin.MatchString(p):
		id := reAdmin.FindStringSubmatch(p)[1]
		name, ok := ic.admins[id]
		if !ok {
			return 404, ic.notFound(), nil
		}
		return 200, map[string]any{"type": "admin", "id": id, "name": name}, nil
	case method == "GET" && reFindExt.MatchString(p):
		ext := reFindExt.FindStringSubmatch(p)[1]
		for _, k := range ic.contacts {
			if k.ExternalID == ext && k.Role == "user" {
				if k.Archived {
					return 410, Fixture(ic.tb, "rest_find_contact_by_external_id_error_410_merged_2.16_openapi.json"),
						map[string]string{"Link": "</contacts/" + k.ID + ">; rel=\"canonical\""}
				}
				return 200, ic.contactJSON(k), nil
			}
		}
		return 404, ic.notFound(), nil
	case method == "POST" && p == "/contacts/search":
		q, _ := in["query"].(map[string]any)
		var data []any
		if ic.SearchLag > 0 {
			ic.SearchLag--
		} else if str(q["field"]) == "email" {
			for _, k := range ic.contacts {
				if strings.EqualFold(k.Email, str(q["value"])) && !k.Archived {
					data = append(data, ic.contactJSON(k))
				}
			}
		}
		out := FixtureMap(ic.tb, "rest_search_contacts_response_empty_2.16_openapi.json")
		out["data"], out["total_count"] = data, len(data)
		if data == nil {
			out["data"] = []any{}
		}
		return 200, out, nil
	case method == "POST" && p == "/contacts":
		email, ext := str(in["email"]), str(in["external_id"])
		for _, k := range ic.contacts {
			if (email != "" && strings.EqualFold(k.Email, email)) || (ext != "" && k.ExternalID == ext) {
				name := "rest_create_contact_error_409_conflict_2.15_openapi-pr543.json"
				if k.Archived {
					name = "rest_create_contact_error_409_archived_conflict_2.15_openapi-pr543.json"
				}
				out := FixtureMap(ic.tb, name)
				e := out["errors"].([]any)[0].(map[string]any)
				e["message"] = regexp.MustCompile(`id=[0-9a-f]+`).ReplaceAllString(str(e["message"]), "id="+k.ID)
				return 409, out, nil
			}
		}
		k := &Contact{ID: ic.contactID(), Role: str(in["role"]), ExternalID: ext, Email: email, Name: str(in["name"]), Phone: str(in["phone"]), UpdatedAt: ic.Now().Unix()}
		if k.Role == "" {
			k.Role = "user"
		}
		ic.contacts = append(ic.contacts, k)
		return 200, ic.contactJSON(k), nil
	case method == "POST" && reUnarchive.MatchString(p):
		for _, k := range ic.contacts {
			if k.ID == reUnarchive.FindStringSubmatch(p)[1] {
				k.Archived = false
				return 200, ic.contactJSON(k), nil
			}
		}
		return 404, ic.notFound(), nil
	case method == "POST" && p == "/conversations":
		from, _ := in["from"].(map[string]any)
		k := ic.contact(str(from["id"]))
		if k == nil {
			return 404, Fixture(ic.tb, "rest_create_conversation_error_404_user_not_found_2.16_openapi.json"), nil
		}
		cv := &Conversation{ID: ic.id(), ContactID: k.ID, Open: true, CreatedAt: ic.Now().Unix()}
		cv.Parts = append(cv.Parts, &Part{ID: ic.id(), Type: "comment", Body: str(in["body"]), AuthorType: k.Role, AuthorID: k.ID,
			FromAPI: true, CreatedAt: ic.Now().Unix(), InitiatedByContact: true})
		ic.convs[cv.ID] = cv
		out := FixtureMap(ic.tb, "rest_create_conversation_response.json")
		out["conversation_id"], out["body"], out["id"] = cv.ID, str(in["body"]), cv.Parts[0].ID
		return 200, out, nil
	case method == "POST" && p == "/conversations/search":
		var list []any
		var contactID string
		wantOpen := false
		q, _ := in["query"].(map[string]any)
		vs, _ := q["value"].([]any)
		for _, v := range vs {
			f, _ := v.(map[string]any)
			switch str(f["field"]) {
			case "contact_ids":
				contactID = str(f["value"])
			case "open":
				wantOpen = f["value"] == true
			}
		}
		for _, cv := range ic.sorted() {
			if cv.ContactID == contactID && (!wantOpen || cv.Open) {
				list = append(list, map[string]any{"type": "conversation", "id": cv.ID, "created_at": cv.CreatedAt, "open": cv.Open})
			}
		}
		if list == nil {
			list = []any{}
		}
		return 200, map[string]any{"type": "conversation.list", "conversations": list, "total_count": len(list)}, nil
	case method == "GET" && reConv.MatchString(p):
		cv := ic.convs[reConv.FindStringSubmatch(p)[1]]
		if cv == nil {
			return 404, ic.notFound(), nil
		}
		return 200, ic.convJSON(cv), nil
	case method == "POST" && reReply.MatchString(p):
		cv := ic.convs[reReply.FindStringSubmatch(p)[1]]
		if cv == nil {
			return 404, ic.notFound(), nil
		}
		pt := &Part{ID: ic.id(), Type: str(in["message_type"]), Body: str(in["body"]), FromAPI: true, CreatedAt: ic.Now().Unix()}
		switch str(in["type"]) {
		case "user":
			k := ic.contact(str(in["intercom_user_id"]))
			if k == nil {
				return 404, Fixture(ic.tb, "rest_create_conversation_error_404_user_not_found_2.16_openapi.json"), nil
			}
			pt.AuthorType, pt.AuthorID = k.Role, k.ID
			if urls, ok := in["attachment_urls"].([]any); ok {
				for _, u := range urls {
					pt.AttachmentURLs = append(pt.AttachmentURLs, str(u))
				}
			}
		case "admin":
			pt.AuthorType, pt.AuthorID, pt.AppPackage = "admin", str(in["admin_id"]), "tandem"
		default:
			return 400, `{"type":"error.list","errors":[{"code":"parameter_invalid","message":"type"}]}`, nil
		}
		cv.Parts = append(cv.Parts, pt)
		return 200, ic.convJSON(cv), nil
	case method == "POST" && reParts.MatchString(p):
		cv := ic.convs[reParts.FindStringSubmatch(p)[1]]
		if cv == nil {
			return 404, ic.notFound(), nil
		}
		pt := &Part{ID: ic.id(), Type: str(in["message_type"]), Body: str(in["body"]), AuthorType: "admin", AuthorID: str(in["admin_id"]),
			AppPackage: "tandem", FromAPI: true, CreatedAt: ic.Now().Unix()}
		switch pt.Type {
		case "close":
			cv.Open = false
		case "assignment":
			pt.AssigneeID, pt.AssigneeType = str(in["assignee_id"]), str(in["type"])
		default:
			return 400, `{"type":"error.list","errors":[{"code":"parameter_invalid","message":"message_type"}]}`, nil
		}
		cv.Parts = append(cv.Parts, pt)
		out := ic.convJSON(cv)
		return 200, out, nil
	}
	return 404, ic.notFound(), nil
}

func (ic *Intercom) contact(id string) *Contact {
	for _, k := range ic.contacts {
		if k.ID == id {
			return k
		}
	}
	return nil
}

func (ic *Intercom) sorted() []*Conversation {
	var out []*Conversation
	for _, cv := range ic.convs {
		out = append(out, cv)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].CreatedAt < out[j].CreatedAt || out[i].CreatedAt == out[j].CreatedAt && out[i].ID < out[j].ID
	})
	return out
}

func (ic *Intercom) contactJSON(k *Contact) map[string]any {
	out := FixtureMap(ic.tb, "rest_create_contact_response.json")
	out["id"], out["role"], out["email"], out["name"], out["updated_at"] = k.ID, k.Role, k.Email, k.Name, k.UpdatedAt
	if k.ExternalID != "" {
		out["external_id"] = k.ExternalID
	}
	return out
}

func (ic *Intercom) partJSON(p *Part) map[string]any {
	author := map[string]any{"type": p.AuthorType, "id": p.AuthorID, "name": p.AuthorName}
	if p.FromAIAgent {
		author["from_ai_agent"], author["is_ai_answer"] = true, true
	}
	out := map[string]any{"type": "conversation_part", "id": p.ID, "part_type": p.Type, "body": p.Body, "created_at": p.CreatedAt,
		"updated_at": p.CreatedAt, "notified_at": p.CreatedAt, "author": author, "attachments": []any{}, "external_id": nil, "redacted": false,
		"assigned_to": nil, "app_package_code": nil}
	if p.Body == "" {
		out["body"] = nil
	}
	if p.AppPackage != "" {
		out["app_package_code"] = p.AppPackage
	}
	if p.AssigneeID != "" {
		out["assigned_to"] = map[string]any{"type": p.AssigneeType, "id": p.AssigneeID}
	}
	var atts []any
	for _, u := range p.AttachmentURLs {
		atts = append(atts, map[string]any{"type": "upload", "name": u[strings.LastIndex(u, "/")+1:], "url": u, "content_type": "image/png", "filesize": 1000})
	}
	if atts != nil {
		out["attachments"] = atts
	}
	return out
}

func (ic *Intercom) convJSON(cv *Conversation) map[string]any {
	out := FixtureMap(ic.tb, "rest_reply_response_conversation.json")
	out["id"], out["open"] = cv.ID, cv.Open
	out["state"] = "open"
	if !cv.Open {
		out["state"] = "closed"
	}
	var parts []any
	for _, p := range cv.Parts[1:] {
		parts = append(parts, ic.partJSON(p))
	}
	if parts == nil {
		parts = []any{}
	}
	out["conversation_parts"] = map[string]any{"type": "conversation_part.list", "conversation_parts": parts, "total_count": len(parts)}
	return out
}

// ---- agents and webhooks ----

// Add stores a part in the conversation (an admin's reply, a bot's, a note, a close...) and
// returns the webhook notification of topic that carries it.
func (ic *Intercom) Add(conv, topic string, p Part) []byte {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	cv := ic.convs[conv]
	if cv == nil {
		ic.tb.Fatalf("fake intercom: no conversation %s", conv)
	}
	p.ID = ic.id()
	if p.CreatedAt == 0 {
		p.CreatedAt = ic.Now().Unix()
	}
	if p.Type == "close" {
		cv.Open = false
	}
	cv.Parts = append(cv.Parts, &p)
	return ic.notification(topic, cv, &p)
}

// AdminReply is an admin's reply (HTML body) and its conversation.admin.replied notification.
func (ic *Intercom) AdminReply(conv, body string) []byte {
	return ic.Add(conv, "conversation.admin.replied", Part{Type: "comment", Body: body, AuthorType: "admin", AuthorID: "814860", AuthorName: "Ana"})
}

// AdminClose is an admin's close (with an optional message) and its notification.
func (ic *Intercom) AdminClose(conv, body string) []byte {
	return ic.Add(conv, "conversation.admin.closed", Part{Type: "close", Body: body, AuthorType: "admin", AuthorID: "814860", AuthorName: "Ana"})
}

// Notification is the webhook of the part, shaped like the fixtures (v1.x).
func (ic *Intercom) notification(topic string, cv *Conversation, p *Part) []byte {
	name := "webhook_conversation_admin_replied_v1x.json"
	if topic == "conversation.admin.closed" {
		name = "webhook_conversation_admin_closed_v1x.json"
	}
	n := FixtureMap(ic.tb, name)
	n["topic"], n["app_id"] = topic, ic.AppID
	n["id"] = fmt.Sprintf("notif_%s_%s", cv.ID, p.ID)
	n["created_at"] = ic.Now().Unix()
	item := n["data"].(map[string]any)["item"].(map[string]any)
	item["id"], item["open"] = cv.ID, cv.Open
	item["conversation_parts"] = map[string]any{"type": "conversation_part.list", "conversation_parts": []any{ic.partJSON(p)}, "total_count": len(cv.Parts)}
	b, _ := json.Marshal(n)
	return b
}

// Ping is the ping notification.
func (ic *Intercom) Ping() []byte {
	return []byte(`{"type":"notification_event","topic":"ping","app_id":"` + ic.AppID + `","data":{"type":"notification_event_data","item":{"type":"ping","message":"hello"}}}`)
}

// Header is what Intercom sends with a body: X-Hub-Signature keyed with Secret.
func (ic *Intercom) Header(body []byte) http.Header {
	return http.Header{"Content-Type": {"application/json"}, "User-Agent": {"intercom-parrot-service-client/1.0"},
		intercom.HeaderSignature: {intercom.Sign(ic.Secret, body)}}
}

// Deliver posts a notification to Hook, signed, and returns Tandem's status.
func (ic *Intercom) Deliver(tb testing.TB, body []byte) int {
	tb.Helper()
	s, _ := desktest.Post(tb, &http.Client{Timeout: 5 * time.Second}, ic.Hook, ic.Header(body), body)
	return s
}

// Conversations returns the conversations, oldest first (copies).
func (ic *Intercom) Conversations() []Conversation {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	var out []Conversation
	for _, cv := range ic.sorted() {
		cp := *cv
		cp.Parts = nil
		for _, p := range cv.Parts {
			pc := *p
			cp.Parts = append(cp.Parts, &pc)
		}
		out = append(out, cp)
	}
	return out
}

// Contacts returns the contacts (copies).
func (ic *Intercom) Contacts() []Contact {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	var out []Contact
	for _, k := range ic.contacts {
		out = append(out, *k)
	}
	return out
}

// AddContact stores a contact as if created in Intercom beforehand.
func (ic *Intercom) AddContact(k Contact) string {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	k.ID = ic.contactID()
	if k.Role == "" {
		k.Role = "user"
	}
	ic.contacts = append(ic.contacts, &k)
	return k.ID
}

// Delete deletes a conversation.
func (ic *Intercom) Delete(conv string) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	delete(ic.convs, conv)
}
