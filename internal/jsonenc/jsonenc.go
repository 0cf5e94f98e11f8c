// Package jsonenc writes JSON by hand for the values a turn stores: the maps, slices and scalars
// a flow's variables and outputs hold, strings and times. Its output is byte for byte what
// encoding/json's Marshal writes for the same value (HTML characters escaped, map keys sorted,
// floats as ES6 numbers); values of any other type are handed to Marshal. encoding/json finds
// its way through a map[string]any by reflection, sorts copies of its keys and looks an
// encoder up for each value: three to five times the work of a W1 turn's state written here.
package jsonenc

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Value appends v's JSON to b, as json.Marshal(v) writes it.
func Value(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return String(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case float64:
		return Float(b, v, 64)
	case float32:
		return Float(b, float64(v), 32)
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case map[string]any:
		return Map(b, v)
	case []any:
		return list(b, v, Value)
	case map[string]string:
		if v == nil {
			return append(b, "null"...), nil
		}
		var small [16]string
		b = append(b, '{')
		for i, k := range sortedKeys(v, small[:0]) {
			if i > 0 {
				b = append(b, ',')
			}
			b = String(b, k)
			b = append(b, ':')
			b = String(b, v[k])
		}
		return append(b, '}'), nil
	case []string:
		return Strings(b, v), nil
	case []map[string]any:
		return list(b, v, Map)
	case time.Time:
		return Time(b, v)
	}
	return Marshal(b, v)
}

// Marshal appends json.Marshal(v) to b: for the values this package does not write itself.
func Marshal(b []byte, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, data...), nil
}

// Map appends a map[string]any's JSON to b: null when nil, its keys in order.
func Map(b []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	var small [16]string
	b = append(b, '{')
	for i, k := range sortedKeys(m, small[:0]) {
		if i > 0 {
			b = append(b, ',')
		}
		b = String(b, k)
		b = append(b, ':')
		var err error
		if b, err = Value(b, m[k]); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// Strings appends a []string's JSON to b: null when nil.
func Strings(b []byte, s []string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, e := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = String(b, e)
	}
	return append(b, ']')
}

// Time appends t as time.Time's MarshalJSON writes it (RFC 3339 with nanoseconds).
func Time(b []byte, t time.Time) ([]byte, error) {
	n := len(b)
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return b[:n], err
	}
	return append(b, '"'), nil
}

// errFloat is a float JSON cannot hold. The errors of this package only say that the value is
// not JSON: a caller that needs encoding/json's own error hands the value to it.
var errFloat = errors.New("json: unsupported value: NaN or infinity")

// Float appends f as encoding/json writes a float of that many bits: like %g, with the
// exponent past 1e21 or under 1e-6, not padded.
func Float(b []byte, f float64, bits int) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, errFloat
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// Key appends a struct field's name and its colon, with the comma before it unless first.
func Key(b []byte, name string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

const hex = "0123456789abcdef"

// String appends s as a JSON string, as encoding/json escapes it: the control characters, the
// quote and the backslash, and <, > and & (HTML), invalid UTF-8 as U+FFFD, and U+2028 and
// U+2029.
func String(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// safe holds the ASCII bytes written as they are: all but the control characters, the quote,
// the backslash, <, > and &.
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// sortedKeys appends m's keys to keys, in order (encoding/json writes a map's keys sorted).
func sortedKeys[V any](m map[string]V, keys []string) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// list appends a slice's JSON to b, each element written by elem: null when nil.
func list[T any](b []byte, v []T, elem func([]byte, T) ([]byte, error)) ([]byte, error) {
	if v == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '[')
	for i, e := range v {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = elem(b, e); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}
