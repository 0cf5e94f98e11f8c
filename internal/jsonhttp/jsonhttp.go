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
	"slices"
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
		if strings.HasPrefix(err.Error(), "json: unknown field ") {
			if err := unknownField(data, v); err != nil {
				return err
			}
		}
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
	if valid && !bytes.Contains(data, []byte(`\u0000`)) && !hasSurrogateEscape(data) {
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
			if esc := loneSurrogate(data[start:end]); esc != "" {
				return tandem.Errorf(tandem.EINVALID, "%s: holds %s, half of a UTF-16 surrogate pair, which is no character; escape a character outside the BMP as a pair (\\ud83d\\ude00) or send it as UTF-8.", field, esc)
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

// hasSurrogateEscape reports whether data may hold a \u escape of a UTF-16 surrogate
// (\uD800 to \uDFFF): a quick look before the exact one.
func hasSurrogateEscape(data []byte) bool {
	for i := 0; i+2 < len(data); i++ {
		if data[i] == '\\' && data[i+1] == 'u' && (data[i+2] == 'd' || data[i+2] == 'D') {
			return true
		}
	}
	return false
}

// loneSurrogate returns the first \u escape of raw (a JSON string as written, quotes
// included) that is half of a surrogate pair without its other half — encoding/json turns it
// into U+FFFD silently — or "".
func loneSurrogate(raw []byte) string {
	escape := func(i int) (rune, bool) { // the \uXXXX at raw[i:], if any
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		var r rune
		for _, c := range raw[i+2 : i+6] {
			switch {
			case c >= '0' && c <= '9':
				r = r<<4 | rune(c-'0')
			case c >= 'a' && c <= 'f':
				r = r<<4 | rune(c-'a'+10)
			case c >= 'A' && c <= 'F':
				r = r<<4 | rune(c-'A'+10)
			default:
				return 0, false
			}
		}
		return r, true
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		r, ok := escape(i)
		if !ok {
			i++ // another escape (\\, \", \n...): skip the character it escapes
			continue
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			if low, ok := escape(i + 6); ok && low >= 0xDC00 && low <= 0xDFFF {
				i += 11
				continue
			}
			return string(raw[i : i+6])
		case r >= 0xDC00 && r <= 0xDFFF:
			return string(raw[i : i+6])
		}
		i += 5
	}
	return ""
}

// unknownField finds the first field of data (in key order, depth first) that v's type does
// not have, and names it with its path and the fields its object takes; nil when it finds none.
func unknownField(data []byte, v any) error {
	var doc any
	if json.Unmarshal(data, &doc) != nil {
		return nil
	}
	path, known, ok := findUnknown(doc, reflect.TypeOf(v), "")
	if !ok {
		return nil
	}
	where := "the body"
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		where = path[:i]
	}
	return tandem.Errorf(tandem.EINVALID, "%s: unknown field; %s takes %s.", path, where, strings.Join(known, ", "))
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// findUnknown walks a decoded document along the Go type it is read into.
func findUnknown(doc any, t reflect.Type, path string) (string, []string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return "", nil, false // the type reads itself
	}
	join := func(key string) string {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := doc.(map[string]any)
		if !ok {
			return "", nil, false
		}
		fields := jsonFields(t)
		var names []string
		for _, f := range fields {
			names = append(names, f.name)
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			i := slices.IndexFunc(fields, func(f jsonField) bool { return f.name == k })
			if i < 0 {
				i = slices.IndexFunc(fields, func(f jsonField) bool { return strings.EqualFold(f.name, k) })
			}
			if i < 0 {
				return join(k), names, true
			}
			if p, known, ok := findUnknown(obj[k], fields[i].typ, join(k)); ok {
				return p, known, true
			}
		}
	case reflect.Map:
		obj, ok := doc.(map[string]any)
		if !ok {
			return "", nil, false
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if p, known, ok := findUnknown(obj[k], t.Elem(), join(k)); ok {
				return p, known, true
			}
		}
	case reflect.Slice, reflect.Array:
		list, ok := doc.([]any)
		if !ok {
			return "", nil, false
		}
		for i, e := range list {
			if p, known, ok := findUnknown(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); ok {
				return p, known, true
			}
		}
	}
	return "", nil, false
}

type jsonField struct {
	name string
	typ  reflect.Type
}

// jsonFields lists the JSON fields of a struct type as encoding/json reads them: exported
// fields by their tag's name, the fields of embedded structs promoted.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				out = append(out, jsonFields(ft)...)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, jsonField{name, f.Type})
	}
	return out
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
