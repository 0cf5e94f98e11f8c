package whatsapp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
)

// mediaBudget bounds the download of one file while the webhook waits.
const mediaBudget = 15 * time.Second

// media fills msg from a media message: its type, caption and the file, downloaded through the
// Graph API into the media store. When the file cannot be had (too large, gone, WhatsApp not
// answering within mediaBudget) the message is kept all the same, with the reason in
// Media.Error: the customer's message matters more than its file, and holding the whole batch
// back for a file would delay every message in it. Only a failure of Tandem's own storage is
// an error (the webhook answers 5xx and Meta delivers the batch again).
func (c *Channel) media(ctx context.Context, m *message, msg *tandem.Message) error {
	var obj *mediaObject
	switch m.Type {
	case "image":
		obj, msg.Type = m.Image, tandem.MessageImage
	case "video":
		obj, msg.Type = m.Video, tandem.MessageVideo
	case "audio":
		obj, msg.Type = m.Audio, tandem.MessageAudio
	case "voice": // courier's form of a voice note; Meta sends audio with voice: true
		obj, msg.Type = m.Voice, tandem.MessageAudio
	case "document":
		obj, msg.Type = m.Document, tandem.MessageFile
	case "sticker":
		obj, msg.Type = m.Sticker, tandem.MessageSticker
	}
	if obj == nil {
		obj = &mediaObject{}
	}
	msg.Text = obj.Caption
	msg.Media = &tandem.Media{Type: msg.Type, Mime: obj.MimeType, Name: obj.Filename, Caption: obj.Caption}
	if c.deps.Media == nil {
		msg.Media.Error = "not kept: this server keeps no files"
		return nil
	}
	dctx, cancel := context.WithTimeout(ctx, mediaBudget)
	defer cancel()
	storeFailed, err := sortMediaErr(c.download(dctx, obj, msg.Media))
	switch {
	case err == nil:
		return nil
	case storeFailed:
		return err
	case tandem.IsPermanent(err):
		msg.Media.Error = err.Error()
	case obj.ID != "":
		// It may pass (WhatsApp failing or throttling): the outbox downloads it again, while
		// WhatsApp keeps the media id (mediaKeep).
		msg.Media.Error = "WhatsApp did not give the file yet (" + err.Error() + "); Tandem tries again"
		md := *msg.Media
		msg.Media.Fetch = &tandem.MediaFetch{ChannelID: c.id, Ref: obj.ID, SHA256: obj.SHA256, Until: c.deps.Now().Add(mediaKeep), Media: md}
	default:
		msg.Media.Error = "WhatsApp did not give the file: " + err.Error()
	}
	c.deps.Log().Warn("whatsapp: a file the customer sent is not kept", "channel", c.id, "message", m.ID, "reason", msg.Media.Error)
	return nil
}

// mediaKeep is how long WhatsApp keeps a webhook's media id downloadable (7 days), less a
// margin.
const mediaKeep = 7*24*time.Hour - time.Hour

// FetchMedia implements channel.MediaFetcher: it downloads again a file whose download failed
// when its message arrived.
func (c *Channel) FetchMedia(ctx context.Context, f *tandem.MediaFetch, dst *tandem.Media) error {
	if c.deps.Media == nil {
		return tandem.Permanent(errors.New("not kept: this server keeps no files"))
	}
	ctx, cancel := context.WithTimeout(ctx, mediaBudget)
	defer cancel()
	storeFailed, err := sortMediaErr(c.download(ctx, &mediaObject{ID: f.Ref, SHA256: f.SHA256}, dst))
	if err == nil || storeFailed || tandem.IsPermanent(err) {
		return err
	}
	return fmt.Errorf("WhatsApp did not give the file: %w", err)
}

// sortMediaErr sorts a download's failure: storeFailed when Tandem could not keep the file (the
// store's error, as is); otherwise a failure that will not pass is tandem.Permanent with
// WhatsApp's reason, and any other may pass (tried again).
func sortMediaErr(err error) (storeFailed bool, _ error) {
	var se *storeError
	switch {
	case err == nil:
		return false, nil
	case errors.As(err, &se):
		return true, se.err
	case errors.Is(err, errPermanentMedia):
		return false, tandem.Permanent(errors.New(strings.TrimPrefix(err.Error(), errPermanentMedia.Error()+": ")))
	}
	return false, err
}

// storeError is a failure of Tandem's own media store, told apart from the platform's.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }

// download fetches a media object's file and keeps it.
func (c *Channel) download(ctx context.Context, obj *mediaObject, dst *tandem.Media) error {
	if obj.ID == "" && obj.URL == "" {
		return permanentMedia("the message names no file")
	}
	limit := c.deps.MediaCap()
	url := obj.URL
	for attempt := 0; attempt < 2; attempt++ {
		if url == "" {
			var info struct {
				URL      string      `json:"url"`
				MimeType string      `json:"mime_type"`
				FileSize json.Number `json:"file_size"`
			}
			if err := c.call(ctx, http.MethodGet, "/"+obj.ID, nil, &info); err != nil {
				var ge *GraphError
				if errors.As(err, &ge) && ge.Status >= 400 && ge.Status < 500 && ge.Status != http.StatusTooManyRequests {
					return permanentMedia("WhatsApp no longer has it (%s)", ge.Error())
				}
				return fmt.Errorf("whatsapp: media %s: %w", obj.ID, err)
			}
			if n, err := info.FileSize.Int64(); err == nil && n > limit {
				return permanentMedia("the file has %d bytes; files above %d are not kept", n, limit)
			}
			if dst.Mime == "" {
				dst.Mime = info.MimeType
			}
			url = info.URL
		}
		data, ctype, status, err := c.fetch(ctx, url, limit)
		switch {
		case errors.Is(err, errPermanentMedia):
			return err
		case err != nil:
			return fmt.Errorf("whatsapp: media %s: %w", obj.ID, err)
		case status == http.StatusNotFound && attempt == 0 && obj.ID != "":
			url = "" // the URL expired (they last 5 minutes): ask for a new one
			continue
		case status >= 500 || status == http.StatusTooManyRequests:
			return fmt.Errorf("whatsapp: media %s: the download answered %d", obj.ID, status)
		case status != http.StatusOK:
			return permanentMedia("the download answered %d", status)
		}
		if !checksumOK(obj.SHA256, data) {
			return fmt.Errorf("whatsapp: media %s: the file's SHA-256 does not match the webhook's", obj.ID)
		}
		if dst.Mime == "" {
			dst.Mime = ctype
		}
		f, err := c.deps.Media.MediaPut(ctx, tandem.MediaFile{ChannelID: c.id, Mime: dst.Mime, Name: dst.Name, CreatedAt: c.deps.Now()}, bytes.NewReader(data), limit)
		if err != nil {
			return &storeError{err}
		}
		dst.ID, dst.URL, dst.Size = f.ID, channel.MediaURL(f.ID), f.Size
		return nil
	}
	return permanentMedia("WhatsApp no longer has it")
}

// fetch GETs a media URL with the access token (Meta refuses it without), up to limit bytes.
func (c *Channel) fetch(ctx context.Context, url string, limit int64) (data []byte, ctype string, status int, err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", 0, permanentMedia("the media URL is not a URL")
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.AccessToken)
	resp, err := c.deps.Client().Do(req)
	if err != nil {
		return nil, "", 0, errors.New("the download did not answer") // the URL may carry a signature: not logged
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, "", resp.StatusCode, nil
	}
	data, err = io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, "", 0, errors.New("the download was cut")
	}
	if int64(len(data)) > limit {
		return nil, "", 0, permanentMedia("the file has more than %d bytes; larger files are not kept", limit)
	}
	ctype, _, _ = strings.Cut(resp.Header.Get("Content-Type"), ";")
	return data, strings.TrimSpace(ctype), resp.StatusCode, nil
}

// checksumOK compares a file with the webhook's sha256 when it is one Tandem can read (base64
// as Meta sends it, or hex); other forms are not checked.
func checksumOK(want string, data []byte) bool {
	sum := sha256.Sum256(data)
	if b, err := base64.StdEncoding.DecodeString(want); err == nil && len(b) == sha256.Size {
		return bytes.Equal(b, sum[:])
	}
	if b, err := hex.DecodeString(want); err == nil && len(b) == sha256.Size {
		return bytes.Equal(b, sum[:])
	}
	return true
}

// multipartBody is a prepared multipart/form-data request body.
type multipartBody struct {
	data        []byte
	contentType string
}

// upload sends a kept file to WhatsApp (POST /{phone_number_id}/media) and returns its media
// id, for sending files that have no public link.
func (c *Channel) upload(ctx context.Context, m *tandem.Media) (string, error) {
	id := m.ID
	if id == "" {
		id = strings.TrimPrefix(m.URL, channel.MediaPath)
	}
	if c.deps.Media == nil {
		return "", tandem.Permanent(fmt.Errorf("whatsapp: file %s cannot be sent: this server keeps no files", id))
	}
	f, rc, err := c.deps.Media.MediaGet(ctx, id)
	if err != nil {
		if tandem.ErrorCode(err) == tandem.ENOTFOUND {
			return "", tandem.Permanent(fmt.Errorf("whatsapp: file %s to send does not exist", id))
		}
		return "", err
	}
	defer rc.Close()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.WriteField("messaging_product", "whatsapp")
	mimeType := firstNonEmpty(m.Mime, f.Mime, "application/octet-stream")
	w.WriteField("type", mimeType)
	h := textproto.MIMEHeader{}
	name := firstNonEmpty(m.Name, f.Name, "file")
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+strings.NewReplacer(`"`, "", "\r", "", "\n", "").Replace(name)+`"`)
	h.Set("Content-Type", mimeType)
	pw, err := w.CreatePart(h)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(pw, rc); err != nil {
		return "", fmt.Errorf("whatsapp: read file %s: %w", id, err)
	}
	w.Close()
	var out struct {
		ID string `json:"id"`
	}
	if err := c.call(ctx, http.MethodPost, "/"+c.cfg.PhoneNumberID+"/media", &multipartBody{buf.Bytes(), w.FormDataContentType()}, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", fmt.Errorf("whatsapp: the upload of file %s answered no id (size %s)", id, strconv.FormatInt(f.Size, 10))
	}
	return out.ID, nil
}
