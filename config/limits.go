package config

import "time"

// Defaults of auth, and the bound of a channel's max_text.
const (
	DefaultSessionIdle = 12 * time.Hour
	DefaultSessionMax  = 7 * 24 * time.Hour
	// MaxMaxText is the highest max_text a channel may set.
	MaxMaxText = 100_000
)

// Auth sets how long agents' logins last.
type Auth struct {
	// SessionIdle ends a login unused this long; every use moves the end forward (sliding).
	SessionIdle Duration `yaml:"session_idle" json:"session_idle"`
	// SessionMax ends a login this long after it started, used or not.
	SessionMax Duration `yaml:"session_max" json:"session_max"`
}

func (c *Config) applyLimitDefaults() {
	a := &c.Auth
	if a.SessionIdle == 0 {
		a.SessionIdle = Duration(DefaultSessionIdle)
	}
	if a.SessionMax == 0 {
		a.SessionMax = Duration(DefaultSessionMax)
	}
}

func (k *checker) limits() {
	a := k.c.Auth
	if a.SessionIdle < Duration(time.Minute) {
		k.problem("auth.session_idle", 0, "must be at least 1m")
	}
	if a.SessionMax < a.SessionIdle {
		k.problem("auth.session_max", 0, "must be at least auth.session_idle (%s)", a.SessionIdle)
	}
}
