// Package schedule evaluates business hours: the schedules of tandem.yaml that flows consult
// through in_schedule conditions, schedule.<id>.open, a wait step's within_schedule and handoff
// steps. It is pure: it reads no clock, starts no goroutines and does no I/O beyond loading a
// time zone by name in New.
//
// A schedule is a list of open windows in its own time zone:
//
//   - weekly windows apply on the listed days (mon tue wed thu fri sat sun; full English names
//     and any case are accepted too);
//   - dates windows apply once, on their date, in addition to the weekly ones (the "custom"
//     periods of the seed);
//   - a date listed in closed drops that day's weekly windows; dates windows of the same date
//     still apply, so "24 Dec only 09–12" is closed: [2026-12-24] plus a dates window.
//
// Times are "HH:MM" or "H:MM" on a 24-hour clock, and "24:00" is allowed as the end. A window
// whose end is earlier than its start crosses midnight (22:00–02:00) and belongs to the day it
// starts on, so closing that day drops it but closing the next day does not. A window whose start
// equals its end is an error. An empty schedule is valid and never open.
//
// The windows of one day are merged into the widest ones: 09:00–12:00 + 10:00–12:00 +
// 13:00–18:00 + 15:00–17:00 are open 09:00–12:00 and 13:00–18:00. Windows of adjacent days that
// overlap or touch across midnight are open continuously for Open, NextOpen, NextClose and AddOpen.
//
// Everything is evaluated in the schedule's zone, with daylight saving time: a wall-clock time
// means the first instant the clock shows it, and a time the clock skips (02:30 on the night it
// jumps from 02:00 to 03:00) means the instant of the jump, so 01:00–03:00 is one hour long that
// night and three hours long on the night the clock goes back. Windows are half-open: open at
// their start, closed at their end. Searches look at most 400 days ahead.
package schedule

import (
	"errors"
	"fmt"
	"iter"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Horizon is how far NextOpen, NextClose and AddOpen look ahead before giving up.
const Horizon = 400 * 24 * time.Hour

const horizonDays = 400

// Config is one schedule as written in tandem.yaml.
type Config struct {
	ID string `json:"id" yaml:"id"`
	// Timezone is an IANA name such as America/Sao_Paulo; empty means the zone given to New.
	Timezone string   `json:"timezone,omitempty" yaml:"timezone,omitempty"`
	Weekly   []Weekly `json:"weekly,omitempty" yaml:"weekly,omitempty"`
	Dates    []Date   `json:"dates,omitempty" yaml:"dates,omitempty"`
	// Closed lists holidays (YYYY-MM-DD) on which the weekly windows do not apply.
	Closed []string `json:"closed,omitempty" yaml:"closed,omitempty"`
}

// Weekly is a window that repeats on the given days of every week.
type Weekly struct {
	Days []string `json:"days" yaml:"days"`
	From string   `json:"from" yaml:"from"`
	To   string   `json:"to" yaml:"to"`
}

// Date is a window that applies once, on Date (YYYY-MM-DD).
type Date struct {
	Date string `json:"date" yaml:"date"`
	From string `json:"from" yaml:"from"`
	To   string `json:"to" yaml:"to"`
}

// Interval is the half-open span of time [From, To).
type Interval struct{ From, To time.Time }

// Schedule is a validated, immutable schedule, safe for concurrent use.
type Schedule struct {
	id     string
	loc    *time.Location
	weekly [7][]window // by time.Weekday
	dates  map[civil][]window
	closed map[civil]bool
}

// window is an open window in minutes after the local midnight of the day it starts on;
// from < to <= from+24h.
type window struct{ from, to int }

// civil is a calendar date without a zone.
type civil struct {
	y int
	m time.Month
	d int
}

// New validates c and builds its schedule. Windows without a zone of their own are evaluated in
// defaultZone (UTC when nil). The error lists every problem, each naming its field.
func New(c Config, defaultZone *time.Location) (*Schedule, error) {
	var errs []error
	bad := func(format string, args ...any) {
		name := "schedule"
		if c.ID != "" {
			name = fmt.Sprintf("schedule %q", c.ID)
		}
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	s := &Schedule{id: c.ID, loc: defaultZone, dates: map[civil][]window{}, closed: map[civil]bool{}}
	if s.loc == nil {
		s.loc = time.UTC
	}
	if strings.TrimSpace(c.ID) == "" {
		bad("id: required")
	}
	if c.Timezone == "Local" {
		bad("timezone %q: use an IANA name such as America/Sao_Paulo", c.Timezone)
	} else if c.Timezone != "" {
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			bad("timezone %q: unknown time zone", c.Timezone)
		} else {
			s.loc = loc
		}
	}
	for i, w := range c.Weekly {
		field := fmt.Sprintf("weekly[%d]", i)
		win, err := parseWindow(w.From, w.To)
		if err != nil {
			bad("%s.%v", field, err)
		}
		if len(w.Days) == 0 {
			bad("%s.days: empty (list days such as [mon, tue])", field)
		}
		for j, name := range w.Days {
			day, ok := weekdays[strings.ToLower(strings.TrimSpace(name))]
			if !ok {
				bad("%s.days[%d]: unknown day %q (use mon, tue, wed, thu, fri, sat, sun)", field, j, name)
			} else if err == nil {
				s.weekly[day] = append(s.weekly[day], win)
			}
		}
	}
	for i, d := range c.Dates {
		field := fmt.Sprintf("dates[%d]", i)
		day, derr := parseDate(d.Date)
		if derr != nil {
			bad("%s.date: %v", field, derr)
		}
		win, err := parseWindow(d.From, d.To)
		if err != nil {
			bad("%s.%v", field, err)
		}
		if derr == nil && err == nil {
			s.dates[day] = append(s.dates[day], win)
		}
	}
	for i, text := range c.Closed {
		day, err := parseDate(text)
		if err != nil {
			bad("closed[%d]: %v", i, err)
			continue
		}
		s.closed[day] = true
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
	"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday,
	"thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday,
}

// parseWindow reads from and to; its errors start with the field name ("from: ...").
func parseWindow(from, to string) (window, error) {
	f, ok := parseClock(from)
	if !ok || f == 24*60 {
		return window{}, fmt.Errorf("from: %q is not a time (use HH:MM)", from)
	}
	t, ok := parseClock(to)
	if !ok {
		return window{}, fmt.Errorf("to: %q is not a time (use HH:MM, or 24:00 for midnight)", to)
	}
	switch {
	case t == f:
		return window{}, fmt.Errorf("to: %q equals from (the window would be empty)", to)
	case t < f:
		t += 24 * 60 // crosses midnight
	}
	return window{f, t}, nil
}

// parseClock reads "HH:MM" or "H:MM" as minutes after midnight; "24:00" is 1440.
func parseClock(s string) (int, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, false
	}
	hh, err1 := strconv.ParseUint(h, 10, 8)
	mm, err2 := strconv.ParseUint(m, 10, 8)
	if err1 != nil || err2 != nil || mm > 59 || hh > 24 || hh == 24 && mm != 0 {
		return 0, false
	}
	return int(hh)*60 + int(mm), true
}

func parseDate(s string) (civil, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return civil{}, fmt.Errorf("%q is not a date (use YYYY-MM-DD)", s)
	}
	return dateOf(t), nil
}

func dateOf(t time.Time) civil {
	y, m, d := t.Date()
	return civil{y, m, d}
}

// ID returns the schedule's id.
func (s *Schedule) ID() string { return s.id }

// Location returns the zone the schedule is evaluated in.
func (s *Schedule) Location() *time.Location { return s.loc }

// Open reports whether the schedule is open at t.
func (s *Schedule) Open(t time.Time) bool {
	for iv := range s.spans(t) {
		return !iv.From.After(t)
	}
	return false
}

// NextOpen returns t itself when the schedule is open at t, else the next instant it opens;
// ok is false when it does not open within Horizon.
func (s *Schedule) NextOpen(t time.Time) (next time.Time, ok bool) {
	for iv := range s.spans(t) {
		switch {
		case !iv.From.After(t):
			return t, true
		case iv.From.Sub(t) > Horizon:
			return time.Time{}, false
		}
		return iv.From, true
	}
	return time.Time{}, false
}

// NextClose returns the first instant at or after t at which the schedule is closed: t itself
// when closed at t. ok is false when it stays open for all of Horizon.
func (s *Schedule) NextClose(t time.Time) (next time.Time, ok bool) {
	for iv := range s.spans(t) {
		switch {
		case iv.From.After(t):
			return t, true
		case iv.To.Sub(t) > Horizon:
			return time.Time{}, false
		}
		return iv.To, true
	}
	return t, true
}

// AddOpen returns the instant at which d of open time has elapsed counting from t; only time
// inside open windows counts. When d is zero (or negative) it returns NextOpen(t). If the
// duration runs out exactly at a closing time, that closing time is returned. ok is false when
// the instant lies beyond Horizon.
func (s *Schedule) AddOpen(t time.Time, d time.Duration) (at time.Time, ok bool) {
	d = max(d, 0)
	for iv := range s.spans(t) {
		start := iv.From
		if !start.After(t) {
			start = t
		}
		if start.Sub(t) > Horizon {
			break
		}
		if left := iv.To.Sub(start); d > left {
			d -= left
			continue
		}
		if at = start.Add(d); at.Sub(t) > Horizon {
			break
		}
		return at, true
	}
	return time.Time{}, false
}

// Windows returns the open intervals that start on the local calendar date y-m-d, merged into
// the widest ones, sorted, as instants in Location. A window of the previous day that crosses
// midnight is not included, even when it overlaps these. Out-of-range dates are normalised as
// time.Date does.
func (s *Schedule) Windows(y int, m time.Month, d int) []Interval {
	noon := time.Date(y, m, d, 12, 0, 0, 0, time.UTC)
	day := dateOf(noon)
	wins := s.dates[day]
	if !s.closed[day] {
		wins = append(wins[:len(wins):len(wins)], s.weekly[noon.Weekday()]...)
	}
	var out []Interval
	for _, w := range wins {
		if iv := (Interval{s.at(day, w.from), s.at(day, w.to)}); iv.From.Before(iv.To) {
			out = append(out, iv)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].From.Before(out[j].From) })
	return merge(out)
}

// merge joins overlapping or touching intervals of a slice sorted by From, in place.
func merge(ivs []Interval) []Interval {
	n := 0
	for _, iv := range ivs {
		if n > 0 && !iv.From.After(ivs[n-1].To) {
			if iv.To.After(ivs[n-1].To) {
				ivs[n-1].To = iv.To
			}
			continue
		}
		ivs[n] = iv
		n++
	}
	return ivs[:n]
}

// spans yields the open intervals that end after t, merged across days, in order, looking from
// the day before t (whose windows may cross midnight) to a little beyond Horizon. The last
// interval is cut short when it would continue past the days looked at.
func (s *Schedule) spans(t time.Time) iter.Seq[Interval] {
	return func(yield func(Interval) bool) {
		y, m, d := t.In(s.loc).Date()
		var cur Interval
		have := false
		for i := -1; i <= horizonDays+1; i++ {
			for _, iv := range s.Windows(y, m, d+i) {
				if have && !iv.From.After(cur.To) {
					if iv.To.After(cur.To) {
						cur.To = iv.To
					}
					continue
				}
				if have && cur.To.After(t) && !yield(cur) {
					return
				}
				cur, have = iv, true
			}
		}
		if have && cur.To.After(t) {
			yield(cur)
		}
	}
}

// at returns the instant the local clock first shows min minutes after the midnight that starts
// day, or, when the clock skips that time, the instant it jumps.
func (s *Schedule) at(day civil, min int) time.Time {
	want := time.Date(day.y, day.m, day.d, 0, min, 0, 0, time.UTC)
	t := time.Date(day.y, day.m, day.d, 0, min, 0, 0, s.loc)
	start, end := t.ZoneBounds()
	switch w := wall(t); {
	case w.After(want) && !start.IsZero(): // skipped; time.Date went past the jump
		return start
	case w.Before(want) && !end.IsZero(): // skipped; time.Date stopped before the jump
		return end
	}
	if start.IsZero() {
		return t
	}
	// The clock may have shown this time before, in the zone period ending at start.
	_, off := t.Zone()
	_, prev := start.Add(-time.Second).Zone()
	if e := t.Add(time.Duration(off-prev) * time.Second); e.Before(start) && wall(e).Equal(want) {
		return e
	}
	return t
}

// wall returns t's wall clock as if it were UTC, to compare wall clocks.
func wall(t time.Time) time.Time {
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	return time.Date(y, m, d, hh, mm, ss, t.Nanosecond(), time.UTC)
}
