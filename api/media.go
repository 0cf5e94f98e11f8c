package api

import (
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
)

// MediaPath is where a stored file is served: messages show stored media with this URL.
const MediaPath = channel.MediaPath

// inlineTypes are the media types a browser may show in place; anything else is a download,
// and nothing a customer sent is ever run as a page (CSP sandbox, nosniff).
var inlineTypes = []string{"image/", "audio/", "video/"}

// mediaGet is GET /api/v1/media/{id}: a file a customer sent (downloaded from WhatsApp or
// Telegram, uploaded to the widget), with its type, size and name. API tokens and admins read
// any; an agent only the files of the conversations they see (another is 404, as an unknown
// id).
func (s *Server) mediaGet(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if c := callerOf(r); c != nil && c.kind == agentRole {
		f, err := s.cfg.DB.MediaStat(r.Context(), id)
		if err != nil {
			return err
		}
		hidden := tandem.Errorf(tandem.ENOTFOUND, "Media %q does not exist.", id)
		if f.ConversationID == "" {
			return hidden
		}
		info, err := s.cfg.DB.ConversationGet(r.Context(), f.ConversationID)
		if tandem.ErrorCode(err) == tandem.ENOTFOUND {
			return hidden
		} else if err != nil {
			return err
		}
		if err := s.seeConversation(r, info); tandem.ErrorCode(err) == tandem.ENOTFOUND || tandem.ErrorCode(err) == tandem.EFORBIDDEN {
			return hidden
		} else if err != nil {
			return err
		}
	}
	f, body, err := s.cfg.DB.MediaGet(r.Context(), id)
	if err != nil {
		return err
	}
	defer body.Close()
	ctype := f.Mime
	if ctype == "" || strings.HasPrefix(ctype, "image/svg") {
		ctype = "application/octet-stream"
	}
	disposition := "attachment"
	for _, p := range inlineTypes {
		if strings.HasPrefix(ctype, p) {
			disposition = "inline"
		}
	}
	if f.Name != "" {
		disposition = mime.FormatMediaType(disposition, map[string]string{"filename": f.Name})
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.FormatInt(f.Size, 10))
	h.Set("Content-Disposition", disposition)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Cache-Control", "private, max-age=86400, immutable")
	h.Set("ETag", `"`+f.SHA256+`"`)
	if match := r.Header.Get("If-None-Match"); match != "" && match == `"`+f.SHA256+`"` {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	_, err = io.Copy(w, body)
	if err != nil {
		s.log.Debug("media: the client went away", "media", f.ID, "err", err)
	}
	return nil
}
