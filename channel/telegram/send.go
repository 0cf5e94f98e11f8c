package telegram

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
)

// optionPrefix marks callback data that carries an option id ("o:sales"); a tap on it is an
// option answer. callback_data takes at most 64 bytes: longer ids go by their place ("i:2").
const (
	optionPrefix  = "o:"
	indexPrefix   = "i:"
	maxCallback   = 64
	rowButtons    = 3  // buttons side by side at most
	rowCharacters = 30 // and their titles' characters together
)

// Send implements tandem.Channel: one message as sendMessage, or a file method
// (sendPhoto, sendDocument, ...) by link or by upload, with its buttons as an inline keyboard.
// A caption longer than Telegram takes goes as a text after the file. The platform id returned
// is "<chat id>:<message id>" of the last message sent.
func (c *Channel) Send(ctx context.Context, out tandem.Outbound) (tandem.SendResult, error) {
	if c.cfg.BotToken == "" {
		return tandem.SendResult{}, tandem.Permanent(fmt.Errorf("Telegram channel %s is not configured: set bot_token", c.id))
	}
	m := out.Message
	chatID, err := strconv.ParseInt(out.Contact.ExternalID, 10, 64)
	if err != nil {
		return tandem.SendResult{}, tandem.Permanent(fmt.Errorf("telegram: contact %q is not a Telegram user id", out.Contact.ExternalID))
	}
	text := strings.TrimSpace(m.Text)
	var keyboard map[string]any
	if len(m.Buttons) > 0 {
		keyboard = map[string]any{"inline_keyboard": inlineKeyboard(m.Buttons, m.Render == "list")}
	}
	var res struct {
		MessageID int64 `json:"message_id"`
	}
	if md := m.Media; md != nil && (md.URL != "" || md.ID != "") {
		method, field := fileMethod(md)
		caption := ""
		if utf8.RuneCountInString(text) <= MaxCaption {
			caption, text = text, ""
		}
		params := map[string]any{"chat_id": chatID}
		if caption != "" {
			params["caption"] = caption
		}
		if keyboard != nil && text == "" {
			params["reply_markup"] = keyboard
		}
		var req any = params
		if strings.HasPrefix(md.URL, "https://") || strings.HasPrefix(md.URL, "http://") {
			params[field] = md.URL
		} else {
			if req, err = c.upload(ctx, md, field, params); err != nil {
				return tandem.SendResult{}, err
			}
		}
		if err := c.call(ctx, method, req, &res); err != nil {
			return tandem.SendResult{}, err
		}
	}
	if text != "" || (res.MessageID == 0) {
		if text == "" {
			text = "👇"
		}
		params := map[string]any{"chat_id": chatID, "text": text}
		if keyboard != nil {
			params["reply_markup"] = keyboard
		}
		if err := c.call(ctx, "sendMessage", params, &res); err != nil {
			return tandem.SendResult{}, err
		}
	}
	return tandem.SendResult{ChannelMessageID: ref(chatID, res.MessageID)}, nil
}

// inlineKeyboard lays buttons out: a list one to a row, quick replies side by side while they
// fit (at most rowButtons, rowCharacters of titles).
func inlineKeyboard(bs []tandem.Button, list bool) [][]map[string]any {
	var rows [][]map[string]any
	var row []map[string]any
	width := 0
	for i, b := range bs {
		data := optionPrefix + b.ID
		if len(data) > maxCallback || !utf8.ValidString(data) {
			data = indexPrefix + strconv.Itoa(i)
		}
		btn := map[string]any{"text": b.Title, "callback_data": data}
		w := utf8.RuneCountInString(b.Title)
		if len(row) > 0 && (list || len(row) == rowButtons || width+w > rowCharacters) {
			rows = append(rows, row)
			row, width = nil, 0
		}
		row = append(row, btn)
		width += w
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	return rows
}

// fileMethod is the Bot API method and field that send a media.
func fileMethod(md *tandem.Media) (method, field string) {
	switch md.Type {
	case tandem.MessageImage:
		return "sendPhoto", "photo"
	case tandem.MessageVideo:
		return "sendVideo", "video"
	case tandem.MessageAudio:
		if strings.HasPrefix(md.Mime, "audio/ogg") {
			return "sendVoice", "voice"
		}
		return "sendAudio", "audio"
	case tandem.MessageSticker:
		return "sendSticker", "sticker"
	}
	return "sendDocument", "document"
}

// upload builds a multipart request that uploads a kept file.
func (c *Channel) upload(ctx context.Context, md *tandem.Media, field string, params map[string]any) (*body, error) {
	id := md.ID
	if id == "" {
		id = strings.TrimPrefix(md.URL, channel.MediaPath)
	}
	if c.deps.Media == nil {
		return nil, tandem.Permanent(fmt.Errorf("telegram: file %s cannot be sent: this server keeps no files", id))
	}
	f, rc, err := c.deps.Media.MediaGet(ctx, id)
	if err != nil {
		if tandem.ErrorCode(err) == tandem.ENOTFOUND {
			return nil, tandem.Permanent(fmt.Errorf("telegram: file %s to send does not exist", id))
		}
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range params {
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case int64:
			s = strconv.FormatInt(x, 10)
		default:
			b, _ := json.Marshal(x)
			s = string(b)
		}
		w.WriteField(k, s)
	}
	h := textproto.MIMEHeader{}
	name := strings.NewReplacer(`"`, "", "\r", "", "\n", "").Replace(firstNonEmpty(md.Name, f.Name, "file"))
	h.Set("Content-Disposition", `form-data; name="`+field+`"; filename="`+name+`"`)
	h.Set("Content-Type", firstNonEmpty(md.Mime, f.Mime, "application/octet-stream"))
	pw, err := w.CreatePart(h)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(pw, rc); err != nil {
		return nil, fmt.Errorf("telegram: read file %s: %w", id, err)
	}
	w.Close()
	return &body{buf.Bytes(), w.FormDataContentType()}, nil
}
