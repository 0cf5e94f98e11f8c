package inbox_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/desk/desktest"
	"github.com/tandemchat/tandem/desk/inbox"
)

// The built-in inbox runs the desk suite: its agents act in Tandem itself.
func TestSuite(t *testing.T) {
	desktest.Run(t, desktest.Kind{Name: "inbox", DeskID: "inbox", New: func(t *testing.T) desktest.Driver { return driver{} }})
}

type driver struct{}

func (driver) Entry() (string, map[string]string, *http.Client) { return "", nil, nil }
func (driver) Secrets() []string                                { return nil }
func (driver) Bind(e *desktest.Env)                             {}

// Handoff is what the inbox shows of the conversation: its messages, the contact's e-mail.
func (driver) Handoff(t *testing.T, e *desktest.Env, conv, session string) (desktest.Handoff, bool) {
	c := e.Conversation(conv)
	hf, _ := c["handoff"].(map[string]any)
	if hf["desk"] != "inbox" {
		return desktest.Handoff{}, false
	}
	h := desktest.Handoff{Ref: conv, Closed: hf["status"] == tandem.HandoffClosed && hf["closed_by"] != "agent"}
	about, _ := json.Marshal(hf) // the handoff as the API gives it: reason, flow_id, summary
	h.About = string(about)
	if ct, ok := c["contact"].(map[string]any); ok {
		h.Email, _ = ct["email"].(string)
	}
	_, body := e.Do("GET", "/api/v1/conversations/"+conv+"/messages", nil)
	var list struct {
		Messages []struct{ Direction, Text string } `json:"messages"`
	}
	json.Unmarshal(body, &list)
	var all []string
	after := false
	for _, m := range list.Messages {
		all = append(all, m.Text)
		if m.Direction == tandem.DirectionIn {
			if after {
				h.Messages = append(h.Messages, m.Text)
			}
			after = after || m.Text == desktest.Question2
		}
	}
	h.Transcript = strings.Join(all, "\n")
	return h, true
}

func (driver) Reply(t *testing.T, e *desktest.Env, h desktest.Handoff, text string) desktest.Hook {
	if _, err := e.Inbox.Message(e.Ctx, inbox.Actor{Agent: desktest.AgentEmail, Teams: []string{desktest.TeamName}}, h.Ref, text); err != nil {
		t.Fatalf("inbox message: %v", err)
	}
	return desktest.Hook{}
}

func (driver) Close(t *testing.T, e *desktest.Env, h desktest.Handoff) desktest.Hook {
	if _, err := e.Inbox.Close(e.Ctx, inbox.Actor{Agent: desktest.AgentEmail, Teams: []string{desktest.TeamName}}, h.Ref); err != nil {
		t.Fatalf("inbox close: %v", err)
	}
	return desktest.Hook{}
}

func (driver) Forge(h desktest.Hook) desktest.Hook                     { return h }
func (driver) Malformed() desktest.Hook                                { return desktest.Hook{} }
func (driver) FailStart(...desktest.Reply)                             {}
func (driver) FailSend(...desktest.Reply)                              {}
func (driver) TooMany(e *desktest.Env, d time.Duration) desktest.Reply { return desktest.Reply{} }
func (driver) Down(bool)                                               {}
