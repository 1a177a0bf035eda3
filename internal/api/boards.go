package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/warehouse"
)

// Board definitions (contract section 2), stored in ClickHouse.

// MaxBoardName bounds a board's name in bytes.
const MaxBoardName = 200

type boardJSON struct {
	LeaderboardID string                  `json:"leaderboard_id"`
	Name          string                  `json:"name"`
	Aggregation   leaderboard.Aggregation `json:"aggregation"`
	Defined       bool                    `json:"defined"`    // false: created by its first event, sum
	HasEvents     bool                    `json:"has_events"` // the aggregation can no longer change
	UpdatedAt     *string                 `json:"updated_at"` // null when not defined
}

func boardOf(b warehouse.Board) boardJSON {
	out := boardJSON{LeaderboardID: b.ID, Name: b.Name, Aggregation: b.Aggregation, Defined: b.Defined, HasEvents: b.HasEvents}
	if b.Defined {
		t := leaderboard.FormatTime(b.UpdatedAt)
		out.UpdatedAt = &t
	}
	return out
}

func (q *queries) boards() (BoardStore, error) {
	if q.d.Boards == nil {
		return nil, fmt.Errorf("%w: clickhouse is not configured", leaderboard.ErrUnavailable)
	}
	return q.d.Boards, nil
}

func (q *queries) listBoards(c *gin.Context) {
	ctx := c.Request.Context()
	if _, err := readParams(c.Request.URL.RawQuery); err != nil {
		abort(c, err)
		return
	}
	bs, err := q.boards()
	if err != nil {
		abort(c, err)
		return
	}
	list, err := bs.Boards(ctx)
	if err != nil {
		abort(c, q.chErr(ctx, err))
		return
	}
	out := make([]boardJSON, len(list))
	for i, b := range list {
		out[i] = boardOf(b)
	}
	c.JSON(http.StatusOK, gin.H{"leaderboards": out})
}

func (q *queries) getBoard(c *gin.Context) {
	ctx := c.Request.Context()
	board, err := boardParam(c)
	if err != nil {
		abort(c, err)
		return
	}
	if _, err := readParams(c.Request.URL.RawQuery); err != nil {
		abort(c, err)
		return
	}
	bs, err := q.boards()
	if err != nil {
		abort(c, err)
		return
	}
	b, found, err := bs.Board(ctx, board)
	if err != nil {
		abort(c, q.chErr(ctx, err))
		return
	}
	if !found {
		abort(c, fmt.Errorf("%w: leaderboard %s has no definition and no events", leaderboard.ErrNotFound, board))
		return
	}
	c.JSON(http.StatusOK, boardOf(b))
}

// putBoardBody is PUT /leaderboards/:id's body: both fields required,
// nothing else allowed.
type putBoardBody struct {
	Name        *string `json:"name"`
	Aggregation *string `json:"aggregation"`
}

const maxBoardBody = 16 << 10

func (q *queries) putBoard(c *gin.Context) {
	ctx := c.Request.Context()
	board, err := boardParam(c)
	if err != nil {
		abort(c, err)
		return
	}
	if _, err := readParams(c.Request.URL.RawQuery); err != nil {
		abort(c, err)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(c.Request.Body, maxBoardBody+1))
	if err != nil {
		abort(c, invalid("body: %v", err))
		return
	}
	if len(raw) > maxBoardBody {
		abort(c, fmt.Errorf("%w: body: at most %d bytes", leaderboard.ErrPayloadTooLarge, maxBoardBody))
		return
	}
	var body putBoardBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		abort(c, invalid("body: must be a JSON object {\"name\": \"...\", \"aggregation\": \"sum\" | \"max\"}: %v", err))
		return
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		abort(c, invalid("body: trailing data after the JSON object"))
		return
	}
	switch {
	case body.Name == nil:
		abort(c, invalid("name: required"))
		return
	case body.Aggregation == nil:
		abort(c, invalid("aggregation: required, one of sum, max"))
		return
	case !validName(*body.Name):
		abort(c, invalid("name: must be 1 to %d bytes of UTF-8 without control characters", MaxBoardName))
		return
	}
	agg, err := leaderboard.ParseAggregation(*body.Aggregation)
	if err != nil {
		abort(c, err)
		return
	}
	bs, err := q.boards()
	if err != nil {
		abort(c, err)
		return
	}
	// ClickHouse may lag the hot store by seconds: a board whose first events
	// Valkey already applied with another aggregation has events.
	if q.d.HotBoards != nil {
		var (
			hot leaderboard.Aggregation
			ok  bool
		)
		err := q.hotBounded(ctx, func(ctx context.Context) (err error) {
			hot, ok, err = q.d.HotBoards.BoardAggregation(ctx, board)
			return err
		})
		if err != nil {
			abort(c, fmt.Errorf("%w: cannot check the hot store for events of %s: %v", leaderboard.ErrUnavailable, board, err))
			return
		}
		if ok && hot != agg {
			abort(c, fmt.Errorf("%w: board %s already has events aggregated with %s", leaderboard.ErrConflict, board, hot))
			return
		}
	}
	b, err := bs.PutBoard(ctx, board, *body.Name, agg, q.d.Now())
	if err != nil {
		abort(c, q.chErr(ctx, err))
		return
	}
	if q.d.OnDefine != nil {
		q.d.OnDefine(board, agg)
	}
	c.JSON(http.StatusOK, boardOf(b))
}

func validName(s string) bool {
	if len(s) < 1 || len(s) > MaxBoardName || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7F {
			return false
		}
	}
	return true
}
