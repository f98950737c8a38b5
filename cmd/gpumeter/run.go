package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/aggregator"
	"github.com/nipa-gpu/gpumeter/portal"
	"github.com/nipa-gpu/gpumeter/reports"
)

func newRunCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Collector, schedule (aggregate, idle scan, monthly report) and HTTP API in one process",
		Long: `Runs the collector, and on the schedule of the config's schedule section (cron
expressions in the configured time zone): the hourly aggregation, the daily
idle scan (POSTed to the portal's webhook when one is configured) and the
monthly report of the previous month, written to schedule.report_dir.
The HTTP API at schedule.listen serves /healthz, /metrics,
/api/v1/idle and /api/v1/reports/YYYY-MM.json[?provider=ID].
SIGINT or SIGTERM stops it gracefully: running jobs finish, samples are flushed.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := g.setupMigrated(cmd.Context())
			if err != nil {
				return err
			}
			defer e.close()
			return runAll(cmd.Context(), e)
		},
	}
}

// jobs runs the scheduled work, one job at a time.
type jobs struct {
	e        *env
	mu       sync.Mutex
	runs     *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func (j *jobs) run(name string, fn func(ctx context.Context) error) func() {
	return func() {
		j.mu.Lock()
		defer j.mu.Unlock()
		start := time.Now()
		err := fn(context.Background())
		outcome := "ok"
		if err != nil {
			outcome = "error"
			j.e.log.Error("job failed", zap.String("job", name), zap.Error(err))
		} else {
			j.e.log.Info("job done", zap.String("job", name), zap.Duration("took", time.Since(start)))
		}
		j.runs.WithLabelValues(name, outcome).Inc()
		j.duration.WithLabelValues(name).Observe(time.Since(start).Seconds())
	}
}

func (j *jobs) aggregate(ctx context.Context) error {
	agg := &aggregator.Aggregator{Store: j.e.st, Params: aggregator.ParamsFrom(j.e.cfg), Log: j.e.log}
	_, err := agg.Update(ctx, time.Now())
	return err
}

func (j *jobs) idleScan(ctx context.Context) error {
	flags, err := j.idle(ctx)
	if err != nil {
		return err
	}
	if j.e.cfg.Webhook.URL == "" {
		j.e.log.Info("idle scan", zap.Int("flags", len(flags)))
		return nil
	}
	hook := &portal.Webhook{URL: j.e.cfg.Webhook.URL, Secret: j.e.cfg.Webhook.Secret, Store: j.e.st, Log: j.e.log}
	n, err := hook.Send(ctx, flags)
	j.e.log.Info("idle scan", zap.Int("flags", len(flags)), zap.Int("sent", n))
	return err
}

func (j *jobs) idle(ctx context.Context) ([]reports.IdleFlag, error) {
	return idleFlags(ctx, j.e, time.Now())
}

// monthlyReport writes last month's reports, NIPA's and each provider's, as
// workbook and JSON.
func (j *jobs) monthlyReport(ctx context.Context) error {
	now := time.Now().In(j.e.cfg.Location())
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location()).AddDate(0, -1, 0).Format("2006-01")
	if err := os.MkdirAll(j.e.cfg.Schedule.ReportDir, 0o755); err != nil {
		return err
	}
	for _, p := range append([]string{""}, slices.Sorted(maps.Keys(j.e.cfg.Providers))...) {
		rep, detail, err := reports.BuildDetail(ctx, j.e.st, j.e.cfg, reports.Options{Month: month, Provider: p, Now: time.Now()})
		if err != nil {
			return err
		}
		previous, changes, err := reports.Issue(ctx, j.e.st, rep, p)
		if err != nil {
			return err
		}
		name := "nipa-" + month
		if p != "" {
			name = p + "-" + month
		}
		base := filepath.Join(j.e.cfg.Schedule.ReportDir, name)
		opts := reports.WorkbookOptions{Version: gpumeterVersion(), Config: configText(j.e.cfg, p), Provider: p,
			Changes: changes, Previous: previous, Limits: j.e.cfg.Providers}
		if err := writeOut(nil, base+".xlsx", func(w io.Writer) error { return reports.WriteWorkbook(w, rep, detail, opts) }); err != nil {
			return err
		}
		if err := writeOut(nil, base+".json", func(w io.Writer) error { return encodeJSON(w, rep) }); err != nil {
			return err
		}
		j.e.log.Info("monthly report written", zap.String("path", base+".xlsx"), zap.Int("figures_changed", len(changes)))
	}
	return nil
}

func runAll(ctx context.Context, e *env) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	j := &jobs{e: e,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gpumeter_job_runs_total",
			Help: "Scheduled job runs by job and outcome."}, []string{"job", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gpumeter_job_duration_seconds",
			Help: "Scheduled job durations.", Buckets: prometheus.ExponentialBuckets(0.1, 4, 8)}, []string{"job"}),
	}
	reg.MustRegister(j.runs, j.duration)

	sched := cron.New(cron.WithLocation(e.cfg.Location()))
	for _, job := range []struct {
		name, spec string
		fn         func(context.Context) error
	}{
		{"aggregate", e.cfg.Schedule.Aggregate, j.aggregate},
		{"idle_scan", e.cfg.Schedule.IdleScan, j.idleScan},
		{"monthly_report", e.cfg.Schedule.MonthlyReport, j.monthlyReport},
	} {
		if job.spec == "" {
			continue
		}
		if _, err := sched.AddFunc(job.spec, j.run(job.name, job.fn)); err != nil {
			return fmt.Errorf("schedule.%s: %w", job.name, err)
		}
		e.log.Info("scheduled", zap.String("job", job.name), zap.String("cron", job.spec), zap.String("tz", e.cfg.Timezone))
	}

	var srv *http.Server
	if addr := e.cfg.Schedule.Listen; addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("schedule.listen %s: %w", addr, err)
		}
		srv = &http.Server{Handler: apiHandler(j, reg), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		e.log.Info("HTTP API", zap.String("url", "http://"+ln.Addr().String()))
	}

	sched.Start()
	e.cfg.Collector.Listen = "" // the API serves /metrics for the whole process
	err := runCollectorWith(ctx, e, false, reg)

	<-sched.Stop().Done() // let a running job finish
	if srv != nil {
		shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}
	e.log.Info("stopped")
	return err
}

func apiHandler(j *jobs, reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := j.e.st.Query(r.Context(), "SELECT 1"); err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /api/v1/idle", func(w http.ResponseWriter, r *http.Request) {
		j.mu.Lock()
		flags, err := j.idle(r.Context())
		j.mu.Unlock()
		respond(w, flags, err)
	})
	mux.HandleFunc("GET /api/v1/reports/{file}", func(w http.ResponseWriter, r *http.Request) {
		month, ok := strings.CutSuffix(r.PathValue("file"), ".json")
		if !ok {
			http.NotFound(w, r)
			return
		}
		j.mu.Lock()
		rep, err := reports.Build(r.Context(), j.e.st, j.e.cfg, reports.Options{Month: month, Provider: r.URL.Query().Get("provider"), Now: time.Now()})
		j.mu.Unlock()
		respond(w, rep, err)
	})
	return mux
}

func respond(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	json.NewEncoder(w).Encode(v)
}
