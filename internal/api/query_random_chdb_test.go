//go:build chdb

package api_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/leaderboard"
)

// TestRandomBoardsBothStoresAgree: for random event sets (negative scores,
// ties, redeliveries, a sum and a max board, events over three days), every
// read endpoint answers the same from Valkey and from ClickHouse, and both
// equal the reference ranking of the leaderboard package.
func TestRandomBoardsBothStoresAgree(t *testing.T) {
	s := newStackServer(t)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 7))

	rec := s.do(http.MethodPut, "/leaderboards/rmax", `{"name":"random max","aggregation":"max"}`)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	boards := map[string]leaderboard.Aggregation{"rsum": leaderboard.Sum, "rmax": leaderboard.Max}
	ids := []string{"amy", "bob", "cat", "dan", "a/b", "Zoë", "x%y", "p 1", "q:2", "ümlaut", "z", "A"}
	events := map[string][]leaderboard.Event{}
	var recs []*kgo.Record
	for board := range boards {
		for i := range 150 {
			e := leaderboard.Event{
				EventID: fmt.Sprintf("e%d", i), BoardID: board, PlayerID: ids[rng.IntN(len(ids))],
				Score: int64(rng.IntN(21) - 5),
				// D-2, D-1 or D, minute resolution: many ties.
				OccurredAt: dayD().Add(time.Duration(rng.IntN(3)-2)*24*time.Hour + time.Duration(rng.IntN(20))*time.Minute),
			}
			events[board] = append(events[board], e)
			r := scoreRec(e.EventID, board, e.PlayerID, e.Score, e.OccurredAt)
			recs = append(recs, r)
			if rng.IntN(10) == 0 { // a redelivery, byte for byte
				recs = append(recs, &kgo.Record{Key: r.Key, Value: r.Value})
			}
		}
	}
	s.stack.Produce(recs...)
	s.waitConsumed(t)

	for board, agg := range boards {
		for _, wq := range windowQueries() {
			v, _ := url.ParseQuery(wq)
			var w leaderboard.Window
			switch v.Get("window") {
			case "daily":
				w = leaderboard.DailyWindow(dayD())
			case "weekly":
				w = leaderboard.WeeklyWindow(dayD())
			default:
				w = leaderboard.AllTimeWindow()
			}
			var in []leaderboard.Event
			for _, e := range events[board] {
				if w.Contains(e.OccurredAt) {
					in = append(in, e)
				}
			}
			ref := leaderboard.Rank(agg.Standings(in))
			want := make([]entry, len(ref))
			for i, e := range ref {
				want[i] = entry{Rank: e.Rank, PlayerID: e.PlayerID, Score: e.Score, ReachedAt: leaderboard.FormatTime(e.ReachedAt)}
			}
			for _, src := range sources {
				got := walk(t, s.qserver, "/leaderboards/"+board+"/rankings?source="+src+"&"+wq, 5)
				assert.Equal(t, want, got, "%s %s %s", board, wq, src)
			}
			for _, id := range ids {
				path := "/leaderboards/" + board + "/players/" + url.PathEscape(id) + "?context=2&" + wq
				a, b := s.get(path+"&source=cache"), s.get(path+"&source=clickhouse")
				require.Equal(t, a.Code, b.Code, path)
				assert.Equal(t, strip(a.Body.String()), strip(b.Body.String()), path)
			}
		}
	}
}
