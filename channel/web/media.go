package web

import (
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/internal/jsonhttp"
)

// multipartOverhead is what an upload's body may hold besides the file.
const multipartOverhead = channel.MultipartOverhead

// mediaPath is the address the widget shows for a stored file: for the sessions that may read
// it only (mediaGet).
func (c *Channel) mediaPath(id string) string { return "/widget/v1/" + c.id + "/media/" + id }

func (c *Channel) tooLarge(limit int64) error {
	return tandem.Errorf(tandem.ETOOLARGE, "The file is larger than %d bytes, this channel's max_upload_bytes.", limit)
}

// uploadPost is POST /widget/v1/{channel_id}/uploads (multipart, field "file"): the file is
// stored, owned by the session, and its media_id is sent with a message. A file of more than
// max_upload_bytes is 413: refused from its Content-Length before anything is read, or when
// the reading passes the cap (the body is never read further).
func (c *Channel) uploadPost(w http.ResponseWriter, r *http.Request) error {
	limit := c.maxUpload()
	if r.ContentLength > limit+multipartOverhead {
		return c.tooLarge(limit)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit+multipartOverhead)
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
				return c.tooLarge(limit)
			}
			return jsonhttp.Invalid("file", "the multipart body cannot be read.")
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		name, mt := channel.FilePart(part)
		f, err := c.deps.Media.MediaPut(r.Context(), tandem.MediaFile{ChannelID: c.id, SessionID: s.ID, ContactID: s.ContactID, Mime: mt, Name: name, CreatedAt: c.deps.Now()}, part, limit)
		part.Close()
		if err != nil {
			if tandem.ErrorCode(err) == tandem.ETOOLARGE || jsonhttp.IsMaxBytes(err) {
				return c.tooLarge(limit)
			}
			return err
		}
		return jsonhttp.Write(w, http.StatusCreated, map[string]string{"media_id": f.ID, "url": c.mediaPath(f.ID), "mime": f.Mime})
	}
}

// readable reports whether a session may read (and send) a stored file: a file of its channel
// that its contact uploaded (the session itself while anonymous; any session of the same
// verified user), that the session uploaded and did not send yet, or that a message of one of
// its contact's conversations carries. Only the file's description is read.
func (c *Channel) readable(ctx context.Context, be Backend, s *tandem.WidgetSession, f *tandem.MediaFile) (bool, error) {
	switch {
	case f.ChannelID != c.id:
		return false, nil
	case f.ContactID != "" && f.ContactID == s.ContactID:
		return true, nil
	case f.ConversationID == "":
		return f.SessionID != "" && f.SessionID == s.ID, nil
	}
	convs, err := be.Conversations(ctx, s.ContactID, c.id)
	if err != nil {
		return false, err
	}
	for _, cv := range convs {
		if cv.ID == f.ConversationID {
			return true, nil
		}
	}
	return false, nil
}

// mediaOf returns the attachment of an uploaded file the session may send, for a message.
func (c *Channel) mediaOf(ctx context.Context, be Backend, s *tandem.WidgetSession, id string) (*tandem.Media, error) {
	if c.deps.Media == nil {
		return nil, tandem.Errorf(tandem.EUNAVAILABLE, "Uploads are not available on this server.")
	}
	notYours := jsonhttp.Invalid("media_id", "%q is not a file this visitor uploaded; upload it with POST /widget/v1/%s/uploads.", id, c.id)
	f, err := c.deps.Media.MediaStat(ctx, id)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		return nil, notYours
	} else if err != nil {
		return nil, err
	}
	if ok, err := c.readable(ctx, be, s, &f); err != nil {
		return nil, err
	} else if !ok {
		return nil, notYours
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
	// Stored with the API's address, which agents and API tokens read; the widget shows its own.
	return &tandem.Media{Type: typ, ID: f.ID, URL: channel.MediaURL(f.ID), Mime: f.Mime, Name: f.Name, Size: f.Size}, nil
}

// mediaGet is GET /widget/v1/{channel_id}/media/{id}: a stored file, for the sessions that may
// read it (readable); any other is answered 404, as an unknown id.
func (c *Channel) mediaGet(w http.ResponseWriter, r *http.Request) error {
	be, s, err := c.session(r)
	if err != nil {
		return err
	}
	noSuch := tandem.Errorf(tandem.ENOTFOUND, "No such file.")
	if c.deps.Media == nil {
		return noSuch
	}
	id := r.PathValue("id")
	f, err := c.deps.Media.MediaStat(r.Context(), id)
	if tandem.ErrorCode(err) == tandem.ENOTFOUND {
		return noSuch
	} else if err != nil {
		return err
	}
	if ok, err := c.readable(r.Context(), be, s, &f); err != nil {
		return err
	} else if !ok {
		return noSuch
	}
	f, body, err := c.deps.Media.MediaGet(r.Context(), id)
	if err != nil {
		return err
	}
	defer body.Close()
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
