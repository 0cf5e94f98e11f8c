package api

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// docRoles reads the "who may call it" cell of a route as the OpenAPI document's x-roles
// ("API tokens, admins; agents" is token,admin,agent): what comes before a parenthesis, in
// words a reader understands.
func docRoles(who string) string {
	who, _, _ = strings.Cut(who, "(")
	var out []string
	for _, r := range []struct{ role, words string }{
		{"public", "anyone"}, {"webhook", "the "}, {"token", "API tokens"}, {"admin", "admins"}, {"agent", "agents"}, {"widget", "widget sessions"},
	} {
		for _, part := range strings.FieldsFunc(who, func(c rune) bool { return c == ',' || c == ';' }) {
			if part = strings.TrimSpace(part); part == r.words || r.words == "the " && strings.HasPrefix(part, r.words) {
				out = append(out, r.role)
				break
			}
		}
	}
	return strings.Join(out, ",")
}

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
	documented := map[string]string{} // route → who may call it
	for _, l := range strings.Split(table, "\n") {
		if m := docRoute.FindStringSubmatch(l); m != nil {
			cells := strings.Split(l, "|")
			documented[m[1]+" "+m[2]] = strings.TrimSpace(cells[2])
		}
	}
	ops := loadOpenAPI(t).operations(t)
	for op, o := range ops {
		who, ok := documented[op]
		if !ok {
			t.Errorf("docs/api.md does not list %s: add the row \"| `%s` | <who may call it> |\" to its \"Every route\" table, and say what it does in its section", op, op)
			continue
		}
		if got, want := docRoles(who), strings.Join(o.Roles, ","); got != want {
			t.Errorf("docs/api.md says %q may call %s (%s); the route table says %s", who, op, got, want)
		}
	}
	for op := range documented {
		if _, ok := ops[op]; !ok {
			t.Errorf("docs/api.md lists %s, which the OpenAPI document does not have", op)
		}
	}
}
