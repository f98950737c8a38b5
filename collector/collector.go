package collector

import (
	"context"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/ingest"
)

// Collector scrapes every source each interval, at most Concurrency at once,
// each under its own timeout, and hands the samples to the writer. A slow or
// dead target only ever costs its own slot: its next scrape is skipped while
// the last one still runs, and the others go on.
type Collector struct {
	Targets     *Targets
	Sources     []Source // sources beside the HTTP targets (NVML)
	Client      *http.Client
	Interval    time.Duration
	Timeout     time.Duration
	Concurrency int
	Limits      Limits
	Shard       Shard
	Writer      *Writer
	Metrics     *Metrics
	Log         *zap.Logger

	mu       sync.Mutex
	inflight map[string]bool
}

// Run collects until ctx ends, then lets running scrapes finish and flushes.
func (c *Collector) Run(ctx context.Context) error {
	c.inflight = map[string]bool{}
	sem := make(chan struct{}, c.Concurrency)
	var wg sync.WaitGroup
	c.Writer.Start()
	defer c.Writer.Close()
	defer wg.Wait()
	next := time.Now().Truncate(c.Interval).Add(c.Interval)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(next)):
		}
		ts := next
		next = next.Add(c.Interval)
		if now := time.Now(); next.Before(now) {
			next = now.Truncate(c.Interval).Add(c.Interval) // fell behind: skip, don't burst
		}
		for _, src := range c.sources() {
			if !c.claim(src.Name()) {
				c.Metrics.Overlaps.WithLabelValues(src.Name()).Inc()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.release(src.Name())
				sem <- struct{}{}
				defer func() { <-sem }()
				c.scrape(ctx, src, ts)
			}()
		}
	}
}

// Once scrapes every source one time, now, writes the samples and returns.
func (c *Collector) Once(ctx context.Context) error {
	c.inflight = map[string]bool{}
	sem := make(chan struct{}, c.Concurrency)
	var wg sync.WaitGroup
	c.Writer.Start()
	ts := time.Now().Truncate(time.Second)
	for _, src := range c.sources() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c.scrape(ctx, src, ts)
		}()
	}
	wg.Wait()
	c.Writer.Close()
	return nil
}

// ownedSource is a source with the provider it is listed for ("" none).
type ownedSource struct {
	Source
	owner string
}

// sources are this collector's share of the targets (Shard), and the
// sources beside them, which belong to Targets.Provider.
func (c *Collector) sources() []ownedSource {
	targets, err := c.Targets.Current()
	if err != nil {
		c.Log.Warn("targets", zap.Error(err))
	}
	out := make([]ownedSource, 0, len(targets)+len(c.Sources))
	for _, t := range targets {
		if c.Shard.Has(t.URL) {
			out = append(out, ownedSource{HTTPTarget{URL: t.URL, Client: c.Client, Limits: c.Limits}, t.Provider})
		}
	}
	for _, src := range c.Sources {
		out = append(out, ownedSource{src, c.Targets.Provider})
	}
	return out
}

func (c *Collector) claim(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inflight[name] {
		return false
	}
	c.inflight[name] = true
	return true
}

func (c *Collector) release(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inflight, name)
}

// scrape reads one source; a sample's ts is the scheduled scrape time, so all
// targets of one round share it.
func (c *Collector) scrape(ctx context.Context, src ownedSource, ts time.Time) {
	sctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	start := time.Now()
	samples, stats, err := src.Scrape(sctx, ts)
	outcome := Outcome(err)
	c.Metrics.Scrapes.WithLabelValues(src.Name(), outcome).Inc()
	c.Metrics.ScrapeDuration.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
	c.Metrics.Ingest.CountParse(ingest.Scrape, src.owner, stats.Invalid, stats.Copies)
	if err != nil {
		c.Metrics.TargetUp.WithLabelValues(src.Name()).Set(0)
		c.Log.Warn("scrape failed", zap.String("target", src.Name()), zap.String("outcome", outcome), zap.Error(err))
		return
	}
	c.Metrics.TargetUp.WithLabelValues(src.Name()).Set(1)
	c.Metrics.SamplesParsed.Add(float64(len(samples)))
	for i := range samples {
		samples[i].Origin = src.Name()
	}
	c.Writer.Add(src.owner, samples)
}
