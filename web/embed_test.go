package web

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

func testMux(t *testing.T) *http.ServeMux {
	t.Helper()
	h := newHandler(fstest.MapFS{
		"index.html":             {Data: []byte(`<!doctype html><script type="module" src="/assets/index-abc123.js"></script>` + strings.Repeat(" ", 600))},
		"assets/index-abc123.js": {Data: []byte("console.log(1);" + strings.Repeat("x", 2000))},
		"favicon.svg":            {Data: []byte("<svg></svg>")},
	})
	mux := http.NewServeMux()
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "api", http.StatusTeapot) }))
	h.Register(mux)
	return mux
}

func get(t *testing.T, mux http.Handler, path string, hdr ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w.Result()
}

func TestAppRoutesServeIndexUncachedWithCSP(t *testing.T) {
	t.Parallel()
	mux := testMux(t)
	for _, p := range []string{"/", "/inbox", "/inbox/mine/01KABC", "/admin", "/admin/agents"} {
		res := get(t, mux, p)
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || !strings.Contains(string(body), "/assets/index-abc123.js") {
			t.Errorf("GET %s: %d %q, want index.html", p, res.StatusCode, body)
		}
		if got := res.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", p, got)
		}
		if got := res.Header.Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") || !strings.Contains(got, "frame-ancestors 'none'") {
			t.Errorf("GET %s: CSP %q", p, got)
		}
		if got := res.Header.Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
			t.Errorf("GET %s: Content-Type %q", p, got)
		}
	}
}

func TestAssetsImmutableAndGzipped(t *testing.T) {
	t.Parallel()
	mux := testMux(t)
	res := get(t, mux, "/assets/index-abc123.js", "Accept-Encoding", "gzip, br")
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Fatalf("asset: %d %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("asset headers: %v", res.Header)
	}
	zr, err := gzip.NewReader(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	if !strings.HasPrefix(string(b), "console.log(1);") {
		t.Fatalf("asset body %q", b[:20])
	}
	plain := get(t, mux, "/assets/index-abc123.js")
	if plain.Header.Get("Content-Encoding") != "" {
		t.Fatal("gzip sent to a client that did not ask for it")
	}
	etag := plain.Header.Get("ETag")
	if res := get(t, mux, "/assets/index-abc123.js", "If-None-Match", etag); res.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d, want 304", res.StatusCode)
	}
}

func TestMissingAssetIs404AndOtherPathsStayWithTheAPI(t *testing.T) {
	t.Parallel()
	mux := testMux(t)
	if res := get(t, mux, "/assets/index-old.js"); res.StatusCode != 404 {
		t.Fatalf("missing asset: %d, want 404 (never index.html)", res.StatusCode)
	}
	for _, p := range []string{"/api/v1/flows", "/healthz", "/inboxes"} {
		if res := get(t, mux, p); res.StatusCode != http.StatusTeapot {
			t.Errorf("GET %s: %d, want the API's answer", p, res.StatusCode)
		}
	}
	if res := get(t, mux, "/favicon.svg"); res.StatusCode != 200 || res.Header.Get("Cache-Control") != "public, max-age=3600" {
		t.Fatalf("favicon: %d %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
}

func TestEmbeddedBuild(t *testing.T) {
	t.Parallel()
	h := New()
	if h.index == nil {
		t.Fatal("dist/index.html is not embedded; run npm run build in web/")
	}
	var js int
	for name := range h.files {
		if strings.HasPrefix(name, "/assets/") && strings.HasSuffix(name, ".js") {
			js++
		}
	}
	if js == 0 {
		t.Fatal("no script under dist/assets")
	}
}

// The inbox's JavaScript budget: 250 KB gzipped, counting every script of the build (also the
// admin screens, which agents do not load), so the inbox is surely under it.
const jsBudget = 250 << 10

func TestJavaScriptBudget(t *testing.T) {
	t.Parallel()
	h := New()
	var total int
	for name, f := range h.files {
		if strings.HasSuffix(name, ".js") {
			n := len(f.body)
			if f.gz != nil {
				n = len(f.gz)
			}
			total += n
		}
	}
	t.Logf("JavaScript: %.1f KB gzipped (budget %d KB)", float64(total)/1024, jsBudget>>10)
	if total > jsBudget {
		t.Fatalf("the app's JavaScript is %d bytes gzipped, over the %d budget", total, jsBudget)
	}
}
