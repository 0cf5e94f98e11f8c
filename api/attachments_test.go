package api

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
)

// multipartBody is a multipart/form-data body with the text (when not empty) then the file.
func multipartBody(t *testing.T, text, name, ctype string, data []byte) (body []byte, contentType string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if text != "" {
		if err := w.WriteField("text", text); err != nil {
			t.Fatal(err)
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+name+`"`)
	h.Set("Content-Type", ctype)
	p, err := w.CreatePart(h)
	if err != nil {
		t.Fatal(err)
	}
	p.Write(data)
	w.Close()
	return b.Bytes(), w.FormDataContentType()
}

// An agent sends a picture from the reply box: the customer gets an image message with the
// caption, the file is kept with the conversation (its agents read it, others get 404), and a
// file over the cap is 413 with nothing sent.
func TestAgentSendsAFile(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	id := e.customer("u-file", "m-file", "I need a human")
	png := []byte("\x89PNG\r\n\x1a\n-a-tiny-picture")
	body, ctype := multipartBody(t, "Here is the label to print.", `C:\Users\ana\label.png`, "image/png", png)
	path := "/api/v1/inbox/conversations/" + id + "/attachments"

	// Cid (sales) does not see the conversation: he may not send in it.
	e.as("cid@acme.com", request{method: "POST", path: path, body: body, header: map[string]string{"Content-Type": ctype}}).mustStatus(t, http.StatusForbidden)
	var c conversationJSON
	e.as("ana@acme.com", request{method: "POST", path: path, body: body, header: map[string]string{"Content-Type": ctype}}).mustStatus(t, http.StatusAccepted).json(t, &c)
	if c.Assignee != "ana@acme.com" {
		t.Errorf("sending a file in an unassigned conversation left it assigned to %q, want ana (as a reply does)", c.Assignee)
	}
	e.drain()
	var sent *messageJSON
	for _, m := range e.messages(id, "").Messages {
		if m.Direction == "out" && m.Author == "agent" && m.Media != nil {
			sent = &m
		}
	}
	if sent == nil {
		t.Fatalf("no agent message with media among %v", texts(e.messages(id, "").Messages))
	}
	if sent.Type != "image" || sent.Text != "Here is the label to print." || sent.Media.Mime != "image/png" || sent.Media.Name != "label.png" ||
		!strings.HasPrefix(sent.Media.URL, MediaPath) {
		t.Errorf("the customer got %+v with media %+v, want an image label.png at %s… with the caption", sent, sent.Media, MediaPath)
	}
	got := e.as("bob@acme.com", request{method: "GET", path: sent.Media.URL}).mustStatus(t, http.StatusOK)
	if !bytes.Equal(got.body, png) || got.header.Get("Content-Type") != "image/png" {
		t.Errorf("bob read %q (%s), want the picture", got.body, got.header.Get("Content-Type"))
	}
	e.as("cid@acme.com", request{method: "GET", path: sent.Media.URL}).mustStatus(t, http.StatusNotFound)

	// Without a file, or an empty one: 400 naming the field.
	noFile, ct := multipartBody(t, "", "empty.txt", "text/plain", nil)
	r := e.as("ana@acme.com", request{method: "POST", path: path, body: noFile, header: map[string]string{"Content-Type": ct}}).mustStatus(t, http.StatusBadRequest)
	if _, msg := r.err(t); !strings.Contains(msg, "file") {
		t.Errorf("an empty file: %q, want a message naming the file", msg)
	}
	r = e.as("ana@acme.com", request{method: "POST", path: path, body: map[string]string{"text": "hi"}}).mustStatus(t, http.StatusBadRequest)
	if _, msg := r.err(t); !strings.Contains(msg, "multipart") {
		t.Errorf("a JSON body: %q, want one naming multipart/form-data", msg)
	}

	// More than 10 MiB (the API channel has no max_upload_bytes), streamed without a length:
	// 413, and nothing more is sent.
	before := len(e.messages(id, "").Messages)
	var head bytes.Buffer
	w := multipart.NewWriter(&head)
	if _, err := w.CreateFormFile("file", "big.bin"); err != nil {
		t.Fatal(err)
	}
	big := io.MultiReader(bytes.NewReader(head.Bytes()), io.LimitReader(zeros{}, DefaultMaxUploadBytes+1), strings.NewReader("\r\n--"+w.Boundary()+"--\r\n"))
	req, _ := http.NewRequest("POST", e.srv.URL+path, big)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+e.tokens["ana@acme.com"])
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a file of 10 MiB and 1 byte: %d, want 413", resp.StatusCode)
	}
	e.drain()
	if n := len(e.messages(id, "").Messages); n != before {
		t.Errorf("%d messages after a refused file, want %d", n, before)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// The contact panel's earlier conversations: an agent gets the contact's conversations they
// see — the open one and one they handled before — and not one they never saw.
func TestContactConversations(t *testing.T) {
	t.Parallel()
	e := newInboxEnv(t, nil)
	first := e.customer("u-again", "m-1", "I need a human")
	e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + first + "/messages", body: map[string]string{"text": "Ana here."}}).mustStatus(t, http.StatusAccepted)
	e.drain()
	e.as("ana@acme.com", request{method: "POST", path: "/api/v1/inbox/conversations/" + first + "/close"}).mustStatus(t, http.StatusAccepted)
	e.drain()
	e.do(request{method: "POST", path: "/api/v1/inbox/conversations/" + first + "/close"}).mustStatus(t, http.StatusAccepted)
	e.drain()
	if st := e.conversation(first).Status; st != "closed" {
		t.Fatalf("the first conversation is %s, want closed", st)
	}
	second := e.customer("u-again", "m-2", "I need a human again")
	if second == first {
		t.Fatal("the customer's second message reopened the first conversation; want a new one")
	}
	contact := e.conversation(second).ContactID
	list := func(who string) []string {
		t.Helper()
		var out struct {
			Conversations []inboxConversationJSON `json:"conversations"`
		}
		e.as(who, request{method: "GET", path: "/api/v1/contacts/" + contact + "/conversations"}).mustStatus(t, http.StatusOK).json(t, &out)
		var ids []string
		for _, c := range out.Conversations {
			ids = append(ids, c.ID)
			if c.LastMessage == nil {
				t.Errorf("%s: conversation %s without its last message", who, c.ID)
			}
		}
		return ids
	}
	if got := list("ana@acme.com"); strings.Join(got, ",") != second+","+first {
		t.Errorf("ana (handled the first) gets %v, want [%s %s], newest first", got, second, first)
	}
	if got := list("bob@acme.com"); strings.Join(got, ",") != second {
		t.Errorf("bob (support, never handled the first) gets %v, want only %s", got, second)
	}
	e.as("cid@acme.com", request{method: "GET", path: "/api/v1/contacts/" + contact + "/conversations"}).mustStatus(t, http.StatusForbidden)
	e.as("ana@acme.com", request{method: "GET", path: "/api/v1/contacts/" + contact + "/conversations?limit=0"}).mustStatus(t, http.StatusBadRequest)
}
