package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/config"
)

// Options are what a collector run needs beside its configuration.
type Options struct {
	Sink      Sink     // where samples go: a StoreSink, or RemoteWrite
	Providers []string // the providers a targets-file line may name
	Shard     Shard    // this collector's part of the targets
	Once      bool     // one round, then stop
	// Registry takes the metrics; nil makes one, served at collector.listen.
	Registry *prometheus.Registry
}

// Run collects as configured into o.Sink until ctx ends.
func Run(ctx context.Context, cc config.Collector, o Options, log *zap.Logger) error {
	reg := o.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	metrics := NewMetrics(reg)
	if s, ok := o.Sink.(*StoreSink); ok && s.Ingest == nil {
		s.Ingest, s.Log = metrics.Ingest, log
	}
	spool, err := OpenSpool(cc.SpoolDir, cc.SpoolMaxBytes)
	if err != nil {
		return err
	}
	var sources []Source
	if cc.NVML {
		n, err := OpenNVML()
		if err != nil {
			log.Error("NVML source off", zap.Error(err))
		} else {
			sources = append(sources, n)
		}
	}
	c := &Collector{
		Targets:     &Targets{Static: cc.Targets, Provider: cc.Provider, File: cc.TargetsFile, Providers: o.Providers},
		Sources:     sources,
		Client:      &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: 2 * cc.ScrapeInterval.Duration}},
		Interval:    cc.ScrapeInterval.Duration,
		Timeout:     cc.Timeout(),
		Concurrency: cc.Concurrency,
		Limits:      Limits{MaxLabelBytes: DefaultLimits.MaxLabelBytes, MaxSeries: cc.MaxSeriesPerScrape},
		Shard:       o.Shard,
		Metrics:     metrics,
		Log:         log,
		Writer: &Writer{Sink: o.Sink, Spool: spool, Metrics: metrics, Log: log,
			BatchRows: cc.BatchRows, FlushInterval: cc.FlushInterval.Duration},
	}
	if cc.Listen != "" && !o.Once {
		ln, err := net.Listen("tcp", cc.Listen)
		if err != nil {
			return fmt.Errorf("collector.listen %s: %w", cc.Listen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		log.Info("self-metrics", zap.String("url", "http://"+ln.Addr().String()+"/metrics"))
	}
	if o.Once {
		return c.Once(ctx)
	}
	log.Info("collecting", zap.Duration("interval", c.Interval), zap.Int("concurrency", c.Concurrency),
		zap.String("shard", fmt.Sprintf("%d/%d", o.Shard.I, max(o.Shard.N, 1))), zap.Stringer("writer", c.Writer))
	return c.Run(ctx)
}

// ErrNoTargets is Print's answer when it has nothing to scrape.
var ErrNoTargets = errors.New("no target given and none configured")

// Print scrapes each of targets (the configured ones if none) once, and
// NVML with useNVML, and writes the samples to w as JSON lines; it needs no
// store. A failed scrape is returned after the others are printed.
func Print(ctx context.Context, cc config.Collector, targets []string, useNVML bool, w io.Writer) error {
	if len(targets) == 0 {
		targets = cc.Targets
	}
	var sources []Source
	for _, u := range targets {
		sources = append(sources, HTTPTarget{URL: u, Limits: Limits{MaxLabelBytes: DefaultLimits.MaxLabelBytes, MaxSeries: cc.MaxSeriesPerScrape}})
	}
	if useNVML || cc.NVML {
		n, err := OpenNVML()
		if err != nil {
			return err
		}
		sources = append(sources, n)
	}
	if len(sources) == 0 {
		return ErrNoTargets
	}
	enc := json.NewEncoder(w)
	ts := time.Now()
	var failed error
	for _, src := range sources {
		ctx, cancel := context.WithTimeout(ctx, cc.Timeout())
		samples, _, err := src.Scrape(ctx, ts)
		cancel()
		if err != nil {
			failed = fmt.Errorf("scrape %s: %s: %w", src.Name(), Outcome(err), err)
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
