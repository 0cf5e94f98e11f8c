package runner

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/tandemchat/tandem/engine"
	"github.com/tandemchat/tandem/internal/jsonenc/jsonenctest"
)

// TestStateJSONIsMarshal holds the state's hand-written JSON to json.Marshal's, on states
// filled at random (every field set in some of them: a field added to the state and not to
// stateJSON fails here).
func TestStateJSONIsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 5000 {
		var st engine.State
		jsonenctest.Fill(r, &st)
		want, werr := json.Marshal(&st)
		got, gerr := stateJSON(&st)
		if (werr == nil) != (gerr == nil) || werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("state %d:\n got %s (%v)\nwant %s (%v)", i, got, gerr, want, werr)
		}
	}
}

const w1State = `{"run":{"id":"01M98GEKDY64JZF12HR01N159K","flow_id":"bench-w1","version":1,"status":"waiting","step":"ask","started_at":"2026-12-07T15:02:42.878830194Z","vars":{"reply":"Order 30 is shipped. Another one?"},"outputs":{"ask":{"text":"30","type":"text","valid":true,"value":"30"},"call":{"attempts":1,"duration_ms":0,"error":"","headers":{"content-length":"21","content-type":"application/json","date":"Mon, 07 Dec 2026 15:02:51 GMT"},"response":{"status":"shipped"},"status":200},"check":{"branch":"#1","next":"call"}},"message":{"id":"01M98GEW6HKHRH2D4NYGNV8TXW","conversation_id":"01M98GEKDGHJS7PCNRYA1G5QCH","direction":"in","author":"contact","type":"text","text":"30","channel_message_id":"m01m98gekasf6fpqf8v6s97b431-9232","created_at":"2026-12-07T15:02:51.857463868Z"},"wait":{"message":true,"timer_id":"01M98GEW6JXWW0SZHTCNMN6NA0","due":"2026-12-08T15:02:51.858040416Z"},"entered":"2026-12-07T15:02:51.858040416Z","steps":4,"usage":{"calls":0,"input_tokens":0,"output_tokens":0},"path":["ask","check","call","save"]},"seq":877,"started":true,"bot_spoke":true}`

// BenchmarkStateJSON writes a W1 turn's state (go test ./runner -run '^$' -bench StateJSON).
func BenchmarkStateJSON(b *testing.B) {
	var st engine.State
	if err := json.Unmarshal([]byte(w1State), &st); err != nil {
		b.Fatal(err)
	}
	b.Run("stateJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			stateJSON(&st)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(&st)
		}
	})
}
