package config

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tandemchat/tandem"
)

// Duration is a time.Duration written as "20s", "1h30m", "2d" (tandem.ParseDuration) or as a
// number of seconds. It marshals as text ("20s").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d the way ParseDuration reads it.
func (d Duration) String() string { return tandem.FormatDuration(time.Duration(d)) }

// ParseDuration reads "20s", "2d" or a number of seconds ("30", "1.5"); negative durations are
// refused.
func ParseDuration(s string) (Duration, error) {
	t := strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(t, 64); err == nil && !strings.ContainsAny(t, "xXpP") {
		if f < 0 || f != f || f > float64(1<<63-1)/float64(time.Second) {
			return 0, fmt.Errorf("%q is not a duration (use 20s, 5m, 2h, 2d or a number of seconds, not negative)", clip(s))
		}
		return Duration(f * float64(time.Second)), nil
	}
	d, err := tandem.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (use 20s, 5m, 2h, 1h30m, 2d or a number of seconds)", clip(s))
	}
	return Duration(d), nil
}

// MarshalJSON writes d as text ("20s").
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads text or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	} else {
		s = string(b)
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes d as text ("20s").
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads text or a number of seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a duration", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = v
	return nil
}
