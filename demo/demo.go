// Package demo runs a simulated month end to end: a fleet simulated at a
// scale, its inputs imported into a fresh store, a month of samples written,
// aggregated, and the reports published, with progress for a person watching.
package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/aggregator"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/imports"
	"github.com/nipa-gpu/gpumeter/ingest"
	"github.com/nipa-gpu/gpumeter/ledger"
	"github.com/nipa-gpu/gpumeter/publish"
	"github.com/nipa-gpu/gpumeter/reports"
	"github.com/nipa-gpu/gpumeter/schemas"
	"github.com/nipa-gpu/gpumeter/sim"
	"github.com/nipa-gpu/gpumeter/store"
)

// tariffs price the demo when no configuration is given. They are
// illustrative figures, not the program's.
var tariffs = []config.Tariff{
	{Class: gpumeter.ProviderBorrowed, Model: "H200", KRWPerGPUHour: 2800, BilledTo: gpumeter.BilledToProvider},
	{Class: gpumeter.ProviderBorrowed, Model: "B200", KRWPerGPUHour: 3500, BilledTo: gpumeter.BilledToProvider},
	{Class: gpumeter.PublicActive, Model: "H200", KRWPerGPUHour: 2200, BilledTo: gpumeter.BilledToGovernment},
	{Class: gpumeter.PublicActive, Model: "B200", KRWPerGPUHour: 2900, BilledTo: gpumeter.BilledToGovernment},
	{Class: gpumeter.PublicIdle, Model: "H200", KRWPerGPUHour: 2200, BilledTo: gpumeter.BilledToGovernment},
	{Class: gpumeter.PublicIdle, Model: "B200", KRWPerGPUHour: 2900, BilledTo: gpumeter.BilledToGovernment},
}

// Options say what to simulate and where to write.
type Options struct {
	Month      string // YYYY-MM; "" for last month
	Scale      float64
	Seed       int64
	Step       time.Duration // sample interval
	Out        string        // workbooks, report, inputs and (by default) the store
	Provider   string        // whose own workbook is written too
	Configured bool          // cfg came from a file; else the demo prices its month and tightens limits
	Version    string
}

// Run simulates, imports, aggregates and publishes the month; stdout gets the
// summary, progress the steps.
func Run(ctx context.Context, cfg config.Config, o Options, log *zap.Logger, stdout, progress io.Writer) error {
	if !o.Configured {
		// Without a configuration the demo prices its month and sets limits
		// tight enough that the violation checks have work.
		cfg.Tariffs = tariffs
		for id, lim := range cfg.Providers {
			lim.MonthlyBorrowGPUHours, lim.MaxBorrowHours = 400, 96
			cfg.Providers[id] = lim
		}
	}
	if cfg.Activity.MaxSampleGap.Duration < o.Step {
		cfg.Activity.MaxSampleGap.Duration = o.Step
	}
	if cfg.Store == "" {
		cfg.Store = "chdb://" + filepath.Join(o.Out, "demo-store")
		os.RemoveAll(filepath.Join(o.Out, "demo-store")) // the demo's own store starts empty
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	month := o.Month
	if month == "" {
		now := time.Now().In(cfg.Location())
		month = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location()).AddDate(0, -1, 0).Format("2006-01")
	}
	from, err := time.ParseInLocation("2006-01", month, cfg.Location())
	if err != nil {
		return fmt.Errorf("demo: month %q: want YYYY-MM", month)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	st, err := store.Open(ctx, cfg.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	d := &demo{ctx: ctx, st: st, cfg: cfg, log: log, out: o.Out, progress: progress, version: o.Version}
	return d.run(stdout, from, month, o.Scale, o.Seed, o.Step, o.Provider)
}

type demo struct {
	ctx      context.Context
	st       store.Store
	cfg      config.Config
	log      *zap.Logger
	out      string
	progress io.Writer
	version  string
}

func (d *demo) stepf(format string, args ...any) {
	fmt.Fprintf(d.progress, "==> "+format+"\n", args...)
}

func (d *demo) run(stdout io.Writer, from time.Time, month string, scale float64, seed int64, step time.Duration, provider string) error {
	start := time.Now()
	to := from.AddDate(0, 1, 0)
	fleet := sim.New(seed, scale, from, to)
	gpus := len(fleet.Nodes) * sim.GPUsPerNode
	d.stepf("simulating %s: %d nodes, %d GPUs, a sample every %s", month, len(fleet.Nodes), gpus, step)
	if _, err := schemas.Migrate(d.ctx, d.st, schemas.Options{SamplesTTLDays: d.cfg.Retention.SamplesDays}); err != nil {
		return err
	}
	inputs := filepath.Join(d.out, "demo-inputs")
	if err := fleet.WriteInputs(inputs, ""); err != nil {
		return err
	}
	im := &imports.Importer{Store: d.st, Log: d.log}
	for _, kind := range []string{imports.KindInventory, imports.KindProjects, imports.KindAllocations} {
		res, err := im.Import(d.ctx, kind, filepath.Join(inputs, kind+".csv"))
		if err != nil {
			return err
		}
		d.stepf("imported %s: %d rows", kind, res.Rows)
	}
	if err := d.samples(fleet, from, to, step); err != nil {
		return err
	}
	d.stepf("aggregating every GPU-second of the month")
	last := time.Now()
	agg := aggregator.New(d.st, d.cfg, d.log)
	agg.Progress = func(day, days int) {
		if time.Since(last) > 3*time.Second || day == days {
			last = time.Now()
			fmt.Fprintf(d.progress, "    day %d of %d\n", day, days)
		}
	}
	if _, err := agg.Recompute(d.ctx, from, to); err != nil {
		return err
	}
	// Report as of the end of the month's third day after, as NIPA would get it.
	now := to.AddDate(0, 0, 3)
	var files []string
	for _, p := range []string{"", provider} {
		iss, err := publish.Publish(d.ctx, d.st, d.cfg, publish.Request{Scope: ledger.Scope{Month: month, Provider: p, Now: now},
			Version: d.version, Log: d.log})
		if err != nil {
			return err
		}
		written, err := iss.WriteFiles(d.out, "ko")
		if err != nil {
			return err
		}
		files = append(files, written...)
		if p == "" {
			printSummary(stdout, iss.Report)
		}
	}
	fmt.Fprintf(stdout, "\nwritten in %s:\n", time.Since(start).Round(time.Second))
	for _, f := range files {
		fmt.Fprintf(stdout, "  %s\n", f)
	}
	return nil
}

// samples writes the month's samples, showing progress. The simulator makes
// the next batch while the store writes the last one.
func (d *demo) samples(fleet *sim.Fleet, from, to time.Time, step time.Duration) error {
	total := len(fleet.Nodes) * sim.GPUsPerNode * int(to.Sub(from)/step)
	d.stepf("writing about %d samples", total)
	in := ingest.New(d.st, nil, d.log)
	batches := make(chan []gpumeter.Sample, 2)
	ctx, cancel := context.WithCancel(d.ctx)
	defer cancel()
	genErr := make(chan error, 1)
	go func() {
		defer close(batches)
		batch := make([]gpumeter.Sample, 0, 50000)
		err := fleet.EachSample(from, to, step, func(s gpumeter.Sample) error {
			batch = append(batch, s)
			if len(batch) < cap(batch) {
				return nil
			}
			select {
			case batches <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
			batch = make([]gpumeter.Sample, 0, 50000)
			return nil
		})
		if err == nil && len(batch) > 0 {
			batches <- batch
		}
		genErr <- err
	}()
	done, last := 0, time.Now()
	for batch := range batches {
		if _, err := in.Write(d.ctx, ingest.Origin{Source: ingest.Demo}, batch); err != nil {
			return fmt.Errorf("demo samples: %w", err)
		}
		done += len(batch)
		if time.Since(last) > 3*time.Second {
			last = time.Now()
			fmt.Fprintf(d.progress, "    %3.0f%%  %d samples\n", 100*float64(done)/float64(total), done)
		}
	}
	if err := <-genErr; err != nil {
		return fmt.Errorf("demo samples: %w", err)
	}
	d.stepf("wrote %d samples (outages leave gaps)", done)
	return nil
}

func printSummary(w io.Writer, rep *reports.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "\n%s (%s)\n", rep.Month, rep.Timezone)
	fmt.Fprintln(tw, "provider\tGPUs\tcapacity GPU-h\tactive GPU-h\tno data GPU-h\tborrowed\tlent\tcharges KRW\tviolations\t")
	for _, p := range rep.Providers {
		active := p.Hours.Government.PublicActive + p.Hours.Government.ProviderActive + p.Hours.Government.UnallocatedActive +
			p.Hours.Private.PublicActive + p.Hours.Private.ProviderActive + p.Hours.Private.UnallocatedActive
		var krw int64
		for _, c := range p.ChargesKRW {
			krw += c.KRW
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d\t\n", p.Provider, p.GPUs.Government+p.GPUs.Private,
			p.CapacityGPUHours.Government+p.CapacityGPUHours.Private, active,
			p.Hours.Government.NoData+p.Hours.Private.NoData, p.BorrowedGPUHours, p.LentGPUHours, krw, len(p.Violations))
	}
	tw.Flush()
	fmt.Fprintf(w, "idle flags: %d   coverage: %.2f%%   nodes without data: %d\n\n", len(rep.IdleFlags),
		rep.DataQuality.CoveragePct, len(rep.DataQuality.NodesWithoutData))
	sum := func(c reports.Classes) float64 {
		return c.PublicActive + c.PublicIdle + c.ProviderActive + c.ProviderIdle + c.UnallocatedActive + c.UnallocatedIdle + c.NoData
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "provider	energy government kWh	energy private kWh	unattributed kWh	foreign ns GPU-h	unknown ns GPU-h	mismatch runs	attribution violations	")
	for _, p := range rep.Providers {
		violations := 0
		for _, v := range p.Violations {
			if v.Kind == gpumeter.AttributionMismatch {
				violations++
			}
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.1f\t%d\t%d\t\n", p.Provider, sum(p.EnergyKWh.Government), sum(p.EnergyKWh.Private),
			p.EnergyUnattributedKWh, p.AttributionGPUHours.Foreign, p.AttributionGPUHours.Unknown, len(p.AttributionMismatches), violations)
	}
	tw.Flush()
}
