package whatsapp

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
)

// listButton is the label of the button that opens a list; listSection names its one section.
const (
	listButton  = "Menu"
	listSection = "Options"
)

// Send implements tandem.Channel: one message, as one Graph API request or, when WhatsApp
// cannot carry it whole (a caption over 1,024 characters, audio with a text, a list with an
// image), as a few in order. Every request carries the message's reference in
// biz_opaque_callback_data, so its statuses find it.
func (c *Channel) Send(ctx context.Context, out tandem.Outbound) (tandem.SendResult, error) {
	if h, ok := c.missing(); !ok {
		return tandem.SendResult{}, tandem.Permanent(fmt.Errorf("WhatsApp channel %s is not configured: %s", c.id, h.Detail))
	}
	reqs, err := c.requests(ctx, out)
	if err != nil {
		return tandem.SendResult{}, err
	}
	var last string
	for _, body := range reqs {
		var res struct {
			Messages []struct {
				ID string `json:"id"`
			} `json:"messages"`
		}
		if err := c.call(ctx, http.MethodPost, "/"+c.cfg.PhoneNumberID+"/messages", body, &res); err != nil {
			return tandem.SendResult{}, err
		}
		if len(res.Messages) > 0 {
			last = res.Messages[0].ID
		}
	}
	return tandem.SendResult{ChannelMessageID: last}, nil
}

// requests builds the Graph API request bodies of a message.
func (c *Channel) requests(ctx context.Context, out tandem.Outbound) ([]map[string]any, error) {
	m := out.Message
	envelope := func(typ string, content any) map[string]any {
		body := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "type": typ, typ: content}
		to := recipient(out.Contact)
		if strings.Contains(to, ".") {
			body["recipient"] = to // a business-scoped user id
		} else {
			body["to"] = to
		}
		if ref := channel.Ref(out); ref != "" {
			body["biz_opaque_callback_data"] = ref
		}
		return body
	}
	if out.UseTemplate {
		t := m.Template
		if t == nil || t.Name == "" {
			return nil, tandem.Permanent(fmt.Errorf("the customer's 24-hour window is closed and the message has no template"))
		}
		tpl := map[string]any{"name": t.Name, "language": map[string]any{"policy": "deterministic", "code": firstNonEmpty(t.Language, "en_US")}}
		if t.Components != nil {
			tpl["components"] = t.Components
		}
		return []map[string]any{envelope("template", tpl)}, nil
	}
	text := strings.TrimSpace(m.Text)
	var media map[string]any
	mtype := ""
	if md := m.Media; md != nil && (md.URL != "" || md.ID != "") {
		var err error
		if media, err = c.mediaObject(ctx, md); err != nil {
			return nil, err
		}
		mtype = mediaType(md.Type, md.Mime)
	}
	var reqs []map[string]any
	if len(m.Buttons) > 0 {
		if m.Render != "list" && len(m.Buttons) <= 3 {
			it := map[string]any{"type": "button", "action": map[string]any{"buttons": replyButtons(m.Buttons)}}
			if media != nil && (mtype == "image" || mtype == "video" || mtype == "document") {
				it["header"] = map[string]any{"type": mtype, mtype: media}
			} else if media != nil {
				reqs = append(reqs, envelope(mtype, media))
			}
			body, rest := interactiveBody(text)
			if rest != "" {
				reqs = append(reqs, envelope("text", textBody(rest)))
			}
			it["body"] = map[string]any{"text": body}
			return append(reqs, envelope("interactive", it)), nil
		}
		if media != nil {
			reqs = append(reqs, envelope(mtype, media))
		}
		body, rest := interactiveBody(text)
		if rest != "" {
			reqs = append(reqs, envelope("text", textBody(rest)))
		}
		it := map[string]any{"type": "list", "body": map[string]any{"text": body},
			"action": map[string]any{"button": listButton, "sections": []any{map[string]any{"title": listSection, "rows": listRows(m.Buttons)}}}}
		return append(reqs, envelope("interactive", it)), nil
	}
	if media != nil {
		captioned := mtype == "image" || mtype == "video" || mtype == "document"
		if captioned && text != "" && utf8.RuneCountInString(text) <= MaxCaption {
			media["caption"] = text
			text = ""
		}
		if mtype == "document" && m.Media.Name != "" {
			media["filename"] = m.Media.Name
		}
		reqs = append(reqs, envelope(mtype, media))
	}
	if text != "" {
		reqs = append(reqs, envelope("text", textBody(text)))
	}
	if len(reqs) == 0 {
		return nil, tandem.Permanent(fmt.Errorf("the message has nothing WhatsApp can show (no text, file or template)"))
	}
	return reqs, nil
}

// recipient is the customer's WhatsApp address: "+" and the digits of their number (without
// the +, Meta would prefix the business number's country code), or a business-scoped user id.
func recipient(ct *tandem.Contact) string {
	if ct == nil {
		return ""
	}
	id := ct.ExternalID
	if strings.Contains(id, ".") && !strings.HasPrefix(id, "+") {
		return id
	}
	if id == "" {
		id = ct.Phone
	}
	digits := strings.Map(func(r rune) rune {
		if unicode.IsDigit(r) {
			return r
		}
		return -1
	}, id)
	return "+" + digits
}

// mediaObject is a media's {"link"} when it has a public URL, else {"id"} of its upload.
func (c *Channel) mediaObject(ctx context.Context, md *tandem.Media) (map[string]any, error) {
	if strings.HasPrefix(md.URL, "https://") || strings.HasPrefix(md.URL, "http://") {
		return map[string]any{"link": md.URL}, nil
	}
	id, err := c.upload(ctx, md)
	if err != nil {
		return nil, err
	}
	return map[string]any{"id": id}, nil
}

// mediaType is WhatsApp's type of a media: image, video, audio, document or sticker.
func mediaType(typ, mime string) string {
	switch typ {
	case tandem.MessageImage, tandem.MessageVideo, tandem.MessageAudio, tandem.MessageSticker:
		return typ
	case tandem.MessageFile, "document":
		return "document"
	}
	for _, t := range []string{"image", "video", "audio"} {
		if strings.HasPrefix(mime, t+"/") {
			return t
		}
	}
	return "document"
}

func textBody(text string) map[string]any {
	return map[string]any{"body": text, "preview_url": strings.Contains(text, "https://") || strings.Contains(text, "http://")}
}

// interactiveBody fits a text into the body of a button or list message: a longer text is sent
// before it whole, and the body says only its last line.
func interactiveBody(text string) (body, before string) {
	if text == "" {
		return "👇", ""
	}
	if utf8.RuneCountInString(text) <= MaxInteractiveBody {
		return text, ""
	}
	lines := strings.Split(text, "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if last == "" || utf8.RuneCountInString(last) > MaxInteractiveBody {
		last = "👇"
	}
	return last, text
}

func replyButtons(bs []tandem.Button) []any {
	out := make([]any, 0, len(bs))
	titles := uniqueTitles(bs, 20)
	for i, b := range bs {
		out = append(out, map[string]any{"type": "reply", "reply": map[string]any{"id": clipRunes(b.ID, 256), "title": titles[i]}})
	}
	return out
}

func listRows(bs []tandem.Button) []any {
	if len(bs) > 10 {
		bs = bs[:10]
	}
	out := make([]any, 0, len(bs))
	titles := uniqueTitles(bs, 24)
	for i, b := range bs {
		out = append(out, map[string]any{"id": clipRunes(b.ID, 200), "title": titles[i]})
	}
	return out
}

// uniqueTitles shortens the buttons' titles to n characters, keeping them unique (WhatsApp
// refuses the whole message otherwise): a title that would repeat an earlier one ends with its
// place instead ("Delivery to my ho… 2").
func uniqueTitles(bs []tandem.Button, n int) []string {
	out := make([]string, len(bs))
	seen := map[string]bool{}
	for i, b := range bs {
		t := clipRunes(b.Title, n)
		if seen[t] {
			suffix := " " + strconv.Itoa(i+1)
			t = clipRunes(b.Title, n-utf8.RuneCountInString(suffix)) + suffix
			if utf8.RuneCountInString(b.Title) <= n-len(suffix) {
				t = b.Title + suffix
			}
		}
		seen[t] = true
		out[i] = t
	}
	return out
}

func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
