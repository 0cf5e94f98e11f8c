package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/internal/jsonhttp"
	"github.com/tandemchat/tandem/store"
)

// statusClientClosed is what metrics and logs record for a request whose client went away
// before the answer.
const statusClientClosed = 499

type ctxKey int

const (
	keyCaller ctxKey = iota
	keyRequestID
	keyRequest
)

// reqInfo is what wrap records of a request once it ends. A handler that parks its request (a
// long-poll waiting without a goroutine) records it itself when the answer is written.
// It keeps strings, not the request: a parked request must not hold net/http's buffers.
type reqInfo struct {
	name, rid, method, path string
	start                   time.Time
	parked                  bool
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap turns a route's handler into an http.Handler: request id, panic recovery, auth, rate
// limit, body limit, logging, metrics, and the error → status table.
func (s *Server) wrap(rt route) http.Handler {
	name := rt.method + " " + rt.pattern
	if rt.method == "" {
		name = "unmatched"
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: rw}
		rid := r.Header.Get("X-Request-Id")
		if rid == "" || len(rid) > 128 {
			rid = newRequestID()
		}
		w.Header().Set("X-Request-Id", rid)
		info := &reqInfo{name: name, rid: rid, method: r.Method, path: r.URL.Path, start: start}
		ctx := context.WithValue(context.WithValue(r.Context(), keyRequestID, rid), keyRequest, info)
		r = r.WithContext(ctx)
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("handler panicked", "route", name, "request_id", rid, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if w.status == 0 {
					writeError(w, tandem.Errorf(tandem.EINTERNAL, "Internal error (request %s).", rid))
				}
			}
			if !info.parked {
				s.record(info, w.status)
			}
		}()
		err := s.serve(w, r, rt)
		if err == nil {
			return
		}
		if w.status == 0 && r.Context().Err() != nil && errors.Is(err, context.Canceled) {
			// The client went away (a long-poll it gave up): nobody to answer, nothing failed.
			// Recorded as 499, nginx's "client closed request"; never sent.
			w.status = statusClientClosed
			return
		}
		if tandem.ErrorCode(err) == tandem.EINTERNAL {
			s.log.Error("request failed", "route", name, "request_id", rid, "err", err)
		}
		if w.status != 0 {
			return // the handler already answered (a streamed long-poll)
		}
		writeError(w, err)
	})
}

// record reports a finished request to the metrics and the log.
func (s *Server) record(info *reqInfo, status int) {
	d := time.Since(info.start)
	if s.cfg.Observer != nil {
		s.cfg.Observer.Request(info.name, status, d)
	}
	level := s.log.Debug
	if status >= 500 {
		level = s.log.Warn
	}
	level("http request", "method", info.method, "path", info.path, "route", info.name, "status", status,
		"duration_ms", float64(d.Microseconds())/1000, "request_id", info.rid)
}

// serve checks who calls (access.go) and their rate, then runs the handler: the one place
// where every route's access is enforced.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt route) error {
	limit := s.cfg.BodyLimit
	if l := s.bodyLimits[rt.method+" "+rt.pattern]; l != 0 {
		limit = l
	}
	if limit >= 0 { // else the handler caps the body itself (channel.OwnBodyLimit)
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	if err := s.overloaded(w, rt); err != nil {
		return err
	}
	if rt.access == widgetSession {
		// The web channel checks its own sessions' tokens; an API token or an agent's login
		// is the wrong kind of caller here.
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tandem-widget"`)
			return tandem.Errorf(tandem.EUNAUTHORIZED, "Send the widget session's token as `Authorization: Bearer <token>`; the widget's frame opens a session with POST /widget/v1/{channel_id}/sessions.")
		}
		if strings.HasPrefix(strings.TrimSpace(token), store.TokenPrefix) {
			if c, err := s.authenticate(r); err == nil {
				return forbidden(rt, c)
			}
		}
		// Its event streams and long polls wait among the server's (limits.long_polls).
		return rt.h(w, r.WithContext(channel.WithWaits(r.Context(), s.channelWait(r))))
	}
	if !rt.access.needsCredential() {
		return rt.h(w, r)
	}
	c, err := s.authenticate(r)
	if err != nil {
		if tandem.ErrorCode(err) == tandem.EUNAUTHORIZED {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tandem"`)
		}
		return err
	}
	if rt.access&c.kind == 0 {
		return forbidden(rt, c)
	}
	if err := s.allowRate(w, rt, c); err != nil {
		return err
	}
	r = r.WithContext(context.WithValue(r.Context(), keyCaller, c))
	return rt.h(w, r)
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// isMaxBytes reports whether err came from a body over the limit.
func isMaxBytes(err error) bool { return jsonhttp.IsMaxBytes(err) }
