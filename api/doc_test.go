package api

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// docRoute is a row of docs/api.md's "Every route" table: | `GET /api/v1/flows` | who |.
var docRoute = regexp.MustCompile("^\\| `([A-Z]+) (/[^`]*)` \\|")

// TestAPIDocListsEveryRoute keeps docs/api.md and the OpenAPI document in agreement: every
// operation has a row in the page's route table, and every row is an operation.
func TestAPIDocListsEveryRoute(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "\n## Every route\n")
	if !ok {
		t.Fatal(`docs/api.md has no "## Every route" section`)
	}
	documented := map[string]bool{}
	for _, l := range strings.Split(table, "\n") {
		if m := docRoute.FindStringSubmatch(l); m != nil {
			documented[m[1]+" "+m[2]] = true
		}
	}
	ops := loadOpenAPI(t).operations(t)
	for op := range ops {
		if !documented[op] {
			t.Errorf("docs/api.md does not list %s: add the row \"| `%s` | <who may call it> |\" to its \"Every route\" table, and say what it does in its section", op, op)
		}
	}
	for op := range documented {
		if _, ok := ops[op]; !ok {
			t.Errorf("docs/api.md lists %s, which the OpenAPI document does not have", op)
		}
	}
}
