package web

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tandemchat/tandem"
	"github.com/tandemchat/tandem/channel"
)

// fakeMedia is a media store that counts the reads of files' content.
type fakeMedia struct {
	files map[string]tandem.MediaFile
	reads int
}

func (m *fakeMedia) MediaPut(ctx context.Context, f tandem.MediaFile, data io.Reader, max int64) (tandem.MediaFile, error) {
	panic("not used")
}

func (m *fakeMedia) MediaStat(ctx context.Context, id string) (tandem.MediaFile, error) {
	f, ok := m.files[id]
	if !ok {
		return f, tandem.Errorf(tandem.ENOTFOUND, "no %s", id)
	}
	return f, nil
}

func (m *fakeMedia) MediaGet(ctx context.Context, id string) (tandem.MediaFile, io.ReadCloser, error) {
	m.reads++
	f, err := m.MediaStat(ctx, id)
	return f, io.NopCloser(strings.NewReader("content")), err
}

// fakeSessions is the part of a Backend that authenticates sessions and lists conversations.
type fakeSessions struct {
	Backend
	sessions map[string]*tandem.WidgetSession // by token hash
	convs    map[string][]Conversation        // by contact
}

func (b *fakeSessions) SessionByToken(ctx context.Context, channelID, tokenHash string, now time.Time) (*tandem.WidgetSession, error) {
	if s, ok := b.sessions[tokenHash]; ok {
		c := *s
		return &c, nil
	}
	return nil, tandem.Errorf(tandem.EUNAUTHORIZED, "unknown")
}

func (b *fakeSessions) Conversations(ctx context.Context, contactID, channelID string) ([]Conversation, error) {
	return b.convs[contactID], nil
}

// TestMediaChecksReadNoContent: whether a session may read or send a stored file is decided
// from the file's description: the content is read only to serve it to a session that may.
func TestMediaChecksReadNoContent(t *testing.T) {
	t.Parallel()
	now := time.Now()
	media := &fakeMedia{files: map[string]tandem.MediaFile{
		"own":    {ID: "own", ChannelID: "web", SessionID: "ws_a", ContactID: "k-a", Mime: "image/png", Size: 7},
		"theirs": {ID: "theirs", ChannelID: "web", SessionID: "ws_b", ContactID: "k-b", ConversationID: "c-b", Size: 7},
		"moved":  {ID: "moved", ChannelID: "web", SessionID: "ws_old", ContactID: "k-old", ConversationID: "c-a", Size: 7},
		"other":  {ID: "other", ChannelID: "web2", SessionID: "ws_a", ContactID: "k-a", Size: 7},
	}}
	be := &fakeSessions{
		sessions: map[string]*tandem.WidgetSession{hashToken("ta"): {ID: "ws_a", ChannelID: "web", ContactID: "k-a", LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}},
		convs:    map[string][]Conversation{"k-a": {{ID: "c-a"}}, "k-b": {{ID: "c-b"}}},
	}
	c := New(channel.Config{ID: "web", Kind: Kind}, channel.Deps{Media: media})
	c.backend = be
	for _, tc := range []struct {
		id     string
		status int
	}{{"own", 200}, {"moved", 200}, {"theirs", 404}, {"other", 404}, {"nope", 404}} {
		media.reads = 0
		r := httptest.NewRequest("GET", "/widget/v1/web/media/"+tc.id, nil)
		r.SetPathValue("id", tc.id)
		r.Header.Set("Authorization", "Bearer ta")
		w := httptest.NewRecorder()
		status := 200
		if err := c.mediaGet(w, r); err != nil {
			status = map[string]int{tandem.ENOTFOUND: 404}[tandem.ErrorCode(err)]
		}
		if status != tc.status {
			t.Errorf("GET %s: %d, want %d", tc.id, status, tc.status)
		}
		if want := map[bool]int{true: 1, false: 0}[tc.status == 200]; media.reads != want {
			t.Errorf("GET %s read the content %d times, want %d", tc.id, media.reads, want)
		}
		media.reads = 0
		s, _ := be.SessionByToken(context.Background(), "web", hashToken("ta"), now)
		_, err := c.mediaOf(context.Background(), be, s, tc.id)
		if (err == nil) != (tc.status == 200) || media.reads != 0 {
			t.Errorf("sending %s: %v, %d reads of the content", tc.id, err, media.reads)
		}
	}
}
