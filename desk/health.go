package desk

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Tracker keeps a desk's service state: Unavailable while its last check failed, or for Hold
// after a call failed (after its retries); Available otherwise. A check runs when the last one
// is older than MaxAge; a call or a check that succeeds clears a failure at once. The zero
// value needs MaxAge and Hold set; it is safe for concurrent use.
type Tracker struct {
	MaxAge time.Duration
	Hold   time.Duration

	mu       sync.Mutex
	checked  time.Time
	checkErr error
	failedAt time.Time
	failErr  error
	checking chan struct{} // closed when the check under way ends
}

// Check runs probe when the last check is older than MaxAge (one check at a time; others wait
// for it) and returns nil when the desk is available, else why not.
func (h *Tracker) Check(ctx context.Context, now time.Time, probe func(ctx context.Context) error) error {
	h.mu.Lock()
	if w := h.checking; w != nil {
		h.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
		h.mu.Lock()
	}
	if h.checked.IsZero() || now.Sub(h.checked) >= h.MaxAge || now.Before(h.checked) {
		done := make(chan struct{})
		h.checking = done
		h.mu.Unlock()
		err := probe(ctx)
		h.mu.Lock()
		h.checking = nil
		close(done)
		h.checked, h.checkErr = now, err
		if err == nil {
			h.failedAt, h.failErr = time.Time{}, nil
		}
	}
	defer h.mu.Unlock()
	return h.state(now)
}

// state is why the desk is unavailable at now, nil when it is available; h.mu is held.
func (h *Tracker) state(now time.Time) error {
	if h.checkErr != nil {
		return h.checkErr
	}
	if !h.failedAt.IsZero() && now.Sub(h.failedAt) < h.Hold {
		return fmt.Errorf("a call failed %s ago: %w", now.Sub(h.failedAt).Round(time.Second), h.failErr)
	}
	return nil
}

// Failed records a call that failed after its retries.
func (h *Tracker) Failed(now time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failedAt, h.failErr = now, err
}

// Succeeded records a call that worked: the desk answers.
func (h *Tracker) Succeeded(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failedAt, h.failErr = time.Time{}, nil
	if h.checkErr != nil {
		h.checked, h.checkErr = now, nil
	}
}

// Status is StatusAvailable or StatusUnavailable at now, from what is known (nothing is called).
func (h *Tracker) Status(now time.Time) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state(now) != nil {
		return StatusUnavailable
	}
	return StatusAvailable
}

// Health is the state at now as Reporter shows it (nothing is called).
func (h *Tracker) Health(now time.Time) Health {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := Health{Status: StatusAvailable, CheckedAt: h.checked}
	if err := h.state(now); err != nil {
		out.Status, out.Detail = StatusUnavailable, err.Error()
	}
	return out
}
