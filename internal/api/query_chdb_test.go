//go:build chdb

package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/api"
	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/stacktest"
)

// The query API on the real stores: a stacktest stack (kfake, chDB, a
// redis-server and the service's consumer) behind the HTTP handler. D is
// yesterday (UTC), so every window is hot and both stores can be forced.

func dayD() time.Time { return leaderboard.DailyWindow(time.Now().UTC()).Start.AddDate(0, 0, -1) }

// atD returns D at hh:mm.
func atD(clock string) time.Time {
	t, err := time.Parse("15:04:05", clock)
	if err != nil {
		t, err = time.Parse("15:04", clock)
	}
	if err != nil {
		panic(err)
	}
	return dayD().Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second)
}

func scoreRec(id, board, player string, score int64, occurred time.Time) *kgo.Record {
	return &kgo.Record{Key: []byte(board + ":" + player), Value: []byte(fmt.Sprintf(
		`{"event_id":%q,"leaderboard_id":%q,"player_id":%q,"score":%d,"occurred_at":%q}`,
		id, board, player, score, leaderboard.FormatTime(occurred)))}
}

type stackServer struct {
	*qserver
	stack *stacktest.Stack
}

func newStackServer(t *testing.T) *stackServer {
	t.Helper()
	s := stacktest.Start(t, stacktest.Options{})
	srv := newBareServer()
	srv.RegisterQueries(api.QueryDeps{Hot: s.Hot, Warehouse: s.Store, Boards: s.Store, Exporter: s.Store, HotTimeout: time.Second})
	return &stackServer{qserver: &qserver{srv: srv}, stack: s}
}

func (s *stackServer) do(method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// waitConsumed is stacktest's WaitConsumed, then waits until ClickHouse's
// validation views have judged every stored record: the records table
// becomes visible before the views' targets, so its offsets alone do not
// prove that events (or rejected_events) hold them yet.
func (s *stackServer) waitConsumed(t *testing.T) {
	t.Helper()
	s.stack.WaitConsumed()
	db := s.stack.Database
	q := fmt.Sprintf("SELECT (SELECT count() FROM (SELECT DISTINCT src_partition, src_offset FROM %[1]s.records)) - "+
		"(SELECT count() FROM (SELECT DISTINCT src_partition, src_offset FROM "+
		"(SELECT src_partition, src_offset FROM %[1]s.deliveries UNION ALL SELECT src_partition, src_offset FROM %[1]s.rejected_events)))", db)
	defer func() {
		if t.Failed() {
			for _, tb := range []string{"records", "deliveries", "rejected_events", "events"} {
				var n int64
				_ = s.stack.Store.DB().QueryRow(fmt.Sprintf("SELECT count() FROM %s.%s", db, tb)).Scan(&n)
				t.Logf("%s: %d rows", tb, n)
			}
		}
	}()
	require.Eventually(t, func() bool {
		var missing int64
		return s.stack.Store.DB().QueryRow(q).Scan(&missing) == nil && missing <= 0
	}, 20*time.Second, 20*time.Millisecond, "clickhouse validates every record")
	// events is a sibling view of deliveries, readable a moment apart: each
	// identity's winning (lowest) offset in deliveries must be in events too.
	// Merges keep that row, so the check holds once true.
	inEvents := fmt.Sprintf("SELECT count() FROM "+
		"(SELECT board_id, player_id, event_id, min(src_offset) AS o FROM %[1]s.deliveries GROUP BY board_id, player_id, event_id) AS d "+
		"LEFT ANTI JOIN (SELECT board_id, player_id, event_id, min(src_offset) AS o FROM %[1]s.events GROUP BY board_id, player_id, event_id) AS e "+
		"USING (board_id, player_id, event_id, o)", db)
	require.Eventually(t, func() bool {
		var missing int64
		return s.stack.Store.DB().QueryRow(inEvents).Scan(&missing) == nil && missing == 0
	}, 20*time.Second, 20*time.Millisecond, "every accepted delivery reaches events")
}

// windowQueries are the standard windows of D as query strings.
func windowQueries() []string {
	return []string{"window=daily&date=" + dayD().Format("2006-01-02"), "window=weekly&date=" + dayD().Format("2006-01-02"), "window=alltime"}
}

var sources = []string{"cache", "clickhouse"}

func players(es []entry) []string { return ids(es) }

func TestQueryCasesBothStores(t *testing.T) { // cases.md C9-C14, plus C8's player events
	s := newStackServer(t)
	var recs []*kgo.Record
	add := func(id, board, player string, score int64, clock string) {
		recs = append(recs, scoreRec(id, board, player, score, atD(clock)))
	}
	// C9
	add("e1", "b2", "cat", 101, "10:00")
	add("e2", "b2", "amy", 100, "10:01")
	add("e3", "b2", "bob", 100, "10:05")
	add("e4", "b2", "dan", 99, "10:06")
	// C10
	add("e1", "b3", "zoe", 50, "10:00")
	add("e2", "b3", "abe", 50, "10:00")
	// C11
	add("e1", "b4", "amy", 50, "10:00")
	add("e2", "b4", "zed", 0, "10:01")
	// C12
	for i := range 10 {
		add("e1", "b12", fmt.Sprintf("p%02d", i+1), int64(100-10*i), "10:00")
	}
	// C13
	for _, n := range []int{1, 7, 10, 11} {
		for i := range n {
			add("e1", fmt.Sprintf("t%d", n), fmt.Sprintf("p%02d", i), int64(i+1), "10:00")
		}
	}
	// C14
	add("e1", "b5", "a/b%20c", 10, "10:00")
	add("e2", "b5", "Zoë", 20, "10:00")
	// C8: a conflict, visible in amy's player events.
	add("e1", "b8", "amy", 100, "10:00")
	s.stack.Produce(recs...)
	s.stack.Produce(scoreRec("e1", "b8", "amy", 999, atD("10:00")))
	s.waitConsumed(t)

	rank := func(path string) rankingsResp { return decode[rankingsResp](t, s.get(path)) }
	for _, src := range sources {
		for _, wq := range windowQueries() {
			ctx := src + " " + wq
			r := rank("/leaderboards/b2/rankings?source=" + src + "&" + wq)
			assert.Equal(t, []string{"cat", "amy", "bob", "dan"}, players(r.Entries), "C9 %s", ctx)
			assert.Equal(t, []int64{1, 2, 3, 4}, []int64{r.Entries[0].Rank, r.Entries[1].Rank, r.Entries[2].Rank, r.Entries[3].Rank})
			assert.Equal(t, src, r.Source)
			assert.Equal(t, int64(4), r.TotalPlayers)
			r = rank("/leaderboards/b2/rankings?top=2&source=" + src + "&" + wq)
			assert.Equal(t, []string{"cat", "amy"}, players(r.Entries), "C9 top=2 %s", ctx)

			r = rank("/leaderboards/b3/rankings?source=" + src + "&" + wq)
			assert.Equal(t, []string{"abe", "zoe"}, players(r.Entries), "C10 %s", ctx)

			r = rank("/leaderboards/b4/rankings?source=" + src + "&" + wq)
			require.Len(t, r.Entries, 2, "C11 %s", ctx)
			assert.Equal(t, entry{Rank: 1, PlayerID: "amy", Score: 50, ReachedAt: leaderboard.FormatTime(atD("10:00"))}, r.Entries[0])
			assert.Equal(t, entry{Rank: 2, PlayerID: "zed", Score: 0, ReachedAt: leaderboard.FormatTime(atD("10:01"))}, r.Entries[1])
			p := decode[playerResp](t, s.get("/leaderboards/b4/players/zed?source="+src+"&"+wq))
			assert.Equal(t, int64(2), p.Player.Rank)
			status, code := errCode(t, s.get("/leaderboards/b4/players/nobody?source="+src+"&"+wq))
			assert.Equal(t, 404, status, "C11 %s", ctx)
			assert.Equal(t, "not_found", code)

			checkC12(t, func(player string, n int) playerResp {
				return decode[playerResp](t, s.get(fmt.Sprintf("/leaderboards/b12/players/%s?context=%d&source=%s&%s", player, n, src, wq)))
			})

			for _, tc := range []struct {
				board, pct string
				want       int
			}{{"t11", "10", 2}, {"t10", "10", 1}, {"t1", "10", 1}, {"t7", "7", 1}, {"t7", "100", 7}} {
				r = rank("/leaderboards/" + tc.board + "/rankings?top_percent=" + tc.pct + "&source=" + src + "&" + wq)
				assert.Len(t, r.Entries, tc.want, "C13 %s top_percent=%s %s", tc.board, tc.pct, ctx)
			}

			for _, tc := range []struct {
				id    string
				score int64
			}{{"a/b%20c", 10}, {"Zoë", 20}} {
				p := decode[playerResp](t, s.get("/leaderboards/b5/players/"+url.PathEscape(tc.id)+"?source="+src+"&"+wq))
				assert.Equal(t, tc.id, p.Player.PlayerID, "C14 %s", ctx)
				assert.Equal(t, tc.score, p.Player.Score, "C14 %s", ctx)
			}
			p = decode[playerResp](t, s.get("/leaderboards/b8/players/amy?source="+src+"&"+wq))
			assert.Equal(t, int64(100), p.Player.Score, "C8 %s", ctx)
		}
	}

	// The two stores give the same answers, body for body but source and as_of.
	for _, path := range []string{"/leaderboards/b2/rankings?limit=3", "/leaderboards/b12/rankings?limit=4&offset=3", "/leaderboards/b12/players/p04?context=2", "/leaderboards/t11/rankings?top_percent=33.33"} {
		for _, wq := range windowQueries() {
			a := strip(s.get(path + "&source=cache&" + wq).Body.String())
			b := strip(s.get(path + "&source=clickhouse&" + wq).Body.String())
			assert.Equal(t, a, b, "%s&%s", path, wq)
		}
	}

	// Custom windows: ClickHouse, same ordering rules.
	day := dayD()
	custom := fmt.Sprintf("window=custom&from=%s&to=%s", leaderboard.FormatTime(day), leaderboard.FormatTime(day.AddDate(0, 0, 1)))
	r := rank("/leaderboards/b2/rankings?" + custom)
	assert.Equal(t, "clickhouse", r.Source)
	assert.Equal(t, []string{"cat", "amy", "bob", "dan"}, players(r.Entries))
	r = rank(fmt.Sprintf("/leaderboards/b2/rankings?window=custom&from=%s&to=%s", leaderboard.FormatTime(atD("10:01")), leaderboard.FormatTime(atD("10:06"))))
	assert.Equal(t, []string{"amy", "bob"}, players(r.Entries), "[10:01, 10:06) holds e2 and e3 only")
	p := decode[playerResp](t, s.get("/leaderboards/b12/players/p05?context=1&"+custom))
	assert.Equal(t, []string{"p04"}, ids(p.Above))
	assert.Equal(t, "clickhouse", p.Source)

	// C8: amy's events show the accepted event and the conflict.
	var evs struct {
		Source string `json:"source"`
		Events []struct {
			EventID    string `json:"event_id"`
			Score      int64  `json:"score"`
			OccurredAt string `json:"occurred_at"`
			Partition  int32  `json:"partition"`
			Offset     int64  `json:"offset"`
		} `json:"events"`
		Conflicts []struct {
			EventID        string `json:"event_id"`
			Score          int64  `json:"score"`
			Offset         int64  `json:"offset"`
			AcceptedOffset int64  `json:"accepted_offset"`
		} `json:"conflicts"`
	}
	evs = decode[struct {
		Source string `json:"source"`
		Events []struct {
			EventID    string `json:"event_id"`
			Score      int64  `json:"score"`
			OccurredAt string `json:"occurred_at"`
			Partition  int32  `json:"partition"`
			Offset     int64  `json:"offset"`
		} `json:"events"`
		Conflicts []struct {
			EventID        string `json:"event_id"`
			Score          int64  `json:"score"`
			Offset         int64  `json:"offset"`
			AcceptedOffset int64  `json:"accepted_offset"`
		} `json:"conflicts"`
	}](t, s.get("/leaderboards/b8/players/amy/events?"+windowQueries()[0]))
	require.Len(t, evs.Events, 1)
	assert.Equal(t, int64(100), evs.Events[0].Score)
	assert.Equal(t, leaderboard.FormatTime(atD("10:00")), evs.Events[0].OccurredAt)
	require.Len(t, evs.Conflicts, 1)
	assert.Equal(t, int64(999), evs.Conflicts[0].Score)
	assert.Equal(t, evs.Events[0].Offset, evs.Conflicts[0].AcceptedOffset)
	assert.Greater(t, evs.Conflicts[0].Offset, evs.Events[0].Offset)
	rec := s.get("/leaderboards/b5/players/" + url.PathEscape("a/b%20c") + "/events?window=alltime&source=clickhouse")
	assert.Contains(t, rec.Body.String(), `"score":10`, rec.Body.String())
	status, _ := errCode(t, s.get("/leaderboards/nope/players/amy/events?window=alltime"))
	assert.Equal(t, 404, status)

	// Unknown board: 404 for every board-scoped read.
	for _, path := range []string{"/leaderboards/nope/rankings?window=alltime", "/leaderboards/nope/rankings?window=daily&source=clickhouse",
		"/leaderboards/nope/players/amy?window=alltime", "/leaderboards/nope"} {
		status, code := errCode(t, s.get(path))
		assert.Equal(t, 404, status, path)
		assert.Equal(t, "not_found", code, path)
	}
	// A known board, a day without events: 200 and empty (cold window: ClickHouse).
	r = rank("/leaderboards/b2/rankings?window=daily&date=2020-01-01")
	assert.Equal(t, "clickhouse", r.Source)
	assert.Zero(t, r.TotalPlayers)
	status, code := errCode(t, s.get("/leaderboards/b2/rankings?window=daily&date=2020-01-01&source=cache"))
	assert.Equal(t, 503, status)
	assert.Equal(t, "not_cached", code)

	// Board definitions.
	rec = s.do(http.MethodPut, "/leaderboards/b2", `{"name":"Spring promo","aggregation":"max"}`)
	assert.Equal(t, 409, rec.Code, "b2 has sum events: %s", rec.Body.String())
	rec = s.do(http.MethodPut, "/leaderboards/b2", `{"name":"Spring promo","aggregation":"sum"}`)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), `"name":"Spring promo"`)
	for _, body := range []string{`{"name":"x"}`, `{"aggregation":"sum"}`, `{"name":"x","aggregation":"avg"}`, `{"name":"x","aggregation":"sum","extra":1}`,
		`{"name":"","aggregation":"sum"}`, `[]`, `{"name":"x","aggregation":"sum"} {}`} {
		rec = s.do(http.MethodPut, "/leaderboards/b9", body)
		assert.Equal(t, 400, rec.Code, body)
	}
	rec = s.do(http.MethodPut, "/leaderboards/mx", `{"name":"Best run","aggregation":"max"}`)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = s.do(http.MethodPut, "/leaderboards/mx", `{"name":"Best run","aggregation":"sum"}`)
	require.Equal(t, 200, rec.Code, "no events yet: the aggregation may change: %s", rec.Body.String())
	rec = s.do(http.MethodPut, "/leaderboards/mx", `{"name":"Best run","aggregation":"max"}`)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	rec = s.get("/leaderboards/mx")
	require.Equal(t, 200, rec.Code)
	assert.Contains(t, rec.Body.String(), `"aggregation":"max"`)
	assert.Contains(t, rec.Body.String(), `"defined":true`)
	s.stack.Produce(scoreRec("e1", "mx", "amy", 10, atD("10:00")), scoreRec("e2", "mx", "amy", 30, atD("10:02")),
		scoreRec("e3", "mx", "amy", 30, atD("10:01")), scoreRec("e4", "mx", "bob", 20, atD("10:03")))
	s.waitConsumed(t)
	for _, src := range sources {
		r = rank("/leaderboards/mx/rankings?window=alltime&source=" + src)
		require.Len(t, r.Entries, 2, src)
		assert.Equal(t, entry{Rank: 1, PlayerID: "amy", Score: 30, ReachedAt: leaderboard.FormatTime(atD("10:01"))}, r.Entries[0], src)
	}
	rec = s.do(http.MethodPut, "/leaderboards/mx", `{"name":"Best run","aggregation":"sum"}`)
	assert.Equal(t, 409, rec.Code, rec.Body.String())
	rec = s.get("/leaderboards")
	require.Equal(t, 200, rec.Code)
	for _, id := range []string{`"leaderboard_id":"b2"`, `"leaderboard_id":"mx"`, `"leaderboard_id":"t11"`} {
		assert.Contains(t, rec.Body.String(), id)
	}
	rec = s.get("/leaderboards/b3")
	assert.Contains(t, rec.Body.String(), `"defined":false`)

	// Valkey down: standard windows are answered from ClickHouse; a forced
	// cache read is a 503.
	s.stack.StopConsumer()
	s.stack.Valkey.Stop()
	r = rank("/leaderboards/b2/rankings?window=alltime")
	assert.Equal(t, "clickhouse", r.Source)
	assert.Equal(t, []string{"cat", "amy", "bob", "dan"}, players(r.Entries))
	status, code = errCode(t, s.get("/leaderboards/b2/rankings?window=alltime&source=cache"))
	assert.Equal(t, 503, status)
	assert.Equal(t, "unavailable", code)
	p = decode[playerResp](t, s.get("/leaderboards/b12/players/p01?window=alltime"))
	assert.Equal(t, "clickhouse", p.Source)
}

// strip removes the fields that differ between stores by design.
func strip(body string) string {
	for _, f := range []string{`"source":"cache"`, `"source":"clickhouse"`} {
		body = strings.ReplaceAll(body, f, `"source":""`)
	}
	if i := strings.Index(body, `"as_of":"`); i >= 0 {
		body = body[:i] + body[i+len(`"as_of":"2026-12-03T10:15:02.120Z"`):]
	}
	return body
}

func TestCursorWalkWhileEventsArrive(t *testing.T) {
	s := newStackServer(t)
	const n = 40
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, scoreRec("e1", "cw", fmt.Sprintf("p%02d", i), int64(i%7), atD(fmt.Sprintf("10:%02d", i%5))))
	}
	s.stack.Produce(recs...)
	s.waitConsumed(t)
	movers := map[string]bool{}
	added := 0
	for _, src := range sources {
		seen := map[string]int{}
		path := "/leaderboards/cw/rankings?window=daily&date=" + dayD().Format("2006-01-02") + "&limit=6&source=" + src
		next := path
		for page := 0; ; page++ {
			r := decode[rankingsResp](t, s.get(next))
			require.Equal(t, src, r.Source)
			for _, e := range r.Entries {
				seen[e.PlayerID]++
			}
			if r.NextCursor == nil {
				break
			}
			next = path + "&cursor=" + *r.NextCursor
			if page%2 == 0 {
				// New players anywhere in the ranking, and an existing one
				// moving: only the mover may be repeated or skipped.
				mover := fmt.Sprintf("p%02d", (page*7+3)%n)
				movers[mover] = true
				added++
				s.stack.Produce(scoreRec(fmt.Sprintf("n%s%d", src, page), "cw", fmt.Sprintf("new-%s-%d", src, page), int64(page%7), atD("10:03")),
					scoreRec(fmt.Sprintf("m%s%d", src, page), "cw", mover, 3, atD("11:00")))
				s.waitConsumed(t)
			}
		}
		for i := range n {
			id := fmt.Sprintf("p%02d", i)
			if !movers[id] {
				assert.Equal(t, 1, seen[id], "%s: player %s", src, id)
			}
		}
		for id, c := range seen {
			if !movers[id] {
				assert.LessOrEqual(t, c, 1, "%s: player %s repeated", src, id)
			}
		}
	}
	// Once both stores have consumed the same records, a full walk is the
	// same from both.
	all := map[string][]entry{}
	for _, src := range sources {
		all[src] = walk(t, s.qserver, "/leaderboards/cw/rankings?window=alltime&source="+src, 9)
	}
	assert.Equal(t, all["cache"], all["clickhouse"])
	assert.Len(t, all["cache"], n+added)
}

// TestCutsOnRealStores builds boards of 1, 9, 10, 11 and 1000 players
// directly in both stores (hotboard.Replace, INSERT ... SELECT FROM
// numbers()) and checks top and top_percent from each.
func TestCutsOnRealStores(t *testing.T) {
	s := newStackServer(t)
	ctx := context.Background()
	w := leaderboard.DailyWindow(dayD())
	sizes := []int{1, 9, 10, 11, 1000}
	for _, n := range sizes {
		board := fmt.Sprintf("cut%d", n)
		// Scores repeat every 97 players and reached_at every 13, so every
		// tie-break matters.
		_, err := s.stack.Store.DB().ExecContext(ctx, fmt.Sprintf(
			"INSERT INTO %s.events (board_id, player_id, event_id, score, occurred_at, metadata, fingerprint, src_partition, src_offset, record_ts, ver) "+
				"SELECT '%s', concat('p', leftPad(toString(number), 4, '0')), 'e1', toInt64(number %% 97), "+
				"fromUnixTimestamp64Milli(toInt64(%d + (number %% 13) * 1000), 'UTC'), '', '', 0, number, now64(3), 0 FROM numbers(%d)",
			s.stack.Database, board, w.Start.Add(10*time.Hour).UnixMilli(), n))
		require.NoError(t, err)
		st := make([]leaderboard.Standing, n)
		for i := range st {
			st[i] = leaderboard.Standing{PlayerID: fmt.Sprintf("p%04d", i), Score: int64(i % 97),
				ReachedAt: w.Start.Add(10*time.Hour + time.Duration(i%13)*time.Second)}
		}
		require.NoError(t, s.stack.Hot.Replace(ctx, board, w, st, nil))
		ref := leaderboard.Rank(st)

		q := "/leaderboards/" + board + "/rankings?window=daily&date=" + dayD().Format("2006-01-02")
		for _, src := range sources {
			full := walk(t, s.qserver, q+"&source="+src, 1000)
			require.Len(t, full, n)
			for i, e := range full {
				require.Equal(t, ref[i].PlayerID, e.PlayerID, "%s %s rank %d", board, src, i+1)
				require.Equal(t, ref[i].Score, e.Score)
			}
			for _, pct := range []string{"0.01", "1", "10", "33.33", "50", "99.99", "100"} {
				h, _ := leaderboard.ParseTopPercent(pct)
				want := int((h*int64(n) + 9999) / 10000)
				r := decode[rankingsResp](t, s.get(q+"&limit=1000&top_percent="+pct+"&source="+src))
				require.Len(t, r.Entries, want, "%s top_percent=%s %s", board, pct, src)
				assert.Equal(t, int64(n), r.TotalPlayers)
				if want > 0 {
					assert.Equal(t, ref[want-1].PlayerID, r.Entries[want-1].PlayerID)
				}
			}
			for _, top := range []int{1, 9, 10, 11, 1000, 1001} {
				r := decode[rankingsResp](t, s.get(fmt.Sprintf("%s&limit=1000&top=%d&source=%s", q, top, src)))
				assert.Len(t, r.Entries, min(top, n), "%s top=%d %s", board, top, src)
				assert.Nil(t, r.NextCursor)
			}
			// Paging inside a cut with cursors.
			got := walk(t, s.qserver, q+"&top_percent=10&source="+src, 4)
			assert.Len(t, got, int((1000*int64(n)+9999)/10000))
		}
	}
}
