package flow

import (
	"strings"
	"testing"
)

// The usual YAML mistakes are reported at the line that has them, with what to change; the
// parser alone reports the line where the enclosing block began, or the line before a tab.
func TestYAMLErrors(t *testing.T) {
	t.Parallel()
	const head = "format: 1\nid: x\nsteps:\n"
	tests := []struct {
		name string
		src  string
		line int
		want string // a part of the message
	}{
		{"a tab on line 7 (the parser says 6)", head + "  - id: a\n    type: message\n    text: hi\n\t  next: end\n", 7, "a tab indents this line; YAML indents with spaces only"},
		{"a tab at the first level", head + "\t- id: a\n", 4, "a tab indents this line"},
		{"a tab deep in a list", head + "  - id: a\n    type: message\n  - id: b\n    type: message\n\t\ttext: x\n", 8, "a tab indents this line"},
		{"a key indented less than its siblings", head + "  - id: a\n    type: message\n   text: hi\n", 6, "starts in column 4, which matches no line above it; indent it like the lines it belongs with (column 1, 3 or 5)"},
		{"an item indented unlike the list", head + "  - id: a\n    type: message\n   - id: b\n", 6, "starts in column 4"},
		{"a key indented more than the line above", head + "  - id: a\n    type: message\n      text: hi\n", 6, "indented more than line 5, which already has a value"},
		{"a key in the column of the list", head + "  - id: a\n    type: message\n  text: hi\n", 6, `a key in the column of the list above it (column 3); start a new item with "- ", or indent it under the item (column 5)`},
		{"a list item among a mapping's keys", head + "  - id: a\n    type: message\n    - text: hi\n", 6, "a list item cannot follow the keys of a mapping in the same column (5)"},
		{"a dash without a space", head + "  -id: a\n  - id: b\n", 4, `a list item needs a space after its dash: write "- id: a"`},
		{"an unquoted colon in a text", head + "  - id: a\n    type: message\n    text: Note: this is it\n", 6, `the text "Note: this is it" holds a colon followed by a space, which YAML reads as a new key; put the text in double quotes`},
		{"a text after its closing quote", head + "  - id: a\n    type: message\n    text: \"hi\" there\n", 6, "text goes on after the closing quote"},
		{"an apostrophe in a single-quoted text", "format: 1\nid: x\nname: 'it's'\nsteps: []\n", 3, "write a quote inside it as ''"},
		{"a quote never closed", head + "  - id: a\n    text: \"hi\n    type: message\n", 5, "the quote opened on this line is never closed"},
		{"a bracket never closed", head[:len(head)-1] + " [\n  {id: a, type: message, text: hi}\n", 3, "the [ opened on this line is never closed"},
		{"a colon inside braces", head + "  - {id: a, type: message, text: Hello: you}\n", 4, "a text with a colon, comma, bracket or brace must be in quotes"},
		{"a value starting with a reserved character", "format: 1\nid: x\nname: @acme\nsteps: []\n", 3, `a value cannot start with @; put the text in double quotes ("@...")`},
		{"a template starting a value, with more text", head + "  - id: a\n    type: message\n    text: {{contact.name}}, hi\n", 6, `a value that starts with {{ must be in quotes: YAML reads braces as a map; write "{{contact.name}}, hi"`},
		{"a line without a colon", head + "  - id: a\n    type message\n", 5, `neither "key: value" nor a list item`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, findings := Parse("f.yaml", []byte(tt.src))
			if f != nil || len(findings) != 1 {
				t.Fatalf("Parse = %v, %v; want one error", f, findings)
			}
			got := findings[0]
			if got.Line != tt.line || !strings.Contains(got.Message, tt.want) || !strings.HasPrefix(got.Message, "the document is not valid YAML or JSON: ") {
				t.Errorf("line %d: %s\nwant line %d: ...%s", got.Line, got.Message, tt.line, tt.want)
			}
		})
	}
}

// A template alone as a value parses as a map: the schema's finding says to quote it.
func TestUnquotedTemplate(t *testing.T) {
	t.Parallel()
	_, findings := Parse("f.yaml", []byte("format: 1\nid: x\nsteps:\n  - id: a\n    type: message\n    text: {{contact.name}}\n"))
	want := `f.yaml:6: error: step "a" field "text": expected text, a number or true or false, got a map: YAML reads {...} as a map, so a text that starts with { or {{ must be in quotes ("{{contact.name}}, hi")`
	if len(findings) != 1 || findings[0].String() != want {
		t.Errorf("findings %v\nwant %s", findings, want)
	}
}

// The explanation is for the common cases; a document the model cannot follow keeps the
// parser's line and words rather than a wrong guess.
func TestYAMLErrorsFallBack(t *testing.T) {
	t.Parallel()
	_, findings := Parse("f.yaml", []byte("format: 1\nid: x\nsteps: *nowhere\n"))
	if len(findings) != 1 || !strings.Contains(findings[0].Message, "unknown anchor") {
		t.Errorf("findings %v, want the parser's words about the anchor", findings)
	}
}

// FuzzYAMLError: any document the parser refuses gets an explanation without a panic, at a line
// of the document.
func FuzzYAMLError(f *testing.F) {
	for _, s := range []string{"a:\n\tb: 1\n", "a: [\n", "a: \"b\n", "- a\n b: c\n", "a: b: c\n", "x:\n  - a: 1\n   b: 2\n", "a: 'it's'\n", "a: {{b}}, c\n", "-a\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		_, _, err := decodeYAML([]byte(src))
		if err == nil {
			return
		}
		line, msg := YAMLError(err, []byte(src))
		if msg == "" || line < 0 || line > strings.Count(src, "\n")+2 {
			t.Errorf("YAMLError(%q) = %d, %q", src, line, msg)
		}
	})
}
