package flow

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// yamlErrLine reads the line and the message of a YAML parser error.
var yamlErrLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// YAMLError explains a YAML parser error of src as one sentence a person can act on, at the
// line where the mistake is: the parser reports where the block it was reading began (or the
// line before a tab), so the common mistakes — a tab, a line indented unlike its siblings, a
// colon or quote inside an unquoted text, a bracket or quote never closed — are found in src
// and named with what to change. Other errors keep the parser's words. Used for flows, the
// configuration and conversation tests alike.
func YAMLError(err error, src []byte) (line int, msg string) {
	raw := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlErrLine.FindStringSubmatch(raw); m != nil {
		line, _ = strconv.Atoi(m[1])
		raw = m[2]
	}
	lines := strings.Split(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n")
	text := func(n int) string {
		if n < 1 || n > len(lines) {
			return ""
		}
		return lines[n-1]
	}
	switch {
	case strings.Contains(raw, "tab character") || strings.Contains(raw, "cannot start any token") && tabIndented(text(line)):
		// The parser names the line before the tab, or the tab's own line: take the first line
		// from there that a tab indents.
		for n := max(1, line-1); n <= len(lines); n++ {
			if tabIndented(text(n)) {
				return n, "a tab indents this line; YAML indents with spaces only: replace the tab with spaces, aligned with the lines it belongs with"
			}
		}
		return line, "a tab is used for indentation; YAML indents with spaces only: replace it with spaces"
	case strings.Contains(raw, "cannot start any token"):
		if c := valueStart(text(line)); c != "" {
			return line, fmt.Sprintf("a value cannot start with %s; put the text in double quotes (\"%s...\")", c, c)
		}
	case strings.Contains(raw, "mapping values are not allowed"):
		l := text(line)
		if prev := previousContent(lines, line); prev > 0 && indentOf(l) > indentOf(text(prev)) && hasScalarValue(text(prev)) {
			return line, fmt.Sprintf("this line is indented more than line %d, which already has a value; align it with line %d, or put it under a key that ends with a colon", prev, prev)
		}
		if _, v, ok := strings.Cut(strings.TrimSpace(l), ": "); ok && strings.Contains(v, ": ") {
			return line, fmt.Sprintf("the text %q holds a colon followed by a space, which YAML reads as a new key; put the text in double quotes", strings.TrimSpace(v))
		}
		return line, "a colon followed by a space starts a key here, where none is allowed; quote the text that holds it, or check the indentation"
	case strings.Contains(raw, "did not find expected ',' or ']'") || strings.Contains(raw, "did not find expected ',' or '}'"):
		if open, ch := unclosedBracket(lines); open > 0 {
			return open, fmt.Sprintf("the %c opened on this line is never closed; close it, or put the text that holds it in quotes", ch)
		}
		// The parser names the line before the one that opens the collection.
		for n := max(1, line); n <= len(lines) && n <= line+1; n++ {
			if strings.ContainsAny(text(n), "[{") {
				line = n
				break
			}
		}
		return line, "inside [...] or {...}, items are separated by commas, and a text with a colon, comma, bracket or brace must be in quotes"
	case strings.Contains(raw, "unexpected end of stream") || strings.Contains(raw, "found unexpected end of"):
		if n := unclosedQuote(lines); n > 0 {
			return n, "the quote opened on this line is never closed; close it (a \" inside a double-quoted text is written \\\")"
		}
	case strings.Contains(raw, "did not find expected key") || strings.Contains(raw, "did not find expected '-' indicator") ||
		strings.Contains(raw, "block sequence entries are not allowed"):
		for n := max(1, line); n <= len(lines); n++ {
			if _, v, ok := keyValue(text(n)); ok && strings.HasPrefix(v, "{{") {
				return n, fmt.Sprintf("a value that starts with {{ must be in quotes: YAML reads braces as a map; write %q", v)
			}
		}
		if n, why := indentProblem(lines); n > 0 {
			return n, why
		}
		for n := max(1, line); n <= len(lines); n++ {
			if why := quoteProblem(text(n)); why != "" {
				return n, why
			}
		}
		return line, "the indentation is inconsistent around here: lines of one mapping or one list must start in the same column"
	case strings.Contains(raw, "could not find expected ':'"):
		return line, "this line is neither \"key: value\" nor a list item (\"- ...\"); add the colon after the key, or indent the line as the continuation of the text above"
	}
	return line, raw
}

func tabIndented(l string) bool {
	for _, c := range l {
		switch c {
		case ' ':
		case '\t':
			return true
		default:
			return false
		}
	}
	return false
}

func indentOf(l string) int { return len(l) - len(strings.TrimLeft(l, " ")) }

// isContent reports whether a line holds YAML (not blank, not a comment).
func isContent(l string) bool {
	t := strings.TrimSpace(l)
	return t != "" && !strings.HasPrefix(t, "#")
}

// previousContent returns the number of the content line before line n (0: none).
func previousContent(lines []string, n int) int {
	for p := n - 1; p >= 1; p-- {
		if isContent(lines[p-1]) {
			return p
		}
	}
	return 0
}

// keyValue splits a "key: value" line (after any "- "), false when it is not one.
func keyValue(l string) (key, value string, ok bool) {
	t := strings.TrimSpace(l)
	t = strings.TrimSpace(strings.TrimPrefix(t, "- "))
	if strings.HasPrefix(t, "\"") || strings.HasPrefix(t, "'") || strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		return "", "", false
	}
	if strings.HasSuffix(t, ":") {
		return strings.TrimSuffix(t, ":"), "", true
	}
	k, v, ok := strings.Cut(t, ": ")
	if !ok || strings.ContainsAny(k, " \t") && !strings.Contains(k, "\"") {
		return "", "", false
	}
	return k, strings.TrimSpace(v), true
}

// hasScalarValue reports whether a line is "key: value" with a value on the line (not a block
// that continues below).
func hasScalarValue(l string) bool {
	_, v, ok := keyValue(l)
	if !ok || v == "" || strings.HasPrefix(v, "#") {
		return false
	}
	return !strings.HasPrefix(v, "|") && !strings.HasPrefix(v, ">") && !strings.HasPrefix(v, "&")
}

// valueStart returns the character that starts a line's value when YAML reserves it.
func valueStart(l string) string {
	_, v, ok := keyValue(l)
	if !ok {
		v = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "- "))
	}
	if v != "" && strings.ContainsRune("@`%", rune(v[0])) {
		return v[:1]
	}
	return ""
}

// unclosedBracket returns the line and the bracket of the last [ or { never closed (outside
// quotes and comments), or 0.
func unclosedBracket(lines []string) (int, rune) {
	type open struct {
		line int
		ch   rune
	}
	var stack []open
	for i, l := range lines {
		quote := rune(0)
		for j, c := range l {
			switch {
			case quote != 0:
				if c == quote && (quote == '\'' || j == 0 || l[j-1] != '\\') {
					quote = 0
				}
			case c == '"' || c == '\'':
				if j == 0 || strings.ContainsRune(" \t[{,:", rune(l[j-1])) {
					quote = c
				}
			case c == '#' && (j == 0 || l[j-1] == ' '):
				goto next
			case c == '[' || c == '{':
				stack = append(stack, open{i + 1, c})
			case c == ']' || c == '}':
				if len(stack) > 0 {
					stack = stack[:len(stack)-1]
				}
			}
		}
	next:
	}
	if len(stack) == 0 {
		return 0, 0
	}
	return stack[len(stack)-1].line, stack[len(stack)-1].ch
}

// unclosedQuote returns the first line whose value opens a double quote it does not close.
func unclosedQuote(lines []string) int {
	for i, l := range lines {
		_, v, ok := keyValue(l)
		if !ok {
			v = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "- "))
		}
		if !strings.HasPrefix(v, "\"") {
			continue
		}
		closed := false
		for j := 1; j < len(v); j++ {
			if v[j] == '\\' {
				j++
				continue
			}
			if v[j] == '"' {
				closed = true
				break
			}
		}
		if !closed {
			return i + 1
		}
	}
	return 0
}

// quoteProblem explains a value that starts quoted and goes on after its closing quote.
func quoteProblem(l string) string {
	_, v, ok := keyValue(l)
	if !ok || v == "" || (v[0] != '"' && v[0] != '\'') {
		return ""
	}
	q := v[0]
	for j := 1; j < len(v); j++ {
		switch {
		case q == '"' && v[j] == '\\':
			j++
		case v[j] == q && q == '\'' && j+1 < len(v) && v[j+1] == '\'':
			j++ // '' is a quote inside a single-quoted text
		case v[j] == q:
			rest := strings.TrimSpace(v[j+1:])
			if rest == "" || strings.HasPrefix(rest, "#") {
				return ""
			}
			if q == '\'' {
				return "the single-quoted text ends at its second '; write a quote inside it as '' ('it''s'), or use double quotes"
			}
			return "text goes on after the closing quote; put the whole text inside the quotes"
		}
	}
	return ""
}

// frame is one open block of the indentation model: a mapping's keys or a list's items, at a
// column.
type frame struct {
	indent int
	list   bool
	// shared: a list written at its parent key's column (key:\n- item), which YAML allows.
	shared bool
}

// indentProblem walks the block structure of a document by its indentation and returns the
// first line that starts in a column no block allows, with why; 0 when it finds none (or meets
// flow collections or multi-line texts it does not model).
func indentProblem(lines []string) (int, string) {
	var stack []frame
	opens := true // the previous line ends with a key whose value is a block below
	prev := 0
	scalarIndent := -1 // inside a block scalar (| or >) deeper than this column
	for i, l := range lines {
		n := i + 1
		if !isContent(l) {
			continue
		}
		ind := indentOf(l)
		if scalarIndent >= 0 {
			if ind > scalarIndent {
				continue
			}
			scalarIndent = -1
		}
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") || strings.HasPrefix(t, "\"") || strings.HasPrefix(t, "'") {
			return 0, "" // flow collections and quoted keys: not modelled
		}
		item := t == "-" || strings.HasPrefix(t, "- ")
		if strings.HasPrefix(t, "-") && !item && !strings.HasPrefix(t, "---") {
			return n, "a list item needs a space after its dash: write \"- " + strings.TrimPrefix(t, "-") + "\""
		}
		open := columns(stack)
		popped := false
		for len(stack) > 0 && stack[len(stack)-1].indent > ind {
			stack = stack[:len(stack)-1]
			popped = true
		}
		top := func() *frame {
			if len(stack) == 0 {
				return nil
			}
			return &stack[len(stack)-1]
		}
		switch f := top(); {
		case f == nil || f.indent < ind:
			if f != nil && (popped || !opens) {
				if popped {
					return n, fmt.Sprintf("this line starts in column %d, which matches no line above it; indent it like the lines it belongs with (%s)", ind+1, open)
				}
				return n, fmt.Sprintf("this line is indented more than line %d, which already has a value; align it with line %d, or end line %d with a colon to open a block", prev, prev, prev)
			}
			stack = append(stack, frame{indent: ind, list: item})
		case f.list && !item:
			if f.shared {
				stack = stack[:len(stack)-1] // the next key of the mapping that holds the list
				break
			}
			return n, fmt.Sprintf("this line is a key in the column of the list above it (column %d); start a new item with \"- \", or indent it under the item (column %d)", ind+1, ind+3)
		case !f.list && item:
			if opens {
				stack = append(stack, frame{indent: ind, list: true, shared: true})
				break
			}
			return n, fmt.Sprintf("a list item cannot follow the keys of a mapping in the same column (%d); indent the list under a key that ends with a colon", ind+1)
		}
		// The line's own content: an item's key opens a mapping one column past the dash.
		content, contentInd := t, ind
		if item {
			content = strings.TrimSpace(strings.TrimPrefix(t, "-"))
			contentInd = ind + (len(t) - len(content))
			if content != "" {
				if _, _, ok := keyValue(content); ok {
					stack = append(stack, frame{indent: contentInd})
				}
			}
		}
		k, v, ok := keyValue(content)
		switch {
		case content == "" && item:
			opens = true
		case !ok:
			if !item {
				return 0, "" // a plain text going on over several lines: not modelled
			}
			opens = false
		case v == "" || strings.HasPrefix(v, "#") || strings.HasPrefix(v, "&"):
			opens = true
		case strings.HasPrefix(v, "|") || strings.HasPrefix(v, ">"):
			scalarIndent, opens = contentInd, false
		case strings.HasPrefix(v, "[") || strings.HasPrefix(v, "{"):
			if b, _ := unclosedBracket([]string{v}); b > 0 {
				return 0, "" // a flow collection over several lines: not modelled
			}
			opens = false
		default:
			opens = false
		}
		_ = k
		prev = n
	}
	return 0, ""
}

// columns lists the columns of the open blocks, for a message: "column 1, 3 or 5".
func columns(stack []frame) string {
	var cols []string
	for _, f := range stack {
		if c := strconv.Itoa(f.indent + 1); len(cols) == 0 || cols[len(cols)-1] != c {
			cols = append(cols, c)
		}
	}
	switch len(cols) {
	case 0:
		return "column 1"
	case 1:
		return "column " + cols[0]
	}
	return "column " + strings.Join(cols[:len(cols)-1], ", ") + " or " + cols[len(cols)-1]
}
