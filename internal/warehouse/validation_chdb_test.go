//go:build chdb

package warehouse_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// corpusLine is a line of internal/leaderboard/testdata/corpus.ndjson, the
// shared proof that the SQL validation and ParseEvent agree.
type corpusLine struct {
	Name        string `json:"name"`
	Key         string `json:"key"`
	ValueB64    string `json:"value_b64"`
	TimestampMS int64  `json:"timestamp_ms"`
	Want        string `json:"want"`
	Event       *struct {
		EventID       string `json:"event_id"`
		LeaderboardID string `json:"leaderboard_id"`
		PlayerID      string `json:"player_id"`
		Score         int64  `json:"score"`
		OccurredAtMS  int64  `json:"occurred_at_ms"`
		Metadata      string `json:"metadata"`
		Fingerprint   string `json:"fingerprint"`
	} `json:"event"`
}

func readCorpus(t *testing.T) []corpusLine {
	t.Helper()
	f, err := os.Open("../leaderboard/testdata/corpus.ndjson")
	require.NoError(t, err)
	defer f.Close()
	var out []corpusLine
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l corpusLine
		require.NoError(t, json.Unmarshal(sc.Bytes(), &l))
		out = append(out, l)
	}
	require.NoError(t, sc.Err())
	require.GreaterOrEqual(t, len(out), 300)
	return out
}

// TestSQLValidationAgreesWithCorpus inserts every corpus record into records
// and checks that the SQL validation gives the corpus verdict, that
// ParseEvent gives the same for the same bytes, and, for valid records, the
// same parsed event.
func TestSQLValidationAgreesWithCorpus(t *testing.T) {
	migrateEvents(t)
	const partition = 100
	lines := readCorpus(t)
	recs := make([]rec, len(lines))
	for i, l := range lines {
		value, err := base64.StdEncoding.DecodeString(l.ValueB64)
		require.NoError(t, err)
		recs[i] = rec{partition: partition, offset: uint64(i), key: []byte(l.Key), value: value, tsMS: l.TimestampMS}
	}
	// Several blocks, of uneven sizes.
	for lo, size := 0, 1; lo < len(recs); lo, size = lo+size, size*3 {
		insertRecords(t, recs[lo:min(lo+size, len(recs))]...)
	}

	stored := storedVerdicts(t, partition)
	wants := map[string]int{}
	for i, l := range lines {
		r := recs[i]
		goWant, e := goVerdict(r.key, r.value, r.tsMS)
		require.Equal(t, l.Want, goWant, "ParseEvent disagrees with the corpus on %q", l.Name)
		got, found := stored[uint64(i)]
		if !agree(t, l.Name, r, got, found) {
			continue
		}
		wants[l.Want]++
		if l.Want == "valid" {
			require.NotNil(t, l.Event, l.Name)
			assert.Equal(t, l.Event.OccurredAtMS, got.occurredMS, l.Name)
			assert.Equal(t, l.Event.Fingerprint, got.fingerprint, l.Name)
			assert.Equal(t, l.Event.Metadata, got.metadata, l.Name)
			assert.Equal(t, e.PlayerID, l.Event.PlayerID, l.Name)
		}
	}
	assert.Len(t, stored, len(lines), "one verdict per record")
	t.Logf("%d corpus records agree: %v", len(lines), wants)
}

// TestSQLValidationAgreesWithGoOnMutations feeds both validations thousands
// of records made by mutating the corpus at random (fixed seed): bytes
// deleted, replaced, duplicated, JSON fragments inserted, and checks they
// agree on every one, reason and parsed event. It also proves that no input
// makes the views fail: a failing view would fail the INSERT, and with it the
// Kafka engine's consumption of the partition.
func TestSQLValidationAgreesWithGoOnMutations(t *testing.T) {
	migrateEvents(t)
	const (
		partition = 101
		n         = 6000
	)
	lines := readCorpus(t)
	rng := rand.New(rand.NewPCG(20261203, 1))
	fragments := []string{
		`"`, `\`, `{`, `}`, `[`, `]`, `:`, `,`, ` `, "\t", "\n", "\r", "\f", "\x00", "\x1f", "\x7f",
		`\u`, `\ud800`, `\udc00`, `\ud83d\ude00`, `\u0000`, `\u0041`, `\"`, `\\`, `\/`, `\n`, `\x`,
		`0`, `-`, `-0`, `1e5`, `1.5`, `01`, `1000000000001`, `9999999999999999999999`, `+`, `.`, `e`,
		`null`, `true`, `false`, `nul`, `{}`, `[]`, `""`, `"x":1,`, `,"x":1`, `"metadata":{"a":1},`,
		`"score":5,`, `"event_id":"e9",`, `"occurred_at":"2026-12-03T10:00:00+01:00",`, `"player_id":"amy",`,
		"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xff", "\xc3", "\xed\xa0\x80", "\xef\xbb\xbf",
		`T`, `Z`, `+01:00`, `.123456789`, `2000-01-01`, `:60`, `29`, `:`, `2024-02-29T00:00:00Z`,
	}
	interesting := []byte("\x00\x1f \"\\{}[]:,0123456789-.eE+utdDfF\x7f\x80\xc3\xffZT")
	mutate := func(v []byte) []byte {
		v = bytes.Clone(v)
		for range 1 + rng.IntN(3) {
			pos := 0
			if len(v) > 0 {
				pos = rng.IntN(len(v) + 1)
			}
			switch rng.IntN(5) {
			case 0: // delete
				if pos < len(v) {
					end := min(len(v), pos+1+rng.IntN(8))
					v = append(v[:pos:pos], v[end:]...)
				}
			case 1, 2: // insert a fragment
				f := fragments[rng.IntN(len(fragments))]
				v = append(v[:pos:pos], append([]byte(f), v[pos:]...)...)
			case 3: // replace a byte
				if pos < len(v) {
					v[pos] = interesting[rng.IntN(len(interesting))]
				}
			case 4: // duplicate a range
				if pos < len(v) {
					end := min(len(v), pos+1+rng.IntN(40))
					v = append(v[:end:end], v[pos:]...)
				}
			}
		}
		return v
	}

	recs := make([]rec, 0, n+16)
	for i := range n {
		l := lines[rng.IntN(len(lines))]
		value, err := base64.StdEncoding.DecodeString(l.ValueB64)
		require.NoError(t, err)
		value = mutate(value)
		key := []byte(defaultKey(value))
		if rng.IntN(10) == 0 {
			key = []byte(l.Key)
		}
		ts := l.TimestampMS
		if rng.IntN(10) == 0 {
			ts += rng.Int64N(2*int64(time.Hour/time.Millisecond)) - int64(time.Hour/time.Millisecond)
		}
		recs = append(recs, rec{partition: partition, offset: uint64(i), key: key, value: value, tsMS: ts})
	}
	// Edges the mutations do not reach.
	base := `{"event_id":"e1","leaderboard_id":"b1","player_id":"amy","score":100,"occurred_at":"2026-12-03T10:00:00Z"`
	ts := time.Date(2026, 12, 3, 10, 15, 0, 0, time.UTC).UnixMilli()
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	for _, v := range []string{
		base + `,"x":` + nest(9999) + `}`,  // depth 10000: the limit of encoding/json
		base + `,"x":` + nest(10000) + `}`, // depth 10001
		base + `,"x":` + nest(2000) + `}`,  // deeper than isValidJSON's 1024
		base + `,"x":` + strings.Repeat(`{"a":`, 1500) + "1" + strings.Repeat("}", 1500) + `}`,
		base + `,"metadata":` + strings.Repeat(`{"a":`, 300) + "1" + strings.Repeat("}", 300) + `}`,
		base + `,"x":"` + strings.Repeat(`\u00e9x`, 20000) + `"}`,
		base + `,"x":[` + strings.Repeat(`1e999,`, 5000) + `1]}`,
		base + strings.Repeat(`,"k":1`, 1) + strings.Repeat(`,"k`+"\u00e9"+`":1`, 1) + `}`,
		"{" + strings.Repeat(`"k":1,`, 3000) + base[1:] + "}",
		"", " ", "{", "}", "[", "]", `"`, `\`, "\x00", "{}", "[]", `{"":""}`, `{"metadata"}`,
	} {
		recs = append(recs, rec{partition: partition, offset: uint64(len(recs)), key: []byte("b1:amy"), value: []byte(v), tsMS: ts})
	}
	for lo := 0; lo < len(recs); lo += 1500 {
		insertRecords(t, recs[lo:min(lo+1500, len(recs))]...)
	}

	stored := storedVerdicts(t, partition)
	counts := map[string]int{}
	failures := 0
	for _, r := range recs {
		got, found := stored[r.offset]
		if !agree(t, "mutation", r, got, found) {
			failures++
			require.Less(t, failures, 20, "too many disagreements")
			continue
		}
		if got.valid {
			counts["valid"]++
		} else {
			counts[got.reason]++
		}
	}
	t.Logf("%d mutated records agree: %v", len(recs), counts)
	for _, reason := range []string{"valid", "malformed_json", "missing_field", "invalid_field", "key_mismatch"} {
		assert.Positive(t, counts[reason], "no mutated record judged %s", reason)
	}
}

// defaultKey is the key a producer would use for value: its decoded
// leaderboard_id ":" player_id, "b1" and "amy" standing in for what is not a
// decodable string.
func defaultKey(value []byte) string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(value, &m)
	decoded := func(name, fallback string) string {
		var s *string
		if json.Unmarshal(m[name], &s) != nil || s == nil {
			return fallback
		}
		return *s
	}
	return decoded("leaderboard_id", "b1") + ":" + decoded("player_id", "amy")
}

// TestSQLValidationAgreesWithGoOnGeneratedRecords builds records from pools
// of field values, valid and not, in random order, with random whitespace,
// missing and duplicated members, so that every rule and every pair of rules
// (which reason comes first) is exercised far more than by byte mutations.
func TestSQLValidationAgreesWithGoOnGeneratedRecords(t *testing.T) {
	migrateEvents(t)
	const (
		partition = 102
		n         = 5000
	)
	rng := rand.New(rand.NewPCG(42, 7))
	pools := map[string][]string{
		"event_id": {`"e1"`, `"e2"`, `"x-9_Z.~!"`, `""`, `"e 1"`, `"\u0041"`, `"e\u0000"`, `"é"`, `"e\ud800"`, `null`, `1`, `["e1"]`,
			`"` + strings.Repeat("e", 128) + `"`, `"` + strings.Repeat("e", 129) + `"`, `"\/"`, `"e\u007f"`},
		"leaderboard_id": {`"b1"`, `"b2"`, `"a-_9"`, `"B1"`, `"_b"`, `"b1\n"`, `"\u0062\u0031"`, `""`, `null`, `{}`, `"b1 "`,
			`"` + strings.Repeat("b", 64) + `"`, `"` + strings.Repeat("b", 65) + `"`, `"b\ud800"`},
		"player_id": {`"amy"`, `"bob"`, `"Zoë"`, `"a/b%20c"`, `" "`, `"a:b"`, `"\u0041my"`, `"a\u0000"`, `"a\u001f"`, `"a\u007f"`,
			"\"a\x7f\"", `"a\ud83d\ude00"`, `"a\ud800"`, `"a\udc00\ud800"`, `""`, `null`, `true`, `"\"q\""`, `"a\u0085"`,
			`"` + strings.Repeat("é", 64) + `"`, `"` + strings.Repeat("é", 65) + `"`, `"\ufffd"`},
		"score": {`100`, `-30`, `0`, `-0`, `1000000000000`, `-1000000000000`, `1000000000001`, `-1000000000001`,
			`99999999999999999999`, `1.0`, `1e3`, `-1e400`, `"100"`, `null`, `[1]`, `{}`, `1E-2`},
		"occurred_at": {`"2026-12-03T10:00:00Z"`, `"2026-12-03T10:20:00Z"`, `"2026-12-03T10:20:00.001Z"`, `"2026-12-03T11:20:00+01:00"`,
			`"2026-12-03T05:19:59.999999999-05:00"`, `"1999-12-31T23:59:59.999Z"`, `"2000-01-01T00:00:00Z"`, `"2000-01-01T00:30:00+00:30"`,
			`"1999-12-31T23:30:00-00:30"`, `"2024-02-29T12:00:00Z"`, `"2025-02-29T12:00:00Z"`, `"2026-12-03T24:00:00Z"`,
			`"2026-12-03T10:00:00"`, `"2026-12-03 10:00:00Z"`, `"2026-12-03T10:00:00.1234567890Z"`, `"2026-12-03T10:00:00+24:00"`,
			`"0000-01-01T00:00:00+23:59"`, `"9999-12-31T23:59:59-23:59"`, `"\u0032026-12-03T10:00:00Z"`, `"2026-12-03T10:00:00Z\ud800"`,
			`null`, `1796292000000`, `"2026-12-03T10:00:00.5-00:30"`, `"2026-12-02T23:59:59.999+00:00"`},
		"metadata": {`{}`, `{"a":1}`, `{ "a" : [ 1 , 2 ] }`, `{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `{"\u0061":1,"a":2}`,
			`[]`, `null`, `"x"`, `1`, `{"k":"` + strings.Repeat("x", 1017) + `"}`, `{"k":"` + strings.Repeat("x", 1018) + `"}`,
			`{"s":"x y\t\"z\\ "}`, `{"a":1e999,"b":"\ud800"}`, "{\n\t\"a\" :\r\n1 }"},
		"x": {`1`, `null`, `{"a":1,"a":2}`, `[1e999]`, `"\ud800"`},
	}
	names := []string{"event_id", "leaderboard_id", "player_id", "score", "occurred_at", "metadata", "x"}
	spaces := []string{"", "", "", " ", "\n", "\t", "\r\n", "  "}
	ws := func() string { return spaces[rng.IntN(len(spaces))] }
	pick := func(name string) string {
		p := pools[name]
		if rng.IntN(3) > 0 { // mostly the first, valid, values
			return p[rng.IntN(min(2, len(p)))]
		}
		return p[rng.IntN(len(p))]
	}
	recs := make([]rec, 0, n)
	for i := range n {
		var members []string
		for _, name := range names {
			present := rng.IntN(40) > 0
			if name == "metadata" || name == "x" {
				present = rng.IntN(3) == 0
			}
			if !present {
				continue
			}
			members = append(members, ws()+`"`+name+`"`+ws()+":"+ws()+pick(name)+ws())
			if rng.IntN(60) == 0 {
				members = append(members, `"`+name+`":`+pick(name))
			}
		}
		rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
		value := []byte(ws() + "{" + strings.Join(members, ",") + "}" + ws())
		key := defaultKey(value)
		switch rng.IntN(20) {
		case 0:
			key = "b1:bob"
		case 1:
			key += " "
		}
		ts := time.Date(2026, 12, 3, 10, 15, 0, 0, time.UTC).UnixMilli()
		if rng.IntN(10) == 0 {
			ts += rng.Int64N(20*60*1000) - 10*60*1000
		}
		recs = append(recs, rec{partition: partition, offset: uint64(i), key: []byte(key), value: value, tsMS: ts})
	}
	for lo := 0; lo < len(recs); lo += 2500 {
		insertRecords(t, recs[lo:min(lo+2500, len(recs))]...)
	}

	stored := storedVerdicts(t, partition)
	counts := map[string]int{}
	failures := 0
	for _, r := range recs {
		got, found := stored[r.offset]
		if !agree(t, "generated", r, got, found) {
			failures++
			require.Less(t, failures, 20, "too many disagreements")
			continue
		}
		if got.valid {
			counts["valid"]++
		} else {
			counts[got.reason]++
		}
	}
	t.Logf("%d generated records agree: %v", len(recs), counts)
	for _, reason := range []string{"valid", "malformed_json", "missing_field", "invalid_field", "score_out_of_range", "occurred_at_out_of_range", "key_mismatch"} {
		assert.Greater(t, counts[reason], 10, "few generated records judged %s", reason)
	}
}
