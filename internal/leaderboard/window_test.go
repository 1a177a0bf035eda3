package leaderboard

import (
	"math/rand/v2"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the host has installed

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestDailyWindow(t *testing.T) {
	tests := []struct {
		name  string
		at    time.Time
		start string
		key   string
	}{
		{"midnight exactly", utc("2026-12-03T00:00:00Z"), "2026-12-03T00:00:00Z", "d20261203"},
		{"last millisecond", utc("2026-12-03T23:59:59.999Z"), "2026-12-03T00:00:00Z", "d20261203"},
		{"last nanosecond", utc("2026-12-03T23:59:59.999999999Z"), "2026-12-03T00:00:00Z", "d20261203"},
		{"next midnight", utc("2026-12-04T00:00:00Z"), "2026-12-04T00:00:00Z", "d20261204"},
		{"given in UTC+3, still the UTC day", utc("2026-12-03T22:00:00Z").In(time.FixedZone("X", 3*3600)), "2026-12-03T00:00:00Z", "d20261203"},
		{"given in UTC-5, still the UTC day", utc("2026-12-04T02:00:00Z").In(time.FixedZone("Y", -5*3600)), "2026-12-04T00:00:00Z", "d20261204"},
		{"leap day", utc("2024-02-29T12:00:00Z"), "2024-02-29T00:00:00Z", "d20240229"},
		{"new year's eve", utc("2026-12-31T23:59:59.999Z"), "2026-12-31T00:00:00Z", "d20261231"},
		{"new year", utc("2027-01-01T00:00:00Z"), "2027-01-01T00:00:00Z", "d20270101"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := DailyWindow(tt.at)
			assert.Equal(t, Daily, w.Type)
			assert.Equal(t, utc(tt.start), w.Start)
			assert.Equal(t, utc(tt.start).Add(24*time.Hour), w.End)
			assert.Equal(t, tt.key, w.Key())
			assert.True(t, w.Contains(tt.at))
		})
	}
}

func TestWeeklyWindow(t *testing.T) {
	tests := []struct {
		name   string
		at     time.Time
		monday string
	}{
		{"Thursday 2026-12-31, ISO week 2026-W53", utc("2026-12-31T12:00:00Z"), "2026-12-28"},
		{"Friday 2027-01-01, still 2026-W53", utc("2027-01-01T00:00:00Z"), "2026-12-28"},
		{"Sunday last millisecond", utc("2027-01-03T23:59:59.999Z"), "2026-12-28"},
		{"Monday 00:00 starts 2027-W01", utc("2027-01-04T00:00:00Z"), "2027-01-04"},
		{"Monday 00:00 exactly", utc("2026-12-28T00:00:00Z"), "2026-12-28"},
		{"Sunday before", utc("2026-12-27T23:59:59.999Z"), "2026-12-21"},
		{"2020-12-31, 2020-W53", utc("2020-12-31T10:00:00Z"), "2020-12-28"},
		{"2021-01-03, still 2020-W53", utc("2021-01-03T10:00:00Z"), "2020-12-28"},
		{"2024-12-30 is 2025-W01", utc("2024-12-30T00:00:00Z"), "2024-12-30"},
		{"leap day", utc("2024-02-29T00:00:00Z"), "2024-02-26"},
		{"Sunday evening in UTC-5 is Monday in UTC", utc("2026-12-28T01:00:00Z").In(time.FixedZone("Y", -5*3600)), "2026-12-28"},
		{"Monday morning in UTC+14 is Sunday in UTC", utc("2026-12-27T12:00:00Z").In(time.FixedZone("Z", 14*3600)), "2026-12-21"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := WeeklyWindow(tt.at)
			monday := utc(tt.monday + "T00:00:00Z")
			assert.Equal(t, Weekly, w.Type)
			assert.Equal(t, monday, w.Start)
			assert.Equal(t, monday.AddDate(0, 0, 7), w.End)
			assert.Equal(t, "w"+monday.Format("20060102"), w.Key())
			assert.True(t, w.Contains(tt.at))
			y1, w1 := w.Start.ISOWeek()
			y2, w2 := tt.at.UTC().ISOWeek()
			assert.Equal(t, [2]int{y2, w2}, [2]int{y1, w1})
		})
	}
}

func TestCustomWindow(t *testing.T) {
	from := utc("2026-01-01T00:00:00Z")
	tests := []struct {
		name string
		from time.Time
		to   time.Time
		ok   bool
	}{
		{"one millisecond", from, from.Add(time.Millisecond), true},
		{"366 days exactly", from, from.Add(MaxCustomSpan), true},
		{"366 days and a nanosecond", from, from.Add(MaxCustomSpan + 1), false},
		{"empty", from, from, false},
		{"reversed", from, from.Add(-time.Hour), false},
		{"other zones are normalised", from.In(time.FixedZone("X", 3600)), from.Add(time.Hour).In(time.FixedZone("Y", -3600)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := CustomWindow(tt.from, tt.to)
			if !tt.ok {
				require.ErrorIs(t, err, ErrInvalidArgument)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, Custom, w.Type)
			assert.Equal(t, time.UTC, w.Start.Location())
			assert.Equal(t, time.UTC, w.End.Location())
			assert.True(t, w.Contains(tt.from))
			assert.False(t, w.Contains(tt.to), "half-open")
		})
	}
	w, err := CustomWindow(utc("2026-12-03T10:00:00.5Z"), utc("2026-12-04T00:00:00Z"))
	require.NoError(t, err)
	assert.Equal(t, "c20261203T100000.500-20261204T000000.000", w.Key())
}

func TestWindowContainsAndStandard(t *testing.T) {
	d := DailyWindow(utc("2026-12-03T10:00:00Z"))
	assert.False(t, d.Contains(utc("2026-12-02T23:59:59.999Z")))
	assert.True(t, d.Contains(utc("2026-12-03T00:00:00Z")))
	assert.False(t, d.Contains(utc("2026-12-04T00:00:00Z")))
	assert.True(t, AllTimeWindow().Contains(time.Time{}))
	assert.True(t, AllTimeWindow().Contains(utc("1999-01-01T00:00:00Z")))
	assert.Equal(t, "all", AllTimeWindow().Key())

	ws := StandardWindows(utc("2027-01-01T00:00:00Z"))
	assert.Equal(t, []string{"d20270101", "w20261228", "all"}, []string{ws[0].Key(), ws[1].Key(), ws[2].Key()})
}

func TestHotRetention(t *testing.T) {
	day := DailyWindow(utc("2026-12-03T10:00:00Z"))
	week := WeeklyWindow(utc("2026-12-03T10:00:00Z")) // 2026-11-30 .. 2026-12-07
	custom, err := CustomWindow(utc("2026-12-03T00:00:00Z"), utc("2026-12-04T00:00:00Z"))
	require.NoError(t, err)
	tests := []struct {
		name string
		w    Window
		now  time.Time
		hot  bool
	}{
		{"daily during its day", day, utc("2026-12-03T12:00:00Z"), true},
		{"daily 48h after its end, minus 1ms", day, utc("2026-12-05T23:59:59.999Z"), true},
		{"daily 48h after its end", day, utc("2026-12-06T00:00:00Z"), false},
		{"daily before it starts", day, utc("2026-12-01T00:00:00Z"), true},
		{"weekly 8 days after its end, minus 1ms", week, utc("2026-12-14T23:59:59.999Z"), true},
		{"weekly 8 days after its end", week, utc("2026-12-15T00:00:00Z"), false},
		{"all-time always", AllTimeWindow(), utc("2100-01-01T00:00:00Z"), true},
		{"custom never", custom, utc("2026-12-03T12:00:00Z"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.hot, tt.w.IsHot(tt.now))
		})
	}
	assert.Equal(t, utc("2026-12-06T00:00:00Z"), day.HotUntil())
	assert.Equal(t, utc("2026-12-15T00:00:00Z"), week.HotUntil())
	assert.True(t, AllTimeWindow().HotUntil().IsZero())
}

func TestHotWindows(t *testing.T) {
	day := func(s string) Window { return DailyWindow(utc(s + "T00:00:00Z")) }
	week := func(s string) Window { return WeeklyWindow(utc(s + "T00:00:00Z")) }
	tests := []struct {
		name string
		now  time.Time
		want []Window
	}{
		{"a Thursday", utc("2026-12-03T10:00:00Z"), []Window{
			day("2026-12-03"), week("2026-11-30"), AllTimeWindow(),
			day("2026-12-02"), day("2026-12-01"), week("2026-11-23")}},
		{"a Monday keeps the week before last", utc("2026-12-07T23:59:59.999Z"), []Window{
			day("2026-12-07"), week("2026-12-07"), AllTimeWindow(),
			day("2026-12-06"), day("2026-12-05"), week("2026-11-30"), week("2026-11-23")}},
		{"Tuesday at midnight drops it", utc("2026-12-08T00:00:00Z"), []Window{
			day("2026-12-08"), week("2026-12-07"), AllTimeWindow(),
			day("2026-12-07"), day("2026-12-06"), week("2026-11-30")}},
		{"a Sunday, one nanosecond before the week ends", utc("2026-12-06T23:59:59.999999999Z"), []Window{
			day("2026-12-06"), week("2026-11-30"), AllTimeWindow(),
			day("2026-12-05"), day("2026-12-04"), week("2026-11-23")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, HotWindows(tt.now))
			assert.Equal(t, tt.want, HotWindows(tt.now.In(time.FixedZone("M12", -12*3600))), "whatever the zone")
		})
	}
}

// TestHotWindowsProperties: HotWindows is exactly the set of hot daily and
// weekly windows that have begun, plus all-time, current windows first.
func TestHotWindowsProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for i := 0; i < 5000; i++ {
		now := time.Unix(0, rng.Int64N(4_102_444_800_000_000_000)).UTC()
		if i%3 == 0 {
			now = DailyWindow(now).Start.Add(-time.Duration(rng.IntN(2)))
		}
		got := HotWindows(now)
		cur := StandardWindows(now)
		require.Equal(t, cur[:], got[:3], "current windows first")
		seen := map[string]bool{}
		for _, w := range got {
			require.True(t, w.IsHot(now), "%s at %s", w.Key(), now)
			require.False(t, w.Start.After(now), "%s has begun at %s", w.Key(), now)
			require.False(t, seen[w.Key()], "%s listed once", w.Key())
			seen[w.Key()] = true
		}
		// every begun window of the last 30 days that is hot is listed
		for d := 0; d <= 30; d++ {
			at := now.AddDate(0, 0, -d)
			for _, w := range []Window{DailyWindow(at), WeeklyWindow(at)} {
				require.Equal(t, w.IsHot(now), seen[w.Key()], "%s at %s", w.Key(), now)
			}
		}
		want := 6
		if now.Weekday() == time.Monday {
			want = 7
		}
		require.Len(t, got, want, "at %s", now)
	}
}

// TestWindowsIgnoreLocalZone sets time.Local to zones with odd offsets and
// daylight saving time: windows must not move.
func TestWindowsIgnoreLocalZone(t *testing.T) {
	saved := time.Local
	t.Cleanup(func() { time.Local = saved })
	instants := []time.Time{
		utc("2026-12-03T00:00:00Z"), utc("2026-12-31T23:59:59.999Z"), utc("2027-01-04T00:00:00Z"),
		utc("2026-03-29T01:30:00Z"), utc("2026-10-25T00:59:59.999Z"), utc("2026-12-27T23:30:00Z"),
	}
	type result struct{ daily, weekly Window }
	want := make([]result, len(instants))
	time.Local = time.UTC
	for i, at := range instants {
		want[i] = result{DailyWindow(at), WeeklyWindow(at)}
	}
	for _, zone := range []string{"Pacific/Kiritimati", "Pacific/Pago_Pago", "America/St_Johns", "Europe/Paris", "Australia/Lord_Howe", "Asia/Kathmandu"} {
		loc, err := time.LoadLocation(zone)
		require.NoError(t, err)
		time.Local = loc
		for i, at := range instants {
			for _, given := range []time.Time{at, at.Local(), at.In(loc)} {
				got := result{DailyWindow(given), WeeklyWindow(given)}
				assert.Equal(t, want[i], got, "%s: %s", zone, given)
				assert.Equal(t, want[i].daily.Key(), got.daily.Key())
			}
		}
		c, err := CustomWindow(instants[0].Local(), instants[1].Local())
		require.NoError(t, err)
		assert.Equal(t, "c20261203T000000.000-20261231T235959.999", c.Key(), zone)
	}
}

// TestWindowProperties checks, on random instants in random zones, that every
// instant is in exactly one daily and one weekly window, that weekly windows
// are ISO weeks starting Monday 00:00 UTC, and that each holds its day.
func TestWindowProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	zones := []*time.Location{time.UTC, time.FixedZone("P14", 14*3600), time.FixedZone("M12", -12*3600), time.FixedZone("P0545", 5*3600+45*60)}
	for i := 0; i < 20000; i++ {
		var at time.Time
		if i%4 == 0 { // exactly on a midnight, or one nanosecond before
			at = time.Unix(rng.Int64N(5000)*86400+946684800, 0).Add(-time.Duration(rng.IntN(2)))
		} else {
			at = time.Unix(0, rng.Int64N(4_102_444_800_000_000_000)) // 1970..2100
		}
		at = at.In(zones[rng.IntN(len(zones))])

		d := DailyWindow(at)
		require.True(t, d.Contains(at))
		require.Equal(t, time.UTC, d.Start.Location())
		require.Equal(t, 24*time.Hour, d.End.Sub(d.Start))
		require.Zero(t, d.Start.Hour()+d.Start.Minute()+d.Start.Second()+d.Start.Nanosecond())
		require.False(t, DailyWindow(d.Start.Add(-1)).Contains(at), "only one daily window")
		require.False(t, DailyWindow(d.End).Contains(at), "only one daily window")
		require.Equal(t, d, DailyWindow(d.Start))
		require.Equal(t, d, DailyWindow(d.End.Add(-1)))

		w := WeeklyWindow(at)
		require.True(t, w.Contains(at))
		require.Equal(t, time.Monday, w.Start.Weekday())
		require.Equal(t, 7*24*time.Hour, w.End.Sub(w.Start))
		require.Zero(t, w.Start.Hour()+w.Start.Minute()+w.Start.Second()+w.Start.Nanosecond())
		require.False(t, w.Start.After(d.Start) || w.End.Before(d.End), "the week holds the day")
		require.False(t, WeeklyWindow(w.Start.Add(-1)).Contains(at), "only one weekly window")
		require.False(t, WeeklyWindow(w.End).Contains(at), "only one weekly window")
		require.Equal(t, w, WeeklyWindow(w.End.Add(-1)))
		y1, n1 := w.Start.ISOWeek()
		y2, n2 := at.UTC().ISOWeek()
		require.Equal(t, [2]int{y2, n2}, [2]int{y1, n1}, "%s", at)
	}
}
