package collector

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/nipa-gpu/gpumeter/ingest"
)

// Metrics are the collector's own, served at /metrics.
type Metrics struct {
	Scrapes        *prometheus.CounterVec   // target, outcome
	ScrapeDuration *prometheus.HistogramVec // outcome
	TargetUp       *prometheus.GaugeVec     // target
	Overlaps       *prometheus.CounterVec   // target: a scrape skipped because the last one still ran
	SamplesParsed  prometheus.Counter
	SamplesWritten prometheus.Counter
	WriteErrors    prometheus.Counter
	WriteRetries   prometheus.Counter
	SpoolBytes     prometheus.Gauge
	SpoolOldestAge prometheus.Gauge
	SpoolDropped   prometheus.Counter
	Lag            prometheus.Gauge
	Dropped        prometheus.Counter // samples a remote-write endpoint refused for good (4xx)
	// Ingest counts what the scrapes dropped as invalid and, through a
	// StoreSink, what was stored and refused: the metrics every source of
	// samples shares.
	Ingest *ingest.Metrics
}

// NewMetrics registers the collector's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Scrapes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gpumeter_scrapes_total",
			Help: "Scrapes by target and outcome (ok, timeout, refused, http_5xx, http_4xx, empty, too_large, too_many_series, parse_error, no_dcgm, error)."},
			[]string{"target", "outcome"}),
		ScrapeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gpumeter_scrape_duration_seconds",
			Help: "Scrape duration by outcome.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}, []string{"outcome"}),
		TargetUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gpumeter_target_up",
			Help: "1 if the target's last scrape succeeded."}, []string{"target"}),
		Overlaps: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gpumeter_scrape_overlaps_total",
			Help: "Scrapes skipped because the target's previous scrape was still running."}, []string{"target"}),
		SamplesParsed: prometheus.NewCounter(prometheus.CounterOpts{Name: "gpumeter_samples_parsed_total",
			Help: "Per-GPU samples parsed from scrapes."}),
		SamplesWritten: prometheus.NewCounter(prometheus.CounterOpts{Name: "gpumeter_samples_written_total",
			Help: "Samples written to the store (replays included)."}),
		WriteErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "gpumeter_write_errors_total",
			Help: "Failed inserts into the store."}),
		WriteRetries: prometheus.NewCounter(prometheus.CounterOpts{Name: "gpumeter_write_retries_total",
			Help: "Replays of spooled batches attempted."}),
		SpoolBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gpumeter_spool_bytes",
			Help: "Bytes of samples waiting in the on-disk spool."}),
		SpoolOldestAge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gpumeter_spool_oldest_age_seconds",
			Help: "Age of the oldest spooled sample (0 when the spool is empty)."}),
		SpoolDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "gpumeter_spool_dropped_samples_total",
			Help: "Samples dropped because the spool was full (oldest first)."}),
		Lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gpumeter_write_lag_seconds",
			Help: "Age of the newest sample at the time it was written."}),
	}
	m.Dropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "gpumeter_remote_write_dropped_samples_total",
		Help: "Samples the remote-write endpoint refused with a 4xx: logged and not retried."})
	reg.MustRegister(m.Dropped, m.Scrapes, m.ScrapeDuration, m.TargetUp, m.Overlaps, m.SamplesParsed, m.SamplesWritten,
		m.WriteErrors, m.WriteRetries, m.SpoolBytes, m.SpoolOldestAge, m.SpoolDropped, m.Lag)
	m.Ingest = ingest.NewMetrics(reg)
	return m
}
