package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/widget"
)

// serveAsset serves one of the widget's built files, the same for every web channel.
func serveAsset(name string) func(channel.Channel, http.ResponseWriter, *http.Request) error {
	return func(_ channel.Channel, w http.ResponseWriter, r *http.Request) error {
		if !widget.ServeAsset(w, r, name) {
			return tandem.Errorf(tandem.ENOTFOUND, "The widget's %s is not built into this binary.", name)
		}
		return nil
	}
}

// frameConfig is what the frame reads from its page: the channel's look and limits.
type frameConfig struct {
	Channel        string `json:"channel"`
	Title          string `json:"title,omitempty"`
	Color          string `json:"color,omitempty"`
	Position       string `json:"position,omitempty"`
	LauncherText   string `json:"launcher_text,omitempty"`
	Uploads        bool   `json:"uploads"`
	MaxUploadBytes int64  `json:"max_upload_bytes"`
	MaxText        int    `json:"max_text"`
}

// frameAncestors is the frame's Content-Security-Policy frame-ancestors: the allowed origins
// (and Tandem's own pages); any site when the channel allows any.
func (c *Channel) frameAncestors() string {
	if len(c.cfg.AllowedOrigins) == 0 {
		return "*"
	}
	out := []string{"'self'"}
	for _, o := range c.cfg.AllowedOrigins {
		if o == "*" {
			return "*"
		}
		out = append(out, strings.TrimRight(o, "/"))
	}
	return strings.Join(out, " ")
}

// frame is GET /widget/v1/frame?channel=<id>: the chat's page, in the loader's iframe or
// alone. Browsers refuse to show it framed by a site not in allowed_origins (frame-ancestors).
func (c *Channel) frame(w http.ResponseWriter, r *http.Request) error {
	cfg, _ := json.Marshal(frameConfig{Channel: c.id, Title: c.cfg.Title, Color: c.cfg.Color, Position: c.cfg.Position,
		LauncherText: c.cfg.LauncherText, Uploads: c.deps.Media != nil, MaxUploadBytes: c.maxUpload(), MaxText: c.maxText()})
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https:; "+
		"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors "+c.frameAncestors())
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-cache")
	title := c.cfg.Title
	if title == "" {
		title = "Chat"
	}
	return widget.Frame(w, cfg, "en", title)
}
