// Package registry holds the kinds of a pluggable part (AI providers, desks): adapters register
// a constructor from init, the workspace builds what the configuration names.
package registry

import (
	"fmt"
	"sort"
	"sync"
)

// Registry maps kind names to constructors of type T.
type Registry[T any] struct {
	what  string // "provider", "desk": names the part in errors
	mu    sync.RWMutex
	kinds map[string]T
}

// New returns an empty registry of the parts called what.
func New[T any](what string) *Registry[T] {
	return &Registry[T]{what: what, kinds: map[string]T{}}
}

// Register makes a kind available.
func (r *Registry[T]) Register(kind string, fn T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.kinds[kind] = fn
}

// Kinds lists the registered kinds, sorted.
func (r *Registry[T]) Kinds() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.kinds))
	for k := range r.kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Get returns the constructor of kind, for the part id (named in the error when the kind is
// not registered).
func (r *Registry[T]) Get(id, kind string) (T, error) {
	r.mu.RLock()
	fn, ok := r.kinds[kind]
	r.mu.RUnlock()
	if !ok {
		var zero T
		return zero, fmt.Errorf("%s %q: kind %q is not available in this build", r.what, id, kind)
	}
	return fn, nil
}

// Key is one key a kind reads in its entry of tandem.yaml (a channel's or a desk's), besides id
// and kind. The configuration refuses an entry that lacks a required key, warns about a key set
// that the kind does not read, and accepts a key no other kind has (it reaches the kind in its
// Config's Options).
type Key struct {
	// Name is the key as written in tandem.yaml: "phone_number_id".
	Name string
	// Required keys must be set (a value from an unset ${VAR} is only a warning).
	Required bool
	// Secret keys hold credentials: masked wherever the configuration is printed and hidden
	// from logs and traces.
	Secret bool
}

// KeyProblem is what a kind's check finds wrong with one key of an entry: Message is a sentence
// that says what to write instead ("use left or right").
type KeyProblem struct {
	Key     string
	Message string
}
