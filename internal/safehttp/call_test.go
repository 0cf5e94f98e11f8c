package safehttp

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// script answers the n-th request (0-based) with answers[n], and 200 after them.
type script struct {
	mu      sync.Mutex
	n       int
	answers []func(w http.ResponseWriter, r *http.Request)
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := s.n
	s.n++
	s.mu.Unlock()
	if n < len(s.answers) {
		s.answers[n](w, r)
		return
	}
	w.Write([]byte(`{"ok":true}`))
}

func (s *script) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func status(code int, header ...string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		w.Write([]byte(`{"error":"token tok-secret-123 is wrong"}`))
	}
}

func newCaller(srv *httptest.Server, sleeps *[]time.Duration) *Caller {
	return &Caller{Client: srv.Client(), Service: `test desk "d"`, Timeout: 300 * time.Millisecond, Redact: []string{"tok-secret-123"},
		Sleep: func(ctx context.Context, d time.Duration) error { *sleeps = append(*sleeps, d); return ctx.Err() }}
}

func TestCallerRetries(t *testing.T) {
	t.Parallel()
	stall := func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // then the server notices the client leaving
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
	tests := []struct {
		name      string
		answers   []func(w http.ResponseWriter, r *http.Request)
		calls     int
		ok        bool
		temporary bool
		minSleep  time.Duration // the first sleep is at least this
	}{
		{"503 then 200", []func(http.ResponseWriter, *http.Request){status(503)}, 2, true, false, 0},
		{"429 honours Retry-After", []func(http.ResponseWriter, *http.Request){status(429, "Retry-After", "7")}, 2, true, false, 7 * time.Second},
		{"a stalled attempt times out and is retried", []func(http.ResponseWriter, *http.Request){stall}, 2, true, false, 0},
		{"400 is not retried", []func(http.ResponseWriter, *http.Request){status(400)}, 1, false, false, 0},
		{"401 is not retried", []func(http.ResponseWriter, *http.Request){status(401)}, 1, false, false, 0},
		{"4 attempts at most", []func(http.ResponseWriter, *http.Request){status(500), status(502), status(503), status(504), status(500)}, 4, false, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &script{answers: tt.answers}
			srv := httptest.NewServer(s)
			defer srv.Close()
			var sleeps []time.Duration
			c := newCaller(srv, &sleeps)
			resp, err := c.Do(context.Background(), Request{Method: "POST", URL: srv.URL + "/x?api_key=tok-secret-123", Body: []byte(`{}`)})
			if got := s.count(); got != tt.calls {
				t.Errorf("%d calls, want %d", got, tt.calls)
			}
			if (err == nil) != tt.ok {
				t.Fatalf("Do = %v, %v; want ok %v", resp, err, tt.ok)
			}
			if err != nil {
				if Temporary(err) != tt.temporary {
					t.Errorf("Temporary(%v) = %v, want %v", err, !tt.temporary, tt.temporary)
				}
				if strings.Contains(err.Error(), "tok-secret-123") || strings.Contains(err.Error(), "api_key") {
					t.Errorf("the error shows a credential: %v", err)
				}
			}
			if len(sleeps) != tt.calls-1 {
				t.Errorf("slept %v between %d calls", sleeps, tt.calls)
			}
			if tt.minSleep > 0 && (len(sleeps) == 0 || sleeps[0] < tt.minSleep) {
				t.Errorf("slept %v, want at least %v first", sleeps, tt.minSleep)
			}
		})
	}
}

// A call whose first attempt may have taken effect asks before repeating it.
func TestCallerUnsure(t *testing.T) {
	t.Parallel()
	s := &script{answers: []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
	}}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	var sleeps []time.Duration
	var asked atomic.Int32
	_, err := newCaller(srv, &sleeps).Do(context.Background(), Request{Method: "POST", URL: srv.URL, Body: []byte(`{}`),
		Unsure: func(ctx context.Context) (bool, error) { asked.Add(1); return true, nil }})
	if !errors.Is(err, ErrTookEffect) || asked.Load() != 1 || s.count() != 1 {
		t.Errorf("Do = %v after %d checks and %d calls, want ErrTookEffect after 1 and 1", err, asked.Load(), s.count())
	}
}

// No retry starts when the caller's deadline would pass during the wait.
func TestCallerDeadline(t *testing.T) {
	t.Parallel()
	s := &script{answers: []func(http.ResponseWriter, *http.Request){status(429, "Retry-After", "20")}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	var sleeps []time.Duration
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := newCaller(srv, &sleeps).Do(ctx, Request{Method: "GET", URL: srv.URL})
	if err == nil || !Temporary(err) || len(sleeps) != 0 || Status(err) != 429 {
		t.Errorf("Do = %v (sleeps %v); want a temporary 429 without a wait", err, sleeps)
	}
}
