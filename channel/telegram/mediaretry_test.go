package telegram_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem/channel/channeltest"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// documentID is the file_id of update_message_document_official_docs.json's document.
const documentID = "AwADBAADbXXXXXXXXXXXGBdhD2l6_XX"

// flakyFiles is the fake Bot API whose download of the document first answers the responses
// queued, in order.
type flakyFiles struct{ *channeltest.Answers }

func (f flakyFiles) suite(t *testing.T) *channeltest.Suite {
	s := suite(t)
	s.Platform = func(p *channeltest.Platform, w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/file/bot"+botToken+"/files/"+documentID && f.Serve(w) {
			return true
		}
		return bot(p, w, r)
	}
	return s
}

func document(t *testing.T, e *channeltest.Env) channeltest.Message {
	t.Helper()
	in := e.Inbound()
	if len(in) != 1 || in[0].Media == nil {
		t.Fatalf("inbound messages %+v, want the document", in)
	}
	return in[0]
}

// A file Telegram fails to give twice (502, 429) is downloaded again later, across a restart,
// and served.
func TestMediaDownloadRetried(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := flakyFiles{channeltest.NewAnswers(channeltest.Response{Status: 502, Body: []byte("Bad Gateway")}, channeltest.Response{Status: 429, Body: []byte("Too Many Requests")})}
		e := channeltest.NewEnvOn(t, f.suite(t), db)
		if st := e.Post(fixture(t, "update_message_document_official_docs.json"), true, nil); st/100 != 2 {
			t.Fatalf("the webhook answered %d, want 2xx", st)
		}
		if m := document(t, e); m.Media.URL != "" || !strings.Contains(m.Media.Error, "tries again") {
			t.Fatalf("media after a 502 %+v, want no file yet and a reason saying Tandem tries again", m.Media)
		}
		e.Advance(30 * time.Second)
		e.Restart()
		e.Advance(2 * time.Minute)
		if n := f.Calls(); n != 3 {
			t.Fatalf("%d downloads, want 3", n)
		}
		m := document(t, e)
		want := fileContent(documentID)
		if m.Media.URL == "" || m.Media.Error != "" || m.Media.Size != int64(len(want)) {
			t.Fatalf("media after the third download %+v, want the kept file", m.Media)
		}
		if data, _ := e.File(m.Media.URL); string(data) != string(want) {
			t.Errorf("the API serves %d bytes, want the %d downloaded", len(data), len(want))
		}
	})
}

// A download Telegram answers 404 is not tried again, and the message says why.
func TestMediaDownloadGoneNotRetried(t *testing.T) {
	f := flakyFiles{channeltest.NewAnswers(channeltest.Response{Status: 404, Body: []byte("Not Found")})}
	e := channeltest.NewEnv(t, f.suite(t))
	if st := e.Post(fixture(t, "update_message_document_official_docs.json"), true, nil); st/100 != 2 {
		t.Fatalf("the webhook answered %d, want 2xx", st)
	}
	e.Advance(24 * time.Hour)
	if n := f.Calls(); n != 1 {
		t.Errorf("%d downloads after a 404, want 1", n)
	}
	if m := document(t, e); m.Media.URL != "" || !strings.Contains(m.Media.Error, "404") || strings.Contains(m.Media.Error, "tries again") {
		t.Errorf("media %+v, want no file and the 404 as the reason", m.Media)
	}
}
