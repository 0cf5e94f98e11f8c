package whatsapp_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/channel/whatsapp"
)

// Parse never panics, whatever the body; what it returns is well formed.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "webhook_*.json"))
	for _, name := range files {
		b, _ := os.ReadFile(name)
		f.Add(b)
	}
	ch, _ := whatsapp.New(channel.Config{ID: "wa", Kind: whatsapp.Kind, PhoneNumberID: "1234567890"}, channel.Deps{})
	p := ch.(channel.Parser)
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := p.Parse(context.Background(), nil, body)
		if err != nil {
			return
		}
		for _, in := range b.Messages {
			if in.Contact.ExternalID == "" || strings.HasPrefix(in.Contact.ExternalID, "+") || in.Message.Type == "" {
				t.Errorf("message %+v from %+v", in.Message, in.Contact)
			}
		}
	})
}
