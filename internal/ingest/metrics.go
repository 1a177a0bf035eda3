package ingest

import "github.com/prometheus/client_golang/prometheus"

// Metrics of the ingestion path.
type Metrics struct {
	consumed     prometheus.Counter
	outcomes     *prometheus.CounterVec
	rejected     *prometheus.CounterVec
	lag          *prometheus.GaugeVec
	applyTime    prometheus.Histogram
	freshness    prometheus.Histogram
	produceLag   prometheus.Histogram
	retries      *prometheus.CounterVec
	paused       prometheus.Gauge
	httpEvents   *prometheus.CounterVec
	dlqProduced  prometheus.Counter
	aggConflicts prometheus.Counter
}

// NewMetrics registers the ingestion metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	latency := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	m := &Metrics{
		consumed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leaderboard_records_consumed_total", Help: "Score-event records consumed by the service."}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderboard_records_applied_total",
			Help: "Valid records by what the hot store did with them: applied, duplicate, redelivered, conflict, stale."},
			[]string{"outcome"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderboard_records_rejected_total", Help: "Invalid records sent to the DLQ, by reason."},
			[]string{"reason"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "leaderboard_consumer_lag", Help: "Records behind the partition's high watermark after the last fetch."},
			[]string{"partition"}),
		applyTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "leaderboard_batch_apply_seconds", Help: "Time to apply one polled batch to Valkey (DLQ included).", Buckets: latency}),
		freshness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "leaderboard_event_freshness_seconds", Help: "now - occurred_at when an event is applied.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 3600, 86400}}),
		produceLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "leaderboard_produce_to_apply_seconds", Help: "now - Kafka record timestamp when an event is applied.", Buckets: latency}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderboard_consumer_retries_total", Help: "Retries of a batch step after a failure, by step."},
			[]string{"step"}),
		paused: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "leaderboard_consumer_paused", Help: "1 while fetching is paused because a store is failing."}),
		httpEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "leaderboard_http_events_total", Help: "Events received by POST /events, by result (accepted, rejected)."},
			[]string{"result"}),
		dlqProduced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leaderboard_dlq_produced_total", Help: "Records written to the dead-letter topic."}),
		aggConflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "leaderboard_board_aggregation_conflicts_total",
			Help: "Batches applied with the hot board's aggregation because the board was redefined after its first events."}),
	}
	reg.MustRegister(m.aggConflicts, m.consumed, m.outcomes, m.rejected, m.lag, m.applyTime, m.freshness, m.produceLag,
		m.retries, m.paused, m.httpEvents, m.dlqProduced)
	return m
}
