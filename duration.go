package tandem

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a Go-style duration ("20s", "1h30m") that may also count days ("2d",
// "1d12h"). Negative durations are refused.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty duration")
	}
	var days time.Duration
	if i := strings.IndexByte(t, 'd'); i >= 0 {
		n, err := strconv.ParseFloat(t[:i], 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad duration %q: use forms like 20s, 10m, 24h, 1h30m or 2d", s)
		}
		days = time.Duration(n * float64(24*time.Hour))
		t = t[i+1:]
		if t == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(t)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q: use forms like 20s, 10m, 24h, 1h30m or 2d", s)
	}
	return days + d, nil
}

// FormatDuration writes a duration the way ParseDuration reads it, without zero units
// ("20s", "1h30m", "2d").
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	if d < 0 {
		b.WriteByte('-')
		d = -d
	}
	if days := d / (24 * time.Hour); days > 0 && d%(24*time.Hour) == 0 {
		fmt.Fprintf(&b, "%dd", days)
		return b.String()
	}
	s := d.String()
	s = strings.Replace(s, "m0s", "m", 1)
	s = strings.Replace(s, "h0m", "h", 1)
	b.WriteString(s)
	return b.String()
}
