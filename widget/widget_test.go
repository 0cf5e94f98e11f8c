package widget

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io/fs"
	"net/http/httptest"
	"strings"
	"testing"
)

// gzipped returns the gzip -9 size of a built file.
func gzipped(t *testing.T, names ...string) int {
	t.Helper()
	total := 0
	for _, n := range names {
		b, err := fs.ReadFile(FS, n)
		if err != nil {
			t.Fatalf("%s is not built: run `npm run build` in widget/: %v", n, err)
		}
		var buf bytes.Buffer
		z, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		z.Write(b)
		z.Close()
		total += buf.Len()
	}
	return total
}

// TestSizeBudgets keeps the widget small: every visitor of every site pays for each kilobyte.
func TestSizeBudgets(t *testing.T) {
	t.Parallel()
	if got, limit := gzipped(t, "loader.js"), 5*1024; got > limit {
		t.Errorf("loader.js is %d bytes gzipped; the budget is %d", got, limit)
	} else {
		t.Logf("loader.js: %d bytes gzipped (budget %d)", got, limit)
	}
	var page bytes.Buffer
	Frame(&page, []byte(`{"channel":"web"}`), "en", "Chat")
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	w.Write(page.Bytes())
	w.Close()
	if got, limit := gzipped(t, "frame.js", "frame.css")+z.Len(), 30*1024; got > limit {
		t.Errorf("the frame (page, frame.js, frame.css) is %d bytes gzipped; the budget is %d", got, limit)
	} else {
		t.Logf("frame: %d bytes gzipped (budget %d)", got, limit)
	}
}

func TestFrameEscapesConfig(t *testing.T) {
	t.Parallel()
	cfg, _ := json.Marshal(map[string]string{"title": "</script><script>alert(1)</script>"})
	var b bytes.Buffer
	if err := Frame(&b, cfg, "en", "Chat"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "</script><script>alert") {
		t.Errorf("the configuration can end the script element:\n%s", b.String())
	}
}

func TestServeAsset(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, query, cache string }{
		{"loader.js", "", "public, max-age=300"},
		{"frame.js", "?v=" + Version, "public, max-age=31536000, immutable"},
		{"frame.css", "?v=old", "no-cache"},
	} {
		w := httptest.NewRecorder()
		if !ServeAsset(w, httptest.NewRequest("GET", "/widget/v1/"+tc.name+tc.query, nil), tc.name) {
			t.Fatalf("%s not served", tc.name)
		}
		if got := w.Header().Get("Cache-Control"); got != tc.cache {
			t.Errorf("%s: Cache-Control %q, want %q", tc.name, got, tc.cache)
		}
		if w.Code != 200 || w.Body.Len() == 0 {
			t.Errorf("%s: %d, %d bytes", tc.name, w.Code, w.Body.Len())
		}
	}
	if ServeAsset(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil), "embed.go") {
		t.Error("a file that is not built was served")
	}
}
