package config_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/tandemchat/tandem/config"
)

const configDoc = "../docs/configuration.md"

// docRow is one documented key: a table row whose first cell is the key in backquotes.
type docRow struct {
	key, def, example string
	line              int
}

// readConfigDoc returns the rows of each "## <top-level key>" section of the configuration
// page, by section.
func readConfigDoc(t *testing.T) map[string][]docRow {
	t.Helper()
	f, err := os.Open(configDoc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]docRow{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if h, ok := strings.CutPrefix(line, "## "); ok {
			section = strings.Trim(strings.TrimSpace(h), "`")
			out[section] = out[section][:0:0]
			continue
		}
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		r := docRow{key: strings.Trim(cells[0], "`"), line: n}
		if len(cells) >= 4 {
			r.def, r.example = cells[1], cells[2]
		}
		out[section] = append(out[section], r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// norm compares key paths with or without the [] of lists: weekly[].days is weekly.days.
func norm(path string) string { return strings.ReplaceAll(path, "[]", "") }

// TestEveryKeyDocumented fails when a key the configuration accepts has no row, with a
// default and an example, in docs/configuration.md, and when the page documents a key that
// does not exist. Adding a key to a config struct is not done until the page says what it is.
func TestEveryKeyDocumented(t *testing.T) {
	t.Parallel()
	doc := readConfigDoc(t)
	keys := config.Keys()
	if len(keys) < 50 {
		t.Fatalf("config.Keys() lists %d keys; the walk of Config is broken", len(keys))
	}
	known := map[string]bool{}
	for _, k := range keys {
		top, rel := k.Top(), k.Rel()
		known[top+" "+norm(rel)] = true
		rows, ok := doc[top]
		if !ok {
			t.Errorf("docs/configuration.md has no section for the top-level key %q (%s): add a section\n\n## %s\n\n| key | default | example | meaning |\n|---|---|---|---|\n| `%s` | <default> | <example> | <what it does> |",
				top, k.Field, top, rel)
			doc[top] = nil // report the section once
			continue
		}
		var row *docRow
		for i := range rows {
			if norm(rows[i].key) == norm(rel) {
				row = &rows[i]
			}
		}
		switch {
		case row == nil:
			t.Errorf("docs/configuration.md does not document the key %s (%s): add a row to the table under \"## %s\":\n| `%s` | <default> | <example> | <what it does> |",
				k.Path, k.Field, top, rel)
		case row.def == "" || row.example == "":
			t.Errorf("docs/configuration.md:%d: the row of %s needs four cells: | `%s` | default | example | meaning |", row.line, k.Path, rel)
		}
	}
	tops := map[string]bool{}
	for _, k := range keys {
		tops[k.Top()] = true
	}
	for section, rows := range doc {
		if !tops[section] {
			continue
		}
		for _, r := range rows {
			if !known[section+" "+norm(r.key)] {
				t.Errorf("docs/configuration.md:%d: documents %s.%s, which the configuration does not accept; remove the row or fix the key", r.line, section, r.key)
			}
		}
	}
}
