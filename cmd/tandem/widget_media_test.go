package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemchat/tandem/channel/web"
)

// newVisitor opens a widget session of its own (another visitor of the site).
func newVisitor(t *testing.T, base, site string, user map[string]any) *widgetClient {
	t.Helper()
	w := &widgetClient{t: t, base: base + "/widget/v1/web/"}
	body := map[string]any{"origin": site}
	if user != nil {
		body["user"] = user
	}
	a := w.do("POST", "sessions", body)
	if a.status != 200 {
		t.Fatalf("session: %d %v", a.status, a.body)
	}
	w.token = a.body["token"].(string)
	return w
}

// get fetches a path of the server with a bearer token and returns the status.
func get(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, r.Body)
	r.Body.Close()
	return r.StatusCode
}

// TestWidgetMediaAccess: a file uploaded in a widget session is the session's: another
// visitor of the channel with its address gets 404 and cannot send it; the sessions of the
// same verified user read it; agents read it once its conversation is theirs to see; API
// tokens read it.
func TestWidgetMediaAccess(t *testing.T) {
	t.Parallel()
	c, data, base := widgetServer(t, nil)
	const site = shopSite

	ana := newVisitor(t, base, site, nil)
	s := ana.stream("")
	conv := ana.do("POST", "conversations", nil).body["conversation_id"].(string)
	s.next(t, "message", text("Hi! Welcome to Lumen & Co. How can we help?"))
	ana.do("POST", "messages", map[string]any{"client_id": "c-1", "reply": map[string]any{"button_id": "human"}})
	s.next(t, "message", text("Sure. In a few words, what is it about?"))
	up := ana.upload("receipt.txt", "text/plain", "order 10234, paid")
	if up.status != 201 {
		t.Fatalf("upload: %d %v", up.status, up.body)
	}
	id, url := up.body["media_id"].(string), base+up.body["url"].(string)

	// Another visitor who has the address: as if there were no such file.
	bob := newVisitor(t, base, site, nil)
	if st := get(t, url, bob.token); st != 404 {
		t.Errorf("another visitor read the file: %d", st)
	}
	if a := bob.do("POST", "messages", map[string]any{"client_id": "b-1", "media_id": id}); a.status != 400 {
		t.Errorf("another visitor sent the file: %d %v", a.status, a.body)
	}
	if st := get(t, url, ana.token); st != 200 {
		t.Errorf("the uploader read the file: %d", st)
	}

	// Sent: the message shows it; the handoff queues the conversation for the agent's team.
	admin := apiClient{t: t, base: base, token: c.token(t, data)}
	apiURL := base + "/api/v1/media/" + id
	agent := agentAna(t, base)
	if a := ana.do("POST", "messages", map[string]any{"client_id": "c-2", "media_id": id}); a.status != 202 {
		t.Fatalf("send the file: %d %v", a.status, a.body)
	}
	msg := s.next(t, "message", func(d map[string]any) bool { return d["media"] != nil })
	if got := msg.data["media"].(map[string]any)["url"]; got != up.body["url"] {
		t.Errorf("the widget shows the file at %v, want %v", got, up.body["url"])
	}
	if st := get(t, apiURL, agent.token); st != 404 {
		t.Errorf("an agent read the file of a conversation not in their inbox: %d", st)
	}
	if st := get(t, apiURL, admin.token); st != 200 {
		t.Errorf("an API token read the file: %d", st)
	}
	ana.do("POST", "messages", map[string]any{"client_id": "c-3", "text": "the receipt"})
	s.next(t, "conversation", func(d map[string]any) bool { return d["status"] == "queued" })
	if st := get(t, apiURL, agent.token); st != 200 {
		t.Errorf("an agent of the team read the file of a queued conversation: %d", st)
	}
	var msgs struct {
		Messages []struct {
			Media *struct {
				URL string `json:"url"`
			} `json:"media"`
		} `json:"messages"`
	}
	admin.call("GET", "/api/v1/conversations/"+conv+"/messages", nil, &msgs)
	found := false
	for _, m := range msgs.Messages {
		found = found || (m.Media != nil && m.Media.URL == "/api/v1/media/"+id)
	}
	if !found {
		t.Errorf("the API shows the file elsewhere than /api/v1/media/%s: %+v", id, msgs)
	}

	// The visitor logs in: their other browsers (sessions of the same verified user) read the
	// files of their conversations, and their uploads; other visitors still do not.
	user := map[string]any{"externalId": "u-7", "hash": web.IdentityHash(widgetSecret, "u-7")}
	if a := ana.do("POST", "sessions", map[string]any{"token": ana.token, "origin": site, "user": user}); a.body["verified"] != true {
		t.Fatalf("identify: %d %v", a.status, a.body)
	}
	later := ana.upload("photo.txt", "text/plain", "a photo")
	phone := newVisitor(t, base, site, user)
	for _, u := range []string{url, base + later.body["url"].(string)} {
		if st := get(t, u, phone.token); st != 200 {
			t.Errorf("another session of the same user read %s: %d", u, st)
		}
		if st := get(t, u, bob.token); st != 404 {
			t.Errorf("another visitor read %s: %d", u, st)
		}
	}
}

// multipartBody is an upload's body with the file's content.
func multipartBody(content []byte) (*bytes.Buffer, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="f.bin"`)
	h.Set("Content-Type", "application/octet-stream")
	part, _ := mw.CreatePart(h)
	part.Write(content)
	mw.Close()
	return &buf, mw.FormDataContentType()
}

// endless is a body that never ends; it counts what was read of it.
type endless struct{ n atomic.Int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.n.Add(int64(len(p)))
	return len(p), nil
}

// TestWidgetUploadLimit: max_upload_bytes is the largest file, exactly; a body announced
// larger is refused before it is read, and a body without a length is read no further than
// the cap.
func TestWidgetUploadLimit(t *testing.T) {
	t.Parallel()
	_, _, base := widgetServer(t, nil) // max_upload_bytes: 2048
	w := newVisitor(t, base, shopSite, nil)

	if a := w.upload("max.bin", "application/octet-stream", strings.Repeat("x", 2048)); a.status != 201 {
		t.Errorf("a file of max_upload_bytes: %d %v", a.status, a.body)
	}
	if a := w.upload("over.bin", "application/octet-stream", strings.Repeat("x", 2049)); a.status != 413 || errCode(a) != "too_large" {
		t.Errorf("a file one byte over max_upload_bytes: %d %v", a.status, a.body)
	}

	// A body announced larger than the cap: 413 at once, without sending it.
	host := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(conn, "POST /widget/v1/web/uploads HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 104857600\r\n\r\n", host, w.token)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != 413 {
		t.Errorf("a body announced as 100 MB: %v %v", resp, err)
	}

	// A body without a length, a field that never ends before the file: 413 once the cap is
	// passed, and the rest is not read.
	body := &endless{}
	head := "--b\r\nContent-Disposition: form-data; name=\"junk\"\r\n\r\n"
	req, _ := http.NewRequest("POST", w.base+"uploads", io.MultiReader(strings.NewReader(head), io.LimitReader(body, 1<<30)))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+w.token)
	req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Logf("the server closed the upload early: %v", err)
	} else {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if r.StatusCode != 413 {
			t.Errorf("an endless body: %d, want 413", r.StatusCode)
		}
	}
	t.Logf("read %d bytes of the endless body", body.n.Load())
	// What the server read, plus what the sockets' buffers took.
	if n := body.n.Load(); n > 32<<20 {
		t.Errorf("the server read %d bytes of an endless upload capped at 2048 bytes", n)
	}
}
