// Package jsonenctest fills values at random, for the tests that hold a hand-written JSON
// encoder to json.Marshal: every exported field of a struct is set in some of the values, so a
// field added to a type and not to its encoder fails them.
package jsonenctest

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"time"
)

// Strings are the strings the values take: escapes, HTML, invalid UTF-8, line separators.
var Strings = []string{"", "a", "ask", "Order 42 is shipped. Another one?", `quote " and \ backslash`,
	"<b>&amp;</b>", "tab\tnew\nline\r\x00\x01\x1f\x7f", "é ü 中文 🙂", "bad \xff\xfe utf-8", "\u2028 and \u2029",
	"01M98GEKDY64JZF12HR01N159K", "café"}

// Fill sets *p (p a pointer) at random: pointers, slices and maps are nil, empty or hold a few
// elements; an `any` holds a generic value (Generic).
func Fill(r *rand.Rand, p any) {
	fill(r, reflect.ValueOf(p).Elem(), 0)
}

func fill(r *rand.Rand, v reflect.Value, depth int) {
	if depth > 6 {
		return
	}
	if v.Type() == reflect.TypeFor[time.Time]() {
		v.Set(reflect.ValueOf(Time(r)))
		return
	}
	if v.Type() == reflect.TypeFor[json.RawMessage]() {
		if r.IntN(2) == 0 {
			v.SetBytes([]byte(`{"raw":[1,2]}`))
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(Strings[r.IntN(len(Strings))])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if r.IntN(3) > 0 {
			v.SetInt(int64(r.IntN(200) - 50))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if r.IntN(3) > 0 {
			v.SetUint(uint64(r.IntN(200)))
		}
	case reflect.Float32, reflect.Float64:
		v.SetFloat(Float(r))
	case reflect.Pointer:
		if r.IntN(3) == 0 {
			return
		}
		e := reflect.New(v.Type().Elem())
		fill(r, e.Elem(), depth+1)
		v.Set(e)
	case reflect.Slice:
		switch r.IntN(4) {
		case 0:
			return
		case 1:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			return
		}
		n := 1 + r.IntN(3)
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(r, s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		switch r.IntN(4) {
		case 0:
			return
		case 1:
			v.Set(reflect.MakeMap(v.Type()))
			return
		}
		m := reflect.MakeMap(v.Type())
		for range 1 + r.IntN(4) {
			k := reflect.New(v.Type().Key()).Elem()
			fill(r, k, depth+1)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(r, e, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Interface:
		if g := Generic(r, depth); g != nil {
			v.Set(reflect.ValueOf(g))
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(r, v.Field(i), depth+1)
			}
		}
	}
}

// Time is a time at random: zero, UTC, or in a zone of its own, with or without nanoseconds.
func Time(r *rand.Rand) time.Time {
	switch r.IntN(5) {
	case 0:
		return time.Time{}
	case 1:
		return time.Date(2026, 12, 7, 15, 2, 51, 0, time.UTC)
	case 2:
		return time.Date(2026, 12, 7, 15, 2, 51, 857463868, time.FixedZone("", 2*3600+30*60))
	}
	return time.Unix(1_700_000_000+int64(r.IntN(1e8)), int64(r.IntN(1e9))).UTC()
}

// Float is a float at random, from those that encoding/json writes with an exponent to
// integers and negative zero.
func Float(r *rand.Rand) float64 {
	fs := []float64{0, 1, -1, 42, 0.5, 1e-7, 1.5e-6, 123456.789, 1e20, 1e21, 3e22, -2.5e-9, 200, 1.0 / 3}
	f := fs[r.IntN(len(fs))]
	if r.IntN(8) == 0 {
		f = -f
	}
	return f
}

// Generic is a value as a flow's variables and outputs hold it: decoded JSON, the Go values
// the engine puts there (ints, string maps and slices, times), or a struct.
func Generic(r *rand.Rand, depth int) any {
	if depth > 5 {
		return Strings[r.IntN(len(Strings))]
	}
	switch r.IntN(18) {
	case 0:
		return nil
	case 1, 2:
		return Strings[r.IntN(len(Strings))]
	case 3:
		return r.IntN(2) == 0
	case 4:
		return Float(r)
	case 5:
		return float32(Float(r))
	case 6:
		return r.IntN(1000) - 500
	case 7:
		return int64(r.IntN(1 << 30))
	case 8, 9:
		m := map[string]any{}
		if r.IntN(6) == 0 {
			m = nil
		}
		for range r.IntN(5) {
			if m == nil {
				break
			}
			m[Strings[r.IntN(len(Strings))]] = Generic(r, depth+1)
		}
		return m
	case 10:
		var s []any
		for range r.IntN(4) {
			s = append(s, Generic(r, depth+1))
		}
		return s
	case 11:
		m := map[string]string{}
		for range r.IntN(4) {
			m[Strings[r.IntN(len(Strings))]] = Strings[r.IntN(len(Strings))]
		}
		return m
	case 12:
		var s []string
		for range r.IntN(4) {
			s = append(s, Strings[r.IntN(len(Strings))])
		}
		return s
	case 13:
		s := []map[string]any{}
		for range r.IntN(3) {
			m, _ := Generic(r, depth+1).(map[string]any)
			s = append(s, m)
		}
		return s
	case 14:
		return Time(r)
	case 15:
		return json.Number("12.50")
	case 16:
		return uint64(r.IntN(1 << 20))
	}
	return struct {
		A string `json:"a"`
		B int    `json:"b,omitempty"`
	}{Strings[r.IntN(len(Strings))], r.IntN(3)}
}
