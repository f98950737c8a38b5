package server

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/aggregator"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/ledger"
	"github.com/nipa-gpu/gpumeter/publish"
	"github.com/nipa-gpu/gpumeter/store"
)

// Jobs are the scheduled work of `gpumeter run`, one at a time: the hourly
// aggregation and idle evaluation, the daily idle scan, the monthly report.
type Jobs struct {
	Store   store.Store
	Config  config.Config
	Log     *zap.Logger
	Version string

	mu       sync.Mutex // one job at a time
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newJobs(st store.Store, cfg config.Config, log *zap.Logger, version string, reg prometheus.Registerer) *Jobs {
	s := &Jobs{Store: st, Config: cfg, Log: log, Version: version,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gpumeter_job_runs_total",
			Help: "Scheduled job runs by job and outcome."}, []string{"job", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gpumeter_job_duration_seconds",
			Help: "Scheduled job durations.", Buckets: prometheus.ExponentialBuckets(0.1, 4, 8)}, []string{"job"}),
	}
	reg.MustRegister(s.runs, s.duration)
	return s
}

// job wraps a scheduled job: one at a time, logged and counted.
func (s *Jobs) job(name string, fn func(ctx context.Context) error) func() {
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		start := time.Now()
		err := fn(context.Background())
		outcome := "ok"
		if err != nil {
			outcome = "error"
			s.Log.Error("job failed", zap.String("job", name), zap.Error(err))
		} else {
			s.Log.Info("job done", zap.String("job", name), zap.Duration("took", time.Since(start)))
		}
		s.runs.WithLabelValues(name, outcome).Inc()
		s.duration.WithLabelValues(name).Observe(time.Since(start).Seconds())
	}
}

// Aggregate brings the rollups up to date.
func (s *Jobs) Aggregate(ctx context.Context) error {
	agg := aggregator.New(s.Store, s.Config, s.Log)
	_, err := agg.Update(ctx, time.Now())
	return err
}

// TrackIdle records the idle flags as of the end of the last whole hour,
// once an hour: what GET /api/v1/idle serves.
func (s *Jobs) TrackIdle(ctx context.Context) error {
	at := time.Now().Truncate(time.Hour)
	last, ok, err := store.LastIdleEvaluation(ctx, s.Store)
	if err != nil || (ok && !last.Before(at)) {
		return err
	}
	flags, err := publish.Track(ctx, s.Store, s.Config, at, s.Log)
	if err != nil {
		return err
	}
	open := 0
	for _, f := range flags {
		if f.Open() {
			open++
		}
	}
	s.Log.Info("idle flags evaluated", zap.Time("at", at), zap.Int("open", open), zap.Int("closed", len(flags)-open))
	return nil
}

// IdleScan sends the portal the open flags it has not had yet, as of the
// hourly evaluation (made now if this hour's is not).
func (s *Jobs) IdleScan(ctx context.Context) error {
	if err := s.TrackIdle(ctx); err != nil {
		return err
	}
	return s.sendOpenFlags(ctx)
}

// sendOpenFlags sends the portal the flags that are open and not yet
// acknowledged, each once.
func (s *Jobs) sendOpenFlags(ctx context.Context) error {
	tracked, err := store.TrackedFlags(ctx, s.Store, store.FlagFilter{Open: true})
	if err != nil {
		return err
	}
	acks, err := store.Acks(ctx, s.Store, nil)
	if err != nil {
		return err
	}
	var flags []gpumeter.IdleFlag
	for _, t := range tracked {
		if t.Status(acks[t.FlagID]) == gpumeter.FlagOpen {
			flags = append(flags, t.IdleFlag)
		}
	}
	n, err := publish.SendIdle(ctx, s.Store, s.Config, flags, s.Log)
	s.Log.Info("idle scan", zap.Int("flags", len(flags)), zap.Int("sent", n))
	return err
}

// MonthlyReport issues last month's reports, NIPA's and each provider's, as
// workbook and JSON in schedule.report_dir.
func (s *Jobs) MonthlyReport(ctx context.Context) error {
	now := time.Now()
	local := now.In(s.Config.Location())
	month := time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, local.Location()).AddDate(0, -1, 0).Format("2006-01")
	for _, p := range append([]string{""}, slices.Sorted(maps.Keys(s.Config.Providers))...) {
		iss, err := publish.Publish(ctx, s.Store, s.Config, publish.Request{Scope: ledger.Scope{Month: month, Provider: p, Now: now},
			Version: s.Version, Log: s.Log})
		if err != nil {
			return err
		}
		files, err := iss.WriteFiles(s.Config.Schedule.ReportDir, "ko")
		if err != nil {
			return err
		}
		s.Log.Info("monthly report written", zap.Strings("files", files), zap.Int("figures_changed", len(iss.Changes)))
	}
	return nil
}
