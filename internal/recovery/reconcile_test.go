package recovery

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"example.com/leaderboard/internal/leaderboard"
)

func TestWindowLabel(t *testing.T) {
	now := time.Date(2026, 12, 7, 23, 59, 59, 0, time.UTC) // a Monday
	day := func(d int) leaderboard.Window { return leaderboard.DailyWindow(now.AddDate(0, 0, -d)) }
	week := func(w int) leaderboard.Window { return leaderboard.WeeklyWindow(now.AddDate(0, 0, -7*w)) }
	tests := []struct {
		name string
		w    leaderboard.Window
		want string
	}{
		{"today", day(0), "daily"},
		{"yesterday", day(1), "daily-1"},
		{"the day before", day(2), "daily-2"},
		{"this week", week(0), "weekly"},
		{"last week", week(1), "weekly-1"},
		{"the week before", week(2), "weekly-2"},
		{"all-time", leaderboard.AllTimeWindow(), "alltime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, windowLabel(tt.w, now))
		})
	}
	labels := map[string]bool{}
	for _, w := range leaderboard.HotWindows(now) {
		labels[windowLabel(w, now)] = true
	}
	assert.Len(t, labels, 7, "every hot window has its own label")
}
