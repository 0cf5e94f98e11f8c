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
