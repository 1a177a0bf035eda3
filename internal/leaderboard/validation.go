package leaderboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// RecordContext is what ParseEvent needs to know about the record around the
// value.
type RecordContext struct {
	Key       []byte        // the Kafka record key, as sent
	CheckKey  bool          // require Key == leaderboard_id ":" player_id (Kafka records; not POST /events)
	Timestamp time.Time     // the Kafka record timestamp; for POST /events, the current time
	MaxSkew   time.Duration // LEADERBOARD_MAX_CLOCK_SKEW: how far past Timestamp occurred_at may be
}

// ParseEvent validates one record value against contract section 1 and
// returns the event, or an *InvalidEventError (which wraps ErrInvalidArgument)
// saying why it is rejected. The ClickHouse validation applies exactly the
// same rules; testdata/corpus.ndjson pins them. The decisions where the
// contract leaves room:
//
//   - The value must be valid UTF-8 (RFC 3629: no overlong forms, no encoded
//     surrogates, nothing above U+10FFFF) and exactly one JSON value (RFC 8259)
//     that is an object, optionally surrounded by JSON whitespace (space, tab,
//     LF, CR; a byte order mark or a form feed is not whitespace). Anything
//     else, including an empty value, trailing bytes or two objects, is
//     malformed_json. A raw control character inside a string is invalid JSON,
//     hence malformed_json (an escaped one such as \u0000 is valid JSON and is
//     judged by the field's rule). Nesting deeper than 10000 levels, the
//     top-level object included, is malformed_json (a limit of encoding/json;
//     the corpus stays within 1024 levels).
//   - A duplicate key at the top level (any key, known or not), or directly
//     inside the metadata object (its first level only), is malformed_json.
//     Keys are compared after decoding escapes ("a" and "\u0061" are the same
//     key; a lone surrogate escape decodes as U+FFFD). Objects nested deeper in
//     metadata, and objects inside unknown fields, are opaque: they must be
//     valid JSON, their keys are not checked.
//   - Field names are matched exactly after decoding escapes ("Score" is not
//     "score"). Unknown fields are ignored.
//   - Then, in this order, the first failing rule gives the reason:
//     missing_field (the first absent of event_id, leaderboard_id, player_id,
//     score, occurred_at), invalid_field (wrong type or format of any field,
//     checked in the order event_id, leaderboard_id, player_id, score,
//     occurred_at, metadata), score_out_of_range, occurred_at_out_of_range,
//     key_mismatch (only when rc.CheckKey).
//   - null is a value: null for a required field or for metadata is
//     invalid_field, not missing_field.
//   - String rules apply to the decoded value (escapes resolved, so "\u0041"
//     is "A" and counts one byte). A lone surrogate escape (\uD800..\uDFFF not
//     in a high-low pair) in event_id, leaderboard_id, player_id or
//     occurred_at is invalid_field.
//   - event_id: a string of 1..128 bytes, each 0x21..0x7E.
//   - leaderboard_id: a string matching ^[a-z0-9][a-z0-9_-]{0,63}$ (the whole
//     value: a trailing newline does not match).
//   - player_id: a string of 1..128 bytes of UTF-8 with no U+0000..U+001F and
//     no U+007F. Everything else is allowed, including spaces, ':', '/', '%',
//     U+0080..U+009F, U+FFFD and noncharacters; ids are compared bytewise,
//     never normalised.
//   - score: a JSON number token that is an integer literal -?(0|[1-9][0-9]*):
//     no fraction (1.0), no exponent (1e3), no string ("10"); -0 is 0. An
//     integer literal with |score| > 1e12, however many digits, is
//     score_out_of_range; a non-integer number is invalid_field whatever its
//     magnitude.
//   - occurred_at: a string matching YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)
//     with ASCII digits, uppercase T and Z, 1..9 fraction digits, a real
//     proleptic Gregorian date (year 0000..9999, leap years included), hour
//     00..23, minute 00..59, second 00..59 (no leap second), offset hour
//     00..23 and minute 00..59 (-00:00 is UTC); otherwise invalid_field. It is
//     normalised to UTC and truncated (not rounded) to milliseconds; then it is
//     occurred_at_out_of_range when before 2000-01-01T00:00:00Z or later than
//     rc.Timestamp truncated to milliseconds plus rc.MaxSkew (exactly at that
//     bound is accepted).
//   - metadata: optional; when present, a JSON object whose raw text as sent,
//     from '{' to '}' inclusive, is at most 1024 bytes; otherwise
//     invalid_field. It is stored compacted (json.Compact: whitespace outside
//     strings removed, nothing else changed).
//   - key: exactly the bytes leaderboard_id ":" player_id (decoded values),
//     otherwise key_mismatch.
func ParseEvent(value []byte, rc RecordContext) (Event, error) {
	fields, err := scanEvent(value)
	if err != nil {
		return Event{}, err
	}
	for _, name := range requiredFields {
		if _, ok := fields[name]; !ok {
			return Event{}, invalidEvent(ReasonMissingField, name+": required")
		}
	}

	var e Event
	var ok bool
	if e.EventID, ok = parseEventID(fields[fieldEventID]); !ok {
		return Event{}, invalidEvent(ReasonInvalidField, "event_id: must be a string of 1 to 128 printable ASCII characters, no spaces")
	}
	if e.BoardID, ok = parseBoardID(fields[fieldBoardID]); !ok {
		return Event{}, invalidEvent(ReasonInvalidField, "leaderboard_id: must match ^[a-z0-9][a-z0-9_-]{0,63}$")
	}
	if e.PlayerID, ok = parsePlayerID(fields[fieldPlayerID]); !ok {
		return Event{}, invalidEvent(ReasonInvalidField, "player_id: must be a string of 1 to 128 bytes of UTF-8, no control characters")
	}
	score, scoreInRange, ok := parseScore(fields[fieldScore])
	if !ok {
		return Event{}, invalidEvent(ReasonInvalidField, "score: must be a JSON integer")
	}
	if e.OccurredAt, ok = parseOccurredAt(fields[fieldOccurredAt]); !ok {
		return Event{}, invalidEvent(ReasonInvalidField, "occurred_at: must be a string YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)")
	}
	if raw, present := fields[fieldMetadata]; present {
		if raw[0] != '{' {
			return Event{}, invalidEvent(ReasonInvalidField, "metadata: must be a JSON object")
		}
		if len(raw) > MaxMetadataBytes {
			return Event{}, invalidEvent(ReasonInvalidField, fmt.Sprintf("metadata: must be at most %d bytes", MaxMetadataBytes))
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			// Unreachable: raw is part of a value json.Valid accepted.
			return Event{}, invalidEvent(ReasonMalformedJSON, "metadata: "+err.Error())
		}
		e.Metadata = json.RawMessage(buf.Bytes())
	}

	if !scoreInRange {
		return Event{}, invalidEvent(ReasonScoreOutOfRange, "score: must be within ±1000000000000")
	}
	e.Score = score
	if e.OccurredAt.Before(minOccurredAt) {
		return Event{}, invalidEvent(ReasonOccurredAtOutOfRange, "occurred_at: must not be before 2000-01-01T00:00:00Z")
	}
	if latest := time.UnixMilli(rc.Timestamp.UnixMilli()).Add(rc.MaxSkew); e.OccurredAt.After(latest) {
		return Event{}, invalidEvent(ReasonOccurredAtOutOfRange, fmt.Sprintf(
			"occurred_at: must not be later than %s (record timestamp + %s)", FormatTime(latest), rc.MaxSkew))
	}
	if rc.CheckKey && string(rc.Key) != e.Key() {
		return Event{}, invalidEvent(ReasonKeyMismatch, fmt.Sprintf("key: must be %q", e.Key()))
	}
	return e, nil
}

// Bounds of contract section 1 that are not in leaderboard.go.
const (
	// MaxMetadataBytes bounds the metadata object as sent.
	MaxMetadataBytes = 1024
	maxIDBytes       = 128
)

// minOccurredAt is the earliest occurred_at accepted: 2000-01-01T00:00:00Z.
var minOccurredAt = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	fieldEventID    = "event_id"
	fieldBoardID    = "leaderboard_id"
	fieldPlayerID   = "player_id"
	fieldScore      = "score"
	fieldOccurredAt = "occurred_at"
	fieldMetadata   = "metadata"
)

// requiredFields in the order missing_field names them.
var requiredFields = []string{fieldEventID, fieldBoardID, fieldPlayerID, fieldScore, fieldOccurredAt}

func invalidEvent(r Reason, msg string) *InvalidEventError {
	return &InvalidEventError{Reason: r, Message: msg}
}

// scanEvent applies the malformed_json rules and returns the top-level members
// by decoded name, each with its raw value.
func scanEvent(value []byte) (map[string][]byte, error) {
	if !utf8.Valid(value) {
		return nil, invalidEvent(ReasonMalformedJSON, "not valid UTF-8")
	}
	// json.Valid checks the syntax of exactly one value with optional
	// whitespace around it; it does not check UTF-8, hence the test above.
	if !json.Valid(value) {
		return nil, invalidEvent(ReasonMalformedJSON, "not a single valid JSON value")
	}
	obj := trimJSONSpace(value)
	if obj[0] != '{' {
		return nil, invalidEvent(ReasonMalformedJSON, "not a JSON object")
	}
	members := objectMembers(obj)
	fields := make(map[string][]byte, len(members))
	for _, m := range members {
		if _, dup := fields[m.name]; dup {
			return nil, invalidEvent(ReasonMalformedJSON, "duplicate key "+quoteShort(m.name))
		}
		fields[m.name] = m.raw
	}
	if raw, ok := fields[fieldMetadata]; ok && raw[0] == '{' {
		seen := make(map[string]struct{})
		for _, m := range objectMembers(raw) {
			if _, dup := seen[m.name]; dup {
				return nil, invalidEvent(ReasonMalformedJSON, "metadata: duplicate key "+quoteShort(m.name))
			}
			seen[m.name] = struct{}{}
		}
	}
	return fields, nil
}

// quoteShort quotes s for a message, cut to a readable length.
func quoteShort(s string) string {
	const limit = 64
	if len(s) > limit {
		return fmt.Sprintf("%q...", s[:limit])
	}
	return fmt.Sprintf("%q", s)
}

// stringValue decodes raw when it is a JSON string without lone surrogates.
func stringValue(raw []byte) (string, bool) {
	if raw[0] != '"' {
		return "", false
	}
	return decodeString(raw)
}

func parseEventID(raw []byte) (string, bool) {
	s, ok := stringValue(raw)
	if !ok || len(s) < 1 || len(s) > maxIDBytes {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7E {
			return "", false
		}
	}
	return s, true
}

// ValidBoardID reports whether id matches ^[a-z0-9][a-z0-9_-]{0,63}$, the
// rule for leaderboard_id (also for the :id of PUT /leaderboards/:id).
func ValidBoardID(id string) bool {
	if len(id) < 1 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

func parseBoardID(raw []byte) (string, bool) {
	s, ok := stringValue(raw)
	if !ok || !ValidBoardID(s) {
		return "", false
	}
	return s, true
}

// ValidPlayerID reports whether id is a valid player_id: 1..128 bytes of
// UTF-8 without U+0000..U+001F and U+007F.
func ValidPlayerID(id string) bool {
	if len(id) < 1 || len(id) > maxIDBytes || !utf8.ValidString(id) {
		return false
	}
	// In UTF-8 these code points are single bytes that occur nowhere else.
	for i := 0; i < len(id); i++ {
		if id[i] < 0x20 || id[i] == 0x7F {
			return false
		}
	}
	return true
}

func parsePlayerID(raw []byte) (string, bool) {
	s, ok := stringValue(raw)
	if !ok || !ValidPlayerID(s) {
		return "", false
	}
	return s, true
}

// parseScore reads an integer literal -?(0|[1-9][0-9]*). ok is false for any
// other token; inRange is false when |v| > MaxEventScore, v is then 0.
func parseScore(raw []byte) (v int64, inRange, ok bool) {
	digits := raw
	neg := digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	// json.Valid already rules out "-", leading zeros and the like: a number
	// token made of digits only is an integer literal.
	if len(digits) == 0 {
		return 0, false, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false, false
		}
	}
	if len(digits) > 13 { // > 9999999999999, well past the bound; avoids overflow
		return 0, false, true
	}
	for _, c := range digits {
		v = v*10 + int64(c-'0')
	}
	if v > MaxEventScore {
		return 0, false, true
	}
	if neg {
		v = -v
	}
	return v, true, true
}

// parseOccurredAt decodes and parses occurred_at; see parseTimestamp.
func parseOccurredAt(raw []byte) (time.Time, bool) {
	s, ok := stringValue(raw)
	if !ok {
		return time.Time{}, false
	}
	return parseTimestamp(s)
}

// parseTimestamp parses YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)
// strictly (time.Parse with RFC 3339 is more lenient in places and stricter
// in others) and returns the instant in UTC, truncated to milliseconds.
func parseTimestamp(s string) (time.Time, bool) {
	// Positions: 0123456789012345678
	//            YYYY-MM-DDTHH:MM:SS
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := digitsValue(s[0:4])
	month, ok2 := digitsValue(s[5:7])
	day, ok3 := digitsValue(s[8:10])
	hour, ok4 := digitsValue(s[11:13])
	minute, ok5 := digitsValue(s[14:16])
	second, ok6 := digitsValue(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(year, month) ||
		hour > 23 || minute > 59 || second > 59 {
		return time.Time{}, false
	}

	rest := s[19:]
	millis := 0
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && '0' <= rest[n] && rest[n] <= '9' {
			n++
		}
		frac := rest[1:n]
		if len(frac) < 1 || len(frac) > 9 {
			return time.Time{}, false
		}
		// Truncate to milliseconds: keep the first three digits, padded.
		for i := 0; i < 3; i++ {
			millis *= 10
			if i < len(frac) {
				millis += int(frac[i] - '0')
			}
		}
		rest = rest[n:]
	}

	var offset int // seconds east of UTC
	switch {
	case rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, okh := digitsValue(rest[1:3])
		om, okm := digitsValue(rest[4:6])
		if !okh || !okm || oh > 23 || om > 59 {
			return time.Time{}, false
		}
		offset = oh*3600 + om*60
		if rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}

	// Offsets are whole minutes, so truncating the local fraction is the
	// same as truncating the UTC instant.
	t := time.Date(year, time.Month(month), day, hour, minute, second, millis*int(time.Millisecond), time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}

// digitsValue parses s, ASCII digits only.
func digitsValue(s string) (int, bool) {
	v := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + int(s[i]-'0')
	}
	return v, true
}

// daysIn returns the number of days of month in year (proleptic Gregorian).
func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	default:
		return 31
	}
}
