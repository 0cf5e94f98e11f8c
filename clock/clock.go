// Package clock provides the wall clock and a virtual clock that tests and `tandem test` move
// by hand, so a 24-hour timeout runs in microseconds.
package clock

import (
	"sync"
	"time"
)

// Wall is the real clock.
type Wall struct{}

// Now returns the current time.
func (Wall) Now() time.Time { return time.Now() }

// Virtual is a clock that only moves when told to. It is safe for concurrent use.
type Virtual struct {
	mu sync.Mutex
	t  time.Time
}

// NewVirtual returns a virtual clock set to t.
func NewVirtual(t time.Time) *Virtual { return &Virtual{t: t} }

// Now returns the clock's time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.t
}

// Set moves the clock to t; it never goes back.
func (v *Virtual) Set(t time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if t.After(v.t) {
		v.t = t
	}
}

// Advance moves the clock forward by d.
func (v *Virtual) Advance(d time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.t = v.t.Add(d)
}
