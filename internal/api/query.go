package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"example.com/leaderboard/internal/hotboard"
	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/warehouse"
)

// HotReader is what the query API reads from the hot store (*hotboard.Store).
// Its errors wrap leaderboard.ErrNotCached when a window is not hot and
// leaderboard.ErrUnavailable when Valkey is down.
type HotReader interface {
	RangePage(ctx context.Context, board string, w leaderboard.Window, offset, limit int64) (hotboard.Page, error)
	AfterPage(ctx context.Context, board string, w leaderboard.Window, after leaderboard.Standing, limit int64) (hotboard.Page, error)
	AroundView(ctx context.Context, board string, w leaderboard.Window, player string, around int64) (hotboard.AroundResult, error)
}

// WarehouseReader is what the query API reads from ClickHouse (*warehouse.Store).
type WarehouseReader interface {
	BoardAggregation(ctx context.Context, board string) (leaderboard.Aggregation, bool, error)
	BoardHasEvents(ctx context.Context, board string) (bool, error)
	StandingsPage(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation, limit, offset int64) ([]leaderboard.Entry, int64, error)
	StandingsAfter(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation, after leaderboard.Standing, limit int64) ([]leaderboard.Entry, int64, error)
	PlayerAround(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation, player string, around int64) (warehouse.Around, error)
	PlayerEvents(ctx context.Context, board string, w leaderboard.Window, player string) ([]warehouse.PlayerEvent, error)
	Conflicts(ctx context.Context, board, player string) ([]warehouse.Conflict, error)
}

// BoardStore reads and writes board definitions (*warehouse.Store).
type BoardStore interface {
	Board(ctx context.Context, board string) (warehouse.Board, bool, error)
	Boards(ctx context.Context) ([]warehouse.Board, error)
	PutBoard(ctx context.Context, board, name string, agg leaderboard.Aggregation, now time.Time) (warehouse.Board, error)
}

// HotBoards tells the aggregation a board's hot state was built with: the
// hot store may hold a board's first events before ClickHouse does.
type HotBoards interface {
	BoardAggregation(ctx context.Context, board string) (leaderboard.Aggregation, bool, error)
}

// QueryDeps is what RegisterQueries needs. A nil Hot means "Valkey is not
// available" (reads go to ClickHouse, source=cache answers 503); a nil
// Warehouse or Boards likewise answers 503 where ClickHouse is needed.
type QueryDeps struct {
	Hot HotReader
	// HotBoards, when set, is asked before a board definition changes.
	HotBoards HotBoards
	Warehouse WarehouseReader
	Boards    BoardStore
	// Exporter streams exports (nil: 503 on GET /leaderboards/:id/export).
	Exporter Exporter
	// Now is the clock for default dates and as_of; default time.Now.
	Now func() time.Time
	// HotTimeout bounds one hot-store read before the service falls back to
	// ClickHouse (default 2s).
	HotTimeout time.Duration
	// OnDefine, when set, is called after PUT /leaderboards/:id wrote a
	// definition (the service passes its consumer's Catalog.Define, so the
	// consumer applies the new aggregation at once).
	OnDefine func(board string, agg leaderboard.Aggregation)
	// Warm, when set, is told of every standard window an automatic read
	// had to answer from ClickHouse because Valkey does not hold it; the
	// service rebuilds such windows into Valkey in the background. It must
	// not block.
	Warm func(board string, w leaderboard.Window)
}

type queries struct {
	s *Server
	d QueryDeps
}

// RegisterQueries adds the read API (rankings, player context, player
// events), the board definitions and GET /openapi.yaml.
func (s *Server) RegisterQueries(d QueryDeps) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.HotTimeout <= 0 {
		d.HotTimeout = 2 * time.Second
	}
	q := &queries{s: s, d: d}
	e := s.engine
	e.GET("/leaderboards", q.listBoards)
	e.GET("/leaderboards/:id", q.getBoard)
	e.PUT("/leaderboards/:id", s.RequireAdmin(), q.putBoard)
	e.GET("/leaderboards/:id/rankings", q.rankings)
	e.GET("/leaderboards/:id/players/:userId", q.player)
	e.GET("/leaderboards/:id/players/:userId/events", q.playerEvents)
	e.GET("/leaderboards/:id/export", q.export)
	e.GET("/openapi.yaml", serveOpenAPI)
}

// JSON shapes (contract section 5).

// WindowJSON is a window in answers: type, and start and end (null for
// all-time).
type WindowJSON struct {
	Type  leaderboard.WindowType `json:"type"`
	Start *string                `json:"start"` // null for alltime
	End   *string                `json:"end"`
}

func windowOf(w leaderboard.Window) WindowJSON {
	out := WindowJSON{Type: w.Type}
	if w.Type != leaderboard.AllTime {
		s, e := leaderboard.FormatTime(w.Start), leaderboard.FormatTime(w.End)
		out.Start, out.End = &s, &e
	}
	return out
}

type entryJSON struct {
	Rank      int64  `json:"rank"`
	PlayerID  string `json:"player_id"`
	Score     int64  `json:"score"`
	ReachedAt string `json:"reached_at"`
}

func entriesOf(es []leaderboard.Entry) []entryJSON {
	out := make([]entryJSON, len(es))
	for i, e := range es {
		out[i] = entryJSON{Rank: e.Rank, PlayerID: e.PlayerID, Score: e.Score, ReachedAt: leaderboard.FormatTime(e.ReachedAt)}
	}
	return out
}

type rankingsJSON struct {
	LeaderboardID string      `json:"leaderboard_id"`
	Window        WindowJSON  `json:"window"`
	TotalPlayers  int64       `json:"total_players"`
	Source        Source      `json:"source"`
	AsOf          string      `json:"as_of"`
	Entries       []entryJSON `json:"entries"`
	NextCursor    *string     `json:"next_cursor"`
}

type playerEntryJSON struct {
	entryJSON
	Percentile leaderboard.Tenths `json:"percentile"`
}

type playerJSON struct {
	LeaderboardID string          `json:"leaderboard_id"`
	Window        WindowJSON      `json:"window"`
	TotalPlayers  int64           `json:"total_players"`
	Source        Source          `json:"source"`
	AsOf          string          `json:"as_of"`
	Player        playerEntryJSON `json:"player"`
	Above         []entryJSON     `json:"above"`
	Below         []entryJSON     `json:"below"`
}

// Store errors. The hot store's already wrap the sentinels; anything from
// ClickHouse that is not one of them (a connection or query failure) is
// answered 503 unavailable, and logged.

func (q *queries) chErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	for _, m := range mapping {
		if errors.Is(err, m.err) {
			return err
		}
	}
	if ctx.Err() != nil {
		return err
	}
	q.s.log.WarnContext(ctx, "clickhouse read failed", "err", err)
	return fmt.Errorf("%w: clickhouse did not answer the query", leaderboard.ErrUnavailable)
}

// fallsBack says whether an automatic read moves on to ClickHouse after err
// from the hot store: the window is not hot, or Valkey is down or slow.
func fallsBack(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	return errors.Is(err, leaderboard.ErrNotCached) || errors.Is(err, leaderboard.ErrUnavailable) ||
		errors.Is(err, context.DeadlineExceeded)
}

func (q *queries) hotRead(ctx context.Context, read func(ctx context.Context, h HotReader) error) error {
	if q.d.Hot == nil {
		return fmt.Errorf("%w: the hot store (Valkey) is not configured", leaderboard.ErrUnavailable)
	}
	return q.hotBounded(ctx, func(ctx context.Context) error { return read(ctx, q.d.Hot) })
}

// hotBounded runs one hot-store call within HotTimeout: a Valkey that does
// not answer (down, its client waiting to reconnect) is ErrUnavailable.
func (q *queries) hotBounded(ctx context.Context, call func(ctx context.Context) error) error {
	hctx, cancel := context.WithTimeout(ctx, q.d.HotTimeout)
	defer cancel()
	err := call(hctx)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: the hot store (Valkey) did not answer in %s", leaderboard.ErrUnavailable, q.d.HotTimeout)
	}
	return err
}

// aggregation reads the board's aggregation from ClickHouse; defined says
// whether the board has a definition.
func (q *queries) aggregation(ctx context.Context, board string) (leaderboard.Aggregation, bool, error) {
	if q.d.Warehouse == nil {
		return "", false, fmt.Errorf("%w: clickhouse is not configured", leaderboard.ErrUnavailable)
	}
	agg, defined, err := q.d.Warehouse.BoardAggregation(ctx, board)
	return agg, defined, q.chErr(ctx, err)
}

// checkKnown answers 404 for a board with neither a definition nor an
// accepted event. It is asked only when a read found nothing, so a busy
// board costs no extra query.
func (q *queries) checkKnown(ctx context.Context, board string, defined bool) error {
	if defined {
		return nil
	}
	has, err := q.d.Warehouse.BoardHasEvents(ctx, board)
	if err != nil {
		return q.chErr(ctx, err)
	}
	if !has {
		return fmt.Errorf("%w: leaderboard %s has no definition and no events", leaderboard.ErrNotFound, board)
	}
	return nil
}

// forcedCacheErr is the answer to a hot read that failed and does not fall
// back: a forced cache read of a window that is not in Valkey answers 404
// when ClickHouse knows the board is unknown, else 503 not_cached.
func (q *queries) forcedCacheErr(ctx context.Context, board string, err error) error {
	if !errors.Is(err, leaderboard.ErrNotCached) || q.d.Warehouse == nil {
		return err
	}
	_, defined, aerr := q.d.Warehouse.BoardAggregation(ctx, board)
	if aerr != nil {
		return err
	}
	if kerr := q.checkKnown(ctx, board, defined); errors.Is(kerr, leaderboard.ErrNotFound) {
		return kerr
	}
	return err
}

// warm asks for a window to be rebuilt into Valkey after a hot read found
// it not cached (missed) and ClickHouse answered for a known board.
func (q *queries) warm(board string, w leaderboard.Window, missed bool) {
	if q.d.Warm != nil && missed {
		q.d.Warm(board, w)
	}
}

// readThrough is the one read path of the ranking endpoints: from Valkey
// when the source allows it and the window is hot, else from ClickHouse,
// which then warms a standard window Valkey did not hold. Each read says
// whether it found nothing, so that an unknown board answers 404 from
// either store. It returns the source that answered.
func (q *queries) readThrough(ctx context.Context, board string, w leaderboard.Window, src Source,
	hot func(context.Context, HotReader) (empty bool, err error),
	cold func(context.Context, leaderboard.Aggregation) (empty bool, err error)) (Source, error) {
	missed := false // Valkey does not hold the window
	if src != SourceClickHouse && w.Type != leaderboard.Custom {
		var empty bool
		err := q.hotRead(ctx, func(ctx context.Context, h HotReader) error {
			var err error
			empty, err = hot(ctx, h)
			return err
		})
		switch {
		case err == nil && empty:
			return SourceCache, q.knownToHot(ctx, board)
		case err == nil:
			return SourceCache, nil
		case src == SourceCache || !fallsBack(ctx, err):
			return "", q.forcedCacheErr(ctx, board, err)
		}
		q.s.log.DebugContext(ctx, "hot store cannot answer, reading clickhouse", "board", board, "window", w.Key(), "err", err)
		missed = errors.Is(err, leaderboard.ErrNotCached)
	}
	agg, defined, err := q.aggregation(ctx, board)
	if err != nil {
		return "", err
	}
	empty, err := cold(ctx, agg)
	if err == nil && empty {
		err = q.checkKnown(ctx, board, defined)
	}
	if err != nil {
		return "", q.chErr(ctx, err)
	}
	q.warm(board, w, missed)
	return SourceClickHouse, nil
}

// knownToHot answers 404 for an empty hot window of a board ClickHouse
// knows nothing of (the hot store cannot tell an empty window of a new
// board from an unknown board). ClickHouse down: the board is taken as
// known.
func (q *queries) knownToHot(ctx context.Context, board string) error {
	if q.d.Warehouse == nil {
		return nil
	}
	_, defined, err := q.d.Warehouse.BoardAggregation(ctx, board)
	if err != nil {
		return nil
	}
	if kerr := q.checkKnown(ctx, board, defined); errors.Is(kerr, leaderboard.ErrNotFound) {
		return kerr
	}
	return nil
}

// pageRequest is a rankings page: offset or cursor, and the reward cut.
type pageRequest struct {
	limit, offset int64
	cursor        *leaderboard.Standing
	top           int64 // 0: none
	topPercent    int64 // hundredths, 0: none
}

// cut is the number of ranks the request keeps out of total.
func (r pageRequest) cut(total int64) int64 {
	switch {
	case r.top > 0:
		return min(r.top, total)
	case r.topPercent > 0:
		return leaderboard.TopPercentCut(r.topPercent, total)
	}
	return total
}

// finish trims a page read from a store to the cut and computes
// next_cursor: present when the page is full and ranks remain within the cut.
func (r pageRequest) finish(entries []leaderboard.Entry, total int64) ([]leaderboard.Entry, *string) {
	end := r.cut(total)
	n := 0
	for n < len(entries) && entries[n].Rank <= end {
		n++
	}
	entries = entries[:n]
	if int64(n) < r.limit || n == 0 || entries[n-1].Rank >= end {
		return entries, nil
	}
	c := EncodeCursor(entries[n-1].Standing)
	return entries, &c
}

func parsePage(p params) (pageRequest, error) {
	var r pageRequest
	var err error
	if r.limit, err = parseUint(p, "limit", DefaultLimit, 1, MaxLimit); err != nil {
		return r, err
	}
	if r.offset, err = parseUint(p, "offset", 0, 0, MaxOffset); err != nil {
		return r, err
	}
	if cur, ok := p["cursor"]; ok {
		if _, ok := p["offset"]; ok {
			return r, invalid("offset, cursor: give one or the other")
		}
		st, err := DecodeCursor(cur)
		if err != nil {
			return r, err
		}
		r.cursor = &st
	}
	_, hasTop := p["top"]
	_, hasPct := p["top_percent"]
	if hasTop && hasPct {
		return r, invalid("top, top_percent: give one or the other")
	}
	if r.top, err = parseUint(p, "top", 0, 1, MaxOffset); err != nil {
		return r, err
	}
	if hasPct {
		if r.topPercent, err = leaderboard.ParseTopPercent(p["top_percent"]); err != nil {
			return r, err
		}
	}
	return r, nil
}

func (q *queries) rankings(c *gin.Context) {
	ctx := c.Request.Context()
	board, p, w, err := q.windowParams(c, "window", "date", "from", "to", "limit", "offset", "cursor", "top", "top_percent", "source")
	if err != nil {
		abort(c, err)
		return
	}
	src, err := parseSource(p, w.Type != leaderboard.Custom, "custom windows")
	if err != nil {
		abort(c, err)
		return
	}
	req, err := parsePage(p)
	if err != nil {
		abort(c, err)
		return
	}
	// With a cut, a page never needs more than the ranks left in it; the
	// cut itself is applied once the page and its total are read together.
	fetch := req.limit
	if req.top > 0 && req.cursor == nil {
		fetch = max(0, min(fetch, req.top-req.offset))
	}

	var (
		entries []leaderboard.Entry
		total   int64
	)
	used, err := q.readThrough(ctx, board, w, src,
		func(ctx context.Context, h HotReader) (bool, error) {
			var page hotboard.Page
			var err error
			if req.cursor != nil {
				page, err = h.AfterPage(ctx, board, w, *req.cursor, fetch)
			} else {
				page, err = h.RangePage(ctx, board, w, req.offset, fetch)
			}
			entries, total = page.Entries, page.Total
			return total == 0, err
		},
		func(ctx context.Context, agg leaderboard.Aggregation) (bool, error) {
			var err error
			if req.cursor != nil {
				entries, total, err = q.d.Warehouse.StandingsAfter(ctx, board, w, agg, *req.cursor, fetch)
			} else {
				entries, total, err = q.d.Warehouse.StandingsPage(ctx, board, w, agg, fetch, req.offset)
			}
			return total == 0, err
		})
	if err != nil {
		abort(c, err)
		return
	}
	entries, next := req.finish(entries, total)
	c.JSON(http.StatusOK, rankingsJSON{
		LeaderboardID: board, Window: windowOf(w), TotalPlayers: total, Source: used,
		AsOf: leaderboard.FormatTime(q.d.Now()), Entries: entriesOf(entries), NextCursor: next,
	})
}

func (q *queries) player(c *gin.Context) {
	ctx := c.Request.Context()
	board, p, w, err := q.windowParams(c, "window", "date", "from", "to", "context", "source")
	if err != nil {
		abort(c, err)
		return
	}
	player, err := playerParam(c)
	if err != nil {
		abort(c, err)
		return
	}
	src, err := parseSource(p, w.Type != leaderboard.Custom, "custom windows")
	if err != nil {
		abort(c, err)
		return
	}
	around, err := parseUint(p, "context", DefaultContext, 0, MaxContextSize)
	if err != nil {
		abort(c, err)
		return
	}

	var res warehouse.Around
	used, err := q.readThrough(ctx, board, w, src,
		func(ctx context.Context, h HotReader) (bool, error) {
			r, err := h.AroundView(ctx, board, w, player, around)
			res = warehouse.Around{Total: r.Total, Found: r.Found, Me: r.Me, Above: r.Above, Below: r.Below}
			return r.Total == 0, err
		},
		func(ctx context.Context, agg leaderboard.Aggregation) (bool, error) {
			var err error
			res, err = q.d.Warehouse.PlayerAround(ctx, board, w, agg, player, around)
			return !res.Found, err
		})
	if err != nil {
		abort(c, err)
		return
	}
	if !res.Found {
		abort(c, fmt.Errorf("%w: player %q has no accepted event on leaderboard %s in this window", leaderboard.ErrNotFound, player, board))
		return
	}
	c.JSON(http.StatusOK, playerJSON{
		LeaderboardID: board, Window: windowOf(w), TotalPlayers: res.Total, Source: used,
		AsOf:   leaderboard.FormatTime(q.d.Now()),
		Player: playerEntryJSON{entriesOf([]leaderboard.Entry{res.Me})[0], leaderboard.Percentile(res.Me.Rank, res.Total)},
		Above:  entriesOf(res.Above), Below: entriesOf(res.Below),
	})
}

type playerEventJSON struct {
	EventID         string          `json:"event_id"`
	Score           int64           `json:"score"`
	OccurredAt      string          `json:"occurred_at"`
	Metadata        json.RawMessage `json:"metadata"` // null when absent
	Partition       int32           `json:"partition"`
	Offset          int64           `json:"offset"`
	RecordTimestamp string          `json:"record_timestamp"`
}

type conflictJSON struct {
	EventID           string          `json:"event_id"`
	Partition         int32           `json:"partition"`
	Offset            int64           `json:"offset"`
	Score             int64           `json:"score"`
	OccurredAt        string          `json:"occurred_at"`
	Metadata          json.RawMessage `json:"metadata"`
	RecordTimestamp   string          `json:"record_timestamp"`
	AcceptedPartition int32           `json:"accepted_partition"`
	AcceptedOffset    int64           `json:"accepted_offset"`
}

type playerEventsJSON struct {
	LeaderboardID string            `json:"leaderboard_id"`
	PlayerID      string            `json:"player_id"`
	Window        WindowJSON        `json:"window"`
	Source        Source            `json:"source"`
	AsOf          string            `json:"as_of"`
	Events        []playerEventJSON `json:"events"`
	Conflicts     []conflictJSON    `json:"conflicts"`
}

func rawMeta(s string) json.RawMessage {
	if s == "" || !json.Valid([]byte(s)) {
		return json.RawMessage("null")
	}
	return json.RawMessage(s)
}

func (q *queries) playerEvents(c *gin.Context) {
	ctx := c.Request.Context()
	board, p, w, err := q.windowParams(c, "window", "date", "from", "to", "source")
	if err != nil {
		abort(c, err)
		return
	}
	player, err := playerParam(c)
	if err != nil {
		abort(c, err)
		return
	}
	if _, err := parseSource(p, false, "player events"); err != nil {
		abort(c, err)
		return
	}
	_, defined, err := q.aggregation(ctx, board)
	if err != nil {
		abort(c, err)
		return
	}
	events, err := q.d.Warehouse.PlayerEvents(ctx, board, w, player)
	if err == nil && len(events) == 0 {
		err = q.checkKnown(ctx, board, defined)
	}
	var conflicts []warehouse.Conflict
	if err == nil && len(events) > 0 {
		conflicts, err = q.d.Warehouse.Conflicts(ctx, board, player)
	}
	if err != nil {
		abort(c, q.chErr(ctx, err))
		return
	}
	out := playerEventsJSON{LeaderboardID: board, PlayerID: player, Window: windowOf(w), Source: SourceClickHouse,
		AsOf: leaderboard.FormatTime(q.d.Now()), Events: make([]playerEventJSON, 0, len(events)), Conflicts: []conflictJSON{}}
	inWindow := make(map[string]bool, len(events))
	for _, e := range events {
		inWindow[e.EventID] = true
		out.Events = append(out.Events, playerEventJSON{EventID: e.EventID, Score: e.Score, OccurredAt: leaderboard.FormatTime(e.OccurredAt),
			Metadata: rawMeta(e.Metadata), Partition: e.Partition, Offset: e.Offset, RecordTimestamp: leaderboard.FormatTime(e.RecordTime)})
	}
	// The conflicts of the events listed: later deliveries of their
	// identities that were recorded, never applied.
	for _, cf := range conflicts {
		if !inWindow[cf.EventID] {
			continue
		}
		out.Conflicts = append(out.Conflicts, conflictJSON{EventID: cf.EventID, Partition: cf.Partition, Offset: cf.Offset, Score: cf.Score,
			OccurredAt: leaderboard.FormatTime(cf.OccurredAt), Metadata: rawMeta(cf.Metadata), RecordTimestamp: leaderboard.FormatTime(cf.RecordTime),
			AcceptedPartition: cf.AcceptedPartition, AcceptedOffset: cf.AcceptedOffset})
	}
	c.JSON(http.StatusOK, out)
}
