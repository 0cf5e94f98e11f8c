// Package jsonhttp reads and writes the JSON bodies of Tandem's HTTP routes, the same way for
// the API server and for the channels' routes: decoding refuses unknown fields and names the
// field at fault in a tandem.Error (EINVALID, or ETOOLARGE past the body limit).
package jsonhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/tandemchat/tandem"
)

// Write answers with status and v as JSON (HTML characters not escaped).
func Write(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// Decode reads r's body, which must be one JSON object, into v: see DecodeBytes.
func Decode(r *http.Request, v any) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return DecodeError(err)
	}
	return DecodeBytes(data, v)
}

// DecodeBytes reads data, which must be one JSON object and nothing after it, into v, refusing
// unknown fields, and text that is not valid UTF-8 or holds a NUL character (naming the field:
// encoding/json would replace the bytes silently).
func DecodeBytes(data []byte, v any) error {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return tandem.Errorf(tandem.EINVALID, "The request body is empty; send a JSON object.")
	}
	if trimmed[0] != '{' {
		return tandem.Errorf(tandem.EINVALID, "The body must be a JSON object ({...}), not %s.", describe(trimmed))
	}
	if err := badText(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return DecodeError(err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		what := "more JSON"
		if err == nil {
			what = fmt.Sprintf("%v", tok)
		}
		return tandem.Errorf(tandem.EINVALID, "The body holds %s after its JSON object (at byte %d); send one JSON object.", what, dec.InputOffset())
	}
	return nil
}

// describe names the kind of JSON value data starts with.
func describe(data []byte) string {
	switch data[0] {
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 'n':
		return "null"
	case 't', 'f':
		return "true or false"
	}
	if data[0] == '-' || data[0] >= '0' && data[0] <= '9' {
		return "a number"
	}
	return "something else"
}

// badText finds a string of data (a key or a value) that is not valid UTF-8 or holds a NUL,
// and names its field. Bodies without either pass at the cost of one scan.
func badText(data []byte) error {
	valid := utf8.Valid(data)
	if valid && !bytes.Contains(data, []byte(`\u0000`)) {
		return nil
	}
	bad := -1
	if !valid {
		for i := 0; i < len(data); {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n <= 1 {
				bad = i
				break
			}
			i += n
		}
	}
	type frame struct {
		obj     bool
		key     string
		idx     int
		wantKey bool
	}
	var stack []frame
	path := func(key string) string {
		var b strings.Builder
		for _, f := range stack {
			if f.obj {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				fmt.Fprintf(&b, "[%d]", f.idx)
			}
		}
		if key != "" {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(key)
		}
		if b.Len() == 0 {
			return "body"
		}
		return b.String()
	}
	next := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].obj {
				stack[n-1].wantKey = true
			} else {
				stack[n-1].idx++
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			break // the end, or a syntax error the decoding reports
		}
		end := dec.InputOffset()
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, frame{obj: true, wantKey: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:len(stack)-1]
				next()
			}
			continue
		}
		s, isString := tok.(string)
		field := ""
		key := len(stack) > 0 && stack[len(stack)-1].obj && stack[len(stack)-1].wantKey
		if key {
			field = path(s) + " (a key)"
		} else {
			field = path("")
		}
		if isString {
			if bad >= int(start) && bad < int(end) {
				return tandem.Errorf(tandem.EINVALID, "%s: not valid UTF-8 (at byte %d); send text encoded as UTF-8.", field, bad)
			}
			if strings.IndexByte(s, 0) >= 0 {
				return tandem.Errorf(tandem.EINVALID, "%s: contains a NUL character (\\u0000), which no text may hold.", field)
			}
		}
		if key {
			stack[len(stack)-1].key = s
			stack[len(stack)-1].wantKey = false
		} else {
			next()
		}
	}
	if bad >= 0 {
		return tandem.Errorf(tandem.EINVALID, "The body is not valid UTF-8 (at byte %d); send JSON encoded as UTF-8.", bad)
	}
	return nil
}

// DecodeError turns an encoding/json error into a tandem.Error that names the field.
func DecodeError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case IsMaxBytes(err):
		return tandem.Errorf(tandem.ETOOLARGE, "The request body is too large.")
	case errors.Is(err, io.EOF):
		return tandem.Errorf(tandem.EINVALID, "The request body is empty; send a JSON object.")
	case errors.As(err, &syn):
		return tandem.Errorf(tandem.EINVALID, "The body is not valid JSON (at byte %d): %s.", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
	case errors.As(err, &typ):
		return tandem.Errorf(tandem.EINVALID, "%s: expected %s, got %s.", fieldName(typ.Field), kindName(typ.Type), typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return tandem.Errorf(tandem.EINVALID, "%s: unknown field.", strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return tandem.Errorf(tandem.EINVALID, "The body is not valid JSON: it ends too early.")
	}
	return tandem.Errorf(tandem.EINVALID, "The body is not valid JSON: %s.", strings.TrimPrefix(err.Error(), "json: "))
}

// kindName says what JSON a Go type is read from.
func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a JSON object"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}

func fieldName(f string) string {
	if f == "" {
		return "body"
	}
	return f
}

// Invalid returns a 400 error naming a field.
func Invalid(field, format string, args ...any) error {
	return tandem.Errorf(tandem.EINVALID, "%s: %s", field, fmt.Sprintf(format, args...))
}

// IsMaxBytes reports whether err comes from a body longer than http.MaxBytesReader allows.
func IsMaxBytes(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}
