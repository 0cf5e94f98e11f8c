// Package web serves Tandem's browser app — the agent inbox and the admin screens, later the
// flow studio — from the files Vite built into dist/, embedded in the binary so that no Node is
// needed to run Tandem. The sources are next to this file (src/, package.json); `npm run build`
// rebuilds dist/, which is committed, and CI fails when the two differ.
//
// The package only serves files: it knows nothing of the API the app calls.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var dist embed.FS

// CSP is the Content-Security-Policy of the app: its own scripts and styles only (no inline
// script, no CDN, no external font), API calls to the same origin; images and media may come
// from https addresses, because customers' attachments can be links to their platform's files.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; " +
	"media-src 'self' blob: https:; font-src 'self'; connect-src 'self'; object-src 'none'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Client routes: every path under these prefixes is the app's (index.html answers; the app's
// router shows the screen).
var appRoutes = []string{"/inbox", "/admin"}

// file is one built file, with its gzip form when that is smaller.
type file struct {
	name string
	body []byte
	gz   []byte
	etag string
	ct   string
}

// Handler serves the app: index.html for / and the client routes (never cached, so a new
// version shows at the next load), hashed files under /assets/ (cached for a year, immutable),
// and the other files of dist/ (cached for an hour).
type Handler struct {
	files map[string]*file
	index *file
}

// New returns the handler of the embedded build.
func New() *Handler {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees dist exists
	}
	return newHandler(sub)
}

func newHandler(root fs.FS) *Handler {
	h := &Handler{files: map[string]*file{}}
	_ = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		f := &file{name: p, body: b, ct: mime.TypeByExtension(path.Ext(p))}
		if f.ct == "" {
			f.ct = http.DetectContentType(b)
		}
		sum := sha256.Sum256(b)
		f.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
		if compressible(f.ct) && len(b) > 512 {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(b)
			zw.Close()
			if buf.Len() < len(b) {
				f.gz = buf.Bytes()
			}
		}
		h.files["/"+p] = f
		return nil
	})
	h.index = h.files["/index.html"]
	return h
}

func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "javascript") || strings.Contains(ct, "json") || strings.Contains(ct, "svg")
}

// Register adds the app's routes to mux: / (the login), the client routes, /assets/ and the
// files at the root of the build. Other paths stay with whoever serves "/" on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("GET /{$}", h)
	for _, r := range appRoutes {
		mux.Handle("GET "+r, h)
		mux.Handle("GET "+r+"/", h)
	}
	mux.Handle("GET /assets/", h)
	for name := range h.files {
		if strings.Count(name, "/") == 1 && name != "/index.html" {
			mux.Handle("GET "+name, h)
		}
	}
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	p := r.URL.Path
	f := h.files[p]
	switch {
	case strings.HasPrefix(p, "/assets/"):
		if f == nil {
			http.Error(w, "No such file in this version of Tandem; reload the page.", http.StatusNotFound)
			return
		}
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	case f != nil && p != "/index.html":
		hd.Set("Cache-Control", "public, max-age=3600")
	default:
		if h.index == nil {
			http.Error(w, "The web app is not built into this binary.", http.StatusNotFound)
			return
		}
		f = h.index
		hd.Set("Cache-Control", "no-cache")
		hd.Set("Content-Security-Policy", CSP)
		hd.Set("X-Frame-Options", "DENY")
	}
	h.serveFile(w, r, f)
}

func (h *Handler) serveFile(w http.ResponseWriter, r *http.Request, f *file) {
	hd := w.Header()
	hd.Set("Content-Type", f.ct)
	body := f.body
	etag := f.etag
	if f.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			body = f.gz
			hd.Set("Content-Encoding", "gzip")
			etag = strings.TrimSuffix(etag, `"`) + `-gz"`
		}
	}
	hd.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}
