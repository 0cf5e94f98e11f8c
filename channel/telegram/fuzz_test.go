package telegram_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/channel/telegram"
)

// Parse never panics, whatever the body; what it returns is well formed.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "update_*.json"))
	for _, name := range files {
		b, _ := os.ReadFile(name)
		f.Add(b)
	}
	ch, _ := telegram.New(channel.Config{ID: "tg", Kind: telegram.Kind}, channel.Deps{})
	p := ch.(channel.Parser)
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
