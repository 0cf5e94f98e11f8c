package api

import (
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
)

// analyticsJSON is GET /api/v1/flows/{id}/analytics's answer (docs/api.md, "Flow analytics").
type analyticsJSON struct {
	FlowID string `json:"flow_id"`
	// Version is the version asked for; null for all versions.
	Version *int `json:"version"`
	Runs    struct {
		Started    int `json:"started"`
		Completed  int `json:"completed"`
		Expired    int `json:"expired"`
		Failed     int `json:"failed"`
		Canceled   int `json:"canceled"`
		HandedOver int `json:"handed_over"`
	} `json:"runs"`
	Steps   []stepJSON `json:"steps"`
	Handoff struct {
		Count int `json:"count"`
		// FirstReplyP50S is null when no handoff got an agent's message.
		FirstReplyP50S *float64 `json:"first_reply_p50_s"`
	} `json:"handoff"`
	AI []aiJSON `json:"ai"`
}

type stepJSON struct {
	ID      string `json:"id"`
	Reached int    `json:"reached"`
	Dropped int    `json:"dropped"`
}

type aiJSON struct {
	Provider     string  `json:"provider"`
	Calls        int     `json:"calls"`
	Errors       int     `json:"errors"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	P50MS        float64 `json:"p50_ms"`
}

// flowAnalytics is GET /api/v1/flows/{id}/analytics?version=&from=&to=: what the flow's runs
// did, for one version or all, for the runs started from `from` (inclusive) to `to` (exclusive).
func (s *Server) flowAnalytics(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	d, err := s.cfg.DB.FlowGet(r.Context(), id)
	if err != nil {
		return err
	}
	p := store.AnalyticsParams{FlowID: id}
	query := r.URL.Query()
	if v := query.Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return invalid("version", "%q is not a version number (1, 2, …).", v)
		}
		if n > d.LatestVersion {
			return tandem.Errorf(tandem.ENOTFOUND, "Flow %q has no version %d; its latest is %d.", id, n, d.LatestVersion)
		}
		p.Version = n
	}
	for _, b := range []struct {
		name string
		t    *time.Time
	}{{"from", &p.From}, {"to", &p.To}} {
		v := query.Get(b.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return invalid(b.name, "%q is not an RFC 3339 time such as 2026-01-05T10:00:00Z.", v)
		}
		*b.t = t
	}
	if !p.From.IsZero() && !p.To.IsZero() && !p.To.After(p.From) {
		return invalid("to", "must be after from.")
	}
	a, err := s.cfg.DB.FlowAnalytics(r.Context(), p)
	if err != nil {
		return err
	}
	out := analyticsJSON{FlowID: id, Steps: []stepJSON{}, AI: []aiJSON{}}
	if p.Version > 0 {
		out.Version = &p.Version
	}
	out.Runs.Started, out.Runs.Completed, out.Runs.Expired = a.Runs.Started, a.Runs.Completed, a.Runs.Expired
	out.Runs.Failed, out.Runs.Canceled, out.Runs.HandedOver = a.Runs.Failed, a.Runs.Canceled, a.Runs.HandedOver
	// Steps in the order of the version asked for (all versions: the latest), every one of
	// them even when no run reached it; then steps only older versions have, by id.
	shown := map[string]bool{}
	version := p.Version
	if version == 0 {
		version = d.LatestVersion
	}
	if version > 0 {
		if f, err := s.cfg.Runner.Env().Flows.Version(id, version); err == nil {
			for _, st := range f.Steps {
				shown[st.ID] = true
				c := a.Steps[st.ID]
				if c == nil {
					c = &store.StepCounts{}
				}
				out.Steps = append(out.Steps, stepJSON{ID: st.ID, Reached: c.Reached, Dropped: c.Dropped})
			}
		} else {
			s.log.Warn("analytics: the flow's version cannot be read; its steps are listed by id", "flow", id, "version", version, "err", err)
		}
	}
	var rest []string
	for sid := range a.Steps {
		if !shown[sid] {
			rest = append(rest, sid)
		}
	}
	sort.Strings(rest)
	for _, sid := range rest {
		out.Steps = append(out.Steps, stepJSON{ID: sid, Reached: a.Steps[sid].Reached, Dropped: a.Steps[sid].Dropped})
	}
	out.Handoff.Count = a.Handoffs
	if a.FirstReplyP50 != nil {
		v := a.FirstReplyP50.Seconds()
		out.Handoff.FirstReplyP50S = &v
	}
	for _, pc := range a.AI {
		out.AI = append(out.AI, aiJSON{Provider: pc.Provider, Calls: pc.Calls, Errors: pc.Errors, InputTokens: pc.InputTokens, OutputTokens: pc.OutputTokens, P50MS: pc.P50MS})
	}
	return writeJSON(w, http.StatusOK, out)
}
