package leaderboard

import (
	"fmt"
	"time"
)

// WindowType names a kind of window (contract section 3).
type WindowType string

// The window types.
const (
	Daily   WindowType = "daily"
	Weekly  WindowType = "weekly"
	AllTime WindowType = "alltime"
	Custom  WindowType = "custom"
)

// MaxCustomSpan is the longest custom window allowed.
const MaxCustomSpan = 366 * 24 * time.Hour

// Hot retention: how long after a window ends its board stays in Valkey.
const (
	DailyRetention  = 48 * time.Hour
	WeeklyRetention = 8 * 24 * time.Hour
)

// Window is a half-open UTC interval [Start, End). The all-time window has
// zero Start and End.
type Window struct {
	Type  WindowType
	Start time.Time
	End   time.Time
}

// DailyWindow returns the UTC day containing t.
func DailyWindow(t time.Time) Window {
	t = t.UTC()
	start := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return Window{Type: Daily, Start: start, End: start.AddDate(0, 0, 1)}
}

// WeeklyWindow returns the ISO week (Monday 00:00 UTC to next Monday) containing t.
func WeeklyWindow(t time.Time) Window {
	d := DailyWindow(t).Start
	// time.Weekday counts from Sunday=0; ISO weeks start on Monday.
	back := (int(d.Weekday()) + 6) % 7
	start := d.AddDate(0, 0, -back)
	return Window{Type: Weekly, Start: start, End: start.AddDate(0, 0, 7)}
}

// AllTimeWindow returns the window that holds every event.
func AllTimeWindow() Window { return Window{Type: AllTime} }

// CustomWindow validates and returns [from, to).
func CustomWindow(from, to time.Time) (Window, error) {
	from, to = from.UTC(), to.UTC()
	if !from.Before(to) {
		return Window{}, fmt.Errorf("%w: from must be before to", ErrInvalidArgument)
	}
	if to.Sub(from) > MaxCustomSpan {
		return Window{}, fmt.Errorf("%w: custom window spans more than 366 days", ErrInvalidArgument)
	}
	return Window{Type: Custom, Start: from, End: to}, nil
}

// StandardWindows returns the daily, weekly and all-time windows an event
// occurring at t belongs to.
func StandardWindows(t time.Time) [3]Window {
	return [3]Window{DailyWindow(t), WeeklyWindow(t), AllTimeWindow()}
}

// HotWindows lists the standard windows that have begun by now and whose
// boards belong in the hot store at now: the current daily, weekly and
// all-time windows first (the ones read most), then the earlier days and
// weeks still within their hot retention, most recent first. That is 6
// windows, 7 on Mondays (the week before last is kept one day more).
func HotWindows(now time.Time) []Window {
	cur := StandardWindows(now)
	out := append(make([]Window, 0, 7), cur[:]...)
	for w := DailyWindow(cur[0].Start.Add(-1)); w.IsHot(now); w = DailyWindow(w.Start.Add(-1)) {
		out = append(out, w)
	}
	for w := WeeklyWindow(cur[1].Start.Add(-1)); w.IsHot(now); w = WeeklyWindow(w.Start.Add(-1)) {
		out = append(out, w)
	}
	return out
}

// Contains reports whether t falls inside the window.
func (w Window) Contains(t time.Time) bool {
	if w.Type == AllTime {
		return true
	}
	return !t.Before(w.Start) && t.Before(w.End)
}

// Key is a stable, compact name for a standard window, used in store keys:
// "d20261203", "w20261130" (the Monday), "all".
func (w Window) Key() string {
	switch w.Type {
	case Daily:
		return "d" + w.Start.Format("20060102")
	case Weekly:
		return "w" + w.Start.Format("20060102")
	case AllTime:
		return "all"
	default:
		return "c" + w.Start.Format("20060102T150405.000") + "-" + w.End.Format("20060102T150405.000")
	}
}

// HotUntil is the instant after which the window's board leaves the hot store.
// The zero time means forever (all-time); custom windows are never hot.
func (w Window) HotUntil() time.Time {
	switch w.Type {
	case Daily:
		return w.End.Add(DailyRetention)
	case Weekly:
		return w.End.Add(WeeklyRetention)
	default:
		return time.Time{}
	}
}

// IsHot reports whether the window's board belongs in the hot store at now.
func (w Window) IsHot(now time.Time) bool {
	switch w.Type {
	case AllTime:
		return true
	case Daily, Weekly:
		return now.Before(w.HotUntil())
	default:
		return false
	}
}
