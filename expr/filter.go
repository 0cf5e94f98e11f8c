package expr

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type filterCall struct {
	name string
	args []any
}

// Filters lists the template filters and how many arguments each takes (min, max).
var Filters = map[string][2]int{
	"default":    {1, 1},
	"upper":      {0, 0},
	"lower":      {0, 0},
	"trim":       {0, 0},
	"json":       {0, 0},
	"urlencode":  {0, 0},
	"truncate":   {1, 1},
	"capitalize": {0, 0},
	"length":     {0, 0},
	"join":       {0, 1},
	"replace":    {2, 2},
	"first":      {0, 0},
	"last":       {0, 0},
}

func parseFilter(src string) (filterCall, error) {
	src = strings.TrimSpace(src)
	name, argsrc, hasArgs := strings.Cut(src, ":")
	name = strings.TrimSpace(name)
	arity, ok := Filters[name]
	if !ok {
		return filterCall{}, fmt.Errorf("unknown filter %q (known: default, upper, lower, trim, json, urlencode, truncate, capitalize, length, join, replace, first, last)", name)
	}
	fc := filterCall{name: name}
	if hasArgs {
		args, err := parseArgs(argsrc)
		if err != nil {
			return filterCall{}, fmt.Errorf("filter %s: %w", name, err)
		}
		fc.args = args
	}
	if len(fc.args) < arity[0] || len(fc.args) > arity[1] {
		return filterCall{}, fmt.Errorf("filter %s takes %d argument(s), got %d", name, arity[1], len(fc.args))
	}
	if name == "truncate" {
		if n, ok := Number(fc.args[0]); !ok || n < 0 {
			return filterCall{}, fmt.Errorf("filter truncate needs a positive number, got %v", fc.args[0])
		}
	}
	return fc, nil
}

// parseArgs reads comma-separated arguments: quoted strings, numbers or bare words.
func parseArgs(s string) ([]any, error) {
	var out []any
	s = strings.TrimSpace(s)
	for s != "" {
		var arg any
		if c := s[0]; c == '"' || c == '\'' {
			end := -1
			var b strings.Builder
			for i := 1; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
					switch s[i] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					default:
						b.WriteByte(s[i])
					}
					continue
				}
				if s[i] == c {
					end = i
					break
				}
				b.WriteByte(s[i])
			}
			if end < 0 {
				return nil, fmt.Errorf("unterminated string in %q", s)
			}
			arg = b.String()
			s = strings.TrimSpace(s[end+1:])
		} else {
			i := strings.IndexByte(s, ',')
			if i < 0 {
				i = len(s)
			}
			word := strings.TrimSpace(s[:i])
			if f, err := strconv.ParseFloat(word, 64); err == nil {
				arg = f
			} else {
				arg = word
			}
			s = s[i:]
		}
		out = append(out, arg)
		if s == "" {
			break
		}
		if s[0] != ',' {
			return nil, fmt.Errorf("expected ',' between arguments near %q", s)
		}
		s = strings.TrimSpace(s[1:])
		if s == "" {
			return nil, fmt.Errorf("missing argument after ','")
		}
	}
	return out, nil
}

func (f filterCall) apply(v any) any {
	switch f.name {
	case "default":
		if isEmpty(v) {
			return f.args[0]
		}
		return v
	case "upper":
		return strings.ToUpper(String(v))
	case "lower":
		return strings.ToLower(String(v))
	case "trim":
		return strings.TrimSpace(String(v))
	case "capitalize":
		s := String(v)
		r, n := utf8.DecodeRuneInString(s)
		if n == 0 {
			return s
		}
		return string(unicode.ToUpper(r)) + s[n:]
	case "json":
		b, err := json.Marshal(v)
		if err != nil {
			return "null"
		}
		return string(b)
	case "urlencode":
		return url.QueryEscape(String(v))
	case "truncate":
		n, _ := Number(f.args[0])
		s := String(v)
		if utf8.RuneCountInString(s) <= int(n) {
			return s
		}
		r := []rune(s)
		return string(r[:int(n)])
	case "length":
		return float64(length(v))
	case "join":
		sep := ", "
		if len(f.args) == 1 {
			sep = String(f.args[0])
		}
		var parts []string
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				parts = append(parts, String(e))
			}
		case []string:
			parts = x
		default:
			return String(v)
		}
		return strings.Join(parts, sep)
	case "replace":
		return strings.ReplaceAll(String(v), String(f.args[0]), String(f.args[1]))
	case "first", "last":
		var list []any
		switch x := v.(type) {
		case []any:
			list = x
		case []string:
			for _, e := range x {
				list = append(list, e)
			}
		default:
			r := []rune(String(v))
			if len(r) == 0 {
				return ""
			}
			if f.name == "first" {
				return string(r[0])
			}
			return string(r[len(r)-1])
		}
		if len(list) == 0 {
			return nil
		}
		if f.name == "first" {
			return list[0]
		}
		return list[len(list)-1]
	}
	return v
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []any:
		return len(x) == 0
	case []string:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func length(v any) int {
	switch x := v.(type) {
	case nil:
		return 0
	case []any:
		return len(x)
	case []string:
		return len(x)
	case map[string]any:
		return len(x)
	}
	return utf8.RuneCountInString(String(v))
}
