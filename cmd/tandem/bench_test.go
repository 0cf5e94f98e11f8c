package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	apichannel "github.com/tandemchat/tandem/channel/api"
	"github.com/tandemchat/tandem/store/storetest"
)

// TestMain lets `tandem bench w3` start this test binary as its clients' process, as the real
// binary starts itself.
func TestMain(m *testing.M) {
	if os.Getenv(envBenchClients) != "" {
		os.Exit(NewMain(os.Stdin, os.Stdout, os.Stderr).Run(context.Background(), os.Args[1:]))
	}
	os.Exit(m.Run())
}

// `tandem bench w3` holds idle widget streams and API long-polls open and reports what each
// costs the server, with the spec's fields, and delivers messages to 1% of them.
func TestBenchW3JSON(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"widget", "long-poll"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			args := []string{"bench", "w3", "--streams", "100", "--json"}
			if kind == "long-poll" {
				args = append(args, "--long-poll")
			}
			res := cli{env: map[string]string{}}.run(t, args...)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(strings.TrimSpace(res.stdout)), &got); err != nil {
				t.Fatalf("not one JSON object: %v\n%s", err, res.stdout)
			}
			for _, k := range []string{"scenario", "store", "streams", "rss_mb", "rss_kb_per_stream", "delivery_p99_ms"} {
				if _, ok := got[k]; !ok {
					t.Errorf("field %q missing in %s", k, res.stdout)
				}
			}
			if got["scenario"] != "w3" || got["kind"] != kind || got["streams"].(float64) != 100 || got["delivered"].(float64) != 1 || got["errors"].(float64) != 0 {
				t.Errorf("got %s; want w3 %s, 100 streams, 1 message delivered, no errors", res.stdout, kind)
			}
		})
	}
}

// `tandem bench w1 --baseline --json` prints the fields the spec names, on SQLite and on the
// PostgreSQL of TANDEM_DATABASE_URL, with the baseline measured in the same run.
func TestBenchW1JSON(t *testing.T) {
	t.Parallel()
	for _, st := range []string{"sqlite", "postgres"} {
		t.Run(st, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			if st == "postgres" {
				env["TANDEM_DATABASE_URL"] = storetest.PostgresURL(t) // skips without TANDEM_TEST_POSTGRES_URL
			}
			res := cli{env: env}.run(t, "bench", "w1", "--duration", "300ms", "--concurrency", "4", "--baseline", "--json")
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(strings.TrimSpace(res.stdout)), &got); err != nil {
				t.Fatalf("not one JSON object: %v\n%s", err, res.stdout)
			}
			for _, k := range []string{"scenario", "store", "turns_per_s", "p50_ms", "p99_ms", "errors", "baseline_turns_per_s", "ratio"} {
				if _, ok := got[k]; !ok {
					t.Errorf("field %q missing in %s", k, res.stdout)
				}
			}
			if got["scenario"] != "w1" || got["store"] != st {
				t.Errorf("scenario %v, store %v; want w1, %s", got["scenario"], got["store"], st)
			}
			if got["turns_per_s"].(float64) <= 0 || got["baseline_turns_per_s"].(float64) <= 0 || got["errors"].(float64) != 0 {
				t.Errorf("no turns measured, or errors: %s", res.stdout)
			}
		})
	}
}

// The baseline does a W1 turn's external work: it takes the inbound POST, GETs the order from
// the order service, commits the inbound message and the reply in one transaction, answers
// 202, and POSTs the reply, signed, to the receiver.
func TestBenchBaselineDoesTheTurnsWork(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var gets []string
	mock := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gets = append(gets, r.Method+" "+r.URL.Path)
		mu.Unlock()
		io.WriteString(w, `{"status": "shipped"}`)
	}))
	defer mock.Close()
	posts := make(chan *http.Request, 1)
	bodies := make(chan []byte, 1)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		posts <- r
		bodies <- b
	}))
	defer recv.Close()
	b := &baseline{mock: mock.URL, recv: recv.URL + "/out", token: "tok", secret: "s3cret", client: benchClient(1)}
	path := filepath.Join(t.TempDir(), "b.db")
	if err := b.openSQLite(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	defer b.close()
	srv := httptest.NewServer(b)
	defer srv.Close()

	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(`{"contact":{"external_id":"c1"},"message":{"id":"m1","text":"42"}}`))
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("inbound answered %d, want 202", resp.StatusCode)
	}
	post, body := <-posts, <-bodies
	if got := post.Header.Get(apichannel.SignatureHeader); got != apichannel.Sign("s3cret", body) {
		t.Errorf("reply signature %q does not match its body", got)
	}
	var out apichannel.Outbound
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if got, want := out.Message.Text, "Order 42 is shipped. Another one?"; got != want {
		t.Errorf("reply %q, want %q", got, want)
	}
	mu.Lock()
	if len(gets) != 1 || gets[0] != "GET /orders/42" {
		t.Errorf("order service calls %v, want [GET /orders/42]", gets)
	}
	mu.Unlock()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM baseline_messages WHERE conversation = 'c1'`).Scan(&n); err != nil || n != 2 {
		t.Errorf("%d messages stored (%v), want the inbound and the reply", n, err)
	}
	// A request without the token changes nothing.
	resp, err = http.Post(srv.URL, "application/json", strings.NewReader(`{"contact":{"external_id":"c2"},"message":{"id":"m2","text":"1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: %d, want 401", resp.StatusCode)
	}
}
