package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/collector"
	"github.com/nipa-gpu/gpumeter/config"
)

func newCollectCmd(g *globals) *cobra.Command {
	var once, print, useNVML bool
	var targets []string
	cmd := &cobra.Command{
		Use:   "collect [--once] [--target URL]... [--print] [--nvml]",
		Short: "Scrape dcgm-exporter endpoints (and NVML) into the store",
		Long: `Scrapes every target each collector.scrape_interval and writes the samples in
batches; while the store is unreachable they wait in an on-disk spool and are
replayed in order. Self-metrics are served at http://<collector.listen>/metrics.

With --once, one round is scraped; with --print, the samples are printed as
JSON lines (SPEC §3.4 names) instead of stored, and a failing target exits 1.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if print && !once {
				return usageError{errors.New("collect: --print needs --once")}
			}
			if print {
				return collectPrint(cmd, g, targets, useNVML)
			}
			e, err := g.setupMigrated(cmd.Context())
			if err != nil {
				return err
			}
			defer e.close()
			if len(targets) > 0 {
				e.cfg.Collector.Targets, e.cfg.Collector.TargetsFile = targets, ""
			}
			if useNVML {
				e.cfg.Collector.NVML = true
			}
			return runCollectorWith(cmd.Context(), e, once, nil)
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "scrape one round and stop")
	cmd.Flags().StringArrayVar(&targets, "target", nil, "dcgm-exporter URL (repeatable; replaces the configured targets)")
	cmd.Flags().BoolVar(&print, "print", false, "with --once: print samples as JSON lines instead of storing them")
	cmd.Flags().BoolVar(&useNVML, "nvml", false, "also read this node's GPUs through NVML")
	return cmd
}

// collectPrint scrapes each target once and prints its samples; it needs no store.
func collectPrint(cmd *cobra.Command, g *globals, targets []string, useNVML bool) error {
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		targets = cfg.Collector.Targets
	}
	var sources []collector.Source
	for _, u := range targets {
		sources = append(sources, collector.HTTPTarget{URL: u})
	}
	if useNVML || cfg.Collector.NVML {
		n, err := collector.OpenNVML()
		if err != nil {
			return err
		}
		sources = append(sources, n)
	}
	if len(sources) == 0 {
		return usageError{errors.New("collect --once --print: no --target given and none configured")}
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	ts := time.Now()
	var failed error
	for _, src := range sources {
		ctx, cancel := context.WithTimeout(cmd.Context(), cfg.Collector.ScrapeTimeout.Duration)
		samples, _, err := src.Scrape(ctx, ts)
		cancel()
		if err != nil {
			failed = fmt.Errorf("scrape %s: %s: %w", src.Name(), collector.Outcome(err), err)
			continue
		}
		for i := range samples {
			if err := enc.Encode(&samples[i]); err != nil {
				return err
			}
		}
	}
	return failed
}

// runCollectorWith runs the collector, registering its metrics with reg; with
// reg nil it makes its own and serves it at collector.listen.
func runCollectorWith(ctx context.Context, e *env, once bool, reg *prometheus.Registry) error {
	cc := e.cfg.Collector
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	metrics := collector.NewMetrics(reg)
	spool, err := collector.OpenSpool(cc.SpoolDir, cc.SpoolMaxBytes)
	if err != nil {
		return err
	}
	var sources []collector.Source
	if cc.NVML {
		n, err := collector.OpenNVML()
		if err != nil {
			e.log.Error("NVML source off", zap.Error(err))
		} else {
			sources = append(sources, n)
		}
	}
	c := &collector.Collector{
		Targets:     &collector.Targets{Static: cc.Targets, File: cc.TargetsFile},
		Sources:     sources,
		Client:      &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: 2 * cc.ScrapeInterval.Duration}},
		Interval:    cc.ScrapeInterval.Duration,
		Timeout:     cc.ScrapeTimeout.Duration,
		Concurrency: cc.Concurrency,
		Metrics:     metrics,
		Log:         e.log,
		Writer: &collector.Writer{Store: e.st, Spool: spool, Metrics: metrics, Log: e.log,
			BatchRows: cc.BatchRows, FlushInterval: cc.FlushInterval.Duration},
	}
	if cc.Listen != "" && !once {
		ln, err := net.Listen("tcp", cc.Listen)
		if err != nil {
			return fmt.Errorf("collector.listen %s: %w", cc.Listen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		e.log.Info("self-metrics", zap.String("url", "http://"+ln.Addr().String()+"/metrics"))
	}
	if once {
		return c.Once(ctx)
	}
	e.log.Info("collecting", zap.Duration("interval", c.Interval), zap.Int("concurrency", c.Concurrency), zap.Stringer("writer", c.Writer))
	return c.Run(ctx)
}
