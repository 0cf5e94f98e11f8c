package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tandemchat/tandem/flow"
)

// Limits on the document, so that aliases cannot make decoding explode.
const (
	maxNodes = 1 << 20
	maxDepth = 64
)

// decoder walks a yaml.Node tree into the Config structs by their yaml tags, expanding ${ENV}
// in scalar values and recording the line of every key path.
type decoder struct {
	file     string
	lookup   func(string) (string, bool)
	pos      map[string]int  // key path → line of its key (or list item)
	unset    map[string]bool // key paths whose value used an unset variable
	problems []*Problem
	bad      map[string]bool // key paths with a decode problem
	warnings []*Problem
	budget   int
}

func (d *decoder) fail(line int, path, format string, args ...any) {
	d.problems = append(d.problems, &Problem{File: d.file, Line: line, Path: path, Message: fmt.Sprintf(format, args...)})
	if d.bad == nil {
		d.bad = map[string]bool{}
	}
	d.bad[path] = true
}

// keepNew drops validation problems about a key path that already failed to decode, or a key
// inside it (embeddings: text-embedding-3-small is not also missing its provider).
func (d *decoder) keepNew(probs []*Problem) []*Problem {
	out := probs[:0]
	for _, p := range probs {
		if !d.failed(p.Path) {
			out = append(out, p)
		}
	}
	return out
}

// failed reports whether path or one of its parents failed to decode.
func (d *decoder) failed(path string) bool {
	for p := path; p != ""; {
		if d.bad[p] {
			return true
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			return false
		}
		p = p[:i]
	}
	return false
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses src and decodes its single document into c.
func (d *decoder) document(src []byte, c *Config) {
	src = untabJSON(src)
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return // an empty file is the empty workspace
		}
		d.syntax(err, src)
		return
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		d.fail(next.Line, "", "the file holds several YAML documents; keep one")
		return
	} else if !errors.Is(err, io.EOF) {
		d.syntax(err, src)
		return
	}
	n := &root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, "", "the configuration must be a mapping of keys such as workspace, providers and channels, not %s", describe(n))
		return
	}
	d.decode(n, reflect.ValueOf(c).Elem(), "", 0)
}

// syntax reports a YAML syntax error at the line of the mistake, explained (flow.YAMLError:
// tabs, indentation, colons and quotes in unquoted texts, brackets never closed).
func (d *decoder) syntax(err error, src []byte) {
	line, msg := flow.YAMLError(err, src)
	d.fail(line, "", "YAML syntax: %s", msg)
}

// untabJSON replaces the tabs that indent a JSON document, which YAML does not allow, with
// spaces. Tabs at the start of a line are never inside a JSON string.
func untabJSON(src []byte) []byte {
	t := bytes.TrimLeft(src, " \t\r\n\ufeff")
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') || !bytes.Contains(src, []byte("\n\t")) {
		return src
	}
	lines := bytes.Split(src, []byte("\n"))
	for i, l := range lines {
		j := 0
		for j < len(l) && (l[j] == '\t' || l[j] == ' ') {
			j++
		}
		if bytes.IndexByte(l[:j], '\t') >= 0 {
			lines[i] = append(bytes.Repeat([]byte(" "), j), l[j:]...)
		}
	}
	return bytes.Join(lines, []byte("\n"))
}

// describe names what a node is, for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.ShortTag() == "!!null" {
		return "empty"
	}
	return fmt.Sprintf("%q", clip(n.Value))
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

var durationType = reflect.TypeFor[Duration]()

// spend counts one unit of work; false once the budget is spent (reported once).
func (d *decoder) spend(n *yaml.Node, path string) bool {
	if d.budget--; d.budget < 0 {
		if d.budget == -1 {
			d.fail(n.Line, path, "the document is too large (aliases expand to more than %d values)", maxNodes)
		}
		return false
	}
	return true
}

// decode sets v from n; path names v in messages ("providers[1].kind").
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string, depth int) {
	if !d.spend(n, path) {
		return
	}
	if depth > maxDepth {
		d.fail(n.Line, path, "nested too deeply")
		return
	}
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.fail(n.Line, path, "unknown alias")
			return
		}
		n = n.Alias
		depth++
		if depth > maxDepth {
			d.fail(n.Line, path, "nested too deeply")
			return
		}
	}
	if _, ok := d.pos[path]; !ok {
		d.pos[path] = n.Line
	}
	null := n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
	if v.Type() == durationType {
		d.duration(n, v, path, null)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if null {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		d.decode(n, p.Elem(), path, depth+1)
		v.Set(p)
	case reflect.Struct:
		if null {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.fail(n.Line, path, "expected a mapping of keys, found %s", describe(n))
			return
		}
		d.structure(n, v, path, depth)
	case reflect.Slice:
		if null {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.fail(n.Line, path, "expected a list, found %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		if null {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.fail(n.Line, path, "expected a mapping, found %s", describe(n))
			return
		}
		m := reflect.MakeMap(v.Type())
		for _, kv := range d.pairs(n, path, depth) {
			val := reflect.New(v.Type().Elem()).Elem()
			d.decode(kv.value, val, kv.path, depth+1)
			m.SetMapIndex(reflect.ValueOf(kv.key).Convert(v.Type().Key()), val)
		}
		v.Set(m)
	case reflect.String:
		if s, ok := d.scalar(n, path); ok {
			v.SetString(s)
		}
	case reflect.Int, reflect.Int64:
		s, ok := d.scalar(n, path)
		if !ok || null || s == "" {
			return
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v.OverflowInt(i) {
			d.fail(n.Line, path, "%q is not a whole number", clip(s))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		s, ok := d.scalar(n, path)
		if !ok || null || s == "" {
			return
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			d.fail(n.Line, path, "%q is not a number", clip(s))
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		s, ok := d.scalar(n, path)
		if !ok || null || s == "" {
			return
		}
		switch strings.ToLower(s) {
		case "true", "yes", "on":
			v.SetBool(true)
		case "false", "no", "off":
			v.SetBool(false)
		default:
			d.fail(n.Line, path, "%q is not true or false", clip(s))
		}
	default:
		d.fail(n.Line, path, "cannot be decoded (a %s)", v.Type())
	}
}

// duration reads "20s", "2d" or a number of seconds.
func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string, null bool) {
	s, ok := d.scalar(n, path)
	if !ok || null || s == "" {
		return
	}
	dur, err := ParseDuration(s)
	if err != nil {
		d.fail(n.Line, path, "%v", err)
		return
	}
	v.SetInt(int64(dur))
}

// scalar returns the expanded text of a scalar node; false after reporting a problem.
func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n.Line, path, "expected a single value, found %s", describe(n))
		return "", false
	}
	if n.ShortTag() == "!!null" {
		return "", true
	}
	s, err := d.expand(n.Value, path, n.Line)
	if err != nil {
		d.fail(n.Line, path, "%v", err)
		return "", false
	}
	return s, true
}

// expand replaces ${NAME} and ${NAME:-default} (default when NAME is unset or empty); $${ is a
// literal ${. An unset NAME without a default becomes "" with a warning. Errors never quote the
// value, which may hold a secret.
func (d *decoder) expand(s, path string, line int) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	var missing []string
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", errors.New("unclosed ${ (write ${NAME} or ${NAME:-default}, or $${ for a literal ${)")
			}
			inner := s[i+2 : i+end]
			name, def, hasDef := strings.Cut(inner, ":-")
			if !isEnvName(name) {
				return "", fmt.Errorf("${%s} does not name a variable (write ${NAME} or ${NAME:-default}, or $${ for a literal ${)", clip(name))
			}
			val, ok := d.lookup(name)
			switch {
			case hasDef && val == "":
				val = def
			case !ok:
				missing = append(missing, name)
			}
			b.WriteString(val)
			i += end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	out := b.String()
	if len(missing) > 0 {
		d.unset[path] = true
		w := &Problem{File: d.file, Line: line}
		vars := "${" + strings.Join(missing, "}, ${") + "}"
		verb := "is"
		if len(missing) > 1 {
			verb = "are"
		}
		if out == "" {
			w.Message = fmt.Sprintf("%s %s not set; %s is empty", vars, verb, path)
		} else {
			w.Message = fmt.Sprintf("%s %s not set; %s uses an empty value for it", vars, verb, path)
		}
		d.warnings = append(d.warnings, w)
	}
	return out, nil
}

func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r != '_' && !('A' <= r && r <= 'Z') && !('a' <= r && r <= 'z') && (i == 0 || !('0' <= r && r <= '9')) {
			return false
		}
	}
	return true
}

// pair is one key of a mapping, after merge keys (<<) are applied.
type pair struct {
	key   string
	path  string
	line  int
	value *yaml.Node
}

// pairs lists the keys of a mapping in order, reporting keys that are not text and keys given
// twice; keys of merged mappings (<<: *base) come after and lose to keys written here.
func (d *decoder) pairs(n *yaml.Node, path string, depth int) []pair {
	var out, merged []pair
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !d.spend(n, path) {
			return nil
		}
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			merged = append(merged, d.merge(val, path, depth)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k.Line, path, "keys must be text, found %s", describe(k))
			continue
		}
		p := pair{key: k.Value, path: join(path, k.Value), line: k.Line, value: val}
		if first, dup := seen[k.Value]; dup {
			d.fail(k.Line, p.path, "written twice (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, p)
	}
	for _, p := range merged {
		if _, dup := seen[p.key]; !dup {
			seen[p.key] = p.line
			out = append(out, p)
		}
	}
	for _, p := range out {
		if _, ok := d.pos[p.path]; !ok {
			d.pos[p.path] = p.line
		}
	}
	return out
}

// merge returns the pairs of a merge key's value: a mapping or a list of mappings, the first
// winning.
func (d *decoder) merge(n *yaml.Node, path string, depth int) []pair {
	if depth > maxDepth {
		d.fail(n.Line, path, "nested too deeply")
		return nil
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		return d.pairs(n, path, depth+1)
	case yaml.SequenceNode:
		var out []pair
		seen := map[string]bool{}
		for _, item := range n.Content {
			for _, p := range d.merge(item, path, depth+1) {
				if !seen[p.key] {
					seen[p.key] = true
					out = append(out, p)
				}
			}
		}
		return out
	}
	d.fail(n.Line, path, "<< merges a mapping or a list of mappings, not %s", describe(n))
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// structure decodes a mapping into the struct v by its fields' yaml tags, refusing unknown keys.
// A struct with a field tagged extra:"true" (a map) keeps there the unknown keys with a single
// value: validation refuses those that the entry's kind does not declare.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string, depth int) {
	fields := yamlFields(v.Type())
	extra := extraField(v)
	for _, kv := range d.pairs(n, path, depth) {
		i, ok := fields[kv.key]
		if !ok && path == "" && strings.HasPrefix(kv.key, "x-") {
			continue // extension keys, for anchors: x-defaults: &defaults {...}
		}
		if !ok && extra.IsValid() && kv.value.Kind == yaml.ScalarNode {
			if s, ok := d.scalar(kv.value, kv.path); ok {
				if extra.IsNil() {
					extra.Set(reflect.MakeMap(extra.Type()))
				}
				extra.SetMapIndex(reflect.ValueOf(kv.key), reflect.ValueOf(s))
			}
			continue
		}
		if !ok {
			d.fail(kv.line, kv.path, "unknown key%s", suggest(kv.key, fields))
			continue
		}
		d.decode(kv.value, v.Field(i), kv.path, depth+1)
	}
	if f := v.FieldByName("Line"); f.IsValid() && f.Kind() == reflect.Int && f.CanSet() {
		f.SetInt(int64(n.Line))
	}
}

// extraField returns the field of the struct v tagged extra:"true", or the zero Value.
func extraField(v reflect.Value) reflect.Value {
	for i := range v.NumField() {
		if v.Type().Field(i).Tag.Get("extra") == "true" {
			return v.Field(i)
		}
	}
	return reflect.Value{}
}

// yamlFields maps the yaml names of t's exported fields to their index.
func yamlFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = i
	}
	return out
}

// suggest returns "; did you mean X?" for the known key closest to key, or "; use one of ..."
// when none is close.
func suggest(key string, fields map[string]int) string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	if best := closest(key, names); best != "" {
		return "; did you mean " + best + "?"
	}
	return "; known keys are " + strings.Join(names, ", ")
}

// closest returns the name nearest to s when it is near enough to be a likely typo.
func closest(s string, names []string) string {
	norm := func(x string) string {
		return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(x))
	}
	best, bestDist := "", 0
	for _, name := range names {
		dist := distance(norm(s), norm(name))
		if norm(s) == norm(name) {
			dist = 0
		}
		if best == "" || dist < bestDist {
			best, bestDist = name, dist
		}
	}
	if best == "" || bestDist > max(1, min(3, len(best)/3)) {
		return ""
	}
	return best
}

// distance is the optimal-string-alignment distance (Levenshtein with transpositions) between a and b (in bytes), capped for long input.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		if a == b {
			return 0
		}
		return 64
	}
	before := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], before[j-2]+1) // transposition
			}
		}
		before, prev, cur = prev, cur, before
	}
	return prev[len(b)]
}

// sortByLine sorts problems by line, unknown lines last, keeping the order otherwise.
func sortByLine(probs []*Problem) {
	sort.SliceStable(probs, func(i, j int) bool {
		li, lj := probs[i].Line, probs[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
}

// joinSorted sorts problems by line and joins them.
func joinSorted(probs []*Problem) error {
	sortByLine(probs)
	errs := make([]error, len(probs))
	for i, p := range probs {
		errs[i] = p
	}
	return errors.Join(errs...)
}
