package schedule_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests do not depend on the host's zoneinfo

	"github.com/tandemchat/tandem/schedule"
)

var weekdays = []string{"mon", "tue", "wed", "thu", "fri"}

// office is the schedule of the server spec.
var office = schedule.Config{
	ID:       "office",
	Timezone: "America/Sao_Paulo",
	Weekly:   []schedule.Weekly{{Days: weekdays, From: "09:00", To: "18:00"}, {Days: []string{"sat"}, From: "09:00", To: "12:00"}},
	Dates:    []schedule.Date{{Date: "2026-12-24", From: "09:00", To: "12:00"}},
	Closed:   []string{"2026-12-25"},
}

func mustNew(tb testing.TB, c schedule.Config) *schedule.Schedule {
	tb.Helper()
	s, err := schedule.New(c, nil)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

// mustTime reads "2026-03-27 17:30" in the schedule's zone, or an RFC 3339 instant.
func mustTime(tb testing.TB, s *schedule.Schedule, text string) time.Time {
	tb.Helper()
	t, err := time.ParseInLocation("2006-01-02 15:04", text, s.Location())
	if err != nil {
		if t, err = time.Parse(time.RFC3339, text); err != nil {
			tb.Fatalf("bad test time %q", text)
		}
	}
	return t
}

// format writes an instant in the schedule's zone, "" for the zero time.
func format(s *schedule.Schedule, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(s.Location()).Format(time.RFC3339)
}

func formatIntervals(s *schedule.Schedule, ivs []schedule.Interval) string {
	var parts []string
	for _, iv := range ivs {
		parts = append(parts, format(s, iv.From)+" "+format(s, iv.To))
	}
	return strings.Join(parts, ", ")
}

func TestWindows(t *testing.T) {
	t.Parallel()
	seed := schedule.Config{ID: "seed", Dates: []schedule.Date{
		{Date: "2024-12-12", From: "09:00", To: "12:00"},
		{Date: "2024-12-12", From: "10:00", To: "12:00"},
		{Date: "2024-12-12", From: "13:00", To: "18:00"},
		{Date: "2024-12-12", From: "15:00", To: "17:00"},
	}}
	berlin := func(from, to string) schedule.Config {
		return schedule.Config{ID: "b", Timezone: "Europe/Berlin", Weekly: []schedule.Weekly{{Days: []string{"sun"}, From: from, To: to}}}
	}
	tests := []struct {
		name string
		c    schedule.Config
		date string
		want string
	}{
		{"seed periods merge into the widest", seed, "2024-12-12",
			"2024-12-12T09:00:00Z 2024-12-12T12:00:00Z, 2024-12-12T13:00:00Z 2024-12-12T18:00:00Z"},
		{"seed periods apply once", seed, "2024-12-13", ""},
		{"touching windows merge", schedule.Config{ID: "t", Weekly: []schedule.Weekly{
			{Days: []string{"mon"}, From: "13:00", To: "18:00"}, {Days: []string{"Monday"}, From: "9:00", To: "13:00"}}},
			"2026-12-21", "2026-12-21T09:00:00Z 2026-12-21T18:00:00Z"},
		{"weekday", office, "2026-12-21", "2026-12-21T09:00:00-03:00 2026-12-21T18:00:00-03:00"},
		{"saturday", office, "2026-12-26", "2026-12-26T09:00:00-03:00 2026-12-26T12:00:00-03:00"},
		{"sunday", office, "2026-12-27", ""},
		{"dates add to weekly", office, "2026-12-24", "2026-12-24T09:00:00-03:00 2026-12-24T18:00:00-03:00"},
		{"closed", office, "2026-12-25", ""},
		{"closed keeps dates", schedule.Config{ID: "x", Weekly: office.Weekly, Closed: []string{"2026-12-24"}, Dates: office.Dates},
			"2026-12-24", "2026-12-24T09:00:00Z 2026-12-24T12:00:00Z"},
		{"dates on a sunday", schedule.Config{ID: "x", Weekly: office.Weekly, Dates: []schedule.Date{{Date: "2026-12-27", From: "10:00", To: "11:30"}}},
			"2026-12-27", "2026-12-27T10:00:00Z 2026-12-27T11:30:00Z"},
		{"separate dates window", schedule.Config{ID: "x", Weekly: office.Weekly, Dates: []schedule.Date{{Date: "2026-12-21", From: "19:00", To: "20:00"}}},
			"2026-12-21", "2026-12-21T09:00:00Z 2026-12-21T18:00:00Z, 2026-12-21T19:00:00Z 2026-12-21T20:00:00Z"},
		{"crosses midnight", schedule.Config{ID: "x", Weekly: []schedule.Weekly{{Days: []string{"FRI"}, From: "22:00", To: "02:00"}}},
			"2026-12-25", "2026-12-25T22:00:00Z 2026-12-26T02:00:00Z"},
		{"until 24:00", schedule.Config{ID: "x", Weekly: []schedule.Weekly{{Days: []string{"fri"}, From: "20:00", To: "24:00"}}},
			"2026-12-25", "2026-12-25T20:00:00Z 2026-12-26T00:00:00Z"},
		{"normalised date", seed, "2024-11-42", "2024-12-12T09:00:00Z 2024-12-12T12:00:00Z, 2024-12-12T13:00:00Z 2024-12-12T18:00:00Z"},

		// Berlin: 02:00 CET becomes 03:00 CEST on 2026-03-29; 03:00 CEST becomes 02:00 CET on 2026-10-25.
		{"spring forward is shorter", berlin("01:00", "03:00"), "2026-03-29", "2026-03-29T01:00:00+01:00 2026-03-29T03:00:00+02:00"},
		{"skipped end is the jump", berlin("01:00", "02:30"), "2026-03-29", "2026-03-29T01:00:00+01:00 2026-03-29T03:00:00+02:00"},
		{"skipped start is the jump", berlin("02:30", "04:00"), "2026-03-29", "2026-03-29T03:00:00+02:00 2026-03-29T04:00:00+02:00"},
		{"skipped window is empty", berlin("02:00", "02:30"), "2026-03-29", ""},
		{"fall back is longer", berlin("01:00", "03:00"), "2026-10-25", "2026-10-25T01:00:00+02:00 2026-10-25T03:00:00+01:00"},
		{"repeated time is the first", berlin("02:30", "04:00"), "2026-10-25", "2026-10-25T02:30:00+02:00 2026-10-25T04:00:00+01:00"},
		{"new york repeated time is the first", schedule.Config{ID: "ny", Timezone: "America/New_York", Weekly: []schedule.Weekly{{Days: []string{"sun"}, From: "01:30", To: "03:00"}}},
			"2026-11-01", "2026-11-01T01:30:00-04:00 2026-11-01T03:00:00-05:00"},
		{"new york spring forward", schedule.Config{ID: "ny", Timezone: "America/New_York", Weekly: []schedule.Weekly{{Days: []string{"sun"}, From: "01:00", To: "03:00"}}},
			"2026-03-08", "2026-03-08T01:00:00-05:00 2026-03-08T03:00:00-04:00"},
		// São Paulo skipped midnight when it last started summer time, on 2018-11-04.
		{"skipped midnight", schedule.Config{ID: "sp", Timezone: "America/Sao_Paulo", Weekly: []schedule.Weekly{{Days: []string{"sun"}, From: "00:00", To: "02:00"}}},
			"2018-11-04", "2018-11-04T01:00:00-02:00 2018-11-04T02:00:00-02:00"},
		{"until a skipped midnight", schedule.Config{ID: "sp", Timezone: "America/Sao_Paulo", Weekly: []schedule.Weekly{{Days: []string{"sat"}, From: "22:00", To: "24:00"}}},
			"2018-11-03", "2018-11-03T22:00:00-03:00 2018-11-04T01:00:00-02:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustNew(t, tt.c)
			var y, m, d int
			if _, err := fmt.Sscanf(tt.date, "%d-%d-%d", &y, &m, &d); err != nil {
				t.Fatalf("bad test date %q", tt.date)
			}
			got, want := formatIntervals(s, s.Windows(y, time.Month(m), d)), tt.want
			if got != want {
				t.Errorf("Windows(%s)\n got %s\nwant %s", tt.date, got, want)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	night := schedule.Config{ID: "night", Weekly: []schedule.Weekly{
		{Days: []string{"thu"}, From: "22:00", To: "02:00"},
		{Days: []string{"mon"}, From: "20:00", To: "24:00"},
		{Days: []string{"tue"}, From: "00:00", To: "08:00"},
	}}
	closedThu, closedFri := night, night
	closedThu.Closed = []string{"2026-12-24"}
	closedFri.Closed = []string{"2026-12-25"}
	tests := []struct {
		name string
		c    schedule.Config
		at   string
		want bool
	}{
		{"at opening", office, "2026-12-21 09:00", true},
		{"before opening", office, "2026-12-21 08:59", false},
		{"at closing", office, "2026-12-21 18:00", false},
		{"just before closing", office, "2026-12-21 17:59", true},
		{"instant in another zone", office, "2026-12-21T20:30:00Z", true},
		{"sunday", office, "2026-12-27 10:00", false},
		{"holiday", office, "2026-12-25 10:00", false},
		{"christmas eve morning", office, "2026-12-24 17:00", true},
		{"after midnight", night, "2026-12-25 01:59", true},
		{"window end", night, "2026-12-25 02:00", false},
		{"next day closed keeps the night", closedFri, "2026-12-25 01:00", true},
		{"closed day drops its night", closedThu, "2026-12-25 01:00", false},
		{"adjacent days at midnight", night, "2026-12-22 00:00", true},
		{"empty schedule", schedule.Config{ID: "never"}, "2026-12-22 00:00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustNew(t, tt.c)
			got, want := s.Open(mustTime(t, s, tt.at)), tt.want
			if got != want {
				t.Errorf("Open(%s) = %v, want %v", tt.at, got, want)
			}
		})
	}
}

func TestNextOpenAndClose(t *testing.T) {
	t.Parallel()
	berlin := schedule.Config{ID: "berlin", Timezone: "Europe/Berlin", Weekly: []schedule.Weekly{{Days: weekdays, From: "09:00", To: "18:00"}}}
	ny := schedule.Config{ID: "ny", Timezone: "America/New_York", Weekly: []schedule.Weekly{{Days: []string{"sat"}, From: "20:00", To: "04:00"}}}
	night := schedule.Config{ID: "night", Weekly: []schedule.Weekly{{Days: []string{"mon"}, From: "20:00", To: "24:00"}, {Days: []string{"tue"}, From: "00:00", To: "08:00"}}}
	always := schedule.Config{ID: "always", Weekly: []schedule.Weekly{{Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, From: "00:00", To: "24:00"}}}
	later := func(date string) schedule.Config {
		return schedule.Config{ID: "later", Dates: []schedule.Date{{Date: date, From: "09:00", To: "10:00"}}}
	}
	tests := []struct {
		name                string
		c                   schedule.Config
		at                  string
		nextOpen, nextClose string // "" when not ok
	}{
		{"open", office, "2026-12-21 10:00", "2026-12-21T10:00:00-03:00", "2026-12-21T18:00:00-03:00"},
		{"over the weekend", office, "2026-12-26 12:00", "2026-12-28T09:00:00-03:00", "2026-12-26T12:00:00-03:00"},
		{"friday evening", office, "2026-12-18 18:00", "2026-12-19T09:00:00-03:00", "2026-12-18T18:00:00-03:00"},
		{"over christmas", office, "2026-12-24 18:00", "2026-12-26T09:00:00-03:00", "2026-12-24T18:00:00-03:00"},
		{"weekend across spring forward", berlin, "2026-03-27 20:00", "2026-03-30T09:00:00+02:00", "2026-03-27T20:00:00+01:00"},
		{"weekend across fall back", berlin, "2026-10-23 18:00", "2026-10-26T09:00:00+01:00", "2026-10-23T18:00:00+02:00"},
		{"night across spring forward", ny, "2026-03-07 21:00", "2026-03-07T21:00:00-05:00", "2026-03-08T04:00:00-04:00"},
		{"open across midnight", night, "2026-12-21 21:00", "2026-12-21T21:00:00Z", "2026-12-22T08:00:00Z"},
		{"never open", schedule.Config{ID: "never"}, "2026-12-21 21:00", "", "2026-12-21T21:00:00Z"},
		{"always open", always, "2026-12-21 21:00", "2026-12-21T21:00:00Z", ""},
		{"within 400 days", later("2027-12-01"), "2026-12-21 21:00", "2027-12-01T09:00:00Z", "2026-12-21T21:00:00Z"},
		{"beyond 400 days", later("2028-02-01"), "2026-12-21 21:00", "", "2026-12-21T21:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustNew(t, tt.c)
			at := mustTime(t, s, tt.at)
			next, ok := s.NextOpen(at)
			if got, want := format(s, next), tt.nextOpen; got != want || ok != (want != "") {
				t.Errorf("NextOpen(%s) = %s, %v, want %s", tt.at, got, ok, want)
			}
			next, ok = s.NextClose(at)
			if got, want := format(s, next), tt.nextClose; got != want || ok != (want != "") {
				t.Errorf("NextClose(%s) = %s, %v, want %s", tt.at, got, ok, want)
			}
		})
	}
}

func TestAddOpen(t *testing.T) {
	t.Parallel()
	utc := schedule.Config{ID: "utc", Weekly: []schedule.Weekly{{Days: weekdays, From: "09:00", To: "18:00"}}}
	berlin := schedule.Config{ID: "berlin", Timezone: "Europe/Berlin", Weekly: []schedule.Weekly{{Days: weekdays, From: "09:00", To: "18:00"}, {Days: []string{"sat"}, From: "22:00", To: "06:00"}}}
	night := schedule.Config{ID: "night", Weekly: []schedule.Weekly{{Days: []string{"mon"}, From: "20:00", To: "24:00"}, {Days: []string{"tue"}, From: "00:00", To: "08:00"}}}
	tests := []struct {
		name string
		c    schedule.Config
		at   string
		d    time.Duration
		want string // "" when not ok
	}{
		{"inside a window", utc, "2026-12-21 10:00", time.Hour, "2026-12-21T11:00:00Z"},
		{"over the weekend", utc, "2026-12-18 17:30", time.Hour, "2026-12-21T09:30:00Z"},
		{"over a night", utc, "2026-12-21 17:30", time.Hour, "2026-12-22T09:30:00Z"},
		{"from a closed time", utc, "2026-12-19 10:00", 30 * time.Minute, "2026-12-21T09:30:00Z"},
		{"ends at closing", utc, "2026-12-21 17:00", time.Hour, "2026-12-21T18:00:00Z"},
		{"zero while open", utc, "2026-12-21 17:00", 0, "2026-12-21T17:00:00Z"},
		{"zero while closed", utc, "2026-12-21 18:00", 0, "2026-12-22T09:00:00Z"},
		{"a week of open time", utc, "2026-12-21 09:00", 45 * time.Hour, "2026-12-25T18:00:00Z"},
		{"a week and a minute", utc, "2026-12-21 09:00", 45*time.Hour + time.Minute, "2026-12-28T09:01:00Z"},
		{"in office zone", office, "2026-12-18 17:30", time.Hour, "2026-12-19T09:30:00-03:00"},
		{"across midnight", night, "2026-12-21 23:00", 2 * time.Hour, "2026-12-22T01:00:00Z"},
		{"weekend across spring forward", berlin, "2026-03-27 17:30", time.Hour, "2026-03-28T22:30:00+01:00"},
		{"a night that is an hour shorter", berlin, "2026-03-28 22:00", 7 * time.Hour, "2026-03-29T06:00:00+02:00"},
		{"after the short night", berlin, "2026-03-28 22:00", 8 * time.Hour, "2026-03-30T10:00:00+02:00"},
		{"never open", schedule.Config{ID: "never"}, "2026-12-21 10:00", time.Minute, ""},
		{"too far", utc, "2026-12-21 10:00", 400 * 24 * time.Hour, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustNew(t, tt.c)
			at, ok := s.AddOpen(mustTime(t, s, tt.at), tt.d)
			if got, want := format(s, at), tt.want; got != want || ok != (want != "") {
				t.Errorf("AddOpen(%s, %v) = %s, %v, want %s", tt.at, tt.d, got, ok, want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	day := func(days []string, from, to string) schedule.Config {
		return schedule.Config{ID: "office", Weekly: []schedule.Weekly{{Days: []string{"mon"}, From: "09:00", To: "18:00"}, {Days: days, From: from, To: to}}}
	}
	tests := []struct {
		name string
		c    schedule.Config
		want string // "" when valid
	}{
		{"empty schedule", schedule.Config{ID: "office"}, ""},
		{"short hours and full names", day([]string{"Monday", "SUNDAY", " fri "}, "9:00", "24:00"), ""},
		{"midnight to midnight", day([]string{"sun"}, "00:00", "24:00"), ""},
		{"no id", schedule.Config{}, `schedule: id: required`},
		{"bad from", day([]string{"mon"}, "25:00", "18:00"), `schedule "office": weekly[1].from: "25:00" is not a time (use HH:MM)`},
		{"24:00 from", day([]string{"mon"}, "24:00", "18:00"), `schedule "office": weekly[1].from: "24:00" is not a time (use HH:MM)`},
		{"bad to", day([]string{"mon"}, "09:00", "6pm"), `schedule "office": weekly[1].to: "6pm" is not a time (use HH:MM, or 24:00 for midnight)`},
		{"bad minutes", day([]string{"mon"}, "09:60", "18:00"), `schedule "office": weekly[1].from: "09:60" is not a time (use HH:MM)`},
		{"seconds", day([]string{"mon"}, "09:00:00", "18:00"), `schedule "office": weekly[1].from: "09:00:00" is not a time (use HH:MM)`},
		{"empty window", day([]string{"mon"}, "09:00", "9:00"), `schedule "office": weekly[1].to: "9:00" equals from (the window would be empty)`},
		{"unknown day", day([]string{"mon", "fry"}, "09:00", "18:00"), `schedule "office": weekly[1].days[1]: unknown day "fry" (use mon, tue, wed, thu, fri, sat, sun)`},
		{"no days", day(nil, "09:00", "18:00"), `schedule "office": weekly[1].days: empty (list days such as [mon, tue])`},
		{"unknown zone", schedule.Config{ID: "office", Timezone: "Mars/Base"}, `schedule "office": timezone "Mars/Base": unknown time zone`},
		{"local zone", schedule.Config{ID: "office", Timezone: "Local"}, `schedule "office": timezone "Local": use an IANA name such as America/Sao_Paulo`},
		{"bad date", schedule.Config{ID: "office", Dates: []schedule.Date{{Date: "2026-02-30", From: "09:00", To: "12:00"}}},
			`schedule "office": dates[0].date: "2026-02-30" is not a date (use YYYY-MM-DD)`},
		{"bad date window", schedule.Config{ID: "office", Dates: []schedule.Date{{Date: "2026-02-03", From: "09:00", To: ""}}},
			`schedule "office": dates[0].to: "" is not a time (use HH:MM, or 24:00 for midnight)`},
		{"bad holiday", schedule.Config{ID: "office", Closed: []string{"2026-12-25", "25/12/2026"}},
			`schedule "office": closed[1]: "25/12/2026" is not a date (use YYYY-MM-DD)`},
		{"every problem", schedule.Config{ID: "a%d", Timezone: "Nowhere", Weekly: []schedule.Weekly{{Days: []string{"x"}, From: "1", To: "2"}}},
			`schedule "a%d": timezone "Nowhere": unknown time zone` + "\n" +
				`schedule "a%d": weekly[0].from: "1" is not a time (use HH:MM)` + "\n" +
				`schedule "a%d": weekly[0].days[0]: unknown day "x" (use mon, tue, wed, thu, fri, sat, sun)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := schedule.New(tt.c, nil)
			got, want := "", tt.want
			if err != nil {
				got = err.Error()
			}
			if got != want {
				t.Errorf("New error\n got %s\nwant %s", got, want)
			}
		})
	}
}

func TestLocation(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		zone        string
		defaultZone *time.Location
		want        string
	}{
		{"own zone", "America/New_York", berlin, "America/New_York"},
		{"default zone", "", berlin, "Europe/Berlin"},
		{"no default", "", nil, "UTC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := schedule.New(schedule.Config{ID: "x", Timezone: tt.zone}, tt.defaultZone)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := s.Location().String(), tt.want; got != want {
				t.Errorf("Location() = %s, want %s", got, want)
			}
			if got, want := s.ID(), "x"; got != want {
				t.Errorf("ID() = %s, want %s", got, want)
			}
		})
	}
}

// TestConsistent walks through weeks around both DST changes and checks that the methods agree.
func TestConsistent(t *testing.T) {
	t.Parallel()
	configs := []schedule.Config{
		office,
		{ID: "berlin", Timezone: "Europe/Berlin", Weekly: []schedule.Weekly{{Days: weekdays, From: "09:00", To: "18:00"}, {Days: []string{"sat", "sun"}, From: "23:00", To: "02:30"}, {Days: []string{"sun"}, From: "01:30", To: "02:15"}}},
		{ID: "ny", Timezone: "America/New_York", Weekly: []schedule.Weekly{{Days: []string{"sat"}, From: "20:00", To: "04:00"}, {Days: []string{"sun"}, From: "01:00", To: "24:00"}}},
	}
	for _, c := range configs {
		t.Run(c.ID, func(t *testing.T) {
			t.Parallel()
			s := mustNew(t, c)
			for _, start := range []string{"2026-03-05 00:00", "2026-03-26 00:00", "2026-10-22 00:00", "2026-10-29 00:00"} {
				from := mustTime(t, s, start)
				for at := from; at.Before(from.AddDate(0, 0, 5)); at = at.Add(7 * time.Minute) {
					checkConsistent(t, s, at)
				}
			}
		})
	}
}

func checkConsistent(tb testing.TB, s *schedule.Schedule, at time.Time) {
	tb.Helper()
	open := s.Open(at)
	if next, ok := s.NextOpen(at); ok && (!s.Open(next) || next.Before(at) || open != next.Equal(at)) {
		tb.Fatalf("%s: Open %v, NextOpen %s (open %v)", at, open, next, s.Open(next))
	} else if !ok && open {
		tb.Fatalf("%s: open but NextOpen not ok", at)
	}
	if next, ok := s.NextClose(at); ok && (s.Open(next) || next.Before(at) || open == next.Equal(at)) {
		tb.Fatalf("%s: Open %v, NextClose %s (open %v)", at, open, next, s.Open(next))
	} else if !ok && !open {
		tb.Fatalf("%s: closed but NextClose not ok", at)
	}
	next, ok1 := s.NextOpen(at)
	added, ok2 := s.AddOpen(at, 0)
	if ok1 != ok2 || !next.Equal(added) {
		tb.Fatalf("%s: NextOpen %s %v, AddOpen(0) %s %v", at, next, ok1, added, ok2)
	}
	if later, ok := s.AddOpen(at, time.Minute); ok && (!later.After(at) || !s.Open(later.Add(-time.Nanosecond))) {
		tb.Fatalf("%s: AddOpen(1m) = %s", at, later)
	}
}

func FuzzNew(f *testing.F) {
	f.Add("America/Sao_Paulo", "mon", "09:00", "18:00", "2026-12-24", "2026-12-25", int64(1798000000))
	f.Add("Europe/Berlin", "sun", "22:00", "02:30", "2026-03-29", "2026-03-28", int64(1774740000))
	f.Add("", "Friday", "0:00", "24:00", "2026-02-30", "x", int64(0))
	f.Fuzz(func(t *testing.T, zone, day, from, to, date, closed string, unix int64) {
		c := schedule.Config{
			ID:       "fuzz",
			Timezone: zone,
			Weekly:   []schedule.Weekly{{Days: []string{day, "tue"}, From: from, To: to}},
			Dates:    []schedule.Date{{Date: date, From: to, To: from}},
			Closed:   []string{closed},
		}
		s, err := schedule.New(c, nil)
		if err != nil {
			return
		}
		const century = 100 * 365 * 24 * 3600
		at := time.Unix(1700000000+unix%century, 0)
		checkConsistent(t, s, at)
		y, m, d := at.Date()
		for _, iv := range s.Windows(y, m, d) {
			if !iv.From.Before(iv.To) {
				t.Fatalf("empty interval %v", iv)
			}
		}
	})
}

func BenchmarkOpen(b *testing.B) {
	s := mustNew(b, office)
	at := mustTime(b, s, "2026-12-19 13:00")
	b.ReportAllocs()
	for b.Loop() {
		s.Open(at)
	}
}

func TestErrorsAreJoined(t *testing.T) {
	t.Parallel()
	_, err := schedule.New(schedule.Config{ID: "x", Closed: []string{"a", "b"}}, nil)
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("error %v does not unwrap to a list", err)
	}
	if got, want := len(joined.Unwrap()), 2; got != want {
		t.Errorf("problems = %d, want %d", got, want)
	}
}
