// Package widget holds Tandem's embeddable chat widget, built from src/ (TypeScript, no
// framework) into dist/ with `npm run build`: loader.js, the snippet's script (launcher, iframe,
// the window.Tandem API), and frame.js and frame.css, the chat itself. The built files are
// committed and embedded, so the Go build never needs Node; CI rebuilds them and fails on a
// difference. This package only serves the files; the channel/web package serves the chat.
package widget

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

//go:embed dist
var dist embed.FS

// FS is the built widget: loader.js, frame.js, frame.css.
var FS, _ = fs.Sub(dist, "dist")

// Version is a hash of the built files: the frame asks for frame.js?v=<Version>, so a browser
// caches the assets for long and still gets a new build at once.
var Version = func() string {
	h := sha256.New()
	for _, n := range []string{"loader.js", "frame.js", "frame.css"} {
		b, _ := fs.ReadFile(FS, n)
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}()

// ServeAsset serves one built file (loader.js, frame.js, frame.css); false when name is not one.
// loader.js is fetched at a fixed address by every page of every site: browsers keep it for
// 5 minutes, so a new version reaches them soon. The frame's files carry the build's version in
// their address and are kept for a year.
func ServeAsset(w http.ResponseWriter, r *http.Request, name string) bool {
	b, err := fs.ReadFile(FS, name)
	if err != nil || strings.Contains(name, "/") {
		return false
	}
	h := w.Header()
	switch {
	case strings.HasSuffix(name, ".js"):
		h.Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".css"):
		h.Set("Content-Type", "text/css; charset=utf-8")
	}
	if name == "loader.js" {
		h.Set("Cache-Control", "public, max-age=300")
		// The host page loads it from another origin; nothing secret is in it.
		h.Set("Access-Control-Allow-Origin", "*")
	} else if r.URL.Query().Get("v") == Version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("ETag", `"`+Version+`"`)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	return true
}

var frameHTML = template.Must(template.New("frame").Parse(`<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}}</title>
<link rel="stylesheet" href="frame.css?v={{.Version}}">
<script type="application/json" id="tandem-config">{{.Config}}</script>
<script src="frame.js?v={{.Version}}" defer></script>
</head>
<body></body>
</html>
`))

// Frame writes the frame's page. config is the channel's public configuration as JSON (the
// frame reads it from the page: title, colour, limits); lang and title are the page's language
// and title until the script runs.
func Frame(w io.Writer, config []byte, lang, title string) error {
	return frameHTML.Execute(w, struct {
		Lang, Title, Version string
		Config               template.JS
	}{lang, title, Version, template.JS(safeJSON(config))})
}

// safeJSON escapes what could end the script element early.
func safeJSON(b []byte) string {
	s := string(b)
	s = strings.ReplaceAll(s, "<", `\u003c`)
	s = strings.ReplaceAll(s, ">", `\u003e`)
	s = strings.ReplaceAll(s, "&", `\u0026`)
	return s
}
