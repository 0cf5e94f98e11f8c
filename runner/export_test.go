package runner

import "github.com/tandemchat/tandem/engine"

// Stopping reports whether Stop was called (tests wait on it instead of sleeping).
func (r *Runner) Stopping() bool { return r.isStopped() }

// WrapStep makes the runner handle events through wrap(next), next being how it handles them
// now: tests make a step crash this way. Call it before Start.
func (r *Runner) WrapStep(wrap func(next func(*engine.Input) *engine.Output) func(*engine.Input) *engine.Output) {
	r.step = wrap(r.step)
}

// Idle reports whether no goroutine processes the conversation now: a message that arrives
// then is handled at its arrival (direct), not queued behind the processing.
func (r *Runner) Idle(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, busy := r.slots[id]
	return !busy
}
