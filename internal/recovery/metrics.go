package recovery

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are recovery's Prometheus metrics.
type Metrics struct {
	rebuilds       *prometheus.CounterVec
	rebuildSeconds *prometheus.HistogramVec
	warmups        *prometheus.CounterVec
	warmupSeconds  prometheus.Gauge
	warmupMissing  prometheus.Gauge
	reconciles     *prometheus.CounterVec
	differing      prometheus.Gauge
	unrepaired     prometheus.Gauge
	countDiff      *prometheus.GaugeVec
	mismatch       *prometheus.GaugeVec
}

// NewMetrics registers recovery's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rebuilds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderboard_rebuilds_total", Help: "Hot-window rebuilds from ClickHouse, by trigger and result.",
		}, []string{"trigger", "result"}),
		rebuildSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "leaderboard_rebuild_seconds", Help: "Duration of hot-window rebuilds.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 9),
		}, []string{"trigger"}),
		warmups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderboard_warmup_windows_total", Help: "Hot windows of active boards checked by warm-ups, by result (cached, rebuilt, failed, skipped).",
		}, []string{"result"}),
		warmupSeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leaderboard_warmup_last_seconds", Help: "Duration of the last warm-up.",
		}),
		warmupMissing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leaderboard_warmup_last_unfinished", Help: "Windows the last warm-up left missing (failed or out of time).",
		}),
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderboard_reconcile_runs_total", Help: "Reconciliation runs, by result (ok, repaired, unrepaired, failed).",
		}, []string{"result"}),
		differing: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leaderboard_reconcile_differing_windows", Help: "Hot windows that differed from ClickHouse at aligned offsets in the last reconciliation (before repair).",
		}),
		unrepaired: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leaderboard_reconcile_unrepaired_windows", Help: "Hot windows still differing from ClickHouse after the last reconciliation's repairs.",
		}),
		countDiff: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leaderboard_reconcile_player_count_difference", Help: "Ranked players in Valkey minus in ClickHouse at aligned offsets, per board and hot window (daily, daily-1, weekly, weekly-1, alltime, ...), last reconciliation (before repair).",
		}, []string{"board", "window"}),
		mismatch: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leaderboard_reconcile_mismatch", Help: "1 when the hot window's ranking differed from ClickHouse's at aligned offsets in the last reconciliation (before repair), else 0; labels as leaderboard_reconcile_player_count_difference.",
		}, []string{"board", "window"}),
	}
	reg.MustRegister(m.rebuilds, m.rebuildSeconds, m.warmups, m.warmupSeconds, m.warmupMissing,
		m.reconciles, m.differing, m.unrepaired, m.countDiff, m.mismatch)
	return m
}

func (m *Metrics) observeRebuild(trigger string, err error, took time.Duration) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "failed"
	}
	m.rebuilds.WithLabelValues(trigger, result).Inc()
	m.rebuildSeconds.WithLabelValues(trigger).Observe(took.Seconds())
}
