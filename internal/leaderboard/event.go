package leaderboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Event is one accepted score event (contract section 1), as ParseEvent
// returns it.
type Event struct {
	EventID    string
	BoardID    string
	PlayerID   string
	Score      int64
	OccurredAt time.Time       // UTC, truncated to milliseconds
	Metadata   json.RawMessage // the object compacted (json.Compact), or nil when absent
}

// Key is the Kafka record key every producer must use: "<board>:<player>".
func (e Event) Key() string { return e.BoardID + ":" + e.PlayerID }

// Identity is the event's identity (leaderboard_id, player_id, event_id) as
// one string, for sets and maps: each identity counts at most once per store.
//
// Format: len(board) ":" board ":" len(player) ":" player ":" event_id, lengths
// in decimal bytes, e.g. "2:b1:3:amy:e1". The length prefixes keep it
// unambiguous whatever the ids contain.
func (e Event) Identity() string {
	return strconv.Itoa(len(e.BoardID)) + ":" + e.BoardID + ":" +
		strconv.Itoa(len(e.PlayerID)) + ":" + e.PlayerID + ":" + e.EventID
}

// Fingerprint is the part of the event that must be equal for two records
// with the same Identity to be duplicates; when it differs, the later record
// is a conflict. Format: score "|" occurred_at in Unix milliseconds "|"
// compacted metadata ("" when absent), e.g. "100|1796292000000|{"a":1}".
//
// Because it is computed on the parsed event, "10:00:00Z" and
// "10:00:00.0001+00:00" are the same instant, and metadata differing only in
// whitespace outside strings is the same metadata; key order, escapes and an
// absent versus an empty object are differences.
func (e Event) Fingerprint() string {
	return fmt.Sprintf("%d|%d|%s", e.Score, e.OccurredAt.UnixMilli(), e.Metadata)
}

// TimeLayout formats instants in the API and the canonical event form: RFC
// 3339 in UTC with exactly three fractional digits.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime formats t in UTC with TimeLayout, e.g. "2026-12-03T10:15:02.120Z".
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// RecordValue encodes the event as a Kafka record value in the wire form of
// contract section 1 (occurred_at with TimeLayout, metadata omitted when
// absent), so that ParseEvent of the result gives back the same event, same
// Identity and Fingerprint. Produce it with the key e.Key().
//
// It is deliberately not a MarshalJSON method: json.Marshal would re-escape
// "<", ">" and "&" in the metadata as \u003c..., which changes the metadata,
// hence the fingerprint, and makes a redelivery look like a conflict.
func (e Event) RecordValue() ([]byte, error) {
	wire := struct {
		EventID    string          `json:"event_id"`
		BoardID    string          `json:"leaderboard_id"`
		PlayerID   string          `json:"player_id"`
		Score      int64           `json:"score"`
		OccurredAt string          `json:"occurred_at"`
		Metadata   json.RawMessage `json:"metadata,omitempty"`
	}{e.EventID, e.BoardID, e.PlayerID, e.Score, FormatTime(e.OccurredAt), e.Metadata}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(wire); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Reason is why a record was rejected. The codes are shared by the service,
// ClickHouse, the DLQ headers and the HTTP API.
type Reason string

// Reason codes, in the order in which they are checked.
const (
	ReasonMalformedJSON        Reason = "malformed_json"
	ReasonMissingField         Reason = "missing_field"
	ReasonInvalidField         Reason = "invalid_field"
	ReasonScoreOutOfRange      Reason = "score_out_of_range"
	ReasonOccurredAtOutOfRange Reason = "occurred_at_out_of_range"
	ReasonKeyMismatch          Reason = "key_mismatch"
)

// Reasons lists every reason code in check order.
var Reasons = []Reason{
	ReasonMalformedJSON, ReasonMissingField, ReasonInvalidField,
	ReasonScoreOutOfRange, ReasonOccurredAtOutOfRange, ReasonKeyMismatch,
}

// InvalidEventError says why a record is not a valid event.
type InvalidEventError struct {
	Reason  Reason
	Message string // short, names the field, e.g. "score: must be a JSON integer"
}

func (e *InvalidEventError) Error() string { return string(e.Reason) + ": " + e.Message }

// Unwrap lets callers match invalid events with errors.Is(err, ErrInvalidArgument).
func (e *InvalidEventError) Unwrap() error { return ErrInvalidArgument }
