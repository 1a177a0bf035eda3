//go:build chdb

package api_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/api"
	"example.com/leaderboard/internal/leaderboard"
)

// insertBoard writes n accepted events (one player each) straight into the
// events table: scores repeat every 97 players and occurred_at every 13
// seconds, so every tie-break matters.
func (s *stackServer) insertBoard(t *testing.T, board string, n int, w leaderboard.Window) {
	t.Helper()
	_, err := s.stack.Store.DB().ExecContext(context.Background(), fmt.Sprintf(
		"INSERT INTO %s.events (board_id, player_id, event_id, score, occurred_at, metadata, fingerprint, src_partition, src_offset, record_ts, ver) "+
			"SELECT '%s', concat('p', leftPad(toString(number), 7, '0')), 'e1', toInt64(number %% 97) - 40, "+
			"fromUnixTimestamp64Milli(toInt64(%d + (number %% 13) * 1000), 'UTC'), '', '', 0, number, now64(3), 0 FROM numbers(%d)",
		s.stack.Database, board, w.Start.Add(10*time.Hour).UnixMilli(), n))
	require.NoError(t, err)
}

// exportResult is what a client reading an export checks.
type exportResult struct {
	count   int64
	sum     string // sha256 of the canonical lines as received
	trailer string
}

// readNDJSON checks an NDJSON export line by line, without keeping it.
func readNDJSON(t *testing.T, body io.Reader) exportResult {
	t.Helper()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	h := sha256.New()
	var (
		res  exportResult
		prev *leaderboard.Standing
		last []byte
	)
	for sc.Scan() {
		line := sc.Bytes()
		if last != nil {
			var e struct {
				Rank      int64  `json:"rank"`
				PlayerID  string `json:"player_id"`
				Score     int64  `json:"score"`
				ReachedAt string `json:"reached_at"`
			}
			require.NoError(t, json.Unmarshal(last, &e))
			res.count++
			require.Equal(t, res.count, e.Rank)
			at, err := time.Parse(time.RFC3339, e.ReachedAt)
			require.NoError(t, err)
			st := leaderboard.Standing{PlayerID: e.PlayerID, Score: e.Score, ReachedAt: at}
			if prev != nil {
				require.True(t, leaderboard.Less(*prev, st), "rank order at %d", e.Rank)
			}
			prev = &st
			// The line is canonical: re-encoding gives the same bytes.
			require.Equal(t, string(api.CanonicalLine(nil, leaderboard.Entry{Rank: e.Rank, Standing: st})), string(last))
			h.Write(last)
			h.Write([]byte{'\n'})
		}
		last = append(last[:0], line...)
	}
	require.NoError(t, sc.Err())
	res.trailer = string(last)
	res.sum = hex.EncodeToString(h.Sum(nil))
	return res
}

// readCSV checks a CSV export and rebuilds the canonical lines.
func readCSV(t *testing.T, body []byte) exportResult {
	t.Helper()
	i := bytes.LastIndex(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))
	require.Positive(t, i)
	res := exportResult{trailer: strings.TrimSuffix(string(body[i+1:]), "\n")}
	r := csv.NewReader(bytes.NewReader(body[:i+1]))
	recs, err := r.ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"rank", "player_id", "score", "reached_at"}, recs[0])
	h := sha256.New()
	for _, rec := range recs[1:] {
		rank, _ := strconv.ParseInt(rec[0], 10, 64)
		score, _ := strconv.ParseInt(rec[2], 10, 64)
		at, err := time.Parse(time.RFC3339, rec[3])
		require.NoError(t, err)
		h.Write(api.CanonicalLine(nil, leaderboard.Entry{Rank: rank, Standing: leaderboard.Standing{PlayerID: rec[1], Score: score, ReachedAt: at}}))
		h.Write([]byte{'\n'})
		res.count++
	}
	res.sum = hex.EncodeToString(h.Sum(nil))
	return res
}

func TestExportFormats(t *testing.T) {
	s := newStackServer(t)
	w := leaderboard.DailyWindow(dayD())
	// Ids that need escaping in JSON or quoting in CSV.
	ids := []string{`a"b`, `c,d`, "Zoë", " lead", `x\y`, "a/b%20c", "<&>", "l\u2028s"}
	var vals []string
	for i, id := range ids {
		vals = append(vals, fmt.Sprintf("('ex', '%s', 'e1', %d, fromUnixTimestamp64Milli(toInt64(%d), 'UTC'), '', '', 0, %d, now64(3), 0)",
			strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(id), i%3, w.Start.Add(time.Hour).UnixMilli(), i))
	}
	_, err := s.stack.Store.DB().Exec("INSERT INTO " + s.stack.Database + ".events VALUES " + strings.Join(vals, ", "))
	require.NoError(t, err)
	base := "/leaderboards/ex/export?window=daily&date=" + dayD().Format("2006-01-02")

	rec := s.get(base)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Equal(t, "application/x-ndjson", rec.Header().Get("Content-Type"))
	nd := readNDJSON(t, bytes.NewReader(rec.Body.Bytes()))
	assert.Equal(t, int64(len(ids)), nd.count)
	assert.Equal(t, fmt.Sprintf(`{"count":%d,"sha256":"%s"}`, nd.count, nd.sum), nd.trailer)
	assert.Contains(t, rec.Body.String(), `"player_id":"a\"b"`)
	assert.Contains(t, rec.Body.String(), `"player_id":"<&>"`)

	rec = s.get(base + "&format=csv")
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/csv")
	cs := readCSV(t, rec.Body.Bytes())
	assert.Equal(t, nd.count, cs.count)
	assert.Equal(t, nd.sum, cs.sum, "the checksum does not depend on the format")
	assert.Equal(t, fmt.Sprintf("# count=%d sha256=%s", cs.count, cs.sum), cs.trailer)
	assert.Contains(t, rec.Body.String(), `"a""b"`)

	// Parameters.
	for _, path := range []string{base + "&source=cache", base + "&format=xml", base + "&limit=5", "/leaderboards/ex/export?window=alltime&date=2026-01-01"} {
		status, code := errCode(t, s.get(path))
		assert.Equal(t, 400, status, path)
		assert.Equal(t, "invalid_argument", code)
	}
	status, _ := errCode(t, s.get("/leaderboards/nope/export?window=alltime"))
	assert.Equal(t, 404, status)
	// An empty window of a known board: no lines, the trailer of nothing.
	rec = s.get("/leaderboards/ex/export?window=daily&date=2020-01-01")
	require.Equal(t, 200, rec.Code)
	assert.Equal(t, `{"count":0,"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}`+"\n", rec.Body.String())
}

// exportPlayers is the size of the big export: 1,000,000 as the issue asks
// (200,000 under the race detector, which makes 1,000,000 take a minute),
// or LEADERBOARD_EXPORT_PLAYERS.
func exportPlayers(t *testing.T) int {
	if v := os.Getenv("LEADERBOARD_EXPORT_PLAYERS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err)
		return n
	}
	if raceDetector {
		return 200_000
	}
	return 1_000_000
}

// memPeaks samples the Go heap while a test runs.
type memPeaks struct {
	stop     chan struct{}
	done     sync.WaitGroup
	heapPeak atomic.Uint64
}

func watchMemory() *memPeaks {
	m := &memPeaks{stop: make(chan struct{})}
	m.done.Add(1)
	go func() {
		defer m.done.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > m.heapPeak.Load() {
				m.heapPeak.Store(ms.HeapInuse)
			}
			select {
			case <-m.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return m
}

func (m *memPeaks) Stop() uint64 { close(m.stop); m.done.Wait(); return m.heapPeak.Load() }

// procStatus reads a field of /proc/self/status in KiB (0 when unknown).
func procStatus(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func TestExportLargeBoardStreams(t *testing.T) {
	s := newStackServer(t)
	n := exportPlayers(t)
	w := leaderboard.DailyWindow(dayD())
	s.insertBoard(t, "big", n, w)

	done := make(chan struct{}, 4)
	hs := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		defer func() { done <- struct{}{} }()
		s.srv.Handler().ServeHTTP(rw, r)
	}))
	defer hs.Close()
	url := hs.URL + "/leaderboards/big/export?window=daily&date=" + dayD().Format("2006-01-02")

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	rssBefore := procStatus("VmRSS")
	mem := watchMemory()
	start := time.Now()
	resp, err := http.Get(url)
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode)
	res := readNDJSON(t, resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	heapPeak := mem.Stop()
	<-done
	assert.Equal(t, int64(n), res.count)
	assert.Equal(t, fmt.Sprintf(`{"count":%d,"sha256":"%s"}`, n, res.sum), res.trailer, "the checksum verifies")
	growth := int64(heapPeak) - int64(base.HeapInuse)
	t.Logf("export of %d players: %s; Go heap in use %.1f MiB before, peak %.1f MiB (+%.1f MiB); RSS %.0f MiB before, %.0f MiB after, process peak (VmHWM) %.0f MiB",
		n, elapsed.Round(time.Millisecond), float64(base.HeapInuse)/(1<<20), float64(heapPeak)/(1<<20), float64(growth)/(1<<20),
		float64(rssBefore)/1024, float64(procStatus("VmRSS"))/1024, float64(procStatus("VmHWM"))/1024)
	// The whole board as text is ~80 bytes a player; the Go side must stay
	// far below it, whatever n.
	assert.Less(t, growth, int64(64<<20), "Go heap growth while streaming")

	// A client that goes away mid-stream stops the work.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, err = io.ReadFull(resp.Body, make([]byte, 64<<10))
	require.NoError(t, err)
	stopped := time.Now()
	cancel()
	resp.Body.Close()
	select {
	case <-done:
		t.Logf("handler returned %s after the client left", time.Since(stopped).Round(time.Millisecond))
	case <-time.After(30 * time.Second):
		t.Fatal("the export goes on after the client left")
	}
	// The engine is free for the next query.
	rec := s.get("/leaderboards/big/rankings?window=daily&limit=1&source=clickhouse&date=" + dayD().Format("2006-01-02"))
	require.Equal(t, 200, rec.Code, rec.Body.String())
}

// Other ClickHouse reads while exports stream (a chDB connection holds one
// streaming query, and any other query on it would retire the stream): each
// export is whole, verifies, and the engine keeps answering afterwards.
func TestExportWhileOtherQueriesRun(t *testing.T) {
	s := newStackServer(t)
	const n = 30_000
	w := leaderboard.DailyWindow(dayD())
	s.insertBoard(t, "busy", n, w)
	date := dayD().Format("2006-01-02")

	hs := httptest.NewServer(s.srv.Handler())
	defer hs.Close()
	url := hs.URL + "/leaderboards/busy/export?window=daily&date=" + date

	// Ranking reads from ClickHouse, without pause, until the exports end.
	stop := make(chan struct{})
	var reads, failed atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, target := range []string{
				"/leaderboards/busy/rankings?window=daily&limit=5&source=clickhouse&date=" + date,
				"/leaderboards/busy/rankings?window=custom&limit=5&from=" + dayD().Format(time.RFC3339) + "&to=" + dayD().Add(time.Hour*20).Format(time.RFC3339),
			} {
				if rec := s.get(target); rec.Code != http.StatusOK {
					failed.Add(1)
				}
				reads.Add(1)
			}
		}
	}()

	// A slow reader keeps each stream open for long enough that reads land
	// in the middle of it.
	client := &http.Client{Timeout: time.Minute} // a wedged export fails, not hangs
	slowExport := func() (int, exportResult, error) {
		resp, err := client.Get(url)
		if err != nil {
			return 0, exportResult{}, err
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		buf := make([]byte, 32<<10)
		for {
			k, err := resp.Body.Read(buf)
			body.Write(buf[:k])
			if err == io.EOF {
				break
			}
			if err != nil {
				return resp.StatusCode, exportResult{}, err
			}
			time.Sleep(2 * time.Millisecond)
		}
		lines := strings.Split(strings.TrimSuffix(body.String(), "\n"), "\n")
		h := sha256.New()
		for _, l := range lines[:len(lines)-1] {
			h.Write([]byte(l + "\n"))
		}
		return resp.StatusCode, exportResult{count: int64(len(lines) - 1), sum: hex.EncodeToString(h.Sum(nil)), trailer: lines[len(lines)-1]}, nil
	}
	check := func(name string, code int, res exportResult, err error) {
		if assert.NoError(t, err, name) {
			assert.Equal(t, http.StatusOK, code, name)
			assert.Equal(t, int64(n), res.count, name)
			assert.Equal(t, fmt.Sprintf(`{"count":%d,"sha256":"%s"}`, n, res.sum), res.trailer, name+": the checksum verifies")
		}
	}
	for i := range 3 {
		code, res, err := slowExport()
		check(fmt.Sprintf("export %d", i), code, res, err)
	}
	// Two at once, still with reads around them.
	type outcome struct {
		code int
		res  exportResult
		err  error
	}
	both := make(chan outcome, 2)
	for range 2 {
		go func() {
			code, res, err := slowExport()
			both <- outcome{code, res, err}
		}()
	}
	for i := range 2 {
		o := <-both
		check(fmt.Sprintf("concurrent export %d", i), o.code, o.res, o.err)
	}
	close(stop)
	wg.Wait()
	assert.Positive(t, reads.Load(), "reads ran during the exports")
	assert.Zero(t, failed.Load(), "reads failed during the exports")
	t.Logf("%d ClickHouse reads during 5 exports of %d players", reads.Load(), n)

	// The engine is free for the next export.
	code, res, err := slowExport()
	check("export after", code, res, err)
}
