package jsonenc_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/jsonenc"
	"github.com/tandemchat/tandem/internal/jsonenc/jsonenctest"
)

// TestValueIsMarshal holds Value to json.Marshal on generic values at random: the maps, slices
// and scalars of flow variables, with every string escape and float format.
func TestValueIsMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		v := jsonenctest.Generic(r, 0)
		want, werr := json.Marshal(v)
		got, gerr := jsonenc.Value(nil, v)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("value %d %#v: error %v, json.Marshal's %v", i, v, gerr, werr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("value %d %#v:\n got %s\nwant %s", i, v, got, want)
		}
	}
}

func TestValueEdges(t *testing.T) {
	for _, v := range []any{
		"", "\x00", "\u007f", "a\u2028b\u2029c", "\xff", "<script>&</script>", map[string]any{}, map[string]any(nil),
		[]any{}, []any(nil), []string(nil), map[string]string(nil), 1e21, 1e-7, -0.0, float32(1e-7), float32(3.4e38),
		math.MaxInt64, int64(math.MinInt64), uint64(math.MaxUint64), time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		map[string]any{"b": 1, "a": []any{nil, true, "x"}, "<": map[string]string{"z": "1", "y": "2"}},
		json.Number("1e5"), (*int)(nil),
	} {
		want, _ := json.Marshal(v)
		got, err := jsonenc.Value(nil, v)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%#v: got %s (%v), want %s", v, got, err, want)
		}
	}
	for _, v := range []any{math.NaN(), math.Inf(1), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), map[string]any{"a": math.Inf(-1)}} {
		if _, err := json.Marshal(v); err == nil {
			t.Fatalf("json.Marshal(%v) should fail", v)
		}
		if _, err := jsonenc.Value(nil, v); err == nil {
			t.Errorf("%#v: no error, json.Marshal has one", v)
		}
	}
}

// TestMessageAndEffectAreMarshal holds Message and Effect to json.Marshal on values filled at
// random (every field set in some: a field added to tandem.Message or tandem.Effect and not
// here fails).
func TestMessageAndEffectAreMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 5000 {
		var m tandem.Message
		jsonenctest.Fill(r, &m)
		want, werr := json.Marshal(&m)
		got, gerr := jsonenc.Message(nil, &m)
		if (werr == nil) != (gerr == nil) || werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("message %d:\n got %s (%v)\nwant %s (%v)", i, got, gerr, want, werr)
		}
		var e tandem.Effect
		jsonenctest.Fill(r, &e)
		want, werr = json.Marshal(&e)
		got, gerr = jsonenc.Effect(nil, &e)
		if (werr == nil) != (gerr == nil) || werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("effect %d:\n got %s (%v)\nwant %s (%v)", i, got, gerr, want, werr)
		}
	}
}
