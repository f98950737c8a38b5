// Package server is `gpumeter run` without the collector: the schedule
// (hourly aggregation, daily idle scan, monthly reports) and the HTTP API.
package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/robfig/cron/v3"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/ingest"
	"github.com/nipa-gpu/gpumeter/ledger"
	"github.com/nipa-gpu/gpumeter/store"
)

// Service is `gpumeter run` without the collector: the parts below, each in
// a file of its own, over one store.
//   - Jobs (jobs.go): the schedule: aggregation, idle evaluation and scan,
//     the monthly report.
//   - api (api.go): the reads of SPEC §8.1 and the portal's acknowledgements.
//   - dashboard (dashboard.go): the pages of §8.2, and login and logout.
//   - gate (http.go): who may call what, and the request log.
//   - pushes (write.go): POST /api/v1/write, into ingest.
type Service struct {
	Config   config.Config
	Log      *zap.Logger
	Registry *prometheus.Registry
	Jobs     *Jobs

	api  *api
	dash *dashboard
	gate *gate
	push *pushes
	addr string // where the API listens, once it does
}

// New makes a service and registers its metrics with reg.
func New(st store.Store, cfg config.Config, log *zap.Logger, version string, reg *prometheus.Registry) *Service {
	principals := newPrincipals(cfg.Principals)
	a := &api{Store: st, Config: cfg, Log: log, version: version,
		months: newMonths(func(ctx context.Context, sc ledger.Scope) (*ledger.Ledger, error) {
			return ledger.Build(ctx, st, cfg, sc)
		}, log)}
	metrics := ingest.NewMetrics(reg)
	return &Service{Config: cfg, Log: log, Registry: reg, Jobs: newJobs(st, cfg, log, version, reg), api: a,
		dash: &dashboard{api: a, principals: principals}, gate: &gate{principals: principals, Log: log},
		push: newPushes(st, cfg, log, metrics)}
}

// Handler is the HTTP API and login. Its reads never write and never wait for
// a scheduled job: they serve ledgers built in the background.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := store.Ping(r.Context(), s.api.Store); err != nil {
			s.Log.Error("health check", zap.Error(err))
			http.Error(w, "store unreachable", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /login", s.dash.login)
	mux.HandleFunc("POST /logout", s.dash.logout)
	for _, page := range dashPages {
		path := "GET /" + page
		if page == dashPages[0] {
			path = "GET /{$}"
		}
		mux.HandleFunc(path, s.dash.page(page))
	}
	mux.HandleFunc("GET /static/dashboard.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write(dashboardCSS)
	})
	metrics := promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{Registry: s.Registry})
	mux.Handle("GET /metrics", s.gate.with(nipaOnly, func(w http.ResponseWriter, r *http.Request, _ config.Principal) error {
		metrics.ServeHTTP(w, r)
		return nil
	}))
	mux.Handle("GET /api/v1/openapi.json", s.gate.with(everyone, func(w http.ResponseWriter, r *http.Request, _ config.Principal) error {
		w.Header().Set("Content-Type", "application/json")
		_, err := w.Write(openAPI)
		return err
	}))
	mux.Handle("GET /api/v1/reports/{file}", s.gate.with(readers, s.api.report))
	mux.Handle("GET /api/v1/limits", s.gate.with(readers, s.api.limits))
	mux.Handle("GET /api/v1/idle", s.gate.with(flagRoles, s.api.idle))
	mux.Handle("POST /api/v1/idle/{flag_id}/ack", s.gate.with(ackRoles, s.api.ack))
	mux.Handle("POST /api/v1/write", s.gate.with(ingestOnly, s.push.write))
	return s.gate.logged(mux)
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
			if err := s.Jobs.Aggregate(ctx); err != nil {
				return err
			}
			return s.Jobs.TrackIdle(ctx)
		}},
		{"idle_scan", s.Config.Schedule.IdleScan, s.Jobs.IdleScan},
		{"monthly_report", s.Config.Schedule.MonthlyReport, s.Jobs.MonthlyReport},
	} {
		if job.spec == "" {
			continue
		}
		if _, err := sched.AddFunc(job.spec, s.Jobs.job(job.name, job.fn)); err != nil {
			return fmt.Errorf("schedule.%s: %w", job.name, err)
		}
		s.Log.Info("scheduled", zap.String("job", job.name), zap.String("cron", job.spec), zap.String("tz", s.Config.Timezone))
	}
	srv, err := s.listen()
	if err != nil {
		return err
	}
	sched.Start()
	go s.Jobs.job("idle_track", s.Jobs.TrackIdle)() // so that a fresh start has flags to serve within the hour
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
