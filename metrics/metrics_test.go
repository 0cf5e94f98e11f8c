package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/store/storetest"
)

// TestScrape: what the runner and the API report reaches /metrics in the Prometheus format,
// with the gauges read from the database.
func TestScrape(t *testing.T) {
	t.Parallel()
	db := storetest.SQLite(t)
	m := New(db, time.Now)
	m.Turn(3*time.Millisecond, 2)
	m.Step("question:answer", time.Second)
	m.Effect("http", true, 20*time.Millisecond)
	m.TimerLate(40 * time.Millisecond)
	m.RunEnded("failed", "loop_limit")
	m.Request("POST /api/v1/channels/{channel_id}/messages", 202, time.Millisecond)
	m.AICall("openai", "rate_limited", 2*time.Second, tandem.Usage{Calls: 1, InputTokens: 120, OutputTokens: 30})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		"tandem_turns_total 1",
		"tandem_events_total 2",
		`tandem_step_duration_seconds_count{type="question"} 1`,
		`tandem_effects_total{kind="http",result="ok"} 1`,
		"tandem_timer_lateness_seconds_count 1",
		`tandem_runs_ended_total{reason="loop_limit",status="failed"} 1`,
		`tandem_http_requests_total{route="POST /api/v1/channels/{channel_id}/messages",status="202"} 1`,
		`tandem_ai_calls_total{provider="openai",result="rate_limited"} 1`,
		`tandem_ai_tokens_total{direction="input",provider="openai"} 120`,
		`tandem_ai_tokens_total{direction="output",provider="openai"} 30`,
		"tandem_outbox_depth 0",
		`tandem_runs{status="waiting"} 0`,
		"go_goroutines",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
