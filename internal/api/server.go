// Package api is the HTTP face of the service (Gin): routing, bearer-token
// checks, request logging and metrics, the health endpoints, and the single
// mapping from domain errors to the contract's error bodies.
package api

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"example.com/leaderboard/internal/health"
	"example.com/leaderboard/internal/leaderboard"
)

// OffsetsFunc returns, per partition of the score-event topic, the next
// offset a store will consume.
type OffsetsFunc func(ctx context.Context) (map[int32]int64, error)

// Deps is what the API needs from the rest of the service.
type Deps struct {
	Logger           *slog.Logger
	Registry         *prometheus.Registry
	Health           *health.Checker
	ServiceOffsets   OffsetsFunc // nil: not reported
	ClickHouseOffset OffsetsFunc // nil: not reported
	IngestToken      string
	AdminToken       string
	// Ready reports whether start-up finished; nil means ready.
	Ready func() bool
}

// Server is the HTTP API.
type Server struct {
	log    *slog.Logger
	deps   Deps
	engine *gin.Engine

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// New builds the router.
func New(d Deps) *Server {
	gin.SetMode(gin.ReleaseMode)
	s := &Server{log: d.Logger, deps: d}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "leaderboard_http_requests_total",
		Help: "HTTP requests by route, method and status.",
	}, []string{"route", "method", "status"})
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "leaderboard_http_request_duration_seconds",
		Help:    "HTTP request latency by route, method and status.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route", "method", "status"})
	d.Registry.MustRegister(s.requests, s.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	e := gin.New()
	// Player ids may contain '/', so routing works on the raw (still
	// percent-encoded) path and parameters are unescaped afterwards.
	e.UseRawPath = true
	e.UnescapePathValues = true
	e.RemoveExtraSlash = false
	// A wrong path gets the contract's error body, not a redirect.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.Use(s.observe, gin.CustomRecovery(s.recovered), s.errorMiddleware)
	e.NoRoute(func(c *gin.Context) {
		abort(c, fmt.Errorf("%w: no route %s %s", leaderboard.ErrNotFound, c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		c.JSON(http.StatusMethodNotAllowed, errorBody{Error: errorDetail{Code: "method_not_allowed", Message: "method " + c.Request.Method + " is not allowed here"}})
	})

	e.GET("/livez", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", s.readyz)
	e.GET("/health", s.health)
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(d.Registry, promhttp.HandlerOpts{Registry: d.Registry})))
	s.engine = e
	return s
}

// Handler is the http.Handler to serve.
func (s *Server) Handler() http.Handler { return s.engine }

// Engine lets the wiring register further route groups.
func (s *Server) Engine() *gin.Engine { return s.engine }

// RequireIngest protects POST /events when an ingest token is configured.
func (s *Server) RequireIngest() gin.HandlerFunc { return bearer(s.deps.IngestToken) }

// RequireAdmin protects write and admin endpoints when an admin token is configured.
func (s *Server) RequireAdmin() gin.HandlerFunc { return bearer(s.deps.AdminToken) }

func bearer(token string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if token == "" {
			return
		}
		// The scheme is case-insensitive (RFC 9110, section 11.1).
		scheme, got, ok := strings.Cut(c.GetHeader("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			c.Header("WWW-Authenticate", `Bearer realm="leaderboard"`)
			abort(c, fmt.Errorf("%w: missing or wrong bearer token", leaderboard.ErrUnauthorized))
		}
	}
}

// observe logs every request and records its metrics.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := strconv.Itoa(c.Writer.Status())
	elapsed := time.Since(start)
	s.requests.WithLabelValues(route, c.Request.Method, status).Inc()
	s.latency.WithLabelValues(route, c.Request.Method, status).Observe(elapsed.Seconds())
	level := slog.LevelInfo
	if route == "/livez" || route == "/readyz" || route == "/metrics" || route == "/health" {
		level = slog.LevelDebug
	}
	s.log.Log(c.Request.Context(), level, "http request",
		"method", c.Request.Method, "path", c.Request.URL.EscapedPath(), "route", route,
		"status", c.Writer.Status(), "duration_ms", float64(elapsed.Microseconds())/1000,
		"bytes", c.Writer.Size(), "remote", c.ClientIP())
}

func (s *Server) recovered(c *gin.Context, v any) {
	s.log.ErrorContext(c.Request.Context(), "handler panic", "route", c.FullPath(), "panic", fmt.Sprint(v))
	abort(c, fmt.Errorf("panic: %v", v))
}
