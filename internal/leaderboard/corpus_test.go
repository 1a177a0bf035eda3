package leaderboard

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The validation corpus, testdata/corpus.ndjson, is the shared proof that the
// ClickHouse SQL validation and ParseEvent agree: one record per line, with
// the verdict written by hand in corpus_cases_test.go (never computed by
// ParseEvent). Regenerate it after changing the cases with
//
//	go test ./internal/leaderboard -run TestCorpus -update
//
// Every line is judged with CheckKey true and MaxSkew corpusMaxSkew against
// its own timestamp_ms.

var update = flag.Bool("update", false, "rewrite testdata/corpus.ndjson from the cases in corpus_cases_test.go")

const (
	corpusPath    = "testdata/corpus.ndjson"
	corpusMaxSkew = 5 * time.Minute
	wantValid     = "valid"
)

// corpusLine is one line of the corpus. For valid records, Event holds the
// parsed values the SQL side must also produce.
type corpusLine struct {
	Name        string       `json:"name"`
	Key         string       `json:"key"`
	ValueB64    string       `json:"value_b64"`
	TimestampMS int64        `json:"timestamp_ms"`
	Want        string       `json:"want"`
	Event       *corpusEvent `json:"event,omitempty"`
}

type corpusEvent struct {
	EventID       string `json:"event_id"`
	LeaderboardID string `json:"leaderboard_id"`
	PlayerID      string `json:"player_id"`
	Score         int64  `json:"score"`
	OccurredAt    string `json:"occurred_at"` // FormatTime
	OccurredAtMS  int64  `json:"occurred_at_ms"`
	Metadata      string `json:"metadata"` // compacted, "" when absent
	Fingerprint   string `json:"fingerprint"`
}

func corpusContext(c corpusCase) RecordContext {
	return RecordContext{Key: []byte(c.key), CheckKey: true, Timestamp: time.UnixMilli(c.tsMS), MaxSkew: corpusMaxSkew}
}

// judge runs ParseEvent on a case and returns the verdict and the event.
func judge(c corpusCase) (string, Event) {
	e, err := ParseEvent(c.value, corpusContext(c))
	if err != nil {
		return string(err.(*InvalidEventError).Reason), Event{}
	}
	return wantValid, e
}

// renderCorpus turns the cases into the file's bytes; the parsed values of
// valid records are recorded as ParseEvent gives them.
func renderCorpus(t *testing.T, cases []corpusCase) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, c := range cases {
		line := corpusLine{
			Name: c.name, Key: c.key, ValueB64: base64.StdEncoding.EncodeToString(c.value),
			TimestampMS: c.tsMS, Want: c.want,
		}
		if got, e := judge(c); got == wantValid && c.want == wantValid {
			line.Event = &corpusEvent{
				EventID: e.EventID, LeaderboardID: e.BoardID, PlayerID: e.PlayerID, Score: e.Score,
				OccurredAt: FormatTime(e.OccurredAt), OccurredAtMS: e.OccurredAt.UnixMilli(),
				Metadata: string(e.Metadata), Fingerprint: e.Fingerprint(),
			}
		}
		require.NoError(t, enc.Encode(line))
	}
	return buf.Bytes()
}

func TestCorpus(t *testing.T) {
	cases := corpusCases()
	names := map[string]bool{}
	wants := map[string]int{}
	for _, c := range cases {
		require.False(t, names[c.name], "duplicate case name %q", c.name)
		names[c.name] = true
		wants[c.want]++
		got, _ := judge(c)
		assert.Equal(t, c.want, got, "case %q: %q", c.name, c.value)
	}
	require.GreaterOrEqual(t, len(cases), 300)
	for _, r := range Reasons {
		require.Positive(t, wants[string(r)], "no case for %s", r)
	}

	rendered := renderCorpus(t, cases)
	if *update {
		require.False(t, t.Failed(), "not writing a corpus that disagrees with ParseEvent")
		require.NoError(t, os.MkdirAll(filepath.Dir(corpusPath), 0o755))
		require.NoError(t, os.WriteFile(corpusPath, rendered, 0o644))
		t.Logf("wrote %d records to %s: %v", len(cases), corpusPath, wants)
		return
	}
	current, err := os.ReadFile(corpusPath)
	require.NoError(t, err)
	// Report the first differing line, not a diff of the whole file.
	want, got := bytes.Split(rendered, []byte("\n")), bytes.Split(current, []byte("\n"))
	for i := 0; i < max(len(want), len(got)); i++ {
		if i >= len(want) || i >= len(got) || !bytes.Equal(want[i], got[i]) {
			name := "(end of file)"
			if i < len(cases) {
				name = cases[i].name
			}
			t.Fatalf("%s is stale from line %d (%s): run go test ./internal/leaderboard -run TestCorpus -update", corpusPath, i+1, name)
		}
	}
}

// TestCorpusFile checks the committed file on its own, the way the SQL side
// reads it: every line decodes and ParseEvent gives its want.
func TestCorpusFile(t *testing.T) {
	f, err := os.Open(corpusPath)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		var line corpusLine
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "line %d", n)
		value, err := base64.StdEncoding.DecodeString(line.ValueB64)
		require.NoError(t, err, "line %d", n)
		c := corpusCase{name: line.Name, key: line.Key, value: value, tsMS: line.TimestampMS, want: line.Want}
		got, e := judge(c)
		require.Equal(t, line.Want, got, "line %d %q", n, line.Name)
		if got == wantValid {
			require.NotNil(t, line.Event, "line %d", n)
			assert.Equal(t, line.Event.PlayerID, e.PlayerID, "line %d", n)
			assert.Equal(t, line.Event.OccurredAtMS, e.OccurredAt.UnixMilli(), "line %d", n)
			assert.Equal(t, line.Event.Fingerprint, e.Fingerprint(), "line %d", n)
		}
	}
	require.NoError(t, sc.Err())
	require.GreaterOrEqual(t, n, 300)
}
