package channel

import (
	"context"
	"net/http"
)

// Wait is a place among the requests the server lets wait at once (limits.long_polls): a
// channel's route that holds its request open — an event stream, a long poll — takes one with
// EnterWait before it waits, and gives it back with Done.
type Wait interface {
	// Detach says the request's connection was taken over from net/http (Hijack), which
	// counts it no more: the server counts it as an open connection until Done.
	Detach()
	// Done gives the place back; later calls do nothing.
	Done()
}

type waitsKey struct{}

// WithWaits returns ctx carrying enter, the server's way to take a place for a request of its
// that is about to wait: a Wait, or the error to answer (429 or 503, with Retry-After set on w).
func WithWaits(ctx context.Context, enter func(w http.ResponseWriter) (Wait, error)) context.Context {
	return context.WithValue(ctx, waitsKey{}, enter)
}

// EnterWait takes a place for r, a request about to wait, from the server that serves it; a
// request served without one (a test of the channel alone) gets a Wait that counts nothing.
func EnterWait(w http.ResponseWriter, r *http.Request) (Wait, error) {
	if enter, ok := r.Context().Value(waitsKey{}).(func(http.ResponseWriter) (Wait, error)); ok {
		return enter(w)
	}
	return noWait{}, nil
}

type noWait struct{}

func (noWait) Detach() {}
func (noWait) Done()   {}
