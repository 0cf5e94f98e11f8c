// Package metrics exposes Tandem's measurements in the Prometheus format, on a registry of its
// own: turns, step durations by type, effects, timer lateness, runs, HTTP requests, and — read
// from the database at each scrape — outbox depth and age and active and waiting runs.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store"
)

// Metrics implements runner.Observer and api.Observer.
type Metrics struct {
	reg          *prometheus.Registry
	turns        prometheus.Counter
	turnEvents   prometheus.Counter
	turnDuration prometheus.Histogram
	steps        *prometheus.HistogramVec
	effects      *prometheus.CounterVec
	effectDur    *prometheus.HistogramVec
	timerLate    prometheus.Histogram
	runsEnded    *prometheus.CounterVec
	requests     *prometheus.CounterVec
	requestDur   *prometheus.HistogramVec
	aiCalls      *prometheus.CounterVec
	aiDur        *prometheus.HistogramVec
	aiTokens     *prometheus.CounterVec
	refused      *prometheus.CounterVec
}

// New returns metrics registered on a new registry; db feeds the gauges read at scrape time.
func New(db *store.DB, now func() time.Time) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		reg:          reg,
		turns:        prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_turns_total", Help: "Conversation batches processed (load, engine, commit)."}),
		turnEvents:   prometheus.NewCounter(prometheus.CounterOpts{Name: "tandem_events_total", Help: "Events processed."}),
		turnDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tandem_turn_duration_seconds", Help: "Time to process a conversation's queued events, commit included.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		steps:        prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tandem_step_duration_seconds", Help: "Step durations by type (a waiting step counts its wait).", Buckets: prometheus.ExponentialBuckets(0.001, 4, 12)}, []string{"type"}),
		effects:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_effects_total", Help: "Effects carried out, by kind and result."}, []string{"kind", "result"}),
		effectDur:    prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tandem_effect_duration_seconds", Help: "Effect durations by kind.", Buckets: prometheus.ExponentialBuckets(0.001, 3, 12)}, []string{"kind"}),
		timerLate:    prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tandem_timer_lateness_seconds", Help: "How late timers fire after their due time.", Buckets: prometheus.ExponentialBuckets(0.001, 3, 12)}),
		runsEnded:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_runs_ended_total", Help: "Runs that ended, by status and reason."}, []string{"status", "reason"}),
		requests:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "status"}),
		requestDur:   prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tandem_http_request_duration_seconds", Help: "HTTP request durations by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 3, 12)}, []string{"route"}),
		aiCalls:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_ai_calls_total", Help: "AI calls by provider and outcome (ok, rate_limited, timeout, auth, server_error, error)."}, []string{"provider", "result"}),
		aiDur:        prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tandem_ai_call_duration_seconds", Help: "AI call latency by provider, retries included.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 12)}, []string{"provider"}),
		aiTokens:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_ai_tokens_total", Help: "AI tokens by provider and direction (input, output)."}, []string{"provider", "direction"}),
		refused:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tandem_http_refused_total", Help: "HTTP requests refused for a limit (429 or 503), by reason: rate, long_polls, long_polls_total, connections, login."}, []string{"reason"}),
	}
	reg.MustRegister(m.turns, m.turnEvents, m.turnDuration, m.steps, m.effects, m.effectDur, m.timerLate, m.runsEnded, m.requests, m.requestDur,
		m.aiCalls, m.aiDur, m.aiTokens, m.refused,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if db != nil {
		reg.MustRegister(&dbCollector{db: db, now: now})
	}
	return m
}

// Handler serves the metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry returns the registry, for more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Turn implements runner.Observer.
func (m *Metrics) Turn(d time.Duration, events int) {
	m.turns.Inc()
	m.turnEvents.Add(float64(events))
	m.turnDuration.Observe(d.Seconds())
}

// Step implements runner.Observer.
func (m *Metrics) Step(typ string, d time.Duration) {
	if typ == "" {
		return
	}
	base, _, _ := strings.Cut(typ, ":")
	m.steps.WithLabelValues(base).Observe(d.Seconds())
}

// Effect implements runner.Observer.
func (m *Metrics) Effect(kind string, ok bool, d time.Duration) {
	result := "ok"
	if !ok {
		result = "error"
	}
	m.effects.WithLabelValues(kind, result).Inc()
	m.effectDur.WithLabelValues(kind).Observe(d.Seconds())
}

// TimerLate implements runner.Observer.
func (m *Metrics) TimerLate(d time.Duration) { m.timerLate.Observe(max(d, 0).Seconds()) }

// RunEnded implements runner.Observer.
func (m *Metrics) RunEnded(status, reason string) { m.runsEnded.WithLabelValues(status, reason).Inc() }

// AICall implements runner.Observer.
func (m *Metrics) AICall(provider, kind string, d time.Duration, u tandem.Usage) {
	m.aiCalls.WithLabelValues(provider, kind).Inc()
	m.aiDur.WithLabelValues(provider).Observe(d.Seconds())
	if u.InputTokens > 0 {
		m.aiTokens.WithLabelValues(provider, "input").Add(float64(u.InputTokens))
	}
	if u.OutputTokens > 0 {
		m.aiTokens.WithLabelValues(provider, "output").Add(float64(u.OutputTokens))
	}
}

// Request implements api.Observer.
func (m *Metrics) Request(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.requestDur.WithLabelValues(route).Observe(d.Seconds())
}

// Refused implements api.Refusals.
func (m *Metrics) Refused(reason string) { m.refused.WithLabelValues(reason).Inc() }

// HTTPLoad adds the gauges of the HTTP server's load, read at scrape time: open connections and
// waiting requests (long-polls, event streams).
func (m *Metrics) HTTPLoad(connections, waiting func() int) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tandem_http_connections", Help: "Open HTTP connections."}, func() float64 { return float64(connections()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tandem_http_waiting", Help: "HTTP requests waiting: message long-polls and inbox event streams."}, func() float64 { return float64(waiting()) }),
	)
}

// dbCollector reads gauges from the database at scrape time.
type dbCollector struct {
	db  *store.DB
	now func() time.Time
}

var (
	outboxDepth = prometheus.NewDesc("tandem_outbox_depth", "Effects waiting in the outbox.", nil, nil)
	outboxAge   = prometheus.NewDesc("tandem_outbox_oldest_age_seconds", "Age of the oldest effect waiting in the outbox.", nil, nil)
	runsActive  = prometheus.NewDesc("tandem_runs", "Conversations whose run is running or waiting.", []string{"status"}, nil)
)

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxDepth
	ch <- outboxAge
	ch <- runsActive
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if depth, age, err := c.db.OutboxStats(ctx, c.now()); err == nil {
		ch <- prometheus.MustNewConstMetric(outboxDepth, prometheus.GaugeValue, float64(depth))
		ch <- prometheus.MustNewConstMetric(outboxAge, prometheus.GaugeValue, age.Seconds())
	}
	if counts, err := c.db.RunCounts(ctx); err == nil {
		for s, n := range counts {
			ch <- prometheus.MustNewConstMetric(runsActive, prometheus.GaugeValue, float64(n), s)
		}
	}
}
