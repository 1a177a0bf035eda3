package api

import (
	"encoding/base64"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"example.com/leaderboard/internal/leaderboard"
)

// Strict parameter parsing for the read endpoints. Every rule answers 400
// invalid_argument with a message that starts with the parameter's name:
//
//   - a parameter the endpoint does not know, or one given twice, or given
//     empty ("limit="), is rejected; so is a query string that does not parse;
//   - window is required: daily | weekly | alltime | custom;
//   - date (YYYY-MM-DD) only with daily and weekly; from and to (RFC 3339,
//     whole milliseconds, from < to, span <= 366 days) only with custom and
//     both required there;
//   - dates and instants must lie in [1970-01-01, 2262-01-01) UTC;
//   - integers are plain decimal (no sign, no leading zero, no spaces).

// Bounds of the paging parameters.
const (
	DefaultLimit   = 50
	MaxLimit       = 1000
	DefaultContext = 5
	MaxContextSize = 50
	// MaxOffset bounds offset and top, far beyond any board, so that
	// offset+limit never overflows anywhere.
	MaxOffset = 1_000_000_000_000_000
)

var (
	minInstant = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxInstant = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC)
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{leaderboard.ErrInvalidArgument}, args...)...)
}

// params is a request's query parameters, each given once.
type params map[string]string

// readParams parses the raw query string and checks every name against
// allowed.
func readParams(rawQuery string, allowed ...string) (params, error) {
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, invalid("query string: malformed: %v", err)
	}
	out := make(params, len(values))
	// In name order, so that a query with several faults always names the
	// same one first.
	for _, name := range slices.Sorted(maps.Keys(values)) {
		vs := values[name]
		known := false
		for _, a := range allowed {
			if a == name {
				known = true
				break
			}
		}
		switch {
		case !known:
			if len(allowed) == 0 {
				return nil, invalid("%s: unknown parameter (this endpoint takes none)", quoteName(name))
			}
			return nil, invalid("%s: unknown parameter (allowed: %s)", quoteName(name), strings.Join(allowed, ", "))
		case len(vs) != 1:
			return nil, invalid("%s: given more than once", name)
		case vs[0] == "":
			return nil, invalid("%s: must not be empty", name)
		}
		out[name] = vs[0]
	}
	return out, nil
}

// quoteName shows a parameter name as given, control characters escaped.
func quoteName(name string) string {
	if name == "" {
		return `""`
	}
	q := strconv.Quote(name)
	return q[1 : len(q)-1]
}

// parseWindow reads window, date, from and to.
func parseWindow(p params, now time.Time) (leaderboard.Window, error) {
	typ, ok := p["window"]
	if !ok {
		return leaderboard.Window{}, invalid("window: required, one of daily, weekly, alltime, custom")
	}
	_, hasDate := p["date"]
	_, hasFrom := p["from"]
	_, hasTo := p["to"]
	switch leaderboard.WindowType(typ) {
	case leaderboard.Daily, leaderboard.Weekly:
		if hasFrom || hasTo {
			return leaderboard.Window{}, invalid("from, to: only apply to window=custom")
		}
		day := now.UTC()
		if hasDate {
			d, err := parseDate(p["date"])
			if err != nil {
				return leaderboard.Window{}, err
			}
			day = d
		}
		w := leaderboard.DailyWindow(day)
		if typ == string(leaderboard.Weekly) {
			w = leaderboard.WeeklyWindow(day)
		}
		if w.Start.Before(minInstant) || w.End.After(maxInstant) {
			return leaderboard.Window{}, invalid("date: the window must lie between 1970-01-01 and 2262-01-01")
		}
		return w, nil
	case leaderboard.AllTime:
		if hasDate || hasFrom || hasTo {
			return leaderboard.Window{}, invalid("date, from, to: do not apply to window=alltime")
		}
		return leaderboard.AllTimeWindow(), nil
	case leaderboard.Custom:
		if hasDate {
			return leaderboard.Window{}, invalid("date: does not apply to window=custom (use from and to)")
		}
		if !hasFrom || !hasTo {
			return leaderboard.Window{}, invalid("from, to: both required with window=custom")
		}
		from, err := parseInstant("from", p["from"])
		if err != nil {
			return leaderboard.Window{}, err
		}
		to, err := parseInstant("to", p["to"])
		if err != nil {
			return leaderboard.Window{}, err
		}
		if !from.Before(to) {
			return leaderboard.Window{}, invalid("from, to: from must be before to")
		}
		if to.Sub(from) > leaderboard.MaxCustomSpan {
			return leaderboard.Window{}, invalid("from, to: a custom window spans at most 366 days")
		}
		return leaderboard.CustomWindow(from, to)
	}
	return leaderboard.Window{}, invalid("window: must be one of daily, weekly, alltime, custom")
}

func parseDate(s string) (time.Time, error) {
	d, err := time.Parse("2006-01-02", s)
	if err != nil || d.Format("2006-01-02") != s {
		return time.Time{}, invalid("date: must be a date YYYY-MM-DD")
	}
	return d, nil
}

func parseInstant(name, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || len(s) < len("2006-01-02T15:04:05Z") || (s[10] != 'T') || strings.ContainsAny(s, "tz") {
		return time.Time{}, invalid("%s: must be an RFC 3339 instant such as 2026-12-03T10:00:00Z", name)
	}
	t = t.UTC()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		return time.Time{}, invalid("%s: at most millisecond precision", name)
	}
	if t.Before(minInstant) || t.After(maxInstant) {
		return time.Time{}, invalid("%s: must lie between 1970-01-01 and 2262-01-01", name)
	}
	return t, nil
}

// parseUint reads an optional plain decimal integer in [lo, hi].
func parseUint(p params, name string, def, lo, hi int64) (int64, error) {
	s, ok := p[name]
	if !ok {
		return def, nil
	}
	bad := len(s) == 0 || len(s) > 19 || (len(s) > 1 && s[0] == '0')
	for i := 0; i < len(s) && !bad; i++ {
		bad = s[i] < '0' || s[i] > '9'
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if bad || err != nil || v < lo || v > hi {
		return 0, invalid("%s: must be an integer from %d to %d", name, lo, hi)
	}
	return v, nil
}

// Source is the store a read is forced to (contract section 5).
type Source string

// The sources; SourceAuto lets the service choose.
const (
	SourceAuto       Source = ""
	SourceCache      Source = "cache"
	SourceClickHouse Source = "clickhouse"
)

// parseSource reads source; cacheApplies is false where the cache never
// applies (custom windows, player events, exports): source=cache is a 400.
func parseSource(p params, cacheApplies bool, where string) (Source, error) {
	s, ok := p["source"]
	if !ok {
		return SourceAuto, nil
	}
	switch Source(s) {
	case SourceCache:
		if !cacheApplies {
			return "", invalid("source: cache never applies to %s (use clickhouse or leave it out)", where)
		}
		return SourceCache, nil
	case SourceClickHouse:
		return SourceClickHouse, nil
	}
	return "", invalid("source: must be one of cache, clickhouse")
}

// Cursors. A cursor is the last entry of a page: its score, reached_at in
// Unix milliseconds and player_id, as "1|score|ms|player" in unpadded
// base64url. Decoding is strict: only the exact encoding of a valid entry is
// accepted, anything else is a 400.

const cursorVersion = "1"

// EncodeCursor returns the cursor that continues after st.
func EncodeCursor(st leaderboard.Standing) string {
	raw := cursorVersion + "|" + strconv.FormatInt(st.Score, 10) + "|" + strconv.FormatInt(st.ReachedAt.UnixMilli(), 10) + "|" + st.PlayerID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeCursor is the inverse of EncodeCursor.
func DecodeCursor(s string) (leaderboard.Standing, error) {
	bad := invalid("cursor: malformed (pass next_cursor of the previous page unchanged)")
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return leaderboard.Standing{}, bad
	}
	f := strings.SplitN(string(b), "|", 4)
	if len(f) != 4 || f[0] != cursorVersion {
		return leaderboard.Standing{}, bad
	}
	score, err1 := strconv.ParseInt(f[1], 10, 64)
	ms, err2 := strconv.ParseInt(f[2], 10, 64)
	if err1 != nil || err2 != nil || strconv.FormatInt(score, 10) != f[1] || strconv.FormatInt(ms, 10) != f[2] ||
		score > leaderboard.MaxExactTotal || score < -leaderboard.MaxExactTotal ||
		ms < 0 || ms > leaderboard.MaxExactTotal || !leaderboard.ValidPlayerID(f[3]) {
		return leaderboard.Standing{}, bad
	}
	return leaderboard.Standing{PlayerID: f[3], Score: score, ReachedAt: time.UnixMilli(ms).UTC()}, nil
}

// boardParam reads and checks :id.
func boardParam(c *gin.Context) (string, error) {
	id := c.Param("id")
	if !leaderboard.ValidBoardID(id) {
		return "", invalid("leaderboard_id: must match ^[a-z0-9][a-z0-9_-]{0,63}$")
	}
	return id, nil
}

// playerParam reads and checks :userId (percent-decoded by the router).
func playerParam(c *gin.Context) (string, error) {
	id := c.Param("userId")
	if !leaderboard.ValidPlayerID(id) {
		return "", invalid("player_id: must be 1 to 128 bytes of UTF-8 without control characters, percent-encoded in the path")
	}
	return id, nil
}

// windowParams reads what every window-scoped read starts with: the board in
// the path, the query parameters (only those allowed) and the window.
func (q *queries) windowParams(c *gin.Context, allowed ...string) (string, params, leaderboard.Window, error) {
	board, err := boardParam(c)
	if err != nil {
		return "", nil, leaderboard.Window{}, err
	}
	p, err := readParams(c.Request.URL.RawQuery, allowed...)
	if err != nil {
		return "", nil, leaderboard.Window{}, err
	}
	w, err := parseWindow(p, q.d.Now())
	if err != nil {
		return "", nil, leaderboard.Window{}, err
	}
	return board, p, w, nil
}
