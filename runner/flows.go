package runner

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/flow"
	"github.com/tandemchat/tandem/store"
)

// flowCache holds compiled published versions (immutable, so cached forever) and the newest
// version of each flow for trigger matching.
type flowCache struct {
	db       *store.DB
	mu       sync.RWMutex
	versions map[string]*flow.Flow // "id@version"
	latest   map[string]*flow.Flow
	list     []*flow.Flow
}

func newFlowCache(db *store.DB) *flowCache {
	return &flowCache{db: db, versions: map[string]*flow.Flow{}, latest: map[string]*flow.Flow{}}
}

func key(id string, v int) string { return fmt.Sprintf("%s@%d", id, v) }

// Version implements engine.Flows.
func (c *flowCache) Version(id string, v int) (*flow.Flow, error) {
	c.mu.RLock()
	f, ok := c.versions[key(id, v)]
	c.mu.RUnlock()
	if ok {
		return f, nil
	}
	fv, err := c.db.FlowVersionGet(context.Background(), id, v)
	if err != nil {
		return nil, err
	}
	return c.compile(fv)
}

func (c *flowCache) compile(fv *store.FlowVersion) (*flow.Flow, error) {
	f, findings := flow.Parse(fmt.Sprintf("%s@%d", fv.FlowID, fv.Version), []byte(fv.Source))
	if f == nil {
		return nil, fmt.Errorf("flow %s version %d no longer parses: %v", fv.FlowID, fv.Version, findings)
	}
	f.Version = fv.Version
	c.mu.Lock()
	c.versions[key(fv.FlowID, fv.Version)] = f
	c.mu.Unlock()
	return f, nil
}

// Latest implements engine.Flows.
func (c *flowCache) Latest(id string) (*flow.Flow, error) {
	c.mu.RLock()
	f, ok := c.latest[id]
	c.mu.RUnlock()
	if !ok {
		return nil, tandem.Errorf(tandem.ENOTFOUND, "Flow %q has no published version.", id)
	}
	return f, nil
}

// Triggerable implements engine.Flows.
func (c *flowCache) Triggerable() []*flow.Flow {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.list
}

// setLatest records f as the newest version of its flow.
func (c *flowCache) setLatest(f *flow.Flow) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.versions[key(f.ID, f.Version)] = f
	if cur, ok := c.latest[f.ID]; ok && cur.Version > f.Version {
		return
	}
	c.latest[f.ID] = f
	c.rebuild()
}

func (c *flowCache) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.latest, id)
	c.rebuild()
}

func (c *flowCache) rebuild() {
	list := make([]*flow.Flow, 0, len(c.latest))
	for _, f := range c.latest {
		list = append(list, f)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
	c.list = list
}

// refresh reloads the newest versions from the database (another replica may have published).
func (c *flowCache) refresh(ctx context.Context) error {
	vs, err := c.db.FlowLatestVersions(ctx)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for i := range vs {
		seen[vs[i].FlowID] = true
		c.mu.RLock()
		cur, ok := c.latest[vs[i].FlowID]
		c.mu.RUnlock()
		if ok && cur.Version == vs[i].Version {
			continue
		}
		f, err := c.compile(&vs[i])
		if err != nil {
			return err
		}
		c.setLatest(f)
	}
	c.mu.Lock()
	for id := range c.latest {
		if !seen[id] {
			delete(c.latest, id)
		}
	}
	c.rebuild()
	c.mu.Unlock()
	return nil
}
