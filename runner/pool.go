package runner

import "sync"

// pool runs submitted work on at most max goroutines, in submission order. A backlog costs a
// queued closure, not a goroutine and its stack: a burst of ten thousand conversations (timers
// due at once, a broadcast's answers) waits in a slice while max workers go through it.
type pool struct {
	max int
	wg  *sync.WaitGroup

	mu     sync.Mutex
	queue  []func()
	head   int
	active int
}

func newPool(max int, wg *sync.WaitGroup) *pool { return &pool{max: max, wg: wg} }

// submit queues fn and starts a worker if fewer than max run. The caller must make sure the
// WaitGroup may still grow (the runner is not stopped, or the caller is itself a worker).
func (p *pool) submit(fn func()) {
	p.mu.Lock()
	p.queue = append(p.queue, fn)
	start := p.active < p.max
	if start {
		p.active++
		p.wg.Add(1)
	}
	p.mu.Unlock()
	if start {
		go p.work()
	}
}

func (p *pool) work() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		if p.head == len(p.queue) {
			// Emptied: let the backing array go, however large the burst made it.
			p.queue, p.head = nil, 0
			p.active--
			p.mu.Unlock()
			return
		}
		fn := p.queue[p.head]
		p.queue[p.head] = nil
		p.head++
		p.mu.Unlock()
		fn()
	}
}
