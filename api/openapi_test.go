package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// openapiDocument is the part of an OpenAPI 3.1 document the tests read.
type openapiDocument struct {
	OpenAPI string `json:"openapi"`
	Info    struct {
		Title   string `json:"title"`
		Version string `json:"version"`
	} `json:"info"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas         map[string]json.RawMessage `json:"schemas"`
		SecuritySchemes map[string]json.RawMessage `json:"securitySchemes"`
	} `json:"components"`
}

type openapiOperation struct {
	OperationID string                     `json:"operationId"`
	Responses   map[string]json.RawMessage `json:"responses"`
	Parameters  []openapiParameter         `json:"parameters"`
	Security    *[]map[string][]string     `json:"security"`
	Roles       []string                   `json:"x-roles"`
}

type openapiParameter struct {
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func loadOpenAPI(tb testing.TB) *openapiDocument {
	tb.Helper()
	var doc openapiDocument
	dec := json.NewDecoder(bytes.NewReader(OpenAPI()))
	if err := dec.Decode(&doc); err != nil {
		tb.Fatalf("openapi.json is not JSON: %v", err)
	}
	return &doc
}

// operations returns "METHOD /path" → operation for every operation of the document.
func (d *openapiDocument) operations(tb testing.TB) map[string]openapiOperation {
	tb.Helper()
	out := map[string]openapiOperation{}
	for path, item := range d.Paths {
		for key, raw := range item {
			if !slices.Contains(httpMethods, key) {
				continue
			}
			var op openapiOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				tb.Fatalf("%s %s: %v", key, path, err)
			}
			out[strings.ToUpper(key)+" "+path] = op
		}
	}
	return out
}

// The document is OpenAPI 3.1, structurally sound, and describes exactly the route table.
func TestOpenAPIDocument(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi %q, want 3.1.x", doc.OpenAPI)
	}
	if doc.Info.Title == "" || doc.Info.Version == "" {
		t.Error("info.title and info.version are required")
	}
	if len(doc.Paths) == 0 || len(doc.Components.Schemas) == 0 {
		t.Fatal("paths and components.schemas must not be empty")
	}
	if _, ok := doc.Components.SecuritySchemes["bearer"]; !ok {
		t.Error("components.securitySchemes.bearer is missing")
	}
	// Every $ref points at a schema of the document.
	for _, m := range regexp.MustCompile(`"\$ref":\s*"([^"]*)"`).FindAllSubmatch(OpenAPI(), -1) {
		ref := string(m[1])
		name, ok := strings.CutPrefix(ref, "#/components/schemas/")
		if _, found := doc.Components.Schemas[name]; !ok || !found {
			t.Errorf("$ref %q resolves to nothing", ref)
		}
	}
	ops := doc.operations(t)
	s := New(Config{})
	routes := map[string]route{}
	for _, rt := range s.routes {
		routes[rt.method+" "+rt.pattern] = rt
	}
	for key, rt := range routes {
		op, ok := ops[key]
		if !ok {
			t.Errorf("route %s is not in openapi.json", key)
			continue
		}
		// Who may call it: x-roles lists the route table's kinds of caller, in its order.
		if got, want := op.Roles, rt.access.roles(); !slices.Equal(got, want) {
			t.Errorf("%s: x-roles %q, want %q (the route table's access)", key, got, want)
		}
		// Routes without a bearer credential say so; the others inherit the bearer requirement.
		needs := rt.access.needsCredential()
		if !needs && (op.Security == nil || len(*op.Security) != 0) {
			t.Errorf("%s needs no token: its operation should have security: []", key)
		}
		if needs && op.Security != nil && len(*op.Security) == 0 {
			t.Errorf("%s needs a token, but its operation has security: []", key)
		}
		if needs {
			for _, st := range []string{"401", "403", "429"} {
				if _, ok := op.Responses[st]; !ok {
					t.Errorf("%s needs a token: document its %s", key, st)
				}
			}
		}
	}
	ids := map[string]string{}
	for key, op := range ops {
		if _, ok := routes[key]; !ok {
			t.Errorf("openapi.json documents %s, which the server does not serve", key)
		}
		if op.OperationID == "" {
			t.Errorf("%s has no operationId", key)
		} else if other, dup := ids[op.OperationID]; dup {
			t.Errorf("operationId %q is used by %s and %s", op.OperationID, key, other)
		}
		ids[op.OperationID] = key
		if len(op.Responses) == 0 {
			t.Errorf("%s documents no response", key)
		}
		for st := range op.Responses {
			if n, err := strconv.Atoi(st); err != nil || n < 100 || n > 599 {
				t.Errorf("%s: response %q is not a status", key, st)
			}
		}
		// Every {param} of the path is declared as a required path parameter.
		path := key[strings.Index(key, " ")+1:]
		declared := map[string]bool{}
		for _, p := range pathParameters(t, doc, path, op) {
			if p.In == "path" && p.Required {
				declared[p.Name] = true
			}
		}
		for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
			if !declared[m[1]] {
				t.Errorf("%s: path parameter %q is not declared (in: path, required: true)", key, m[1])
			}
		}
	}
	// Every error code the API can answer is in the Error schema's enum.
	var errSchema struct {
		Properties struct {
			Error struct {
				Properties struct {
					Code struct {
						Enum []string `json:"enum"`
					} `json:"code"`
				} `json:"properties"`
			} `json:"error"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(doc.Components.Schemas["Error"], &errSchema); err != nil {
		t.Fatal(err)
	}
	for code := range statuses {
		if !slices.Contains(errSchema.Properties.Error.Properties.Code.Enum, code) {
			t.Errorf("error code %q is missing from the Error schema's enum", code)
		}
	}
}

// pathParameters returns the parameters of an operation and of its path item.
func pathParameters(tb testing.TB, doc *openapiDocument, path string, op openapiOperation) []openapiParameter {
	tb.Helper()
	out := append([]openapiParameter(nil), op.Parameters...)
	if raw, ok := doc.Paths[path]["parameters"]; ok {
		var ps []openapiParameter
		if err := json.Unmarshal(raw, &ps); err != nil {
			tb.Fatalf("%s parameters: %v", path, err)
		}
		out = append(out, ps...)
	}
	return out
}

// The server serves the embedded document as it is.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, options{})
	r := e.do(request{method: "GET", path: "/api/v1/openapi.json", noAuth: true}).mustStatus(t, http.StatusOK)
	if !bytes.Equal(r.body, OpenAPI()) {
		t.Error("GET /api/v1/openapi.json differs from openapi.json")
	}
}

// undocumentedStatuses lists the (route, status) pairs seen that openapi.json does not
// document for the route. Requests no route matched may only answer 404 or 405.
func undocumentedStatuses(seen map[string]map[int]bool) []string {
	var doc openapiDocument
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		return []string{"openapi.json: " + err.Error()}
	}
	var out []string
	for route, statuses := range seen {
		for status := range statuses {
			if status == statusClientClosed {
				continue // recorded, never sent
			}
			if route == "unmatched" {
				if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
					out = append(out, fmt.Sprintf("unmatched request answered %d", status))
				}
				continue
			}
			method, path, _ := strings.Cut(route, " ")
			raw, ok := doc.Paths[path][strings.ToLower(method)]
			if !ok {
				out = append(out, fmt.Sprintf("%s: not documented at all", route))
				continue
			}
			var op openapiOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				out = append(out, fmt.Sprintf("%s: %v", route, err))
				continue
			}
			if _, ok := op.Responses[strconv.Itoa(status)]; !ok {
				out = append(out, fmt.Sprintf("%s answered %d", route, status))
			}
		}
	}
	sort.Strings(out)
	return out
}

// The conformance check itself: a status the document lacks is reported.
func TestUndocumentedStatuses(t *testing.T) {
	t.Parallel()
	got := undocumentedStatuses(map[string]map[int]bool{
		"GET /healthz":         {200: true, 418: true},
		"GET /api/v1/flows":    {200: true},
		"POST /api/v1/nothing": {200: true},
		"unmatched":            {404: true, 405: true, 500: true},
	})
	want := []string{"GET /healthz answered 418", "POST /api/v1/nothing: not documented at all", "unmatched request answered 500"}
	if !slices.Equal(got, want) {
		t.Errorf("undocumentedStatuses:\n got %q\nwant %q", got, want)
	}
}

// exchange is one answer a test got, for checking it against the document.
type exchange struct {
	route  string // the route table's "METHOD /pattern", or "/" for the catch-all
	status int
	ctype  string
	body   []byte
}

// exchanges is every answer the tests' HTTP client got.
var exchanges = &exchangeLog{}

type exchangeLog struct {
	mu  sync.Mutex
	all []exchange
}

func (l *exchangeLog) add(route string, status int, ctype string, body []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, exchange{route, status, ctype, body})
}

func (l *exchangeLog) snapshot() []exchange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.all)
}

// nonConforming lists the answers whose media type is not documented for their route and
// status, or whose JSON body does not match the documented schema (OpenAPI 3.1 schemas are JSON
// Schema 2020-12). Each (route, status, media type) is reported once.
func nonConforming(xs []exchange) []string {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(OpenAPI()))
	if err != nil {
		return []string{"openapi.json: " + err.Error()}
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("openapi.json", doc); err != nil {
		return []string{"openapi.json: " + err.Error()}
	}
	var d openapiDocument
	if err := json.Unmarshal(OpenAPI(), &d); err != nil {
		return []string{"openapi.json: " + err.Error()}
	}
	reported := map[string]bool{}
	var out []string
	report := func(key, msg string) {
		if !reported[key] {
			reported[key] = true
			out = append(out, msg)
		}
	}
	escape := strings.NewReplacer("~", "~0", "/", "~1")
	for _, x := range xs {
		method, path, ok := strings.Cut(x.route, " ")
		if !ok {
			continue // the catch-all: 404 and 405, checked by undocumentedStatuses
		}
		raw, ok := d.Paths[path][strings.ToLower(method)]
		if !ok {
			continue // reported by undocumentedStatuses
		}
		var op struct {
			Responses map[string]struct {
				Content map[string]json.RawMessage `json:"content"`
			} `json:"responses"`
		}
		if err := json.Unmarshal(raw, &op); err != nil {
			report(x.route, fmt.Sprintf("%s: %v", x.route, err))
			continue
		}
		resp, ok := op.Responses[strconv.Itoa(x.status)]
		if !ok {
			continue // reported by undocumentedStatuses
		}
		mt, _, _ := mime.ParseMediaType(x.ctype)
		key := fmt.Sprintf("%s %d %s", x.route, x.status, mt)
		if len(resp.Content) == 0 {
			if len(x.body) > 0 {
				report(key, fmt.Sprintf("%s answered %d with a body, documented without content", x.route, x.status))
			}
			continue
		}
		major, _, _ := strings.Cut(mt, "/")
		if _, ok := resp.Content[mt]; !ok && resp.Content[major+"/*"] == nil && resp.Content["*/*"] == nil {
			report(key, fmt.Sprintf("%s answered %d as %q, not a documented media type", x.route, x.status, mt))
			continue
		}
		if mt != "application/json" {
			continue
		}
		loc := "openapi.json#/paths/" + escape.Replace(path) + "/" + strings.ToLower(method) + "/responses/" + strconv.Itoa(x.status) + "/content/" + escape.Replace(mt) + "/schema"
		sch, err := c.Compile(loc)
		if err != nil {
			report(key, fmt.Sprintf("%s %d: the schema does not compile: %v", x.route, x.status, err))
			continue
		}
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(x.body))
		if err != nil {
			report(key, fmt.Sprintf("%s answered %d with a body that is not JSON: %.200s", x.route, x.status, x.body))
			continue
		}
		if err := sch.Validate(inst); err != nil {
			report(key, fmt.Sprintf("%s answered %d with a body its schema refuses: %v\n    body: %.400s", x.route, x.status, err, x.body))
		}
	}
	sort.Strings(out)
	return out
}

// The schema check itself: a body its schema refuses, or an undocumented media type, is reported.
func TestNonConforming(t *testing.T) {
	t.Parallel()
	const ctJSON = "application/json; charset=utf-8"
	got := nonConforming([]exchange{
		{"GET /healthz", 200, ctJSON, []byte(`{"status": "ok"}`)},
		{"GET /healthz", 200, "text/html", []byte(`<p>ok</p>`)},
		{"GET /api/v1/flows", 200, ctJSON, []byte(`{"flows": {"id": "x"}}`)},
		{"GET /api/v1/flows", 401, ctJSON, []byte(`{"error": {"code": "nope", "message": "m"}}`)},
		{"DELETE /api/v1/flows/{id}", 204, "", nil},
		{"/", 404, ctJSON, []byte(`{}`)},
	})
	if len(got) != 3 {
		t.Fatalf("reported %d problems, want 3 (text/html, flows not a list, unknown code):\n%s", len(got), strings.Join(got, "\n"))
	}
	for i, want := range []string{"GET /api/v1/flows answered 200", "GET /api/v1/flows answered 401", `GET /healthz answered 200 as "text/html"`} {
		if !strings.HasPrefix(got[i], want) {
			t.Errorf("problem %d: %q, want it to start with %q", i, got[i], want)
		}
	}
}
