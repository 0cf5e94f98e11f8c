package api

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"sync"
)

// openapiFS holds the OpenAPI document: openapi.json is the base; each openapi-*.json adds its
// paths and component schemas (one file per area of the API, merged at start).
//
//go:embed openapi*.json
var openapiFS embed.FS

var (
	openapiOnce sync.Once
	openapiDoc  []byte
	openapiErr  error
)

// OpenAPI returns the OpenAPI 3.1 document of the API.
func OpenAPI() []byte {
	openapiOnce.Do(func() { openapiDoc, openapiErr = mergeOpenAPI() })
	if openapiErr != nil {
		panic(openapiErr) // the embedded files are checked by tests
	}
	return openapiDoc
}

func mergeOpenAPI() ([]byte, error) {
	base, err := fs.ReadFile(openapiFS, "openapi.json")
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(base, &doc); err != nil {
		return nil, fmt.Errorf("openapi.json: %w", err)
	}
	parts, _ := fs.Glob(openapiFS, "openapi-*.json")
	sort.Strings(parts)
	for _, p := range parts {
		b, err := fs.ReadFile(openapiFS, p)
		if err != nil {
			return nil, err
		}
		var part map[string]any
		if err := json.Unmarshal(b, &part); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		paths, _ := doc["paths"].(map[string]any)
		for k, v := range asMap(part["paths"]) {
			if _, dup := paths[k]; dup {
				return nil, fmt.Errorf("%s: path %s is defined twice", p, k)
			}
			paths[k] = v
		}
		comps := asMap(doc["components"])
		schemas := asMap(comps["schemas"])
		for k, v := range asMap(asMap(part["components"])["schemas"]) {
			if _, dup := schemas[k]; dup {
				return nil, fmt.Errorf("%s: schema %s is defined twice", p, k)
			}
			schemas[k] = v
		}
		if tags, ok := part["tags"].([]any); ok {
			existing, _ := doc["tags"].([]any)
			doc["tags"] = append(existing, tags...)
		}
	}
	return json.MarshalIndent(doc, "", "  ")
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return m
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, err := w.Write(OpenAPI())
	return err
}
