package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

type dependencyJSON struct {
	Status    string  `json:"status"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

type healthJSON struct {
	Status          string                      `json:"status"`
	Dependencies    map[string]dependencyJSON   `json:"dependencies"`
	ConsumedOffsets map[string]map[string]int64 `json:"consumed_offsets"`
}

// overall is ok when every dependency is up, down when no store can serve
// reads (neither Valkey nor ClickHouse), degraded otherwise.
func (s *Server) overall() (string, map[string]dependencyJSON) {
	snap := s.deps.Health.Snapshot()
	deps := make(map[string]dependencyJSON, len(snap))
	allUp := true
	for name, st := range snap {
		d := dependencyJSON{Status: "up", LatencyMS: st.LatencyMS}
		if !st.Up {
			d.Status, d.Error, allUp = "down", st.Error, false
		}
		deps[name] = d
	}
	switch {
	case allUp:
		return "ok", deps
	case !snap["valkey"].Up && !snap["clickhouse"].Up:
		return "down", deps
	default:
		return "degraded", deps
	}
}

func (s *Server) health(c *gin.Context) {
	status, deps := s.overall()
	body := healthJSON{Status: status, Dependencies: deps, ConsumedOffsets: map[string]map[string]int64{}}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	for name, fn := range map[string]OffsetsFunc{"service": s.deps.ServiceOffsets, "clickhouse": s.deps.ClickHouseOffset} {
		if fn == nil {
			continue
		}
		offsets, err := fn(ctx)
		if err != nil {
			continue // the dependency's status already says why
		}
		m := make(map[string]int64, len(offsets))
		for p, o := range offsets {
			m[strconv.Itoa(int(p))] = o
		}
		body.ConsumedOffsets[name] = m
	}
	code := http.StatusOK
	if status == "down" {
		code = http.StatusServiceUnavailable
	}
	c.JSON(code, body)
}

func (s *Server) readyz(c *gin.Context) {
	if s.deps.Ready != nil && !s.deps.Ready() {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "starting"})
		return
	}
	if status, _ := s.overall(); status == "down" {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": status})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}
