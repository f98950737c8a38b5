package ingest

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count every sample on its way in, whatever its source. A process
// that both collects and serves pushes (gpumeter run) has one set: NewMetrics
// on a registry that has them already returns those.
type Metrics struct {
	stored  *prometheus.CounterVec // source, provider
	refused *prometheus.CounterVec // source, provider, reason
	invalid *prometheus.CounterVec // source, provider, field, reason
	copies  *prometheus.CounterVec // source
}

// NewMetrics registers the ingestion metrics with reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	return &Metrics{
		stored: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gpumeter_ingested_samples_total",
			Help: "Per-GPU samples stored, by source (scrape, remote_write, import, demo) and the provider the source speaks for (\"\" NIPA's own)."},
			[]string{"source", "provider"})),
		refused: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gpumeter_refused_samples_total",
			Help: "Per-GPU samples refused and never stored, by source, provider and reason (foreign_gpu, unknown_gpu, bad_timestamp, too_old, too_new, conflict)."},
			[]string{"source", "provider", "reason"})),
		invalid: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gpumeter_invalid_values_total",
			Help: "Values dropped as missing, by source, provider, field and reason: blank sentinels, out-of-range readings, series without a UUID, labels too long or not text."},
			[]string{"source", "provider", "field", "reason"})),
		copies: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gpumeter_timesliced_copies_total",
			Help: "Per-pod copies of one device value (time-slicing), taken once, by source."}, []string{"source"})),
	}
}

// CountParse counts what a source speaking for provider dropped while
// reading its samples, before they came to Write: invalid values by field
// and reason, and the copies of one device value that time-slicing repeats.
func (m *Metrics) CountParse(source Source, provider string, invalid map[string]map[string]int, copies int) {
	for field, reasons := range invalid {
		for reason, n := range reasons {
			m.invalid.WithLabelValues(string(source), provider, field, reason).Add(float64(n))
		}
	}
	m.copies.WithLabelValues(string(source)).Add(float64(copies))
}

// Stored and Refused read the counters (tests, and the bench).
func (m *Metrics) Stored(source Source, provider string) prometheus.Counter {
	return m.stored.WithLabelValues(string(source), provider)
}

func (m *Metrics) Refused(source Source, provider, reason string) prometheus.Counter {
	return m.refused.WithLabelValues(string(source), provider, reason)
}

func (m *Metrics) Invalid(source Source, provider, field, reason string) prometheus.Counter {
	return m.invalid.WithLabelValues(string(source), provider, field, reason)
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) {
			if existing, ok := already.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}
