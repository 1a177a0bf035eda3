package api

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"example.com/leaderboard/internal/leaderboard"
)

// Exporter streams a window's entries in rank order (*warehouse.Store).
type Exporter interface {
	Export(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation, fn func(leaderboard.Entry) error) error
	Count(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation) (int64, error)
}

// CanonicalLine is an entry's canonical line (contract section 5), without
// the newline: {"rank":R,"player_id":"...","score":S,"reached_at":"..."}.
// player_id is escaped as encoding/json does without HTML escaping: '"',
// '\\' and control characters are escaped (\n, \r, \t, \uXXXX), U+2028 and
// U+2029 as \u2028 and \u2029, everything else is kept as UTF-8.
func CanonicalLine(dst []byte, e leaderboard.Entry) []byte {
	dst = append(dst, `{"rank":`...)
	dst = strconv.AppendInt(dst, e.Rank, 10)
	dst = append(dst, `,"player_id":`...)
	dst = appendJSONString(dst, e.PlayerID)
	dst = append(dst, `,"score":`...)
	dst = strconv.AppendInt(dst, e.Score, 10)
	dst = append(dst, `,"reached_at":"`...)
	dst = append(dst, leaderboard.FormatTime(e.ReachedAt)...)
	return append(dst, `"}`...)
}

func appendJSONString(dst []byte, s string) []byte {
	var b jsonBuf
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)                   // a string always encodes
	return append(dst, b[:len(b)-1]...) // without Encode's newline
}

type jsonBuf []byte

func (b *jsonBuf) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// exportFlushEvery bounds how many entries wait in the buffer before they
// are pushed to the client.
const exportFlushEvery = 4096

func (q *queries) export(c *gin.Context) {
	ctx := c.Request.Context()
	board, p, w, err := q.windowParams(c, "window", "date", "from", "to", "format", "source")
	if err != nil {
		abort(c, err)
		return
	}
	if _, err := parseSource(p, false, "exports"); err != nil {
		abort(c, err)
		return
	}
	format := p["format"]
	switch format {
	case "":
		format = "ndjson"
	case "ndjson", "csv":
	default:
		abort(c, invalid("format: must be one of ndjson, csv"))
		return
	}
	if q.d.Exporter == nil {
		abort(c, fmt.Errorf("%w: clickhouse is not configured", leaderboard.ErrUnavailable))
		return
	}
	agg, defined, err := q.aggregation(ctx, board)
	if err != nil {
		abort(c, err)
		return
	}
	// Before the first byte: a total out of range is a 422, an unknown
	// board a 404, ClickHouse down a 503. After it, an error can only cut
	// the stream short: the trailer is missing and the client knows.
	n, err := q.d.Exporter.Count(ctx, board, w, agg)
	if err == nil && n == 0 {
		err = q.checkKnown(ctx, board, defined)
	}
	if err != nil {
		abort(c, q.chErr(ctx, err))
		return
	}

	name := board + "-" + string(w.Type)
	if w.Type != leaderboard.AllTime {
		name += "-" + w.Start.Format("20060102T150405Z")
	}
	if format == "csv" {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	} else {
		c.Header("Content-Type", "application/x-ndjson")
		c.Header("Content-Disposition", `attachment; filename="`+name+`.ndjson"`)
	}
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)

	out := &exportWriter{w: bufio.NewWriterSize(c.Writer, 64<<10), flusher: c.Writer, sum: sha256.New(), csv: format == "csv"}
	if out.csv {
		out.cw = csv.NewWriter(out.w)
		out.cw.Write([]string{"rank", "player_id", "score", "reached_at"})
	}
	err = q.d.Exporter.Export(ctx, board, w, agg, out.entry)
	if err == nil {
		err = out.trailer()
	}
	switch {
	case err == nil:
	case ctx.Err() != nil || errors.Is(err, errClientGone):
		// Nobody to answer: not a server error. 499 (as nginx counts it)
		// when nothing was sent yet, else the 200 already on the wire.
		q.s.log.DebugContext(ctx, "export stopped: the client went away", "board", board, "window", w.Key(), "entries", out.count)
		if !c.Writer.Written() {
			c.Status(statusClientClosed)
		}
	default:
		// Once bytes are sent, the stream ends without its trailer; before,
		// the error is the answer.
		q.s.log.WarnContext(ctx, "export cut short", "board", board, "window", w.Key(), "entries", out.count, "err", err)
		_ = c.Error(q.chErr(ctx, err))
	}
}

// statusClientClosed is recorded for a request whose client left before
// any answer.
const statusClientClosed = 499

var errClientGone = errors.New("export: the client went away")

type exportWriter struct {
	w       *bufio.Writer
	flusher http.Flusher
	cw      *csv.Writer
	csv     bool
	sum     hash.Hash
	line    []byte
	count   int64
	row     [4]string
}

func (x *exportWriter) entry(e leaderboard.Entry) error {
	x.line = CanonicalLine(x.line[:0], e)
	x.line = append(x.line, '\n')
	x.sum.Write(x.line)
	x.count++
	if x.csv {
		x.row = [4]string{strconv.FormatInt(e.Rank, 10), e.PlayerID, strconv.FormatInt(e.Score, 10), leaderboard.FormatTime(e.ReachedAt)}
		if err := x.cw.Write(x.row[:]); err != nil {
			return errClientGone
		}
	} else if _, err := x.w.Write(x.line); err != nil {
		return errClientGone
	}
	if x.count%exportFlushEvery == 0 {
		return x.flush()
	}
	return nil
}

func (x *exportWriter) flush() error {
	if x.csv {
		x.cw.Flush()
		if x.cw.Error() != nil {
			return errClientGone
		}
	}
	if err := x.w.Flush(); err != nil {
		return errClientGone
	}
	x.flusher.Flush()
	return nil
}

func (x *exportWriter) trailer() error {
	digest := hex.EncodeToString(x.sum.Sum(nil))
	if x.csv {
		x.cw.Flush()
		if x.cw.Error() != nil {
			return errClientGone
		}
		fmt.Fprintf(x.w, "# count=%d sha256=%s\n", x.count, digest)
	} else {
		fmt.Fprintf(x.w, `{"count":%d,"sha256":"%s"}`+"\n", x.count, digest)
	}
	return x.flush()
}

var _ io.Writer = (*jsonBuf)(nil)
