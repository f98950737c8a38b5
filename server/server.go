// Package server is `gpumeter run` without the collector: the schedule
// (hourly aggregation, daily idle scan, monthly reports) and the HTTP API.
package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/aggregator"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/ledger"
	"github.com/nipa-gpu/gpumeter/ingest"
	"github.com/nipa-gpu/gpumeter/publish"
	"github.com/nipa-gpu/gpumeter/store"
)

// Service runs the scheduled jobs and serves the API over one store.
type Service struct {
	Store    store.Store
	Config   config.Config
	Log      *zap.Logger
	Version  string
	Registry *prometheus.Registry

	mu         sync.Mutex // one job at a time
	runs       *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	ingest        *ingest.Ingester
	ingestMetrics *ingest.Metrics
	principals *principals
	months     *months
	ackMu      sync.Mutex // one acknowledgement at a time, so that a repeat is seen as one
	addr       string     // where the API listens, once it does
}

// New makes a service and registers its metrics with reg.
func New(st store.Store, cfg config.Config, log *zap.Logger, version string, reg *prometheus.Registry) *Service {
	s := &Service{Store: st, Config: cfg, Log: log, Version: version, Registry: reg,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gpumeter_job_runs_total",
			Help: "Scheduled job runs by job and outcome."}, []string{"job", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gpumeter_job_duration_seconds",
			Help: "Scheduled job durations.", Buckets: prometheus.ExponentialBuckets(0.1, 4, 8)}, []string{"job"}),
	}
	s.ingestMetrics = ingest.NewMetrics(reg)
	s.ingest = ingest.New(st, s.ingestMetrics, log)
	reg.MustRegister(s.runs, s.duration)
	s.principals = newPrincipals(cfg.Principals)
	s.months = newMonths(buildLedger(s), log)
	return s
}

// job wraps a scheduled job: one at a time, logged and counted.
func (s *Service) job(name string, fn func(ctx context.Context) error) func() {
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
func (s *Service) Aggregate(ctx context.Context) error {
	agg := aggregator.New(s.Store, s.Config, s.Log)
	_, err := agg.Update(ctx, time.Now())
	return err
}

// TrackIdle records the idle flags as of the end of the last whole hour,
// once an hour: what GET /api/v1/idle serves.
func (s *Service) TrackIdle(ctx context.Context) error {
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
func (s *Service) IdleScan(ctx context.Context) error {
	if err := s.TrackIdle(ctx); err != nil {
		return err
	}
	return s.sendOpenFlags(ctx)
}

// sendOpenFlags sends the portal the flags that are open and not yet
// acknowledged, each once.
func (s *Service) sendOpenFlags(ctx context.Context) error {
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
func (s *Service) MonthlyReport(ctx context.Context) error {
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

// Run schedules the jobs, serves the API at server.listen, and runs
// collect until ctx ends; then it lets a running job finish and stops.
func (s *Service) Run(ctx context.Context, collect func(context.Context) error) error {
	sched := cron.New(cron.WithLocation(s.Config.Location()))
	for _, job := range []struct {
		name, spec string
		fn         func(context.Context) error
	}{
		{"aggregate", s.Config.Schedule.Aggregate, func(ctx context.Context) error {
			if err := s.Aggregate(ctx); err != nil {
				return err
			}
			return s.TrackIdle(ctx)
		}},
		{"idle_scan", s.Config.Schedule.IdleScan, s.IdleScan},
		{"monthly_report", s.Config.Schedule.MonthlyReport, s.MonthlyReport},
	} {
		if job.spec == "" {
			continue
		}
		if _, err := sched.AddFunc(job.spec, s.job(job.name, job.fn)); err != nil {
			return fmt.Errorf("schedule.%s: %w", job.name, err)
		}
		s.Log.Info("scheduled", zap.String("job", job.name), zap.String("cron", job.spec), zap.String("tz", s.Config.Timezone))
	}
	srv, err := s.listen()
	if err != nil {
		return err
	}
	sched.Start()
	go s.job("idle_track", s.TrackIdle)() // so that a fresh start has flags to serve within the hour
	err = collect(ctx)
	<-sched.Stop().Done() // let a running job finish
	if srv != nil {
		shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}
	s.Log.Info("stopped")
	return err
}

// listen starts serving the API at server.listen: on a loopback address, or
// anywhere with TLS; "" serves nothing.
func (s *Service) listen() (*http.Server, error) {
	sc := s.Config.Server
	if sc.Listen == "" {
		return nil, nil
	}
	host, _, err := net.SplitHostPort(sc.Listen)
	if err != nil {
		return nil, fmt.Errorf("server.listen %s: %w", sc.Listen, err)
	}
	useTLS := sc.TLSCert != ""
	if !useTLS && !config.IsLoopback(host) {
		return nil, fmt.Errorf("server.listen %s: serving beyond this machine needs TLS: set server.tls_cert and server.tls_key, or listen on 127.0.0.1", sc.Listen)
	}
	ln, err := net.Listen("tcp", sc.Listen)
	if err != nil {
		return nil, fmt.Errorf("server.listen %s: %w", sc.Listen, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: zap.NewStdLog(s.Log)}
	scheme := "http"
	if useTLS {
		cert, err := tls.LoadX509KeyPair(sc.TLSCert, sc.TLSKey)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("server.tls_cert %s, server.tls_key %s: %w", sc.TLSCert, sc.TLSKey, err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		scheme = "https"
		go srv.ServeTLS(ln, "", "")
	} else {
		go srv.Serve(ln)
	}
	s.addr = ln.Addr().String()
	s.Log.Info("HTTP API", zap.String("url", scheme+"://"+s.addr))
	return srv, nil
}
