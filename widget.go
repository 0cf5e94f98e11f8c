package tandem

import "time"

// WidgetSession is a visitor of a web widget channel: the browser holds an opaque token, the
// server keeps only its SHA-256. The session belongs to a contact: an anonymous one of its own
// until the site proves who the visitor is (Verified), then the site's user.
type WidgetSession struct {
	ID        string `json:"id"`
	ChannelID string `json:"channel_id"`
	ContactID string `json:"contact_id"`
	// ExternalID is the external id of the session's contact (read with the session).
	ExternalID string `json:"external_id,omitempty"`
	// Verified is set once the site identified the visitor with a valid identity hash.
	Verified bool `json:"verified"`
	// What the first page told: where the visitor came from, their browser and language.
	PageURL   string `json:"page_url,omitempty"`
	Referrer  string `json:"referrer,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	Locale    string `json:"locale,omitempty"`
	// Variables become var.<name> of the runs the session's conversations start.
	Variables  map[string]any `json:"variables,omitempty"`
	CreatedAt  time.Time      `json:"created_at"`
	LastSeenAt time.Time      `json:"last_seen_at"`
	ExpiresAt  time.Time      `json:"expires_at"`
}

// WidgetAnonymousPrefix starts the external id of a widget session's own anonymous contact
// ("widget-session:" + the session id), so that it never meets a site's user ids.
const WidgetAnonymousPrefix = "widget-session:"
