package intercom

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk"
)

// HeaderSignature carries "sha1=" and the lowercase hex HMAC-SHA1 of the raw body, keyed with
// the app's client secret.
const HeaderSignature = "X-Hub-Signature"

// Sign returns the X-Hub-Signature of a body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

func okay(w http.ResponseWriter) error { return desk.WriteJSON(w, http.StatusOK, struct{}{}) }

// serveHead answers the HEAD Intercom sends to check the URL when it is saved.
func serveHead(dk tandem.Desk, w http.ResponseWriter, r *http.Request) error {
	if _, isDesk := dk.(*Desk); !isDesk {
		w.WriteHeader(http.StatusNotFound)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// notification is what Tandem reads of Intercom's webhook notification object.
type notification struct {
	Type  string `json:"type"`
	ID    string `json:"id"`
	Topic string `json:"topic"`
	AppID string `json:"app_id"`
	Data  struct {
		Item struct {
			Type              string  `json:"type"`
			ID                desk.ID `json:"id"`
			ConversationParts struct {
				Parts []part `json:"conversation_parts"`
			} `json:"conversation_parts"`
		} `json:"item"`
	} `json:"data"`
}

// part is a conversation part.
type part struct {
	ID         desk.ID `json:"id"`
	PartType   string  `json:"part_type"`
	Body       *string `json:"body"`
	CreatedAt  int64   `json:"created_at"`
	AssignedTo *struct {
		Type string  `json:"type"`
		ID   desk.ID `json:"id"`
	} `json:"assigned_to"`
	Author struct {
		Type        string  `json:"type"`
		ID          desk.ID `json:"id"` // an admin's digits, a contact's hex
		Name        string  `json:"name"`
		FromAIAgent bool    `json:"from_ai_agent"`
		IsAIAnswer  bool    `json:"is_ai_answer"`
	} `json:"author"`
	Attachments []struct {
		URL         string `json:"url"`
		Name        string `json:"name"`
		ContentType string `json:"content_type"`
	} `json:"attachments"`
	AppPackageCode *string `json:"app_package_code"`
}

func (p *part) text() string {
	if p.Body == nil {
		return ""
	}
	return HTMLText(*p.Body)
}

func (p *part) files() []desk.File {
	var out []desk.File
	for _, a := range p.Attachments {
		if a.URL != "" {
			out = append(out, desk.File{URL: a.URL, Name: a.Name, Mime: a.ContentType})
		}
	}
	return out
}

// serveHook answers POST /hooks/intercom/{desk_id}. The signature is checked on the raw bytes
// before anything is parsed. Intercom disables a subscription answered 410 and resends what
// is not answered 200 within 5 s, so everything Tandem does not use is answered 200.
func serveHook(dk tandem.Desk, w http.ResponseWriter, r *http.Request) error {
	body, err := desk.HookBody(dk, r)
	if err != nil {
		return err
	}
	d := dk.(*Desk)
	got := strings.ToLower(strings.TrimSpace(r.Header.Get(HeaderSignature)))
	if d.secret == "" || !hmac.Equal([]byte(got), []byte(Sign(d.secret, body))) {
		return tandem.Errorf(tandem.EUNAUTHORIZED, "The X-Hub-Signature header is missing or does not match the body; check the desk's client_secret.")
	}
	var n notification
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil || n.Type != "notification_event" {
		return tandem.Errorf(tandem.EINVALID, "The body is not an Intercom notification: a JSON object with \"type\": \"notification_event\".")
	}
	d.mu.Lock()
	app := d.appID
	d.mu.Unlock()
	if app != "" && n.AppID != "" && n.AppID != app {
		return okay(w) // another workspace where the app is installed
	}
	if d.sink == nil {
		return tandem.Errorf(tandem.EUNAVAILABLE, "The server is starting; send the webhook again in a moment.")
	}
	ref := n.Data.Item.ID.String()
	if n.Data.Item.Type != "conversation" || ref == "" {
		return okay(w) // ping, contacts, ...
	}
	for _, dl := range d.deliveries(r, &n, ref) {
		if _, err := d.sink.DeskDeliver(r.Context(), dl); err != nil {
			d.log.Error("desk webhook: cannot store a notification", "desk", d.ID, "err", err)
			return tandem.Errorf(tandem.EINTERNAL, "The notification could not be stored; send it again.")
		}
		if dl.Close {
			if l, err := d.store.DeskLinkByRef(r.Context(), d.ID, ref); err == nil {
				d.closeLink(r.Context(), l)
			}
		}
	}
	return okay(w)
}

// deliveries are what a notification's parts mean for the handoff of conversation ref, oldest
// first (Intercom does not order its notifications).
func (d *Desk) deliveries(r *http.Request, n *notification, ref string) []desk.Delivery {
	now := d.now()
	if n.Topic == "conversation.deleted" {
		return []desk.Delivery{{Desk: d.ID, Ref: ref, Close: true, Events: desk.AgentClose("", now)}}
	}
	parts := n.Data.Item.ConversationParts.Parts
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].CreatedAt < parts[j].CreatedAt })
	d.mu.Lock()
	admin := d.adminID
	d.mu.Unlock()
	var out []desk.Delivery
	for i := range parts {
		p := &parts[i]
		a := p.Author
		switch {
		case p.AppPackageCode != nil && *p.AppPackageCode != "" && admin != "" && a.ID.String() == admin:
			continue // Tandem's own note, assignment or close
		case a.Type == "user" || a.Type == "lead" || a.Type == "contact":
			continue // the customer's side: echoes of Tandem's replies
		case p.PartType == "note":
			continue // internal
		case a.Type == "bot" || a.FromAIAgent || a.IsAIAnswer:
			continue // Fin, Operator, workflows answer as if the customer were in the Messenger
		case a.Type != "admin":
			continue
		}
		agent := a.Name
		if agent == "" {
			agent = a.ID.String()
		}
		text, files := p.text(), p.files()
		key := "part:" + p.ID.String()
		switch p.PartType {
		case "close":
			evs := []tandem.Event{}
			if strings.TrimSpace(text) != "" || len(files) > 0 {
				evs = append(evs, desk.AgentMessage(agent, text, files, now)...)
			}
			evs = append(evs, desk.AgentClose(agent, now)...)
			out = append(out, desk.Delivery{Desk: d.ID, Ref: ref, Close: true, Events: evs})
		case "comment", "assignment", "open", "quick_reply":
			if strings.TrimSpace(text) != "" || len(files) > 0 {
				out = append(out, desk.Delivery{Desk: d.ID, Ref: ref, Key: key, Events: desk.AgentMessage(agent, text, files, now)})
				continue
			}
			if p.PartType == "assignment" && p.AssignedTo != nil && p.AssignedTo.Type == "admin" {
				if name := d.adminName(r.Context(), p.AssignedTo.ID.String()); name != "" {
					out = append(out, desk.Delivery{Desk: d.ID, Ref: ref, Key: key, Events: desk.AgentAssigned(name, now)})
				}
			}
		}
	}
	return out
}

var (
	reBreak = regexp.MustCompile(`(?i)<br\s*/?>`)
	reBlock = regexp.MustCompile(`(?i)</(p|div|li|h[1-6])\s*>`)
	reLink  = regexp.MustCompile(`(?is)<a\s[^>]*href\s*=\s*["']([^"']*)["'][^>]*>(.*?)</a\s*>`)
	reImg   = regexp.MustCompile(`(?is)<img\s[^>]*src\s*=\s*["']([^"']*)["'][^>]*>`)
	reTag   = regexp.MustCompile(`(?s)<[^>]*>`)
	reBlank = regexp.MustCompile(`\n{3,}`)
	reSpace = regexp.MustCompile(`[ \t]+\n`)
)

// HTMLText turns an Intercom body into text when it holds HTML (webhooks before API version
// 2.15 send HTML, later ones plain text): line breaks and paragraphs become newlines, a link
// becomes "label (url)", an image its URL on a line of its own, other tags go, entities are
// decoded.
func HTMLText(s string) string {
	if !strings.Contains(s, "<") {
		return strings.TrimSpace(strings.ReplaceAll(html.UnescapeString(s), "\u00a0", " "))
	}
	s = reBreak.ReplaceAllString(s, "\n")
	s = reLink.ReplaceAllStringFunc(s, func(m string) string {
		sub := reLink.FindStringSubmatch(m)
		label := strings.TrimSpace(reTag.ReplaceAllString(sub[2], ""))
		if label == "" || label == sub[1] {
			return sub[1]
		}
		return label + " (" + sub[1] + ")"
	})
	s = reImg.ReplaceAllString(s, "\n$1\n")
	s = reBlock.ReplaceAllString(s, "\n\n")
	s = reTag.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	s = strings.ReplaceAll(s, "\u00a0", " ")
	s = reSpace.ReplaceAllString(s, "\n")
	s = reBlank.ReplaceAllString(s, "\n\n")
	return strings.TrimSpace(s)
}
