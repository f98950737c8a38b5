package main

import (
	"context"
	"maps"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/nipa-gpu/gpumeter/collector"
	"github.com/nipa-gpu/gpumeter/server"
	"github.com/nipa-gpu/gpumeter/store"
)

func newRunCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Collector, schedule (aggregate, idle scan, monthly report) and HTTP API in one process",
		Long: `Runs the collector, and on the schedule of the config's schedule section (cron
expressions in the configured time zone): the hourly aggregation, the daily
idle scan (POSTed to the portal's webhook when one is configured) and the
monthly report of the previous month, written to schedule.report_dir.
The HTTP API at server.listen (loopback, or anywhere with TLS) serves the
principals of the configuration (SPEC §8): /api/v1/reports/YYYY-MM.json|xlsx,
/api/v1/limits, /api/v1/idle, /api/v1/openapi.json, /metrics, and /healthz.
SIGINT or SIGTERM stops it gracefully: running jobs finish, samples are flushed.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := g.setupMigrated(cmd.Context())
			if err != nil {
				return err
			}
			defer e.close()
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			svc := server.New(e.st, e.cfg, e.log, gpumeterVersion(), reg)
			e.cfg.Collector.Listen = "" // the API serves /metrics for the whole process
			sink := &collector.StoreSink{Open: func(context.Context) (store.Store, error) { return e.st, nil }}
			opts := collector.Options{Sink: sink, Providers: slices.Sorted(maps.Keys(e.cfg.Providers)), Registry: reg}
			return svc.Run(cmd.Context(), func(ctx context.Context) error { return collector.Run(ctx, e.cfg.Collector, opts, e.log) })
		},
	}
}
