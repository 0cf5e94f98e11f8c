// Package channel is the registry of channel kinds (api, web, whatsapp, telegram) and what each
// can render. Each kind's adapter lives in its own sub-package and registers itself.
package channel

import (
	"sync"

	"github.com/tandemchat/tandem"
)

var (
	mu   sync.RWMutex
	caps = map[string]tandem.Caps{
		// The API channel hands structured messages to the business's own code.
		"api": {Buttons: 100, List: 100, Media: true},
		// The web widget shows quick replies and lists.
		"web": {Buttons: 20, List: 100, Media: true},
		// WhatsApp Cloud API: 3 reply buttons of 20 characters, lists of 10 rows of 24,
		// texts of 4096 characters.
		"whatsapp": {Buttons: 3, ButtonTitle: 20, List: 10, ListTitle: 24, MaxText: 4096, Media: true},
		// Telegram: inline keyboards, texts of 4096 characters.
		"telegram": {Buttons: 100, ButtonTitle: 64, MaxText: 4096, Media: true},
	}
)

// RegisterCaps declares what a channel kind renders.
func RegisterCaps(kind string, c tandem.Caps) {
	mu.Lock()
	defer mu.Unlock()
	caps[kind] = c
}

// Caps returns what a channel kind renders; unknown kinds render like the API channel.
func Caps(kind string) tandem.Caps {
	mu.RLock()
	defer mu.RUnlock()
	if c, ok := caps[kind]; ok {
		return c
	}
	return caps["api"]
}
