package web

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestSchemaTypesMatchOpenAPI fails when the OpenAPI document changed and the app's generated
// types were not: src/api/schema.d.ts records a SHA-256 of api/openapi.json and the
// api/openapi-*.json parts (in name order), written by scripts/openapi.mjs.
func TestSchemaTypesMatchOpenAPI(t *testing.T) {
	t.Parallel()
	sum := sha256.New()
	main, err := os.ReadFile("../api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	sum.Write(main)
	parts, err := filepath.Glob("../api/openapi-*.json")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(parts)
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sum.Write(b)
	}
	want := hex.EncodeToString(sum.Sum(nil))

	f, err := os.Open("src/api/schema.d.ts")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := ""
	sc := bufio.NewScanner(f)
	for i := 0; i < 5 && sc.Scan(); i++ {
		if v, ok := strings.CutPrefix(sc.Text(), "// openapi-sha256: "); ok {
			got = v
		}
	}
	if got != want {
		t.Fatalf("web/src/api/schema.d.ts was generated from another OpenAPI document (sha256 %q, the document's is %q): run npm run gen in web/ and commit it", got, want)
	}
}
