package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tandemchat/tandem"
)

// InboundParams is a customer message received on a channel.
type InboundParams struct {
	ChannelID   string
	ChannelKind string
	// Contact identifies the customer by ExternalID; other fields fill the contact's empty ones.
	Contact tandem.Contact
	// Message.ChannelMessageID, when set, recognises a provider's retry of the same message.
	Message tandem.Message
	// ClientID says that Message.ChannelMessageID was chosen by the client that sent it (the
	// API channel's message.id), not by a platform: a repeat of the id must carry the same
	// contact and message, or it is refused with tandem.EIDEMPOTENCY and nothing changes.
	// Without it a repeat is a platform's retry, whatever it carries.
	ClientID bool
	// Variables, when the message opens a new conversation, are that conversation's
	// Variables (var.<name> of every run started in it); an open conversation keeps its own.
	Variables map[string]any
	Now       time.Time
	NewID     func() string
	// Direct, when set, is the turn the message causes in its open conversation, computed at
	// its arrival: it is committed with the message when the conversation is still as read
	// (Direct.Applied then says so); otherwise the message is queued as usual.
	Direct *Direct
}

// InboundResult says where an inbound message went.
type InboundResult struct {
	ConversationID string `json:"conversation_id"`
	MessageID      string `json:"message_id"`
	ContactID      string `json:"contact_id"`
	// Seq is the message's number in its conversation.
	Seq int64 `json:"-"`
	// Duplicate is set when the provider message id was seen before; nothing was stored.
	Duplicate bool `json:"-"`
}

// Inbound stores a customer message and queues it for its conversation, in one transaction:
// when it returns, the message is durable. A repeat of a provider message id returns the first
// message's ids with Duplicate set.
func (db *DB) Inbound(ctx context.Context, p InboundParams) (InboundResult, error) {
	if p.NewID == nil {
		p.NewID = newID
	}
	db.prepare(p.Direct, &p.Message)
	var res InboundResult
	known := p.knownConversation()
	// The message's write goes with its conversation's others (writeConv): the one this process
	// knows for the contact, else the contact's.
	key := db.snaps.conversationOf(p.ChannelID, p.Contact.ExternalID)
	if key == "" {
		key = "contact\x00" + p.ChannelID + "\x00" + p.Contact.ExternalID
	}
	for {
		err := db.writeConv(ctx, key, func(q q) error {
			res = InboundResult{}
			if p.Direct != nil {
				p.Direct.Applied = false
			}
			return q.inbound(&p, known, &res)
		})
		if p.Direct.retry(err) {
			continue
		}
		if known && errors.Is(err, errKeyTaken) {
			// The key was taken (PostgreSQL tells with the turn's commit): the message is
			// stored again the usual way, which finds what the key holds.
			known = false
			continue
		}
		db.settle(p.Direct, err)
		if err == nil && res.ConversationID != "" {
			db.snaps.setConversationOf(p.ChannelID, p.Contact.ExternalID, res.ConversationID)
		}
		return res, err
	}
}

// errKeyTaken reports that a message's provider id was seen before, found by a write that
// had already gone further: it is written again the usual way.
var errKeyTaken = errors.New("the inbound key was taken")

// knownConversation reports whether p's turn (Direct) can be committed with the message
// without looking up its contact and conversation: the turn read them from the cache, which
// holds them as this process's last commit of the conversation left them, and the commit
// checks both versions (a closed, moved or changed conversation, a changed or removed contact
// fail it). It must be the contact's conversation on the channel, open, and the message must
// fill nothing in the contact (that write comes after the conversation's).
func (p *InboundParams) knownConversation() bool {
	d := p.Direct
	if !d.usable() || d.Batch.Contact == nil || tandem.Quiet(p.Message.Type) || p.Contact.ExternalID == "" {
		return false
	}
	c, cc := d.Batch.Conversation, *d.Batch.Contact
	if c.ChannelID != p.ChannelID || c.Status == tandem.ConversationClosed || cc.ExternalID != p.Contact.ExternalID {
		return false
	}
	return !fillContact(&cc, p)
}

// inbound is Inbound's write. With known, the contact and conversation are the ones d read
// (see knownConversation): nothing is looked up, and on PostgreSQL the key, the conversation's
// update and the turn go in two round trips.
func (q q) inbound(p *InboundParams, known bool, res *InboundResult) error {
	now := micros(p.Now)
	key := p.Message.ChannelMessageID
	m := p.Message
	if m.ID == "" {
		m.ID = p.NewID()
	}
	if known {
		d := p.Direct
		convID := d.Batch.Conversation.ID
		m = InboundMessage(m, convID, p.Now)
		if key != "" {
			// The key is stored with the message's ids at once; on PostgreSQL its check goes
			// with the conversation's update (execOne), on SQLite it is known now.
			err := q.execOne(errKeyTaken, `INSERT INTO inbound_keys (channel_id, provider_id, conversation_id, message_id, created_at, content_hash) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				p.ChannelID, key, convID, m.ID, now, inboundHash(p))
			if errors.Is(err, errKeyTaken) {
				return q.inboundDuplicate(p, res)
			} else if err != nil {
				return fmt.Errorf("inbound: key: %w", err)
			}
		}
		applied, err := q.applyDirect(d, &m, nil)
		if err != nil {
			return err
		}
		if applied {
			d.Applied = true
			res.ConversationID, res.MessageID, res.ContactID, res.Seq = convID, m.ID, d.Batch.Conversation.ContactID, m.Seq
			if err := q.bindMedia(&m); err != nil {
				return err
			}
			return q.queueMediaFetch(&m, p.Now)
		}
		// The conversation changed since: the message is stored the usual way, below, and the
		// key (stored with this conversation) set again.
	} else if key != "" {
		// On PostgreSQL a concurrent insert of the same key waits for the first one's commit,
		// then does nothing and reads what it stored.
		r, err := q.exec(`INSERT INTO inbound_keys (channel_id, provider_id, conversation_id, message_id, created_at, content_hash) VALUES (?, ?, '', '', ?, ?) ON CONFLICT DO NOTHING`,
			p.ChannelID, key, now, inboundHash(p))
		if err != nil {
			return fmt.Errorf("inbound: key: %w", err)
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return q.inboundDuplicate(p, res)
		}
	}
	contact, fill, err := q.upsertContact(*p)
	if err != nil {
		return err
	}
	res.ContactID = contact.ID
	convID, err := q.openConversation(*p, contact.ID)
	if err != nil {
		return err
	}
	res.ConversationID = convID
	m = InboundMessage(m, convID, p.Now)
	res.MessageID = m.ID
	applied := false
	if d := p.Direct; !known && d != nil && !fill && d.usable() && d.Batch.Conversation.ID == convID && !tandem.Quiet(m.Type) {
		if applied, err = q.applyDirect(d, &m, nil); err != nil {
			return err
		}
		d.Applied = applied
	}
	quiet := tandem.Quiet(m.Type)
	var ev *tandem.Event
	if !applied {
		if !quiet {
			ev = &tandem.Event{ConversationID: convID, Kind: tandem.EventMessage, At: p.Now, Message: &m}
		}
		// The message's number and its event's come from one update of the conversation.
		if err := q.insertMessageEvent(&m, ev); err != nil {
			return err
		}
	}
	res.Seq = m.Seq
	if err := q.bindMedia(&m); err != nil {
		return err
	}
	if err := q.queueMediaFetch(&m, p.Now); err != nil {
		return err
	}
	if m.ChannelMessageID != "" {
		if _, err := q.exec(`UPDATE inbound_keys SET conversation_id = ?, message_id = ? WHERE channel_id = ? AND provider_id = ?`,
			convID, m.ID, p.ChannelID, m.ChannelMessageID); err != nil {
			return fmt.Errorf("inbound: key: %w", err)
		}
	}
	// The contact row is written last: a conversation's lock is always taken before its
	// contact's (Process does the same), so that two transactions never wait for each other.
	if fill {
		return q.saveContact(contact)
	}
	return nil
}

// inboundDuplicate answers a message whose provider id was seen before with what the first
// one stored.
func (q q) inboundDuplicate(p *InboundParams, res *InboundResult) error {
	key := p.Message.ChannelMessageID
	res.Duplicate = true
	var stored string
	err := q.row(`SELECT k.conversation_id, k.message_id, COALESCE(c.contact_id, ''), k.content_hash, COALESCE(m.seq, 0) FROM inbound_keys k LEFT JOIN conversations c ON c.id = k.conversation_id
 LEFT JOIN messages m ON m.conversation_id = k.conversation_id AND m.id = k.message_id WHERE k.channel_id = ? AND k.provider_id = ?`,
		p.ChannelID, key).Scan(&res.ConversationID, &res.MessageID, &res.ContactID, &stored, &res.Seq)
	if err != nil {
		return fmt.Errorf("inbound: key: %w", err)
	}
	if p.ClientID && stored != "" && stored != inboundHash(p) {
		*res = InboundResult{}
		return tandem.Errorf(tandem.EIDEMPOTENCY, "message.id %q was already used for another message (another contact or content); send a new message with a new id, or repeat the first one unchanged.", key)
	}
	return nil
}

// InboundMessage is a customer message as Inbound stores it in a conversation: the engine's
// event for it must be the same.
func InboundMessage(m tandem.Message, conversationID string, now time.Time) tandem.Message {
	m.ConversationID = conversationID
	m.Direction, m.Author = tandem.DirectionIn, tandem.AuthorContact
	if m.Type == "" {
		m.Type = tandem.MessageText
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now
	}
	return m
}

// inboundHash is what identifies an inbound message's content: its contact and message as the
// channel normalised them, without the ids Tandem gives them.
func inboundHash(p *InboundParams) string {
	c, m := &p.Contact, &p.Message
	b, _ := json.Marshal(struct {
		Contact  [5]string        `json:"c"`
		Attrs    map[string]any   `json:"a,omitempty"`
		Type     string           `json:"t"`
		Text     string           `json:"x"`
		Media    *tandem.Media    `json:"m,omitempty"`
		Location *tandem.Location `json:"l,omitempty"`
		Option   string           `json:"o,omitempty"`
	}{[5]string{c.ExternalID, c.Name, c.Email, c.Phone, c.Language}, c.Attributes, m.Type, m.Text, m.Media, m.Location, m.Option})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// newID is the id generator of callers that pass none: 128 random bits.
func newID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// upsertContact returns the customer's contact, creating it. When p fills some of an existing
// contact's empty fields, the contact is returned changed, with fill set, for the caller to save.
func (q q) upsertContact(p InboundParams) (c *tandem.Contact, fill bool, err error) {
	ext := p.Contact.ExternalID
	if ext == "" {
		return nil, false, tandem.Errorf(tandem.EINVALID, "contact.external_id is required.")
	}
	c, found, err := q.contactByExternal(p.ChannelID, ext)
	if err != nil {
		return nil, false, err
	}
	if !found {
		n := p.Contact
		n.ID = p.NewID()
		n.ChannelID = p.ChannelID
		n.CreatedAt, n.UpdatedAt = p.Now, p.Now
		b, _ := json.Marshal(n)
		// Two first messages of a new customer may arrive at once (on PostgreSQL, on two
		// connections): the second insert waits for the first, does nothing, and reads it.
		r, err := q.exec(`INSERT INTO contacts (id, channel_id, external_id, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (channel_id, external_id) DO NOTHING`,
			n.ID, p.ChannelID, ext, string(b), micros(p.Now), micros(p.Now))
		if err != nil {
			return nil, false, fmt.Errorf("inbound: contact: %w", err)
		}
		if k, _ := r.RowsAffected(); k == 1 {
			return &n, false, nil
		}
		if c, found, err = q.contactByExternal(p.ChannelID, ext); err != nil {
			return nil, false, err
		} else if !found {
			return nil, false, fmt.Errorf("inbound: contact %s/%s: neither inserted nor found", p.ChannelID, ext)
		}
	}
	return c, fillContact(c, &p), nil
}

// fillContact fills c's empty fields from p's contact, and reports whether it changed c.
func fillContact(c *tandem.Contact, p *InboundParams) (fill bool) {
	set := func(dst *string, src string) {
		if src != "" && *dst == "" {
			*dst, fill = src, true
		}
	}
	set(&c.Name, p.Contact.Name)
	set(&c.FirstName, p.Contact.FirstName)
	set(&c.LastName, p.Contact.LastName)
	set(&c.Phone, p.Contact.Phone)
	set(&c.Email, p.Contact.Email)
	set(&c.Language, p.Contact.Language)
	if !c.StoppedAt.IsZero() && !tandem.Quiet(p.Message.Type) {
		c.StoppedAt, fill = time.Time{}, true // they wrote: they can be written to again
	}
	if fill {
		c.UpdatedAt = p.Now
	}
	return fill
}

// contactByExternal returns the contact with an external id on a channel; found is false when
// there is none.
func (q q) contactByExternal(channelID, ext string) (c *tandem.Contact, found bool, err error) {
	c = &tandem.Contact{}
	var data string
	err = q.row(`SELECT id, data FROM contacts WHERE channel_id = ? AND external_id = ?`, channelID, ext).Scan(&c.ID, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, fmt.Errorf("inbound: contact: %w", err)
	}
	id := c.ID
	if err := json.Unmarshal([]byte(data), c); err != nil {
		return nil, false, fmt.Errorf("inbound: contact %s: %w", id, err)
	}
	c.ID = id
	return c, true, nil
}

func (q q) saveContact(c *tandem.Contact) error {
	b, _ := json.Marshal(c)
	_, err := q.exec(`UPDATE contacts SET data = ?, updated_at = ?, version = version + 1 WHERE id = ?`, string(b), micros(c.UpdatedAt), c.ID)
	if err != nil {
		return fmt.Errorf("contact %s: save: %w", c.ID, err)
	}
	return nil
}

// openConversation returns the contact's open conversation on the channel, creating it. On
// PostgreSQL the conversation's row is locked, so a concurrent close is either seen (and a new
// conversation opened) or waits for this message.
func (q q) openConversation(p InboundParams, contactID string) (string, error) {
	id, err := q.openConversationID(contactID, p.ChannelID)
	if id != "" || err != nil {
		return id, err
	}
	if q.db.dialect == Postgres {
		// Creating a conversation is serialised per contact and channel, so that two first
		// messages on two connections do not open two conversations. Only this path takes the
		// lock, and before any conversation lock, so it cannot close a deadlock cycle; the
		// commit frees it.
		if _, err := q.exec(`SELECT pg_advisory_xact_lock(hashtext(?))`, "tandem open "+contactID+" "+p.ChannelID); err != nil {
			return "", fmt.Errorf("inbound: conversation: %w", err)
		}
		if id, err := q.openConversationID(contactID, p.ChannelID); id != "" || err != nil {
			return id, err
		}
	}
	id = p.NewID()
	data, _ := json.Marshal(convData{Variables: p.Variables})
	// shown_status: a new conversation's status (with the bot) is no change to record.
	_, err = q.exec(`INSERT INTO conversations (id, contact_id, channel_id, channel_kind, status, shown_status, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, contactID, p.ChannelID, p.ChannelKind, tandem.ConversationBot, tandem.ConversationBot+" ", string(data), micros(p.Now), micros(p.Now))
	if err != nil {
		return "", fmt.Errorf("inbound: conversation: %w", err)
	}
	return id, nil
}

func (q q) openConversationID(contactID, channelID string) (string, error) {
	lock := ""
	if q.db.dialect == Postgres {
		lock = " FOR UPDATE"
	}
	var id string
	err := q.row(`SELECT id FROM conversations WHERE contact_id = ? AND channel_id = ? AND status <> 'closed' ORDER BY created_at DESC, id DESC LIMIT 1`+lock,
		contactID, channelID).Scan(&id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("inbound: conversation: %w", err)
	}
	return id, nil
}

// messageData is the part of a message stored as JSON.
type messageData struct {
	Buttons  []tandem.Button        `json:"buttons,omitempty"`
	Render   string                 `json:"render,omitempty"`
	Media    *tandem.Media          `json:"media,omitempty"`
	Location *tandem.Location       `json:"location,omitempty"`
	Option   string                 `json:"option,omitempty"`
	Agent    string                 `json:"agent,omitempty"`
	Contacts []tandem.SharedContact `json:"contacts,omitempty"`
	Reaction string                 `json:"reaction,omitempty"`
	RefersTo string                 `json:"refers_to,omitempty"`
	Data     map[string]any         `json:"data,omitempty"`
	Template *tandem.Template       `json:"template,omitempty"`
}

func dataOf(m *tandem.Message) messageData {
	return messageData{Buttons: m.Buttons, Render: m.Render, Media: m.Media, Location: m.Location, Option: m.Option, Agent: m.AgentID,
		Contacts: m.Contacts, Reaction: m.Reaction, RefersTo: m.RefersTo, Data: m.Data, Template: m.Template}
}

// apply copies the stored fields into m.
func (d *messageData) apply(m *tandem.Message) {
	m.Buttons, m.Render, m.Media, m.Location, m.Option, m.AgentID = d.Buttons, d.Render, d.Media, d.Location, d.Option, d.Agent
	m.Contacts, m.Reaction, m.RefersTo, m.Data, m.Template = d.Contacts, d.Reaction, d.RefersTo, d.Data, d.Template
}

// insertMessage inserts a message with the conversation's next sequence number, set in m.Seq.
func (q q) insertMessage(m *tandem.Message) error {
	if err := q.returning(`UPDATE conversations SET msg_seq = msg_seq + 1 WHERE id = ? RETURNING msg_seq`, m.ConversationID).Scan(&m.Seq); err != nil {
		return fmt.Errorf("message: seq: %w", err)
	}
	return q.insertMessageSeq(m, m.Seq)
}

// insertMessageEvent inserts a message with the conversation's next sequence number, and, when
// ev is set, queues ev for it, with the numbers of both taken in one update of the conversation.
func (q q) insertMessageEvent(m *tandem.Message, ev *tandem.Event) error {
	if ev == nil {
		return q.insertMessage(m)
	}
	if err := q.returning(`UPDATE conversations SET msg_seq = msg_seq + 1, next_seq = next_seq + 1 WHERE id = ? RETURNING msg_seq, next_seq`, m.ConversationID).Scan(&m.Seq, &ev.Seq); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("Conversation", m.ConversationID)
		}
		return fmt.Errorf("message: seq: %w", err)
	}
	if err := q.insertMessageSeq(m, m.Seq); err != nil {
		return err
	}
	return q.insertEventSeq(ev)
}

// insertMessageSeq inserts a message with a sequence number already taken.
func (q q) insertMessageSeq(m *tandem.Message, seq int64) error {
	return q.insertMessageData(m, seq, "")
}

// insertMessageData is insertMessageSeq with the message's data column made before ("" to
// make it here).
func (q q) insertMessageData(m *tandem.Message, seq int64, data string) error {
	if data == "" {
		data = messageDataJSON(m)
	}
	if q.atEnd != nil {
		q.atEnd.message(m, seq, data)
		return nil
	}
	_, err := q.exec(`INSERT INTO messages (conversation_id, id, seq, direction, author, type, text, data, channel_message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ConversationID, m.ID, seq, m.Direction, m.Author, m.Type, m.Text, data, m.ChannelMessageID, micros(m.CreatedAt))
	if err != nil {
		return fmt.Errorf("message: insert: %w", err)
	}
	return nil
}

func (q q) insertEvent(ev *tandem.Event) error {
	if err := q.returning(`UPDATE conversations SET next_seq = next_seq + 1 WHERE id = ? RETURNING next_seq`, ev.ConversationID).Scan(&ev.Seq); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("Conversation", ev.ConversationID)
		}
		return fmt.Errorf("event: seq: %w", err)
	}
	return q.insertEventSeq(ev)
}

// insertEventSeq inserts an event with its sequence number already taken.
func (q q) insertEventSeq(ev *tandem.Event) error {
	data, _ := json.Marshal(ev)
	_, err := q.exec(`INSERT INTO events (conversation_id, seq, kind, data, created_at) VALUES (?, ?, ?, ?, ?)`,
		ev.ConversationID, ev.Seq, ev.Kind, string(data), micros(ev.At))
	if err != nil {
		return fmt.Errorf("event: insert: %w", err)
	}
	return nil
}

// Enqueue adds an event to a conversation's queue.
func (db *DB) Enqueue(ctx context.Context, ev tandem.Event) error {
	return db.writeConv(ctx, ev.ConversationID, func(q q) error { return q.insertEvent(&ev) })
}

// ConversationCreateParams opens a conversation without a message (a run started by the API).
type ConversationCreateParams struct {
	ChannelID   string
	ChannelKind string
	Contact     tandem.Contact
	// Variables are a new conversation's Variables (an open one keeps its own).
	Variables map[string]any
	Now       time.Time
	NewID     func() string
}

// ConversationOpen returns the contact's open conversation on the channel, creating the contact
// and the conversation when needed.
func (db *DB) ConversationOpen(ctx context.Context, p ConversationCreateParams) (conversationID, contactID string, err error) {
	if p.NewID == nil {
		p.NewID = newID
	}
	err = db.write(ctx, func(q q) error {
		ip := InboundParams{ChannelID: p.ChannelID, ChannelKind: p.ChannelKind, Contact: p.Contact, Variables: p.Variables, Now: p.Now, NewID: p.NewID}
		c, fill, err := q.upsertContact(ip)
		if err != nil {
			return err
		}
		contactID = c.ID
		if conversationID, err = q.openConversation(ip, c.ID); err != nil {
			return err
		}
		if fill { // last, as in Inbound
			return q.saveContact(c)
		}
		return nil
	})
	return conversationID, contactID, err
}

// Batch is a conversation loaded for processing, with its queued events.
type Batch struct {
	Conversation *tandem.Conversation
	Contact      *tandem.Contact
	State        []byte
	// Decoded, when set, is State as its user decoded it after the last turn this process
	// committed (Changes.Decoded), handed over from the snapshot cache: one turn owns it.
	Decoded any
	Events  []tandem.Event

	// What the batch was read at: the commit checks nothing changed since.
	version, contactVersion, doneSeq int64
	// The conversation's last message and outbox numbers when it was read.
	msgSeq, outSeq int64
	// The conversation's data and the contact as stored (the snapshot cache keeps them).
	convData, contactData string
	// The conversation's indexed columns as read (the turn may change Conversation's).
	readStatus, readTeam, readAssignee string
}

// Changes is what processing a batch produced; it is written in the same transaction.
type Changes struct {
	Conversation *tandem.Conversation
	Contact      *tandem.Contact
	State        []byte
	// Decoded is State decoded, kept by the snapshot cache for the next turn (see Batch).
	Decoded any
	// DoneSeq is the last event processed.
	DoneSeq      int64
	RunID        string
	RunStatus    string
	Handoff      string
	Effects      []tandem.Effect
	Timers       []tandem.Timer
	CancelTimers []string
	Runs         []tandem.Run
	Trace        []tandem.StepTrace
	Notes        []tandem.Note
	// AICalls and Handoffs are recorded for flow analytics (handoffs by id: the last wins).
	AICalls  []tandem.AICall
	Handoffs []tandem.HandoffRecord
	// Claim, when set, claims the effects that are first in their lane for its owner; Process
	// returns them in Claimed for the caller to carry out at once, without a claim of its own.
	Claim   Claim
	Claimed []OutboxItem
	// The conversation's data and, when it changed, the contact as the commit stored them.
	convData, contactData string
	// folded are the completions of sends (OutboxDoneLater) the commit wrote.
	folded []string
	// LaneFreed reports that an effect waits behind a send the commit completed (on PostgreSQL,
	// queued by another replica's turn): nobody claimed it, and the outbox loop is to.
	LaneFreed bool
	// msgTop and outTop are the conversation's numbers as the commit left them.
	msgTop, outTop int64
	// enc is the JSON the commit writes, made before the write (encode).
	enc *encoded
	// InlineSends says that the conversation's channel sends inline (tandem.InlineSender): a
	// send that awaits nothing, first in its lane, is committed as sent with no outbox row.
	// InlineSent counts them once committed.
	InlineSends bool
	InlineSent  int
}

// ErrNothing is returned by a Process callback that decided to write nothing.
var ErrNothing = errors.New("nothing to process")

const conversationCols = `id, contact_id, channel_id, channel_kind, status, team, assignee, bot_paused, data, created_at, updated_at`

// convData is the part of a conversation stored as JSON.
type convData struct {
	Attributes map[string]any `json:"attributes,omitempty"`
	Tags       []string       `json:"tags,omitempty"`
	Variables  map[string]any `json:"variables,omitempty"`
}

func convDataOf(c *tandem.Conversation) convData {
	return convData{Attributes: c.Attributes, Tags: c.Tags, Variables: c.Variables}
}

// apply copies the stored fields into c.
func (d *convData) apply(c *tandem.Conversation) {
	c.Attributes, c.Tags, c.Variables = d.Attributes, d.Tags, d.Variables
}

func (q q) conversation(query string, args ...any) (*tandem.Conversation, string, int64, error) {
	var c tandem.Conversation
	var paused int
	var data, state string
	var created, updated, done int64
	err := q.row(query, args...).Scan(&c.ID, &c.ContactID, &c.ChannelID, &c.ChannelKind, &c.Status, &c.Team, &c.Assignee,
		&paused, &data, &created, &updated, &state, &done)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", 0, notFound("Conversation", fmt.Sprint(args[0]))
	} else if err != nil {
		return nil, "", 0, fmt.Errorf("conversation: %w", err)
	}
	c.BotPaused = paused != 0
	c.CreatedAt, c.UpdatedAt = fromMicros(created), fromMicros(updated)
	var d convData
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return nil, "", 0, fmt.Errorf("conversation %s: %w", c.ID, err)
	}
	d.apply(&c)
	return &c, state, done, nil
}

func (q q) contact(id string) (*tandem.Contact, error) {
	var data string
	if err := q.row(`SELECT data FROM contacts WHERE id = ?`, id).Scan(&data); errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("Contact", id)
	} else if err != nil {
		return nil, fmt.Errorf("contact %s: %w", id, err)
	}
	var c tandem.Contact
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return nil, fmt.Errorf("contact %s: %w", id, err)
	}
	return &c, nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

type runData struct {
	Usage tandem.Usage `json:"usage"`
	// Path and At are the run's Path and At (flow analytics read them in SQL).
	Path []string `json:"path,omitempty"`
	At   string   `json:"at,omitempty"`
}

// upsertRun writes a run; data is its data column made before ("" to make it here).
func (q q) upsertRun(r *tandem.Run, data string) error {
	if data == "" {
		data = runJSON(r)
	}
	if q.atEnd != nil {
		if q.atEnd.run(r, data) {
			return nil
		}
		if err := q.atEnd.flushRuns(q); err != nil {
			return err
		}
		q.atEnd = nil // this one at once
	}
	query, args := runUpsert(r, data)
	if q.db.dialect == SQLite {
		// A run whose status did not change (a W1 run waits at the end of each turn) keeps its
		// entry in runs_status: SQLite rewrites an index's entry for each column set, changed
		// or not. When the status changed, the update below sets it.
		res, err := q.exec(runUpsertSameStatus, args...)
		if err != nil {
			return fmt.Errorf("run %s: %w", r.ID, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
	}
	if _, err := q.exec(query, args...); err != nil {
		return fmt.Errorf("run %s: %w", r.ID, err)
	}
	return nil
}

// runUpsertSameStatus is runUpsert's statement for a run whose stored status is the one it
// writes (it updates nothing otherwise: no row changed).
const runUpsertSameStatus = `INSERT INTO runs (conversation_id, id, flow_id, flow_version, status, reason, error, step, data, started_at, updated_at, ended_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (conversation_id, id) DO UPDATE SET reason = excluded.reason, error = excluded.error,
 step = excluded.step, data = excluded.data, updated_at = excluded.updated_at, ended_at = excluded.ended_at
 WHERE runs.status = excluded.status`

// runUpsert returns the statement that writes a run, and its arguments.
func runUpsert(r *tandem.Run, data string) (string, []any) {
	var ended any
	if r.EndedAt != nil {
		ended = micros(*r.EndedAt)
	}
	return `INSERT INTO runs (conversation_id, id, flow_id, flow_version, status, reason, error, step, data, started_at, updated_at, ended_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (conversation_id, id) DO UPDATE SET status = excluded.status, reason = excluded.reason, error = excluded.error,
 step = excluded.step, data = excluded.data, updated_at = excluded.updated_at, ended_at = excluded.ended_at`,
		[]any{r.ConversationID, r.ID, r.FlowID, r.FlowVersion, r.Status, r.Reason, r.Error, r.Step, data, micros(r.StartedAt), micros(r.UpdatedAt), ended}
}
