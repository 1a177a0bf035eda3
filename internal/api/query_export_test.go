package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/api"
	"example.com/leaderboard/internal/leaderboard"
)

// failingExporter counts like the fake warehouse and fails its export
// after `after` entries with err (or, when err is nil, with the context's
// error once the context ends).
type failingExporter struct {
	*fakeWH
	after int
	err   error
}

func (f failingExporter) Export(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation, fn func(leaderboard.Entry) error) error {
	n := 0
	err := f.fakeWH.Export(ctx, board, w, agg, func(e leaderboard.Entry) error {
		if n == f.after {
			return errors.New("stop")
		}
		n++
		return fn(e)
	})
	if err == nil || err.Error() != "stop" {
		return err
	}
	if f.err != nil {
		return f.err
	}
	<-ctx.Done()
	return ctx.Err()
}

// How an export that fails is answered: before the first byte the error is
// the answer (a store failure is 503, never a bare 500); a client that
// left is recorded as 499, not as a server error.
func TestExportFailures(t *testing.T) {
	boards := memBoards{"b1": boardOfSize(3)}
	cases := []struct {
		name     string
		exporter failingExporter
		leave    bool // the client goes away during the export
		status   int
		code     string
	}{
		{"store fails before the first entry", failingExporter{after: 0, err: errors.New("clickhouse: connection reset")}, false, http.StatusServiceUnavailable, "unavailable"},
		{"store fails after some entries", failingExporter{after: 2, err: errors.New("clickhouse: connection reset")}, false, http.StatusServiceUnavailable, "unavailable"},
		{"total out of range met during the export", failingExporter{after: 1, err: leaderboard.ErrTotalOutOfRange}, false, http.StatusUnprocessableEntity, "total_out_of_range"},
		{"client leaves", failingExporter{after: 1}, true, 499, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wh := &fakeWH{boards: boards}
			tc.exporter.fakeWH = wh
			srv := newBareServer()
			srv.RegisterQueries(api.QueryDeps{Hot: &fakeHot{boards: boards}, Warehouse: wh, Exporter: tc.exporter, Now: func() time.Time { return fakeNow }})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.leave {
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/leaderboards/b1/export?window=daily", nil)
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, req)
			// The entries are buffered, so nothing was sent before the failure.
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.code != "" {
				code := errorCode(t, rec)
				assert.Equal(t, tc.code, code)
			} else {
				assert.Empty(t, rec.Body.String())
			}
		})
	}
}
