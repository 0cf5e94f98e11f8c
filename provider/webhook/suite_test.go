package webhook_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/provider"
	"github.com/tandemchat/tandem/provider/providertest"
	"github.com/tandemchat/tandem/provider/webhook"
)

// The webhook passes the behaviour suite of every HTTP provider kind, with the signature
// standing for the API key.
func TestBehaviourSuite(t *testing.T) {
	t.Parallel()
	providertest.Run(t, providertest.Kind{
		New: func(baseURL, key string) tandem.Provider {
			p, err := webhook.New(provider.Config{ID: "p", Kind: webhook.Kind, URL: baseURL + "/answer", Secret: key}, provider.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			return p
		},
		Op: tandem.AIAssist,
		Serve: func(t *testing.T, answer string) (http.Handler, func() []string) {
			var mu sync.Mutex
			var seen []string
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var req webhook.Request
				if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
					t.Errorf("request: %v", err)
				}
				mu.Lock()
				seen = append(seen, req.System)
				for _, h := range req.History {
					seen = append(seen, h.Content)
				}
				seen = append(seen, req.Message)
				mu.Unlock()
				providertest.WriteJSON(w, 200, map[string]string{"text": answer})
			})
			return h, func() []string {
				mu.Lock()
				defer mu.Unlock()
				return append([]string(nil), seen...)
			}
		},
		Auth: func(r *http.Request, key string) bool {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			return r.Header.Get(webhook.SignatureHeader) == webhook.Sign(key, b)
		},
	})
}
