package channeltest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tandemchat/tandem/channel"
)

// FuzzParse fuzzes a channel's Parser, seeded with the payloads under testdata/ that match
// glob: Parse never panics, and every message it returns has a sender, a type and the
// platform's id.
func FuzzParse(f *testing.F, ch channel.Channel, glob string) {
	files, _ := filepath.Glob(filepath.Join("testdata", glob))
	for _, name := range files {
		b, _ := os.ReadFile(name)
		f.Add(b)
	}
	p, ok := ch.(channel.Parser)
	if !ok {
		f.Fatalf("channel %s has no Parse", ch.Kind())
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := p.Parse(context.Background(), nil, body)
		if err != nil {
			return
		}
		for _, in := range b.Messages {
			if in.Contact.ExternalID == "" || in.Message.Type == "" || in.Message.ChannelMessageID == "" {
				t.Errorf("message %+v from %+v", in.Message, in.Contact)
			}
		}
	})
}
