package whatsapp

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

// verify is GET /hooks/whatsapp/{channel_id}: Meta's handshake when the callback URL is saved.
// The challenge is echoed when hub.verify_token is the channel's verify_token; anything else
// is 403 and the endpoint stays unverified.
func verify(ch channel.Channel, w http.ResponseWriter, r *http.Request) error {
	c := ch.(*Channel)
	q := r.URL.Query()
	if !channel.Equal(q.Get("hub.verify_token"), c.cfg.VerifyToken) {
		c.deps.Log().Warn("whatsapp: a webhook verification was refused; check the verify token pasted in Meta's console", "channel", c.id)
		return tandem.Errorf(tandem.EFORBIDDEN, "The verify token does not match this channel's verify_token.")
	}
	if mode := q.Get("hub.mode"); mode != "subscribe" {
		return tandem.Errorf(tandem.EFORBIDDEN, "hub.mode is %.40q; a webhook verification has hub.mode=subscribe.", mode)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, err := io.WriteString(w, q.Get("hub.challenge"))
	return err
}

// webhook is POST /hooks/whatsapp/{channel_id}: a batch of messages and statuses. The signature
// is checked on the raw body before anything else (401 and nothing stored when it is wrong);
// the batch is stored, each part on the channel of its phone number, before the 200. Parts
// Tandem cannot use are acknowledged all the same: another answer only buys days of retries.
func webhook(ch channel.Channel, w http.ResponseWriter, r *http.Request) error {
	c := ch.(*Channel)
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return jsonhttp.DecodeError(err)
	}
	if !validSignature(c.cfg.AppSecret, body, r.Header.Get("X-Hub-Signature-256")) {
		c.deps.Log().Warn("whatsapp: a webhook with a missing or wrong signature was refused; if this repeats, check app_secret", "channel", c.id)
		return channel.ErrUnauthorized
	}
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return tandem.Errorf(tandem.EINVALID, "The body is not a WhatsApp webhook: %v.", err)
	}
	if p.Object != "whatsapp_business_account" {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	for _, part := range c.route(&p) {
		b, err := part.ch.normalize(r.Context(), part.values)
		if err != nil {
			return err
		}
		if b.Empty() {
			continue
		}
		if part.ch.deps.Inbox == nil {
			return tandem.Errorf(tandem.EUNAVAILABLE, "WhatsApp channel %q takes no messages on this server.", part.ch.id)
		}
		if _, err := part.ch.deps.Inbox.Receive(r.Context(), part.ch.id, b); err != nil {
			return err
		}
		part.ch.markRead(b)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// Parse implements channel.Parser: the messages and statuses of a webhook body addressed to
// this channel's phone number, media downloaded. Nothing is stored.
func (c *Channel) Parse(ctx context.Context, _ http.Header, body []byte) (*channel.Batch, error) {
	var p payload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, tandem.Errorf(tandem.EINVALID, "The body is not a WhatsApp webhook: %v.", err)
	}
	var values []*value
	for _, e := range p.Entry {
		for i := range e.Changes {
			if ch := &e.Changes[i]; ch.Field == "messages" && ch.Value.Metadata.PhoneNumberID == c.cfg.PhoneNumberID {
				values = append(values, &ch.Value)
			}
		}
	}
	return c.normalize(ctx, values)
}

// part is what a batch holds for one channel.
type part struct {
	ch     *Channel
	values []*value
}

// route sorts a batch's changes by the channel of their phone number. A number that no channel
// has, or that belongs to another Meta app (another app secret), is logged and left out.
func (c *Channel) route(p *payload) []part {
	peers := map[string]*Channel{c.cfg.PhoneNumberID: c}
	if c.deps.Channels != nil {
		for _, ch := range c.deps.Channels(Kind) {
			if wc, ok := ch.(*Channel); ok && wc.cfg.PhoneNumberID != "" && peers[wc.cfg.PhoneNumberID] == nil {
				peers[wc.cfg.PhoneNumberID] = wc
			}
		}
	}
	var out []part
	index := map[*Channel]int{}
	for _, e := range p.Entry {
		for i := range e.Changes {
			chg := &e.Changes[i]
			if chg.Field != "messages" {
				continue
			}
			for _, er := range chg.Value.Errors {
				c.deps.Log().Warn("whatsapp: Meta reported an error", "channel", c.id, "code", er.Code, "title", er.Title, "details", er.ErrorData.Details)
			}
			number := chg.Value.Metadata.PhoneNumberID
			to := peers[number]
			switch {
			case to == nil:
				c.deps.Log().Warn("whatsapp: a webhook for a phone number no channel has was ignored", "channel", c.id, "phone_number_id", number)
				continue
			case to != c && !channel.Equal(to.cfg.AppSecret, c.cfg.AppSecret):
				c.deps.Log().Warn("whatsapp: a webhook for a phone number of another Meta app was ignored", "channel", c.id, "phone_number_id", number, "its_channel", to.id)
				continue
			}
			j, ok := index[to]
			if !ok {
				j = len(out)
				index[to] = j
				out = append(out, part{ch: to})
			}
			out[j].values = append(out[j].values, &chg.Value)
			for _, er := range chg.Value.Errors {
				to.report(er)
			}
		}
	}
	return out
}

// normalize turns the changes of this channel's number into a batch; media are downloaded.
func (c *Channel) normalize(ctx context.Context, values []*value) (*channel.Batch, error) {
	b := &channel.Batch{}
	for _, v := range values {
		names := map[string]string{}
		for _, ct := range v.Contacts {
			name := ct.Profile.Name
			if ct.WaID != "" {
				names[ct.WaID] = name
			}
			if ct.UserID != "" {
				names[ct.UserID] = name
			}
		}
		for i := range v.Messages {
			m := &v.Messages[i]
			if m.GroupID != "" {
				continue // group traffic is not a customer conversation
			}
			in, err := c.inbound(ctx, m, names)
			if err != nil {
				return nil, err
			}
			if in != nil {
				b.Messages = append(b.Messages, *in)
			}
		}
		for i := range v.Statuses {
			if st, ok := c.status(&v.Statuses[i]); ok {
				b.Statuses = append(b.Statuses, st)
			}
		}
	}
	return b, nil
}

// inbound normalises one message; nil for one without a sender.
func (c *Channel) inbound(ctx context.Context, m *message, names map[string]string) (*channel.Inbound, error) {
	from := strings.TrimPrefix(m.From, "+")
	ext := from
	if ext == "" {
		ext = m.FromUserID // a business-scoped user id: a user with a username and no number shown
	}
	if ext == "" {
		c.deps.Log().Warn("whatsapp: a message without a sender was ignored", "channel", c.id, "id", m.ID)
		return nil, nil
	}
	ct := tandem.Contact{ExternalID: ext, Name: names[ext]}
	if ct.Name == "" && m.FromUserID != "" {
		ct.Name = names[m.FromUserID]
	}
	if from != "" {
		ct.Phone = "+" + from
	}
	// CreatedAt stays the time Tandem received it: the 24-hour window is counted from it, on
	// the server's clock (Meta's timestamp may be days old on a redelivery).
	msg := tandem.Message{ChannelMessageID: m.ID}
	if m.Context != nil && m.Context.ID != "" {
		msg.RefersTo = m.Context.ID
	}
	switch m.Type {
	case "text":
		msg.Type, msg.Text = tandem.MessageText, m.Text.Body
	case "interactive":
		it := m.Interactive
		switch {
		case it.ButtonReply != nil:
			msg.Type, msg.Option, msg.Text = tandem.MessageOption, it.ButtonReply.ID, it.ButtonReply.Title
		case it.ListReply != nil:
			msg.Type, msg.Option, msg.Text = tandem.MessageOption, it.ListReply.ID, it.ListReply.Title
		case it.NFMReply != nil:
			msg.Type, msg.Text = tandem.MessageForm, it.NFMReply.Body
			msg.Data = map[string]any{}
			if s := it.NFMReply.ResponseJSON; s != "" && json.Unmarshal([]byte(s), &msg.Data) != nil {
				msg.Data = map[string]any{"response_json": s}
			}
			if it.NFMReply.Name != "" {
				msg.Data["flow_name"] = it.NFMReply.Name
			}
		default:
			msg.Type, msg.Data = tandem.MessageUnsupported, map[string]any{"type": "interactive." + it.Type}
		}
	case "button":
		msg.Type, msg.Option, msg.Text = tandem.MessageOption, m.Button.Payload, m.Button.Text
		if msg.Option == "" {
			msg.Option = m.Button.Text
		}
	case "image", "video", "audio", "voice", "document", "sticker":
		if err := c.media(ctx, m, &msg); err != nil {
			return nil, err
		}
	case "location":
		l := m.Location
		msg.Type = tandem.MessageLocation
		msg.Location = &tandem.Location{Lat: l.Latitude, Lng: l.Longitude, Name: l.Name, Address: l.Address}
		msg.Text = strings.TrimSpace(l.Name + " " + l.Address)
	case "contacts":
		msg.Type = tandem.MessageContact
		var lines []string
		for _, card := range m.Contacts {
			name := card.Name.FormattedName
			if strings.TrimSpace(name) == "" { // a card with only the parts of the name
				name = strings.Join(strings.Fields(card.Name.FirstName+" "+card.Name.MiddleName+" "+card.Name.LastName), " ")
			}
			sc := tandem.SharedContact{Name: name, Org: card.Org.Company}
			for _, p := range card.Phones {
				sc.Phones = append(sc.Phones, p.Phone)
			}
			for _, e := range card.Emails {
				sc.Emails = append(sc.Emails, e.Email)
			}
			msg.Contacts = append(msg.Contacts, sc)
			lines = append(lines, strings.TrimSpace(sc.Name+" "+strings.Join(sc.Phones, " ")))
		}
		msg.Text = strings.Join(lines, "\n")
	case "reaction":
		msg.Type, msg.Reaction, msg.RefersTo = tandem.MessageReaction, m.Reaction.Emoji, m.Reaction.MessageID
	default:
		// unsupported (a poll, an edit), order, system, request_welcome, anything new.
		msg.Type = tandem.MessageUnsupported
		msg.Data = map[string]any{"type": m.Type}
		if m.Unsupported != nil && m.Unsupported.Type != "" {
			msg.Data["type"] = m.Unsupported.Type
		}
		if len(m.Errors) > 0 {
			msg.Data["code"] = m.Errors[0].Code
			msg.Data["error"] = m.Errors[0].Title
		}
	}
	if len(m.Referral) > 0 {
		if msg.Data == nil {
			msg.Data = map[string]any{}
		}
		msg.Data["referral"] = m.Referral
	}
	return &channel.Inbound{Contact: ct, Message: msg}, nil
}

// status normalises a status; ok is false for a status Tandem does not track (deleted, new
// ones).
func (c *Channel) status(s *status) (channel.Status, bool) {
	st := channel.Status{ChannelMessageID: s.ID, Status: s.Status, At: unixTime(s.Timestamp)}
	switch s.Status {
	case channel.StatusSent, channel.StatusDelivered, channel.StatusRead, channel.StatusPlayed, channel.StatusFailed:
	default:
		c.deps.Log().Info("whatsapp: a status Tandem does not track was ignored", "channel", c.id, "status", s.Status)
		return st, false
	}
	st.ConversationID, st.MessageID, _ = channel.ParseRef(s.BizOpaqueCallbackData)
	if len(s.Errors) > 0 {
		e := s.Errors[0]
		st.Code = strconv.Itoa(e.Code)
		st.Error = firstNonEmpty(e.Title, e.Message)
		if d := e.ErrorData.Details; d != "" && d != st.Error {
			st.Error += " (" + d + ")"
		}
	}
	return st, true
}

// markRead marks the batch's last message of each customer as read (blue ticks), in the
// background: it is a courtesy, not worth delaying the answer to Meta nor retrying.
func (c *Channel) markRead(b *channel.Batch) {
	last := map[string]string{}
	for _, in := range b.Messages {
		if in.Message.ChannelMessageID != "" && !tandem.Quiet(in.Message.Type) {
			last[in.Contact.ExternalID] = in.Message.ChannelMessageID
		}
	}
	if len(last) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		for _, id := range last {
			body := map[string]any{"messaging_product": "whatsapp", "status": "read", "message_id": id}
			if err := c.call(ctx, http.MethodPost, "/"+c.cfg.PhoneNumberID+"/messages", body, nil); err != nil {
				c.deps.Log().Debug("whatsapp: a message could not be marked as read", "channel", c.id, "err", err)
			}
		}
	}()
}

// unixTime reads a timestamp of Unix seconds (milliseconds past 1e12); zero when absent.
func unixTime(s string) time.Time {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	if n >= 1e12 {
		return time.UnixMilli(n).UTC()
	}
	return time.Unix(n, 0).UTC()
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// errPermanentMedia marks a media download that will not work on a retry.
var errPermanentMedia = errors.New("permanent")

func permanentMedia(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errPermanentMedia}, args...)...)
}
