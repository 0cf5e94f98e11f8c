package whatsapp

import (
	"testing"
	"unicode/utf8"

	"github.com/tandemchat/tandem"
)

// WhatsApp refuses a whole message whose button titles (20 characters) or row titles (24) are
// not unique; titles that differ only past the limit stay unique once shortened.
func TestTitlesStayUniqueWhenShortened(t *testing.T) {
	t.Parallel()
	bs := []tandem.Button{{ID: "home", Title: "Delivery to my home address"}, {ID: "office", Title: "Delivery to my home office"},
		{ID: "shop", Title: "Delivery to my home shop"}}
	titles := func(items []any, field func(map[string]any) map[string]any, limit int) {
		t.Helper()
		seen := map[string]bool{}
		for _, it := range items {
			title := field(it.(map[string]any))["title"].(string)
			if seen[title] || utf8.RuneCountInString(title) > limit {
				t.Errorf("title %q: repeated or over %d characters", title, limit)
			}
			seen[title] = true
		}
	}
	titles(replyButtons(bs), func(m map[string]any) map[string]any { return m["reply"].(map[string]any) }, 20)
	long := []tandem.Button{{ID: "a", Title: "Opening hours of the shop downtown"}, {ID: "b", Title: "Opening hours of the shop uptown"}}
	titles(listRows(long), func(m map[string]any) map[string]any { return m }, 24)
}
