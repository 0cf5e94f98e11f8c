package telegram

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/internal/jsonhttp"
)

// SecretHeader carries the webhook's secret token.
const SecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// StartPayload is the run variable a "/start <payload>" message sets.
const StartPayload = "start_payload"

// webhook is POST /hooks/telegram/{channel_id}: one update. The secret header is checked first
// (401 and nothing stored when it is wrong); the update is stored before the 200, and a button
// tap is answered (the spinner stops) once it is.
func webhook(ch channel.Channel, w http.ResponseWriter, r *http.Request) error {
	c := ch.(*Channel)
	if !channel.Equal(r.Header.Get(SecretHeader), c.SecretToken()) {
		c.deps.Log().Warn("telegram: an update with a missing or wrong secret token was refused; if this repeats, run `tandem channel telegram set-webhook`", "channel", c.id)
		return channel.ErrUnauthorized
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return jsonhttp.DecodeError(err)
	}
	b, err := c.Parse(r.Context(), r.Header, body)
	if err != nil {
		return err
	}
	if !b.Empty() {
		if c.deps.Inbox == nil {
			return tandem.Errorf(tandem.EUNAVAILABLE, "Telegram channel %q takes no messages on this server.", c.id)
		}
		if _, err := c.deps.Inbox.Receive(r.Context(), c.id, b); err != nil {
			return err
		}
	}
	var u update
	if json.Unmarshal(body, &u) == nil && u.CallbackQuery != nil {
		c.answerCallback(u.CallbackQuery.ID)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// Parse implements channel.Parser: one update, normalised, files downloaded. Updates Tandem
// does not handle (group chats, channel posts, inline queries) make an empty batch.
func (c *Channel) Parse(ctx context.Context, _ http.Header, body []byte) (*channel.Batch, error) {
	var u update
	if err := json.Unmarshal(body, &u); err != nil {
		return nil, tandem.Errorf(tandem.EINVALID, "The body is not a Telegram update: %v.", err)
	}
	b := &channel.Batch{}
	switch {
	case u.Message != nil:
		in, err := c.message(ctx, u.Message, false)
		if err != nil || in == nil {
			return b, err
		}
		b.Messages = append(b.Messages, *in)
	case u.EditedMessage != nil:
		in, err := c.message(ctx, u.EditedMessage, true)
		if err != nil || in == nil {
			return b, err
		}
		b.Messages = append(b.Messages, *in)
	case u.CallbackQuery != nil:
		if in := c.callback(u.CallbackQuery); in != nil {
			b.Messages = append(b.Messages, *in)
		}
	case u.MyChatMember != nil:
		m := u.MyChatMember
		if m.Chat.Type != "private" {
			break
		}
		switch m.NewChatMember.Status {
		case "kicked":
			b.Contacts = append(b.Contacts, channel.ContactState{ExternalID: strconv.FormatInt(m.From.ID, 10), Stopped: true})
		case "member":
			b.Contacts = append(b.Contacts, channel.ContactState{ExternalID: strconv.FormatInt(m.From.ID, 10), Stopped: false})
		}
	}
	return b, nil
}

// contactOf is the customer of a Telegram user.
func contactOf(u *user) tandem.Contact {
	ct := tandem.Contact{ExternalID: strconv.FormatInt(u.ID, 10), Name: strings.TrimSpace(u.FirstName + " " + u.LastName),
		FirstName: u.FirstName, LastName: u.LastName, Language: u.LanguageCode}
	if u.Username != "" {
		ct.Attributes = map[string]any{"telegram_username": u.Username}
	}
	return ct
}

// ref is the platform id of a message: "<chat id>:<message id>" (message ids are per chat).
func ref(chatID, messageID int64) string {
	return strconv.FormatInt(chatID, 10) + ":" + strconv.FormatInt(messageID, 10)
}

// message normalises a message or an edit; nil for one Tandem does not handle.
func (c *Channel) message(ctx context.Context, m *message, edited bool) (*channel.Inbound, error) {
	if m.Chat.Type != "" && m.Chat.Type != "private" {
		c.deps.Log().Debug("telegram: a message from a group or channel was ignored", "channel", c.id, "chat_type", m.Chat.Type)
		return nil, nil
	}
	if m.From == nil || m.From.IsBot || m.MessageID == 0 {
		return nil, nil
	}
	chatID := m.Chat.ID
	if chatID == 0 {
		chatID = m.From.ID
	}
	msg := tandem.Message{ChannelMessageID: ref(chatID, m.MessageID)}
	if edited {
		msg.Type, msg.RefersTo = tandem.MessageEdit, ref(chatID, m.MessageID)
		msg.ChannelMessageID += "@" + strconv.FormatInt(m.EditDate, 10)
		msg.Text = firstNonEmpty(m.Text, m.Caption)
		if m.Location != nil { // a live location moving
			msg.Location = &tandem.Location{Lat: m.Location.Latitude, Lng: m.Location.Longitude}
		}
		return &channel.Inbound{Contact: contactOf(m.From), Message: msg}, nil
	}
	if m.ReplyToMessage != nil {
		msg.RefersTo = ref(chatID, m.ReplyToMessage.MessageID)
	}
	ct := contactOf(m.From)
	msg.Text = m.Caption
	var f *file
	switch {
	case m.Text != "":
		msg.Type, msg.Text = tandem.MessageText, m.Text
		if cmd, payload, ok := command(m.Text); ok && cmd == "/start" && payload != "" {
			msg.Variables = map[string]any{StartPayload: payload}
		}
	case len(m.Photo) > 0:
		msg.Type, f = tandem.MessageImage, largestPhoto(m.Photo, c.deps.MediaCap())
		if f.MimeType == "" {
			f.MimeType = "image/jpeg"
		}
	case m.Document != nil:
		msg.Type, f = tandem.MessageFile, m.Document
	case m.Voice != nil:
		msg.Type, f = tandem.MessageAudio, m.Voice
		if f.MimeType == "" {
			f.MimeType = "audio/ogg"
		}
	case m.Audio != nil:
		msg.Type, f = tandem.MessageAudio, m.Audio
	case m.Video != nil:
		msg.Type, f = tandem.MessageVideo, m.Video
	case m.VideoNote != nil:
		msg.Type, f = tandem.MessageVideo, m.VideoNote
		if f.MimeType == "" {
			f.MimeType = "video/mp4"
		}
	case m.Animation != nil:
		msg.Type, f = tandem.MessageVideo, m.Animation
	case m.Sticker != nil:
		msg.Type, f = tandem.MessageSticker, m.Sticker
		if f.MimeType == "" {
			f.MimeType = map[bool]string{true: "video/webm", false: "image/webp"}[m.Sticker.IsVideo]
			if m.Sticker.IsAnimated {
				f.MimeType = "application/x-tgsticker"
			}
		}
	case m.Venue != nil:
		v := m.Venue
		msg.Type = tandem.MessageLocation
		msg.Location = &tandem.Location{Lat: v.Location.Latitude, Lng: v.Location.Longitude, Name: v.Title, Address: v.Address}
		msg.Text = strings.TrimSpace(v.Title + " " + v.Address)
	case m.Location != nil:
		msg.Type = tandem.MessageLocation
		msg.Location = &tandem.Location{Lat: m.Location.Latitude, Lng: m.Location.Longitude}
	case m.Contact != nil:
		sc := tandem.SharedContact{Name: strings.TrimSpace(m.Contact.FirstName + " " + m.Contact.LastName), Phones: []string{m.Contact.PhoneNumber}}
		msg.Type, msg.Contacts = tandem.MessageContact, []tandem.SharedContact{sc}
		msg.Text = strings.TrimSpace(sc.Name + " " + m.Contact.PhoneNumber)
		if m.Contact.UserID == m.From.ID {
			ct.Phone = m.Contact.PhoneNumber // the customer shared their own number
			if !strings.HasPrefix(ct.Phone, "+") {
				ct.Phone = "+" + ct.Phone
			}
		}
	case m.WebAppData != nil:
		msg.Type, msg.Text = tandem.MessageText, m.WebAppData.Data
	default:
		msg.Type, msg.Data = tandem.MessageUnsupported, map[string]any{"type": kindOf(m)}
	}
	if f != nil {
		msg.Media = &tandem.Media{Type: msg.Type, Mime: f.MimeType, Name: f.FileName, Caption: m.Caption}
		if err := c.keep(ctx, f, msg.Media); err != nil {
			return nil, err
		}
	}
	return &channel.Inbound{Contact: ct, Message: msg}, nil
}

// command splits "/start payload" (or "/start@bot payload") into the command and its payload.
func command(text string) (cmd, payload string, ok bool) {
	if !strings.HasPrefix(text, "/") {
		return "", "", false
	}
	cmd, payload, _ = strings.Cut(text, " ")
	cmd, _, _ = strings.Cut(cmd, "@")
	return cmd, strings.TrimSpace(payload), true
}

// kindOf names what an unsupported message holds.
func kindOf(m *message) string {
	switch {
	case m.Poll != nil:
		return "poll"
	case m.Dice != nil:
		return "dice"
	case m.Game != nil:
		return "game"
	case m.Story != nil:
		return "story"
	case m.Invoice != nil:
		return "invoice"
	}
	return "unknown"
}

// largestPhoto picks the largest size of a photo within the cap (sizes come smallest first).
func largestPhoto(sizes []file, limit int64) *file {
	best := &sizes[0]
	for i := range sizes {
		if s := &sizes[i]; s.FileSize <= min(limit, MaxDownload) && s.FileSize >= best.FileSize {
			best = s
		}
	}
	return best
}

// callback normalises an inline-keyboard tap: an option answer whose id is the button's (its
// title read from the message's keyboard).
func (c *Channel) callback(q *callbackQuery) *channel.Inbound {
	if q.Data == "" {
		return nil // a game button
	}
	msg := tandem.Message{Type: tandem.MessageOption, ChannelMessageID: "cb:" + q.ID}
	title := ""
	if q.Message != nil && q.Message.ReplyMarkup != nil {
		for _, row := range q.Message.ReplyMarkup.InlineKeyboard {
			for _, b := range row {
				if b.CallbackData == q.Data {
					title = b.Text
				}
			}
		}
		msg.RefersTo = ref(q.Message.Chat.ID, q.Message.MessageID)
	}
	if id, ok := strings.CutPrefix(q.Data, optionPrefix); ok {
		msg.Option, msg.Text = id, firstNonEmpty(title, id)
	} else if title != "" {
		msg.Type, msg.Text = tandem.MessageText, title // a long id, sent by its place: the title answers
	} else {
		msg.Option, msg.Text = q.Data, q.Data // a button made elsewhere: its data is the answer
	}
	return &channel.Inbound{Contact: contactOf(&q.From), Message: msg}
}

// answerCallback stops the button's spinner, in the background: a late or failed answer has no
// effect but the spinner.
func (c *Channel) answerCallback(id string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		if err := c.call(ctx, "answerCallbackQuery", map[string]any{"callback_query_id": id}, nil); err != nil {
			c.deps.Log().Debug("telegram: a button tap could not be answered", "channel", c.id, "err", err)
		}
	}()
}

// mediaBudget bounds the download of one file while the webhook waits.
const mediaBudget = 15 * time.Second

// keep downloads a file into the media store (getFile, then the file URL, which carries the
// token and is never kept). When the file cannot be had (too large, Telegram not answering
// within mediaBudget) the message is kept all the same with the reason in Media.Error, and
// when the reason may pass (Telegram failing, throttling, not answering) Media.Fetch has the
// outbox download it again; only a failure of Tandem's own storage is an error (the update is
// refused and Telegram redelivers).
func (c *Channel) keep(ctx context.Context, f *file, dst *tandem.Media) error {
	if c.deps.Media == nil {
		dst.Error = "not kept: this server keeps no files"
		return nil
	}
	limit := min(c.deps.MediaCap(), MaxDownload)
	if f.FileSize > limit {
		dst.Error = fmt.Sprintf("the file has %d bytes; files above %d are not kept", f.FileSize, limit)
		return nil
	}
	err := c.fetchFile(ctx, f.FileID, dst)
	var se *storeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return se.err
	case tandem.IsPermanent(err):
		dst.Error = err.Error()
	default:
		dst.Error = "Telegram did not give the file yet (" + err.Error() + "); Tandem tries again"
		md := *dst
		dst.Fetch = &tandem.MediaFetch{ChannelID: c.id, Ref: f.FileID, Until: c.deps.Now().Add(mediaKeep), Media: md}
	}
	c.deps.Log().Warn("telegram: a file the customer sent is not kept", "channel", c.id, "reason", dst.Error)
	return nil
}

// mediaKeep bounds the retries of a file's download: Telegram documents no end to a file_id,
// and a file the agent gets days later is of little use.
const mediaKeep = 24 * time.Hour

// storeError is a failure of Tandem's own media store, told apart from Telegram's.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }

// FetchMedia implements channel.MediaFetcher: it downloads again a file whose download failed
// when its message arrived.
func (c *Channel) FetchMedia(ctx context.Context, f *tandem.MediaFetch, dst *tandem.Media) error {
	if c.deps.Media == nil {
		return tandem.Permanent(errors.New("not kept: this server keeps no files"))
	}
	err := c.fetchFile(ctx, f.Ref, dst)
	var se *storeError
	if errors.As(err, &se) {
		return se.err
	}
	return err
}

// fetchFile downloads a file by its file_id into the media store, within mediaBudget. An
// error marked tandem.Permanent will not pass on a retry; a *storeError is Tandem's storage's.
func (c *Channel) fetchFile(ctx context.Context, fileID string, dst *tandem.Media) error {
	limit := min(c.deps.MediaCap(), MaxDownload)
	var info struct {
		FilePath string `json:"file_path"`
		FileSize int64  `json:"file_size"`
	}
	ctx, cancel := context.WithTimeout(ctx, mediaBudget)
	defer cancel()
	if err := c.call(ctx, "getFile", map[string]any{"file_id": fileID}, &info); err != nil {
		var be *BotError
		if errors.As(err, &be) && be.Code >= 400 && be.Code < 500 && be.Code != http.StatusTooManyRequests {
			return tandem.Permanent(errors.New("Telegram no longer gives it (" + be.Description + ")"))
		}
		return fmt.Errorf("Telegram did not give the file: %w", err)
	}
	if info.FileSize > limit {
		return tandem.Permanent(fmt.Errorf("the file has %d bytes; files above %d are not kept", info.FileSize, limit))
	}
	data, ctype, err := c.download(ctx, info.FilePath, limit)
	var tl *tooLarge
	if errors.As(err, &tl) {
		return tandem.Permanent(err)
	} else if err != nil {
		return err
	}
	if dst.Mime == "" {
		dst.Mime = ctype
	}
	stored, err := c.deps.Media.MediaPut(ctx, tandem.MediaFile{ChannelID: c.id, Mime: dst.Mime, Name: dst.Name, CreatedAt: c.deps.Now()}, strings.NewReader(string(data)), limit)
	if err != nil {
		return &storeError{err}
	}
	dst.ID, dst.URL, dst.Size = stored.ID, channel.MediaURL(stored.ID), stored.Size
	return nil
}
