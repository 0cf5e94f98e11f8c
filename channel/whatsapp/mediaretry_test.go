package whatsapp_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem/channel/channeltest"
	"github.com/tandemchat/tandem/store"
	"github.com/tandemchat/tandem/store/storetest"
)

// flakyGraph is the fake Graph API whose download of id_image (the image of
// webhook_inbound_image_courier.json) first answers the responses queued, in order.
type flakyGraph struct{ *channeltest.Answers }

func (f flakyGraph) suite(t *testing.T) *channeltest.Suite {
	s := suite(t)
	s.Platform = func(p *channeltest.Platform, w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/files/id_image" && f.Serve(w) {
			return true
		}
		return graph(p, w, r)
	}
	return s
}

// image posts the image webhook and returns the customer's message as the API shows it.
func image(t *testing.T, e *channeltest.Env) channeltest.Message {
	t.Helper()
	if st := e.Post(fixture(t, "webhook_inbound_image_courier.json"), true, nil); st/100 != 2 {
		t.Fatalf("the webhook answered %d, want 2xx", st)
	}
	return only(t, e)
}

func only(t *testing.T, e *channeltest.Env) channeltest.Message {
	t.Helper()
	in := e.Inbound()
	if len(in) != 1 || in[0].Media == nil {
		t.Fatalf("inbound messages %+v, want the image", in)
	}
	return in[0]
}

var unavailable = graphError(503, 2, "Service temporarily unavailable", nil)

// A file WhatsApp fails to give twice (503) is downloaded again later, kept, and served.
func TestMediaDownloadRetried(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := flakyGraph{channeltest.NewAnswers(unavailable, unavailable)}
		e := channeltest.NewEnvOn(t, f.suite(t), db)
		m := image(t, e)
		if m.Media.URL != "" || !strings.Contains(m.Media.Error, "tries again") {
			t.Fatalf("media after a 503 %+v, want no file yet and a reason saying Tandem tries again", m.Media)
		}
		e.Advance(30 * time.Second) // the first retry: 503 again
		if n := f.Calls(); n != 2 {
			t.Fatalf("%d downloads, want 2", n)
		}
		if m := only(t, e); m.Media.URL != "" || !strings.Contains(m.Media.Error, "tries again") {
			t.Fatalf("media after two 503s %+v, want no file yet", m.Media)
		}
		e.Advance(2 * time.Minute)
		if n := f.Calls(); n != 3 {
			t.Fatalf("%d downloads, want 3", n)
		}
		m = only(t, e)
		want := mediaContent("id_image")
		if m.Media.URL == "" || m.Media.Error != "" || m.Media.Size != int64(len(want)) || m.Media.Mime != "image/jpeg" {
			t.Fatalf("media after the third download %+v, want the kept file", m.Media)
		}
		if data, _ := e.File(m.Media.URL); string(data) != string(want) {
			t.Errorf("the API serves %d bytes, want the %d downloaded", len(data), len(want))
		}
		e.Advance(time.Hour)
		if n := f.Calls(); n != 3 {
			t.Errorf("%d downloads after the file was kept, want 3", n)
		}
	})
}

// A download that WhatsApp answers 404 for good is not tried again, and the message says why.
func TestMediaDownloadGoneNotRetried(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		gone := graphError(404, 100, "Unsupported get request.", nil)
		// 503 when the message arrives, then 404 (a new URL is asked for once), then it would work.
		f := flakyGraph{channeltest.NewAnswers(unavailable, gone, gone)}
		e := channeltest.NewEnvOn(t, f.suite(t), db)
		image(t, e)
		e.Advance(30 * time.Second)
		if n := f.Calls(); n != 3 {
			t.Fatalf("%d downloads, want 3 (503, then 404 and 404 with a new URL)", n)
		}
		m := only(t, e)
		if m.Media.URL != "" || !strings.Contains(m.Media.Error, "404") || strings.Contains(m.Media.Error, "tries again") {
			t.Fatalf("media %+v, want no file and the 404 as the reason", m.Media)
		}
		e.Advance(24 * time.Hour)
		if n := f.Calls(); n != 3 {
			t.Errorf("%d downloads after a 404, want no more than 3", n)
		}
	})
}

// A restart between two downloads forgets nothing: the new process downloads the file.
func TestMediaDownloadSurvivesRestart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := flakyGraph{channeltest.NewAnswers(unavailable)}
		e := channeltest.NewEnvOn(t, f.suite(t), db)
		image(t, e)
		e.Restart()
		e.Advance(30 * time.Second)
		if n := f.Calls(); n != 2 {
			t.Fatalf("%d downloads, want 2", n)
		}
		if m := only(t, e); m.Media.URL == "" || m.Media.Error != "" {
			t.Fatalf("media after the restart %+v, want the kept file", m.Media)
		}
	})
}

// A file WhatsApp never gives is given up after a bounded number of downloads, and the
// message says so.
func TestMediaDownloadGivenUp(t *testing.T) {
	never := make([]channeltest.Response, 20)
	for i := range never {
		never[i] = unavailable
	}
	f := flakyGraph{channeltest.NewAnswers(never...)}
	e := channeltest.NewEnv(t, f.suite(t))
	image(t, e)
	for range 10 {
		e.Advance(time.Hour)
	}
	if n := f.Calls(); n != 6 {
		t.Errorf("%d downloads, want 6", n)
	}
	m := only(t, e)
	if m.Media.URL != "" || !strings.Contains(m.Media.Error, "given up after 6 downloads") || !strings.Contains(m.Media.Error, "503") {
		t.Errorf("media %+v, want the reason it was given up", m.Media)
	}
}
