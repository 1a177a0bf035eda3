package hotboard_test

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/hotboard"
	"example.com/leaderboard/internal/leaderboard"
)

// record is one record of the simulated topic.
type record struct {
	partition int32
	offset    int64
	ev        leaderboard.Event
}

// refBoard is the in-memory reference for one board.
type refBoard struct {
	agg       leaderboard.Aggregation
	marks     map[string]string // identity -> fingerprint
	conflicts int64
	accepted  int
	windows   map[string]*refWindow
}

type refWindow struct {
	w         leaderboard.Window
	standings map[string]leaderboard.Standing
}

func (b *refBoard) add(ev leaderboard.Event) {
	id := ev.EventID + " " + ev.PlayerID
	fp := hotboard.Fingerprint(ev)
	if prev, ok := b.marks[id]; ok {
		if prev != fp {
			b.conflicts++
		}
		return
	}
	b.marks[id] = fp
	b.accepted++
	for _, w := range leaderboard.StandardWindows(ev.OccurredAt) {
		rw := b.windows[w.Key()]
		if rw == nil {
			rw = &refWindow{w: w, standings: map[string]leaderboard.Standing{}}
			b.windows[w.Key()] = rw
		}
		st, seen := rw.standings[ev.PlayerID]
		st.PlayerID = ev.PlayerID
		rw.standings[ev.PlayerID] = b.agg.Fold(st, !seen, ev.Score, ev.OccurredAt)
	}
}

// ranking is the reference order: leaderboard.Rank sorts with Less.
func (rw *refWindow) ranking() []leaderboard.Entry {
	var sts []leaderboard.Standing
	for _, st := range rw.standings {
		sts = append(sts, st)
	}
	return leaderboard.Rank(sts)
}

// TestPropertyRandomStreams applies thousands of random events (several
// boards, both aggregations, negative and huge scores, duplicates,
// conflicts, redeliveries, out-of-order occurred_at, random batch sizes and
// partition interleavings) and compares every window with an in-memory
// reference ranked with leaderboard.Less.
func TestPropertyRandomStreams(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run("seed"+strconv.FormatUint(seed, 10), func(t *testing.T) {
			runProperty(t, seed, 4000)
		})
	}
}

func runProperty(t *testing.T, seed uint64, nEvents int) {
	e := newEnv(t, createAll())
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	const nPartitions = 4
	boards := map[string]*refBoard{
		"s1": {agg: leaderboard.Sum}, "s2": {agg: leaderboard.Sum},
		"m1": {agg: leaderboard.Max}, "m2": {agg: leaderboard.Max},
	}
	boardNames := []string{"s1", "s2", "m1", "m2"}
	for _, b := range boards {
		b.marks, b.windows = map[string]string{}, map[string]*refWindow{}
	}
	playerPool := []string{"A", "a", "aa", "ab", "b", "Zoë", "Zo", "é", "a/b%20c", "p|x"}
	for i := range 25 {
		playerPool = append(playerPool, "p"+strconv.Itoa(i))
	}
	partOf := func(ev leaderboard.Event) int32 {
		h := fnv.New32a()
		h.Write([]byte(ev.Key()))
		return int32(h.Sum32() % nPartitions)
	}

	// the topic
	topic := make([][]record, nPartitions)
	var produced []leaderboard.Event
	produce := func(ev leaderboard.Event) {
		p := partOf(ev)
		topic[p] = append(topic[p], record{partition: p, offset: int64(len(topic[p])), ev: ev})
		produced = append(produced, ev)
	}
	for i := range nEvents {
		switch r := rng.IntN(100); {
		case r < 10 && len(produced) > 0: // a duplicate, same payload
			produce(produced[rng.IntN(len(produced))])
			continue
		case r < 13 && len(produced) > 0: // a conflict: same identity, other payload
			x := produced[rng.IntN(len(produced))]
			if rng.IntN(2) == 0 {
				if x.Score > 0 {
					x.Score--
				} else {
					x.Score++
				}
			} else {
				x.OccurredAt = x.OccurredAt.Add(-time.Duration(rng.IntN(3)) * 24 * time.Hour).Add(time.Minute)
			}
			produce(x)
			continue
		}
		b := boardNames[rng.IntN(len(boardNames))]
		score := int64(rng.IntN(7) - 2)
		if rng.IntN(50) == 0 {
			score = leaderboard.MaxEventScore * int64(rng.IntN(3)-1)
		}
		// occurred_at within the last 9 days, on 10-minute steps: many ties
		occ := e.now.Add(-time.Duration(rng.IntN(9*24*6)) * 10 * time.Minute).Truncate(10 * time.Minute)
		produce(ev("e"+strconv.Itoa(i%700), b, playerPool[rng.IntN(len(playerPool))], score, occ))
	}
	// the reference sees each partition in offset order
	for _, recs := range topic {
		for _, r := range recs {
			boards[r.ev.BoardID].add(r.ev)
		}
	}

	// the consumer: fetches runs from random partitions, sometimes rewinding
	// (redelivery), groups them per board and applies them in random chunks
	cursor := make([]int64, nPartitions)
	outcomes := map[hotboard.OutcomeKind]int{}
	applied := map[string]int{}
	calls := 0
	done := func() bool {
		for p := range cursor {
			if cursor[p] < int64(len(topic[p])) {
				return false
			}
		}
		return true
	}
	for !done() {
		var runs [][]record
		for _, p := range rng.Perm(nPartitions)[:1+rng.IntN(nPartitions)] {
			if rng.IntN(8) == 0 {
				cursor[p] = max(0, cursor[p]-int64(1+rng.IntN(40)))
			}
			end := min(int64(len(topic[p])), cursor[p]+int64(1+rng.IntN(60)))
			if cursor[p] < end {
				runs = append(runs, topic[p][cursor[p]:end])
				cursor[p] = end
			}
		}
		// interleave the runs randomly, keeping each partition's order
		var fetch []record
		for len(runs) > 0 {
			i := rng.IntN(len(runs))
			fetch = append(fetch, runs[i][0])
			if runs[i] = runs[i][1:]; len(runs[i]) == 0 {
				runs = append(runs[:i], runs[i+1:]...)
			}
		}
		perBoard := map[string][]hotboard.Item{}
		for _, r := range fetch {
			perBoard[r.ev.BoardID] = append(perBoard[r.ev.BoardID], hotboard.Item{Partition: r.partition, Offset: r.offset, Event: r.ev})
		}
		for _, b := range boardNames {
			items := perBoard[b]
			for len(items) > 0 {
				k := min(len(items), 1+rng.IntN(30))
				out, err := e.s.Apply(e.ctx, b, boards[b].agg, items[:k], e.now)
				require.NoError(t, err)
				calls++
				for _, o := range out {
					outcomes[o.Kind]++
					if o.Kind == hotboard.OutcomeApplied {
						applied[b]++
					}
				}
				items = items[k:]
			}
		}
	}
	t.Logf("seed %d: %d records, %d Apply calls, outcomes %v", seed, len(produced), calls, outcomes)
	require.NotZero(t, outcomes[hotboard.OutcomeRedelivered])
	require.NotZero(t, outcomes[hotboard.OutcomeDuplicate])
	require.NotZero(t, outcomes[hotboard.OutcomeConflict])
	require.Zero(t, outcomes[hotboard.OutcomeStale])

	for _, name := range boardNames {
		ref := boards[name]
		st, err := e.s.Status(e.ctx, name)
		require.NoError(t, err)
		require.Equal(t, ref.conflicts, st.Conflicts, "conflicts of %s", name)
		require.Equal(t, ref.accepted, applied[name], "accepted events of %s", name)
		require.Equal(t, ref.agg, st.Aggregation)
		wantWM := map[int32]int64{}
		for p, recs := range topic {
			for _, r := range recs {
				if r.ev.BoardID == name {
					wantWM[int32(p)] = r.offset + 1
				}
			}
		}
		require.Equal(t, wantWM, st.Watermarks)

		for _, rw := range ref.windows {
			w := rw.w
			label := fmt.Sprintf("%s/%s", name, w.Key())
			if !w.IsHot(e.now) {
				_, err := e.s.Count(e.ctx, name, w)
				require.ErrorIs(t, err, leaderboard.ErrNotCached, label)
				continue
			}
			want := rw.ranking()
			require.Equal(t, want, e.all(name, w), label)
			n, err := e.s.Count(e.ctx, name, w)
			require.NoError(t, err)
			require.EqualValues(t, len(want), n)

			// cursor paging with a random page size
			size := int64(1 + rng.IntN(7))
			var paged []leaderboard.Entry
			page, err := e.s.Range(e.ctx, name, w, 0, size)
			require.NoError(t, err)
			for len(page) > 0 {
				paged = append(paged, page...)
				page, err = e.s.After(e.ctx, name, w, page[len(page)-1].Standing, size)
				require.NoError(t, err)
			}
			require.Equal(t, want, paged, label)

			// offsets
			off := int64(rng.IntN(len(want) + 1))
			got, err := e.s.Range(e.ctx, name, w, off, size)
			require.NoError(t, err)
			require.Equal(t, want[off:min(int64(len(want)), off+size)], nilIfNoEntries(got), label)

			// players and their neighbours
			for _, p := range playerPool {
				ctxN := int64(rng.IntN(4))
				r, err := e.s.AroundView(e.ctx, name, w, p, ctxN)
				require.NoError(t, err)
				require.EqualValues(t, len(want), r.Total)
				idx := -1
				for i, x := range want {
					if x.PlayerID == p {
						idx = i
					}
				}
				require.Equal(t, idx >= 0, r.Found, "%s player %s", label, p)
				if idx < 0 {
					continue
				}
				require.Equal(t, want[idx], r.Me)
				require.Equal(t, want[max(0, int64(idx)-ctxN):idx], nilIfNoEntries(r.Above))
				require.Equal(t, want[idx+1:min(len(want), idx+1+int(ctxN))], nilIfNoEntries(r.Below))
			}
		}
		// no window the reference does not know of
		for _, k := range e.keys("lb:{" + name + "}:m:*") {
			wk := k[len("lb:{"+name+"}:m:"):]
			require.Contains(t, ref.windows, wk)
		}
	}
}

func nilIfNoEntries(es []leaderboard.Entry) []leaderboard.Entry {
	if len(es) == 0 {
		return []leaderboard.Entry{}
	}
	return es
}
