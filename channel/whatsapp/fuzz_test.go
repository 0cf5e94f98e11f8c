package whatsapp_test

import (
	"testing"

	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/channel/channeltest"
	"github.com/tandemchat/tandem/channel/whatsapp"
)

func FuzzParse(f *testing.F) {
	ch, _ := whatsapp.New(channel.Config{ID: "wa", Kind: whatsapp.Kind, PhoneNumberID: phoneID}, channel.Deps{})
	channeltest.FuzzParse(f, ch, "webhook_*.json")
}
