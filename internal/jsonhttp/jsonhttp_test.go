package jsonhttp_test

import (
	"strings"
	"testing"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/jsonhttp"
)

type body struct {
	Contact struct {
		Name       string         `json:"name"`
		Attributes map[string]any `json:"attributes"`
	} `json:"contact"`
	Message struct {
		Text string `json:"text"`
	} `json:"message"`
	Items []string `json:"items"`
	N     int      `json:"n"`
}

// A body is one JSON object and nothing else; its text is UTF-8 without NUL; every refusal is
// 400 naming the field or the fault.
func TestDecodeBytes(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, data, want string // want: "" to accept, else a substring of the message
	}{
		{"object", `{"message": {"text": "hello"}}`, ""},
		{"whitespace around", " \n{\"n\": 1}\n\t ", ""},
		{"a U+FFFD written as such", `{"message": {"text": "\ufffd ok"}}`, ""},
		{"a literal backslash-u0000", `{"message": {"text": "\\u0000"}}`, ""},
		{"stray brace after", `{"n": 1}}`, "after its JSON object"},
		{"stray bracket after", `{"n": 1}]`, "after its JSON object"},
		{"two objects", `{"n": 1}{"n": 2}`, "after its JSON object"},
		{"garbage after", `{"n": 1} x`, "after its JSON object"},
		{"null", `null`, "must be a JSON object"},
		{"list", `[]`, "must be a JSON object"},
		{"list of objects", `[{"n": 1}]`, "must be a JSON object"},
		{"string", `"hi"`, "must be a JSON object"},
		{"number", `42`, "must be a JSON object"},
		{"empty", ``, "empty"},
		{"null field object", `{"message": []}`, "message: expected a JSON object, got array"},
		{"wrong scalar", `{"n": "x"}`, "n: expected a whole number, got string"},
		{"invalid UTF-8 in a value", "{\"message\": {\"text\": \"caf\xe9\"}}", "message.text: not valid UTF-8"},
		{"invalid UTF-8 deep", "{\"contact\": {\"attributes\": {\"city\": [\"ok\", \"\xff\"]}}}", "contact.attributes.city[1]: not valid UTF-8"},
		{"invalid UTF-8 in a key", "{\"contact\": {\"attributes\": {\"c\xffity\": 1}}}", "not valid UTF-8"},
		{"NUL escaped", `{"message": {"text": "a\u0000b"}}`, "message.text: contains a NUL"},
		{"NUL in a list", `{"items": ["a", "b\u0000"]}`, "items[1]: contains a NUL"},
		{"NUL raw", "{\"message\": {\"text\": \"a\x00b\"}}", "not valid JSON"},
		// A \u escape of half a UTF-16 pair is no character: encoding/json replaced it with
		// U+FFFD silently.
		{"lone high surrogate", `{"message": {"text": "a\ud800b"}}`, "message.text: holds \\ud800, half of a UTF-16 surrogate pair"},
		{"lone low surrogate", `{"message": {"text": "a\uDC00"}}`, "message.text: holds \\uDC00, half of a UTF-16 surrogate pair"},
		{"high surrogate at the end", `{"items": ["ok", "\ud83d"]}`, "items[1]: holds \\ud83d"},
		{"reversed pair", `{"message": {"text": "\ude00\ud83d"}}`, "message.text: holds \\ude00"},
		{"lone surrogate in a key", `{"contact": {"attributes": {"a\ud800": 1}}}`, "(a key): holds \\ud800"},
		{"a pair is a character", `{"message": {"text": "\ud83d\ude00 \uD83D\uDE00"}}`, ""},
		{"an escaped backslash before ud800", `{"message": {"text": "\\ud800"}}`, ""},
		{"other escapes of the range", `{"message": {"text": "\ud7ff \ue000"}}`, ""},
		{"unknown field", `{"nope": 1}`, "nope: unknown field; the body takes contact, message, items, n."},
		{"unknown field inside", `{"contact": {"name": "Ana", "id": "u-1"}}`, "contact.id: unknown field; contact takes name, attributes."},
		{"field names ignore case", `{"Contact": {"NAME": "Ana"}, "N": 1}`, ""},
		{"attributes take any key", `{"contact": {"attributes": {"id": 1}}, "message": {"txt": "hi"}}`, "message.txt: unknown field; message takes text."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b body
			err := jsonhttp.DecodeBytes([]byte(tt.data), &b)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if tandem.ErrorCode(err) != tandem.EINVALID || !strings.Contains(tandem.ErrorMessage(err), tt.want) {
				t.Errorf("error %v, want invalid with %q", err, tt.want)
			}
		})
	}
}

// FuzzDecodeBytes: whatever the bytes, decoding answers a value or a tandem.Error, never panics,
// and never lets a NUL or invalid UTF-8 into a decoded text.
func FuzzDecodeBytes(f *testing.F) {
	for _, s := range []string{`{"message": {"text": "hi"}}`, `{"items": ["a\u0000"]}`, "{\"contact\": {\"name\": \"\xff\"}}", `null`, `{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var b body
		if err := jsonhttp.DecodeBytes(data, &b); err != nil {
			if tandem.ErrorCode(err) == tandem.EINTERNAL {
				t.Fatalf("not a tandem.Error: %v", err)
			}
			return
		}
		for _, s := range append([]string{b.Contact.Name, b.Message.Text}, b.Items...) {
			if strings.ContainsRune(s, 0) || strings.ContainsRune(s, '\uFFFD') && !strings.Contains(string(data), `\ufffd`) && !strings.Contains(string(data), "\uFFFD") && !strings.Contains(strings.ToLower(string(data)), `\ud`) {
				t.Fatalf("decoded text %q from %q", s, data)
			}
		}
	})
}

// BenchmarkDecodeBytes is the API channel's body read: the checks of a valid body cost a scan.
func BenchmarkDecodeBytes(b *testing.B) {
	data := []byte(`{"contact": {"name": "Ana Souza", "attributes": {"plan": "gold"}}, "message": {"text": "Where is my order 12345? It was due yesterday."}, "items": ["a", "b"]}`)
	b.ReportAllocs()
	for b.Loop() {
		var v body
		if err := jsonhttp.DecodeBytes(data, &v); err != nil {
			b.Fatal(err)
		}
	}
}
