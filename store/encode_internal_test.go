package store

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/jsonenc/jsonenctest"
)

// TestEncodeIsMarshal holds the columns a commit writes by hand (trace rows, runs,
// conversations' and messages' data) to what json.Marshal wrote, on values filled at random:
// a field added to one of these types and not to its writer fails here.
func TestEncodeIsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	marshal := func(v any) string {
		data, _ := json.Marshal(v)
		return string(data)
	}
	for i := range 3000 {
		var trace []tandem.StepTrace
		jsonenctest.Fill(r, &trace)
		if got, want := stepsJSON(trace), marshal(traceSteps(trace)); got != want {
			t.Fatalf("steps %d:\n got %s\nwant %s", i, got, want)
		}
		for j := range trace {
			tr := &trace[j]
			want := marshal(struct {
				Input  map[string]any `json:"input,omitempty"`
				Output map[string]any `json:"output,omitempty"`
				Next   string         `json:"next,omitempty"`
				Error  string         `json:"error,omitempty"`
				Flow   string         `json:"flow,omitempty"`
			}{tr.Input, tr.Output, tr.Next, tr.Error, tr.FlowID})
			if got := traceJSON(tr); got != want {
				t.Fatalf("trace %d:\n got %s\nwant %s", i, got, want)
			}
		}
		var run tandem.Run
		jsonenctest.Fill(r, &run)
		if got, want := runJSON(&run), marshal(runData{Usage: run.Usage, Path: run.Path, At: run.At}); got != want {
			t.Fatalf("run %d:\n got %s\nwant %s", i, got, want)
		}
		var c tandem.Conversation
		jsonenctest.Fill(r, &c)
		if got, want := convJSON(&c), marshal(convDataOf(&c)); got != want {
			t.Fatalf("conversation %d:\n got %s\nwant %s", i, got, want)
		}
		var m tandem.Message
		jsonenctest.Fill(r, &m)
		if got, want := messageDataJSON(&m), marshal(dataOf(&m)); got != want {
			t.Fatalf("message %d:\n got %s\nwant %s", i, got, want)
		}
	}
}
