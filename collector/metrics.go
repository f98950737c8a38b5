package collector

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the collector's own, served at /metrics.
type Metrics struct {
	Scrapes        *prometheus.CounterVec   // target, outcome
	ScrapeDuration *prometheus.HistogramVec // outcome
	TargetUp       *prometheus.GaugeVec     // target
	Overlaps       *prometheus.CounterVec   // target: a scrape skipped because the last one still ran
	SamplesParsed  prometheus.Counter
	SamplesWritten prometheus.Counter
	InvalidValues  *prometheus.CounterVec // field, reason
	TimeSliced     prometheus.Counter
	WriteErrors    prometheus.Counter
	WriteRetries   prometheus.Counter
	SpoolBytes     prometheus.Gauge
	SpoolOldestAge prometheus.Gauge
	SpoolDropped   prometheus.Counter
	Lag            prometheus.Gauge
	Refused        *prometheus.CounterVec // provider, reason: samples of another provider's GPU, never stored
	Dropped        prometheus.Counter     // samples a remote-write endpoint refused for good (4xx)
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
		InvalidValues: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gpumeter_invalid_values_total",
			Help: "Values dropped as missing: blank sentinels, out-of-range readings, series without a UUID."},
			[]string{"field", "reason"}),
		TimeSliced: prometheus.NewCounter(prometheus.CounterOpts{Name: "gpumeter_timesliced_copies_total",
			Help: "Per-pod copies of one device value (time-slicing), taken once."}),
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
	m.Refused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gpumeter_refused_samples_total",
		Help: "Samples of targets listed for a provider whose GPU was not in that provider's inventory at the time (foreign_gpu, unknown_gpu): never stored."},
		[]string{"provider", "reason"})
	m.Dropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "gpumeter_remote_write_dropped_samples_total",
		Help: "Samples the remote-write endpoint refused with a 4xx: logged and not retried."})
	reg.MustRegister(m.Refused, m.Dropped, m.Scrapes, m.ScrapeDuration, m.TargetUp, m.Overlaps, m.SamplesParsed, m.SamplesWritten,
		m.InvalidValues, m.TimeSliced, m.WriteErrors, m.WriteRetries, m.SpoolBytes, m.SpoolOldestAge, m.SpoolDropped, m.Lag)
	return m
}

func (m *Metrics) countParse(stats ParseStats) {
	for f, reasons := range stats.Invalid {
		for r, n := range reasons {
			m.InvalidValues.WithLabelValues(f, r).Add(float64(n))
		}
	}
	m.TimeSliced.Add(float64(stats.Copies))
}
