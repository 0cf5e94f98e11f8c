package desk

import (
	"encoding/json"
	"testing"
)

// An ID reads strings and numbers alike, keeps the digits of numbers above 2^53, and never
// fails a payload over an id of another shape.
func TestID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		`"363"`: "363", `363`: "363", `9007199254740993`: "9007199254740993", `"9007199254740993"`: "9007199254740993",
		`"6657a1b2c3d4e5f6a7b8c9d0"`: "6657a1b2c3d4e5f6a7b8c9d0", `null`: "", `{"a":1}`: "", `true`: "", `[1]`: "", `" 7 "`: "7",
	} {
		var v struct {
			ID ID `json:"id"`
		}
		if err := json.Unmarshal([]byte(`{"id":`+in+`}`), &v); err != nil || string(v.ID) != want {
			t.Errorf("%s: %q, %v; want %q", in, v.ID, err, want)
		}
	}
	if n, ok := ID("3000000118").Int(); !ok || n != 3000000118 {
		t.Errorf("Int: %d %v", n, ok)
	}
	var v struct{ A, B, C Number }
	if err := json.Unmarshal([]byte(`{"a":3000000118,"b":"118","c":"x"}`), &v); err != nil || v.A != 3000000118 || v.B != 118 || v.C != 0 {
		t.Errorf("Number: %+v %v", v, err)
	}
	if _, ok := ID("abc").Int(); ok {
		t.Error(`ID("abc").Int() is a number`)
	}
}
