package runner

// Stopping reports whether Stop was called (tests wait on it instead of sleeping).
func (r *Runner) Stopping() bool { return r.isStopped() }
