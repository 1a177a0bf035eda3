package leaderboard

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventIdentity(t *testing.T) {
	tests := []struct {
		name                   string
		board, player, eventID string
		want                   string
	}{
		{"plain", "b1", "amy", "e1", "2:b1:3:amy:e1"},
		{"colons in player and event", "b1", "a:b", "c:d", "2:b1:3:a:b:c:d"},
		{"multibyte player counts bytes", "b1", "Zoë", "e1", "2:b1:4:Zoë:e1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Event{BoardID: tt.board, PlayerID: tt.player, EventID: tt.eventID}
			assert.Equal(t, tt.want, e.Identity())
		})
	}
	// Ids that a plain separator would confuse stay distinct.
	a := Event{BoardID: "b1", PlayerID: "a:1", EventID: "x"}
	b := Event{BoardID: "b1", PlayerID: "a", EventID: "1:x"}
	assert.NotEqual(t, a.Identity(), b.Identity())
}

func TestEventFingerprint(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	base := Event{EventID: "e1", BoardID: "b1", PlayerID: "amy", Score: 100, OccurredAt: at}
	withMeta := base
	withMeta.Metadata = json.RawMessage(`{"a":1}`)

	assert.Equal(t, "100|1796292000000|", base.Fingerprint())
	assert.Equal(t, `100|1796292000000|{"a":1}`, withMeta.Fingerprint())

	// The same instant written differently is a duplicate, not a conflict.
	v1 := `{"event_id":"e1","leaderboard_id":"b1","player_id":"amy","score":100,"occurred_at":"2026-12-03T10:00:00Z","metadata":{"a":1}}`
	v2 := "{\"score\":100,\"occurred_at\":\"2026-12-03T11:00:00.0009+01:00\",\"metadata\":{ \"a\" : 1 },\"event_id\":\"e1\",\"player_id\":\"amy\",\"leaderboard_id\":\"b1\",\"x\":1}"
	e1, err := ParseEvent([]byte(v1), testContext("b1:amy"))
	require.NoError(t, err)
	e2, err := ParseEvent([]byte(v2), testContext("b1:amy"))
	require.NoError(t, err)
	assert.Equal(t, e1.Identity(), e2.Identity())
	assert.Equal(t, e1.Fingerprint(), e2.Fingerprint())

	// C8: another score under the same identity is a conflict.
	conflict := base
	conflict.Score = 999
	assert.Equal(t, base.Identity(), conflict.Identity())
	assert.NotEqual(t, base.Fingerprint(), conflict.Fingerprint())
	// Absent and empty metadata differ.
	empty := base
	empty.Metadata = json.RawMessage(`{}`)
	assert.NotEqual(t, base.Fingerprint(), empty.Fingerprint())
}

func TestEventRecordValue(t *testing.T) {
	e := Event{EventID: "e1", BoardID: "b1", PlayerID: "<a&b>", Score: -5,
		OccurredAt: time.Date(2026, 12, 3, 10, 0, 0, 120_000_000, time.FixedZone("X", 3600)),
		Metadata:   json.RawMessage(`{"html":"<b>"}`)}
	got, err := e.RecordValue()
	require.NoError(t, err)
	assert.Equal(t, `{"event_id":"e1","leaderboard_id":"b1","player_id":"<a&b>","score":-5,"occurred_at":"2026-12-03T09:00:00.120Z","metadata":{"html":"<b>"}}`, string(got))

	e.Metadata = nil
	got, err = e.RecordValue()
	require.NoError(t, err)
	assert.NotContains(t, string(got), "metadata")
	assert.Equal(t, "b1:<a&b>", e.Key())
}

func TestFormatTime(t *testing.T) {
	assert.Equal(t, "2026-12-03T10:15:02.120Z", FormatTime(time.Date(2026, 12, 3, 11, 15, 2, 120_999_999, time.FixedZone("X", 3600))))
}
