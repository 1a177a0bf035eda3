package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"example.com/leaderboard/internal/ingest"
	"example.com/leaderboard/internal/leaderboard"
)

// Limits of POST /events.
const (
	MaxEventsPerRequest = 1000
	// MaxEventsBody: 1000 events of a generous 2 KiB each.
	MaxEventsBody = 2 << 20
)

// EventProducer hands validated events to Kafka.
type EventProducer interface {
	Produce(ctx context.Context, msgs []ingest.Message) error
}

type rejectedItem struct {
	Index   int    `json:"index"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

type eventsResponse struct {
	Accepted int            `json:"accepted"`
	Rejected []rejectedItem `json:"rejected"`
}

// RegisterEvents adds POST /events.
func (s *Server) RegisterEvents(p EventProducer, maxSkew time.Duration, now func() time.Time) {
	s.engine.POST("/events", s.RequireIngest(), func(c *gin.Context) {
		if len(c.Request.URL.Query()) > 0 {
			abort(c, fmt.Errorf("%w: POST /events takes no query parameters", leaderboard.ErrInvalidArgument))
			return
		}
		items, err := readEventItems(c.Request)
		if err != nil {
			abort(c, err)
			return
		}
		at := now().UTC().Truncate(time.Millisecond)
		resp := eventsResponse{Rejected: []rejectedItem{}}
		msgs := make([]ingest.Message, 0, len(items))
		for i, raw := range items {
			ev, err := leaderboard.ParseEvent(raw, leaderboard.RecordContext{Timestamp: at, MaxSkew: maxSkew})
			var inv *leaderboard.InvalidEventError
			if errors.As(err, &inv) {
				resp.Rejected = append(resp.Rejected, rejectedItem{Index: i, Code: string(inv.Reason), Message: inv.Message})
				continue
			}
			if err != nil {
				abort(c, err)
				return
			}
			msgs = append(msgs, ingest.Message{Key: ev.Key(), Value: raw, Timestamp: at})
		}
		if err := p.Produce(c.Request.Context(), msgs); err != nil {
			abort(c, err)
			return
		}
		resp.Accepted = len(msgs)
		c.JSON(http.StatusAccepted, resp)
	})
}

// readEventItems splits the body into the raw bytes of each event: a JSON
// array (application/json) or one JSON value per line (application/x-ndjson).
func readEventItems(r *http.Request) ([][]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/x-ndjson") {
		return nil, fmt.Errorf("%w: Content-Type must be application/json (an array of events) or application/x-ndjson", leaderboard.ErrInvalidArgument)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxEventsBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading body: %v", leaderboard.ErrInvalidArgument, err)
	}
	if len(body) > MaxEventsBody {
		return nil, fmt.Errorf("%w: body over %d bytes", leaderboard.ErrPayloadTooLarge, MaxEventsBody)
	}
	var items [][]byte
	if mt == "application/x-ndjson" {
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(make([]byte, 0, 64<<10), MaxEventsBody+1)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			items = append(items, bytes.Clone(line))
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("%w: reading NDJSON: %v", leaderboard.ErrInvalidArgument, err)
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(body))
		tok, err := dec.Token()
		if err != nil || tok != json.Delim('[') {
			return nil, fmt.Errorf("%w: body must be a JSON array of events", leaderboard.ErrInvalidArgument)
		}
		for dec.More() {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, fmt.Errorf("%w: body is not a valid JSON array: %v", leaderboard.ErrInvalidArgument, err)
			}
			items = append(items, bytes.Clone(raw))
			if len(items) > MaxEventsPerRequest {
				break
			}
		}
		if len(items) <= MaxEventsPerRequest {
			if tok, err := dec.Token(); err != nil || tok != json.Delim(']') {
				return nil, fmt.Errorf("%w: body is not a valid JSON array", leaderboard.ErrInvalidArgument)
			}
			if _, err := dec.Token(); err != io.EOF {
				return nil, fmt.Errorf("%w: data after the JSON array", leaderboard.ErrInvalidArgument)
			}
		}
	}
	if len(items) > MaxEventsPerRequest {
		return nil, fmt.Errorf("%w: more than %d events in one request", leaderboard.ErrPayloadTooLarge, MaxEventsPerRequest)
	}
	return items, nil
}
