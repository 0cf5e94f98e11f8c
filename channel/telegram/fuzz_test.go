package telegram_test

import (
	"testing"

	"github.com/tandemchat/tandem/channel"
	"github.com/tandemchat/tandem/channel/channeltest"
	"github.com/tandemchat/tandem/channel/telegram"
)

func FuzzParse(f *testing.F) {
	ch, _ := telegram.New(channel.Config{ID: "tg", Kind: telegram.Kind}, channel.Deps{})
	channeltest.FuzzParse(f, ch, "update_*.json")
}
