package web

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/internal/jsonhttp"
)

// maxUploadRoute caps an upload request whatever the channel's max_upload_bytes.
const maxUploadRoute = 256 << 20

// mediaPath is the address of a stored file, served to the channel's sessions only.
func (c *Channel) mediaPath(id string) string { return "/widget/v1/" + c.id + "/media/" + id }

// uploadPost is POST /widget/v1/{channel_id}/uploads (multipart, field "file"): the file is
// stored (at most max_upload_bytes: more is 413) and its media_id is sent with a message.
func (c *Channel) uploadPost(w http.ResponseWriter, r *http.Request) error {
	_, s, err := c.session(r)
	if err != nil {
		return err
	}
	if c.deps.Media == nil {
		return tandem.Errorf(tandem.EUNAVAILABLE, "Uploads are not available on this server.")
	}
	if c.cfg.IdentityRequired && !s.Verified {
		return tandem.Errorf(tandem.EIDENTITYREQUIRED, "This chat is for signed-in users: the site must identify the visitor (Tandem.setUser with a valid hash).")
	}
	if err := c.allow(w, s.ID); err != nil {
		return err
	}
	limit := c.maxUpload()
	if r.ContentLength > limit+64<<10 {
		return tandem.Errorf(tandem.ETOOLARGE, "The file is larger than %d bytes, this channel's max_upload_bytes.", limit)
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return jsonhttp.Invalid("file", "send the file as multipart/form-data in the field \"file\".")
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return jsonhttp.Invalid("file", "required: the multipart field \"file\".")
		} else if err != nil {
			if jsonhttp.IsMaxBytes(err) {
				return tandem.Errorf(tandem.ETOOLARGE, "The file is larger than %d bytes, this channel's max_upload_bytes.", limit)
			}
			return jsonhttp.Invalid("file", "the multipart body cannot be read.")
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		name := clip(path.Base(strings.ReplaceAll(part.FileName(), `\`, "/")), 200)
		mt := part.Header.Get("Content-Type")
		if t, _, err := mime.ParseMediaType(mt); err == nil {
			mt = t
		} else {
			mt = "application/octet-stream"
		}
		f, err := c.deps.Media.MediaPut(r.Context(), tandem.MediaFile{ChannelID: c.id, Mime: mt, Name: name, CreatedAt: c.deps.Now()}, part, limit)
		part.Close()
		if err != nil {
			if tandem.ErrorCode(err) == tandem.ETOOLARGE || jsonhttp.IsMaxBytes(err) {
				return tandem.Errorf(tandem.ETOOLARGE, "The file is larger than %d bytes, this channel's max_upload_bytes.", limit)
			}
			return err
		}
		return jsonhttp.Write(w, http.StatusCreated, map[string]string{"media_id": f.ID, "url": c.mediaPath(f.ID), "mime": f.Mime})
	}
}

// mediaOf returns the attachment of an uploaded file, for a message.
func (c *Channel) mediaOf(ctx context.Context, id string) (*tandem.Media, error) {
	if c.deps.Media == nil {
		return nil, tandem.Errorf(tandem.EUNAVAILABLE, "Uploads are not available on this server.")
	}
	f, body, err := c.deps.Media.MediaGet(ctx, id)
	if err != nil {
		if tandem.ErrorCode(err) == tandem.ENOTFOUND {
			return nil, jsonhttp.Invalid("media_id", "%q is not an upload of this channel.", id)
		}
		return nil, err
	}
	body.Close()
	if f.ChannelID != c.id {
		return nil, jsonhttp.Invalid("media_id", "%q is not an upload of this channel.", id)
	}
	typ := tandem.MessageFile
	switch {
	case strings.HasPrefix(f.Mime, "image/"):
		typ = tandem.MessageImage
	case strings.HasPrefix(f.Mime, "audio/"):
		typ = tandem.MessageAudio
	case strings.HasPrefix(f.Mime, "video/"):
		typ = tandem.MessageVideo
	}
	return &tandem.Media{Type: typ, URL: c.mediaPath(f.ID), Mime: f.Mime, Name: f.Name}, nil
}

// mediaGet is GET /widget/v1/{channel_id}/media/{id}: a stored file, for a session of the
// channel (the frame fetches it with its token). Ids are unguessable.
func (c *Channel) mediaGet(w http.ResponseWriter, r *http.Request) error {
	if _, _, err := c.session(r); err != nil {
		return err
	}
	if c.deps.Media == nil {
		return tandem.Errorf(tandem.ENOTFOUND, "No such file.")
	}
	f, body, err := c.deps.Media.MediaGet(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	defer body.Close()
	if f.ChannelID != c.id {
		return tandem.Errorf(tandem.ENOTFOUND, "No such file.")
	}
	h := w.Header()
	h.Set("Content-Type", f.Mime)
	h.Set("Content-Length", strconv.FormatInt(f.Size, 10))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, max-age=86400")
	w.WriteHeader(http.StatusOK)
	io.Copy(w, body)
	return nil
}
