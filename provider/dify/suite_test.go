package dify_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/provider"
	"github.com/tandemchat/tandem/provider/dify"
	"github.com/tandemchat/tandem/provider/providertest"
)

// The failures of the shared provider suite map as they do for every kind. (providertest.Run
// as a whole does not fit: a Dify app is given only the new query, never the system text and
// the history, which Dify keeps itself.)
func TestSharedFailures(t *testing.T) {
	t.Parallel()
	newProvider := func(t *testing.T, baseURL, key string) *dify.Provider {
		p, err := dify.New(provider.Config{ID: "p", Kind: dify.Kind, APIKey: key, BaseURL: baseURL}, provider.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, f := range providertest.Failures() {
		t.Run(f.Name, func(t *testing.T) {
			t.Parallel()
			key := providertest.NewKey()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				if r.Header.Get("Authorization") != "Bearer "+key {
					t.Errorf("no key in %v", r.Header)
				}
				for name, v := range f.Header {
					if v == "{date+10s}" {
						v = time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)
					}
					w.Header().Set(name, v)
				}
				providertest.WriteJSON(w, f.Status, strings.ReplaceAll(f.Body, "{key}", key))
			}))
			defer srv.Close()
			_, err := newProvider(t, srv.URL, key).Call(providertest.Context(t, 10*time.Second), providertest.NewRequest(tandem.AIAssist))
			ae := providertest.MustAIError(t, err, key)
			if ae.Status != f.WantStatus || ae.Temporary != f.Temporary {
				t.Errorf("Status %d Temporary %v, want %d %v (%s)", ae.Status, ae.Temporary, f.WantStatus, f.Temporary, ae.Message)
			}
			switch {
			case f.RetryAfterAbout:
				if d := ae.RetryAfter - f.RetryAfter; d < -2*time.Second || d > time.Second {
					t.Errorf("RetryAfter = %s, want about %s", ae.RetryAfter, f.RetryAfter)
				}
			case f.RetryAfter != 0 && ae.RetryAfter != f.RetryAfter:
				t.Errorf("RetryAfter = %s, want %s", ae.RetryAfter, f.RetryAfter)
			}
		})
	}
	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body) // the server notices the client leaving only once the body is read
			<-r.Context().Done()
		}))
		defer srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := newProvider(t, srv.URL, "k-123456").Call(ctx, providertest.NewRequest(tandem.AIAssist))
		if ae := providertest.MustAIError(t, err, "k-123456"); !ae.Temporary || ae.Status != 0 || !strings.Contains(ae.Message, "timeout") {
			t.Errorf("got %+v, want a temporary timeout without status", ae)
		}
	})
}
