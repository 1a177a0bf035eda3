package leaderboard

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testRecordTime is the Kafka timestamp of the records in these tests.
var testRecordTime = time.Date(2026, 12, 3, 10, 15, 0, 0, time.UTC)

func testContext(key string) RecordContext {
	return RecordContext{Key: []byte(key), CheckKey: true, Timestamp: testRecordTime, MaxSkew: 5 * time.Minute}
}

const baseEvent = `{"event_id":"e1","leaderboard_id":"b1","player_id":"amy","score":100,"occurred_at":"2026-12-03T10:00:00Z"}`

func TestParseEventValid(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		value string
		key   string
		want  Event
	}{
		{"base", baseEvent, "b1:amy",
			Event{EventID: "e1", BoardID: "b1", PlayerID: "amy", Score: 100, OccurredAt: at}},
		{"whitespace everywhere",
			" \t\r\n{ \"event_id\" : \"e1\" ,\n\"leaderboard_id\":\"b1\",\"player_id\":\"amy\",\"score\" : -30 ,\"occurred_at\":\"2026-12-03T10:00:00Z\" }\r\n",
			"b1:amy", Event{EventID: "e1", BoardID: "b1", PlayerID: "amy", Score: -30, OccurredAt: at}},
		{"escapes decoded",
			`{"\u0065vent_id":"e\u0031\/x","leaderboard_id":"b1","player_id":"\u0041my \ud83d\ude00","score":0,"occurred_at":"\u0032026-12-03T10:00:00Z"}`,
			"b1:Amy \U0001F600", Event{EventID: "e1/x", BoardID: "b1", PlayerID: "Amy \U0001F600", OccurredAt: at}},
		{"minus zero is zero",
			`{"event_id":"e1","leaderboard_id":"b1","player_id":"amy","score":-0,"occurred_at":"2026-12-03T10:00:00Z"}`,
			"b1:amy", Event{EventID: "e1", BoardID: "b1", PlayerID: "amy", Score: 0, OccurredAt: at}},
		{"score bounds", `{"event_id":"e1","leaderboard_id":"b1","player_id":"amy","score":-1000000000000,"occurred_at":"2026-12-03T10:00:00Z"}`,
			"b1:amy", Event{EventID: "e1", BoardID: "b1", PlayerID: "amy", Score: -MaxEventScore, OccurredAt: at}},
		{"offset normalised, fraction truncated",
			`{"event_id":"e1","leaderboard_id":"b1","player_id":"amy","score":1,"occurred_at":"2026-12-03T00:30:00.999999999+01:00"}`,
			"b1:amy", Event{EventID: "e1", BoardID: "b1", PlayerID: "amy", Score: 1,
				OccurredAt: time.Date(2026, 12, 2, 23, 30, 0, 999_000_000, time.UTC)}},
		{"negative offset crosses midnight",
			`{"event_id":"e1","leaderboard_id":"b1","player_id":"amy","score":1,"occurred_at":"2026-12-02T23:30:00.1-05:00"}`,
			"b1:amy", Event{EventID: "e1", BoardID: "b1", PlayerID: "amy", Score: 1,
				OccurredAt: time.Date(2026, 12, 3, 4, 30, 0, 100_000_000, time.UTC)}},
		{"metadata compacted, unknown fields ignored",
			`{"event_id":"e1","leaderboard_id":"b1","player_id":"amy","score":1,"occurred_at":"2026-12-03T10:00:00Z","x":[1,{"a":1,"a":2}],` +
				"\"metadata\" : { \"a\" : [1, 2] ,\n \"b\":{\"c\":\"x y <&>\",\"c\":0} }}",
			"b1:amy", Event{EventID: "e1", BoardID: "b1", PlayerID: "amy", Score: 1, OccurredAt: at,
				Metadata: json.RawMessage(`{"a":[1,2],"b":{"c":"x y <&>","c":0}}`)}},
		{"exactly at the skew bound",
			`{"event_id":"e1","leaderboard_id":"b1","player_id":"amy","score":1,"occurred_at":"2026-12-03T10:20:00.000999Z"}`,
			"b1:amy", Event{EventID: "e1", BoardID: "b1", PlayerID: "amy", Score: 1,
				OccurredAt: time.Date(2026, 12, 3, 10, 20, 0, 0, time.UTC)}},
		{"player id with colon, slash, percent", `{"event_id":"e1","leaderboard_id":"b5","player_id":"a/b%20c:d","score":10,"occurred_at":"2026-12-03T10:00:00Z"}`,
			"b5:a/b%20c:d", Event{EventID: "e1", BoardID: "b5", PlayerID: "a/b%20c:d", Score: 10, OccurredAt: at}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvent([]byte(tt.value), testContext(tt.key))
			require.NoError(t, err)
			assert.Equal(t, tt.want.EventID, got.EventID)
			assert.Equal(t, tt.want.BoardID, got.BoardID)
			assert.Equal(t, tt.want.PlayerID, got.PlayerID)
			assert.Equal(t, tt.want.Score, got.Score)
			assert.True(t, tt.want.OccurredAt.Equal(got.OccurredAt), "occurred_at %s", got.OccurredAt)
			assert.Equal(t, time.UTC, got.OccurredAt.Location())
			assert.Equal(t, string(tt.want.Metadata), string(got.Metadata))
		})
	}
}

func TestParseEventInvalid(t *testing.T) {
	// The corpus covers every rule and edge; these pin the messages and the
	// error type.
	tests := []struct {
		name    string
		value   string
		key     string
		reason  Reason
		message string
	}{
		{"empty", "", "b1:amy", ReasonMalformedJSON, "not a single valid JSON value"},
		{"cut off (C4)", `{"event_id":"e2","score":`, "b1:amy", ReasonMalformedJSON, "not a single valid JSON value"},
		{"invalid UTF-8", "{\"event_id\":\"e\xff\"}", "b1:amy", ReasonMalformedJSON, "not valid UTF-8"},
		{"array", "[" + baseEvent + "]", "b1:amy", ReasonMalformedJSON, "not a JSON object"},
		{"duplicate key", `{"score":1,"\u0073core":1}`, "b1:amy", ReasonMalformedJSON, `duplicate key "score"`},
		{"metadata duplicate key", `{"metadata":{"a":1,"a":1}}`, "b1:amy", ReasonMalformedJSON, `metadata: duplicate key "a"`},
		{"missing first in order", `{"score":"x","leaderboard_id":"b1"}`, "b1:amy", ReasonMissingField, "event_id: required"},
		{"missing occurred_at", strings.Replace(baseEvent, `"occurred_at"`, `"Occurred_at"`, 1), "b1:amy", ReasonMissingField, "occurred_at: required"},
		{"score as string (C4)", strings.Replace(baseEvent, `100`, `"abc"`, 1), "b1:amy", ReasonInvalidField, "score: must be a JSON integer"},
		{"null event_id", strings.Replace(baseEvent, `"e1"`, `null`, 1), "b1:amy", ReasonInvalidField, "event_id: "},
		{"bad board", strings.Replace(baseEvent, `"b1"`, `"B1"`, 1), "B1:amy", ReasonInvalidField, "leaderboard_id: "},
		{"lone surrogate player", strings.Replace(baseEvent, `"amy"`, `"a\ud800"`, 1), "b1:a\uFFFD", ReasonInvalidField, "player_id: "},
		{"bad occurred_at", strings.Replace(baseEvent, `10:00:00Z`, `10:00:60Z`, 1), "b1:amy", ReasonInvalidField, "occurred_at: must be a string"},
		{"metadata array", strings.Replace(baseEvent, `}`, `,"metadata":[]}`, 1), "b1:amy", ReasonInvalidField, "metadata: must be a JSON object"},
		{"metadata too big", strings.Replace(baseEvent, `}`, `,"metadata":{"k":"`+strings.Repeat("x", 1017)+`"}}`, 1), "b1:amy", ReasonInvalidField, "metadata: must be at most 1024 bytes"},
		{"score out of range", strings.Replace(baseEvent, `100`, `1000000000001`, 1), "b1:amy", ReasonScoreOutOfRange, "score: must be within"},
		{"too old", strings.Replace(baseEvent, `2026-12-03T10:00:00Z`, `1999-12-31T23:59:59.999Z`, 1), "b1:amy", ReasonOccurredAtOutOfRange, "occurred_at: must not be before 2000-01-01T00:00:00Z"},
		{"too new", strings.Replace(baseEvent, `2026-12-03T10:00:00Z`, `2026-12-03T10:20:00.001Z`, 1), "b1:amy", ReasonOccurredAtOutOfRange, "occurred_at: must not be later than 2026-12-03T10:20:00.000Z (record timestamp + 5m0s)"},
		{"wrong key (C7)", baseEvent, "b1:bob", ReasonKeyMismatch, `key: must be "b1:amy"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEvent([]byte(tt.value), testContext(tt.key))
			var ie *InvalidEventError
			require.ErrorAs(t, err, &ie)
			assert.Equal(t, tt.reason, ie.Reason)
			assert.Contains(t, ie.Message, tt.message)
			assert.ErrorIs(t, err, ErrInvalidArgument)
			assert.Equal(t, string(tt.reason)+": "+ie.Message, err.Error())
		})
	}
}

func TestParseEventKeyCheckOptional(t *testing.T) {
	rc := testContext("wrong")
	rc.CheckKey = false
	_, err := ParseEvent([]byte(baseEvent), rc)
	require.NoError(t, err)
}

func TestParseEventRecordTimestampTruncated(t *testing.T) {
	// A sub-millisecond record time (POST /events uses time.Now()) is
	// truncated before the skew is added.
	rc := testContext("b1:amy")
	rc.MaxSkew = 0
	rc.Timestamp = time.Date(2026, 12, 3, 10, 0, 0, 999_999, time.UTC)
	_, err := ParseEvent([]byte(strings.Replace(baseEvent, "10:00:00Z", "10:00:00.000Z", 1)), rc)
	require.NoError(t, err)
	_, err = ParseEvent([]byte(strings.Replace(baseEvent, "10:00:00Z", "10:00:00.001Z", 1)), rc)
	var ie *InvalidEventError
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, ReasonOccurredAtOutOfRange, ie.Reason)
}

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		in   string
		want string // FormatTime of the result, "" for invalid
	}{
		{"2026-12-03T10:00:00Z", "2026-12-03T10:00:00.000Z"},
		{"2026-12-03T10:00:00.1Z", "2026-12-03T10:00:00.100Z"},
		{"2026-12-03T10:00:00.12Z", "2026-12-03T10:00:00.120Z"},
		{"2026-12-03T10:00:00.123456789Z", "2026-12-03T10:00:00.123Z"},
		{"2026-12-03T10:00:00.9999Z", "2026-12-03T10:00:00.999Z"},
		{"2026-12-03T10:00:00-00:00", "2026-12-03T10:00:00.000Z"},
		{"2026-12-03T10:00:00+05:45", "2026-12-03T04:15:00.000Z"},
		{"2026-12-31T23:59:59-23:59", "2027-01-01T23:58:59.000Z"},
		{"2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"},
		{"2000-02-29T00:00:00Z", "2000-02-29T00:00:00.000Z"},
		{"0000-02-29T00:00:00Z", "0000-02-29T00:00:00.000Z"},
		{"9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"},
		{"2100-02-29T00:00:00Z", ""},
		{"2023-02-29T00:00:00Z", ""},
		{"2026-04-31T00:00:00Z", ""},
		{"2026-12-03T10:00:00.1234567890Z", ""},
		{"2026-12-03T10:00:00.Z", ""},
		{"2026-12-03T10:00:00", ""},
		{"2026-12-03T10:00Z", ""},
		{"2026-12-03t10:00:00Z", ""},
		{"2026-12-03T10:00:00z", ""},
		{"2026-12-03T24:00:00Z", ""},
		{"2026-12-03T10:60:00Z", ""},
		{"2026-12-03T10:00:60Z", ""},
		{"2026-12-03T10:00:00+24:00", ""},
		{"2026-12-03T10:00:00+00:60", ""},
		{"2026-12-03T10:00:00+0100", ""},
		{"2026-12-03T10:00:00+01:00:00", ""},
		{"2026-12-03T10:00:00ZZ", ""},
		{"2026-13-03T10:00:00Z", ""},
		{"2026-00-03T10:00:00Z", ""},
		{"2026-12-00T10:00:00Z", ""},
		{"2026-1-03T10:00:00Z", ""},
		{"2026-12-03T10:00:00.-1Z", ""},
		{"-026-12-03T10:00:00Z", ""},
		{"2026-12-03T10:00:00+-1:00", ""},
		{"2026-12-03T10:00:00Z\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseTimestamp(tt.in)
			if tt.want == "" {
				assert.False(t, ok, "parsed as %s", got)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tt.want, FormatTime(got))
		})
	}
}

// TestParseTimestampAgreesWithTimePackage checks, on random valid stamps,
// that the hand-written parser agrees with time.Parse (which accepts the
// same grammar for these inputs) after truncation to milliseconds.
func TestParseTimestampAgreesWithTimePackage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		base := time.Unix(rng.Int64N(20_000_000_000)-5_000_000_000, rng.Int64N(1e9)).UTC()
		offset := (rng.IntN(2*24*60-1) - (24*60 - 1)) * 60 // -23:59..+23:59
		local := base.In(time.FixedZone("", offset))
		layout := "2006-01-02T15:04:05"
		if digits := rng.IntN(10); digits > 0 {
			layout += "." + strings.Repeat("0", digits)
		}
		if offset == 0 && rng.IntN(2) == 0 {
			layout += "Z"
		} else {
			layout += "-07:00"
		}
		s := local.Format(layout)
		want, err := time.Parse(layout, s)
		require.NoError(t, err, s)
		got, ok := parseTimestamp(s)
		require.True(t, ok, s)
		require.Equal(t, want.UnixMilli(), got.UnixMilli(), s)
		require.Equal(t, 0, got.Nanosecond()%int(time.Millisecond), s)
	}
}

func TestDecodeStringAgreesWithEncodingJSON(t *testing.T) {
	// Random strings of escapes, surrogate halves and raw UTF-8: decodeString
	// must decode like encoding/json (which also turns lone surrogates into
	// U+FFFD) and flag exactly the strings that hold a lone surrogate.
	pieces := []string{`a`, `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u0041`, `\u00e9`, `\u20AC`,
		`\ud83d`, `\ude00`, `\uD83D\uDE00`, `\udbff\udfff`, `\u0000`, `é`, "\U0001F600", `\uFFFD`, " "}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		b.WriteByte('"')
		for n := rng.IntN(6); n > 0; n-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		b.WriteByte('"')
		raw := b.String()
		var want string
		require.NoError(t, json.Unmarshal([]byte(raw), &want), raw)
		got, ok := decodeString([]byte(raw))
		require.Equal(t, want, got, raw)
		require.Equal(t, !hasLoneSurrogate(raw), ok, raw)
	}
}

// hasLoneSurrogate is an independent, slow check for a lone surrogate escape.
func hasLoneSurrogate(raw string) bool {
	var units []uint16
	s := raw[1 : len(raw)-1]
	for i := 0; i < len(s); {
		if s[i] != '\\' {
			units = append(units, 0) // not a surrogate
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			continue
		}
		if s[i+1] != 'u' {
			units = append(units, 0)
			i += 2
			continue
		}
		v := uint16(hex4([]byte(s[i+2 : i+6])))
		units = append(units, v)
		i += 6
	}
	for i := 0; i < len(units); i++ {
		u := units[i]
		switch {
		case 0xD800 <= u && u <= 0xDBFF:
			if i+1 < len(units) && 0xDC00 <= units[i+1] && units[i+1] <= 0xDFFF {
				i++
				continue
			}
			return true
		case 0xDC00 <= u && u <= 0xDFFF:
			return true
		}
	}
	return false
}

// randomEvent returns a valid event with awkward but legal ids.
func randomEvent(rng *rand.Rand) Event {
	idChars := func(alphabet []string, maxBytes int) string {
		var b strings.Builder
		for n := 1 + rng.IntN(maxBytes); ; n-- {
			c := alphabet[rng.IntN(len(alphabet))]
			if b.Len()+len(c) > maxBytes || (n <= 0 && b.Len() > 0) {
				break
			}
			b.WriteString(c)
		}
		if b.Len() == 0 {
			b.WriteString("x")
		}
		return b.String()
	}
	ascii := func(lo, hi byte) []string {
		var out []string
		for c := lo; c <= hi; c++ {
			out = append(out, string(rune(c)))
		}
		return out
	}
	board := string("abc019"[rng.IntN(6)]) + idChars([]string{"a", "z", "0", "9", "_", "-"}, 63)
	if rng.IntN(4) == 0 {
		board = board[:1]
	}
	player := idChars(append(ascii(0x20, 0x7E), "é", "€", "\U0001F600", "\u0085", "\uFFFD", "\u2028", "<", "&"), 128)
	e := Event{
		EventID:    idChars(ascii(0x21, 0x7E), 128),
		BoardID:    board,
		PlayerID:   player,
		Score:      rng.Int64N(2*MaxEventScore+1) - MaxEventScore,
		OccurredAt: time.UnixMilli(minOccurredAt.UnixMilli() + rng.Int64N(testRecordTime.UnixMilli()-minOccurredAt.UnixMilli())).UTC(),
	}
	if rng.IntN(2) == 0 {
		e.Metadata = json.RawMessage(`{"source":"test","n":` + string(rune('0'+rng.IntN(10))) + `,"tags":["a","<b>"]}`)
	}
	return e
}

func TestParseEventRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 5000; i++ {
		want := randomEvent(rng)
		value, err := want.RecordValue()
		require.NoError(t, err)
		got, err := ParseEvent(value, testContext(want.Key()))
		require.NoError(t, err, "%s", value)
		require.Equal(t, want.Identity(), got.Identity())
		require.Equal(t, want.Fingerprint(), got.Fingerprint())
		require.True(t, want.OccurredAt.Equal(got.OccurredAt))
	}
}

// TestParseEventMutations feeds random corruptions of valid records to
// ParseEvent: it must never panic, must return a known reason, and its
// malformed_json verdict must match an independent check built on
// json.Decoder tokens.
func TestParseEventMutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	alphabet := []byte("{}[]\":,\\ \t\n01-.eE+abnulltrue\xff\xc3\xa9\x00")
	counts := map[Reason]int{}
	for i := 0; i < 10000; i++ {
		e := randomEvent(rng)
		value, err := e.RecordValue()
		require.NoError(t, err)
		if rng.IntN(3) == 0 { // an object in metadata and an unknown field
			value = append(value[:len(value)-1], []byte(`,"metadata":{"a":{"a":1,"a":2},"b":[1]},"x":{"y":1}}`)...)
		}
		for n := 1 + rng.IntN(3); n > 0; n-- {
			p := rng.IntN(len(value) + 1)
			switch rng.IntN(3) {
			case 0: // insert
				value = append(value[:p], append([]byte{alphabet[rng.IntN(len(alphabet))]}, value[p:]...)...)
			case 1: // delete
				if p < len(value) {
					value = append(value[:p], value[p+1:]...)
				}
			default: // duplicate a slice
				q := p + rng.IntN(len(value)-p+1)
				value = append(value[:q], append(bytes.Clone(value[p:q]), value[q:]...)...)
			}
		}
		_, err = ParseEvent(value, testContext(e.Key()))
		reason := Reason("valid")
		if err != nil {
			var ie *InvalidEventError
			require.ErrorAs(t, err, &ie)
			require.Contains(t, Reasons, ie.Reason)
			reason = ie.Reason
		}
		counts[reason]++
		require.Equal(t, malformedOracle(value), reason == ReasonMalformedJSON, "%q", value)
	}
	t.Logf("outcomes: %v", counts)
	for _, r := range []Reason{"valid", ReasonMalformedJSON, ReasonMissingField, ReasonInvalidField} {
		require.Positive(t, counts[r], "no %s outcome: the mutations are too weak", r)
	}
}

// FuzzParseEvent runs on the corpus values as seeds (go test -fuzz
// FuzzParseEvent explores further): ParseEvent never panics, agrees with the
// malformed_json oracle, and a valid event survives RecordValue unchanged.
func FuzzParseEvent(f *testing.F) {
	for _, c := range corpusCases() {
		f.Add(c.value, c.key)
	}
	f.Fuzz(func(t *testing.T, value []byte, key string) {
		e, err := ParseEvent(value, testContext(key))
		var ie *InvalidEventError
		if err != nil {
			require.ErrorAs(t, err, &ie)
			require.Contains(t, Reasons, ie.Reason)
		}
		require.Equal(t, malformedOracle(value), ie != nil && ie.Reason == ReasonMalformedJSON)
		if err != nil {
			return
		}
		require.Equal(t, key, e.Key())
		again, err := e.RecordValue()
		require.NoError(t, err)
		back, err := ParseEvent(again, testContext(key))
		require.NoError(t, err)
		require.Equal(t, e.Identity(), back.Identity())
		require.Equal(t, e.Fingerprint(), back.Fingerprint())
	})
}

// malformedOracle decides malformed_json independently of the scanner, with
// json.Decoder tokens.
func malformedOracle(value []byte) bool {
	if !utf8.Valid(value) || !json.Valid(value) {
		return true
	}
	members, isObject := oracleMembers(value)
	if !isObject || hasDuplicateName(members) {
		return true
	}
	for _, m := range members {
		if m.name == "metadata" {
			if inner, isObject := oracleMembers(m.raw); isObject && hasDuplicateName(inner) {
				return true
			}
		}
	}
	return false
}

// oracleMembers lists the members of v when it is a JSON object.
func oracleMembers(v []byte) ([]member, bool) {
	dec := json.NewDecoder(bytes.NewReader(v))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			panic(err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			panic(err)
		}
		out = append(out, member{name: tok.(string), raw: raw})
	}
	return out, true
}

func hasDuplicateName(members []member) bool {
	seen := map[string]bool{}
	for _, m := range members {
		if seen[m.name] {
			return true
		}
		seen[m.name] = true
	}
	return false
}

func TestValidIDs(t *testing.T) {
	assert.True(t, ValidBoardID("a"))
	assert.True(t, ValidBoardID("0-_"))
	assert.True(t, ValidBoardID(strings.Repeat("a", 64)))
	assert.False(t, ValidBoardID(strings.Repeat("a", 65)))
	assert.False(t, ValidBoardID(""))
	assert.False(t, ValidBoardID("-a"))
	assert.False(t, ValidBoardID("a\n"))
	assert.True(t, ValidPlayerID(" "))
	assert.True(t, ValidPlayerID(strings.Repeat("é", 64)))
	assert.False(t, ValidPlayerID(strings.Repeat("é", 64)+"a"))
	assert.False(t, ValidPlayerID("a\x7f"))
	assert.False(t, ValidPlayerID("a\xff"))
	assert.False(t, ValidPlayerID(""))
}
