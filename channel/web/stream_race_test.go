package web

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
)

// bufSink is a stream's output in memory.
type bufSink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{}
}

func (s *bufSink) write(p []byte) error {
	s.mu.Lock()
	s.buf.Write(p)
	s.mu.Unlock()
	select {
	case s.written <- struct{}{}:
	default:
	}
	return nil
}

func (s *bufSink) close() {}

func (s *bufSink) has(text string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Contains(s.buf.String(), text)
}

// openingBackend has one conversation whose greeting is committed, and notified, while a
// stream reads the contact's conversations for the first time: between the read and the
// moment the stream knows the conversation.
type openingBackend struct {
	fakeSessions
	c     *Channel
	mu    sync.Mutex
	seq   int64
	calls int
}

func (b *openingBackend) Conversations(ctx context.Context, contactID, channelID string) ([]Conversation, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	out := []Conversation{{ID: "c-1", Status: tandem.ConversationBot, MsgSeq: b.seq}}
	if b.calls == 1 {
		b.seq = 1
		b.c.streams.notify("c-1") // the greeting's commit, before the stream learnt c-1
	}
	return out, nil
}

func (b *openingBackend) Events(ctx context.Context, conversationID string, afterSeq int64, limit int) ([]Event, error) {
	if afterSeq >= 1 {
		return nil, nil
	}
	return []Event{{Seq: 1, Message: &tandem.Message{ID: "m-1", Seq: 1, ConversationID: "c-1", Direction: tandem.DirectionOut, Author: tandem.AuthorBot, Type: tandem.MessageText, Text: "Hi! How can we help?"}}}, nil
}

func (b *openingBackend) Agent(ctx context.Context, id string) (string, string) { return "", "" }

// A greeting committed while a new stream first reads the visitor's conversations reaches the
// stream: its notification found no contact for the new conversation and was lost, and the
// visitor saw an open chat without the greeting (TestBrowserWidget, once in CI).
func TestStreamGetsTheGreetingOfAConversationItDidNotKnow(t *testing.T) {
	t.Parallel()
	c := New(channel.Config{ID: "web", Kind: Kind}, channel.Deps{})
	be := &openingBackend{c: c}
	c.backend = be
	out := &bufSink{written: make(chan struct{}, 1)}
	st := &stream{sessionID: "ws_a", contactID: "k-a", fresh: true, busy: true, ended: make(chan struct{}), out: out}
	if !c.streams.add(st) {
		t.Fatal("the stream was refused")
	}
	c.streams.mu.Lock()
	st.busy = false
	c.streams.scheduleLocked(st)
	c.streams.mu.Unlock()
	deadline := time.After(10 * time.Second)
	for !out.has("Hi! How can we help?") {
		select {
		case <-out.written:
		case <-deadline:
			t.Fatalf("the stream never told the greeting; it wrote %q", out.buf.String())
		}
	}
	c.streams.end(st)
}
