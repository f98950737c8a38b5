package imports

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/store"
)

// SampleColumns is the header of a samples file (SPEC §3.4).
var SampleColumns = []string{"ts", "gpu_uuid", "hostname", "gpu_util", "gr_engine_active", "sm_active",
	"fb_used_mib", "fb_free_mib", "power_w", "energy_mj", "namespace", "pod"}

// AbandonedAfter is how long after it began an import that never committed
// counts as abandoned (killed, or failed while writing): no import of
// samples runs for a day.
const AbandonedAfter = 24 * time.Hour

// DefaultBatchRows bounds the samples held in memory by one import.
const DefaultBatchRows = 20000

// Samples imports a samples file in two streaming passes: the first validates
// every line and writes nothing; the second writes in batches. Memory is
// bounded by one batch whatever the file's size. Rows carry the import's batch
// id, as their version too: no reader sees them until the import's commit
// (store.InsertImportedSamples), whatever moment the import stops at, and a
// re-import rewrites the same (gpu_uuid, ts) keys, which count once. Samples
// of GPUs not in the inventory are kept for the data-quality report.
func (im *Importer) Samples(ctx context.Context, path string) (Result, error) {
	res := Result{Kind: KindSamples, File: fileName(path)}
	im.log().Info("validating samples", zap.String("file", res.File))
	var lo, hi time.Time
	var err error
	if res.Rows, lo, hi, res.SHA256, err = scanSamples(path); err != nil {
		return res, err
	}
	if res.Empty = res.Rows == 0; res.Empty {
		im.log().Info("import holds no rows", zap.String("kind", KindSamples), zap.String("file", res.File))
		return res, nil
	}
	// What imports killed a while ago left behind, no reader sees; it goes
	// before this one adds its own.
	if n, err := store.DropAbandonedImports(ctx, im.Store, AbandonedAfter); err != nil {
		im.log().Warn("abandoned imports' samples not dropped", zap.Error(err))
	} else if n > 0 {
		im.log().Info("abandoned imports' samples dropped", zap.Int("partitions", n))
	}
	if res.BatchID, err = store.NewBatchID(ctx, im.Store); err != nil {
		return res, err
	}
	im.log().Info("samples validated, writing", zap.String("file", res.File), zap.Int("rows", res.Rows), zap.Uint64("batch", res.BatchID))
	c, err := openCSV(path, SampleColumns)
	if err != nil {
		return res, fmt.Errorf("samples: %w", err)
	}
	defer c.Close()
	size := im.BatchRows
	if size <= 0 {
		size = DefaultBatchRows
	}
	batch := make([]gpumeter.Sample, 0, size)
	written := 0
	flush := func() error {
		if err := store.InsertImportedSamples(ctx, im.Store, batch, res.BatchID); err != nil {
			return fmt.Errorf("write %s: stopped after %d of %d rows, none of which counts until the import is run again: %w",
				res.File, written, res.Rows, err)
		}
		written += len(batch)
		batch = batch[:0]
		return nil
	}
	changed := &problems{file: c.name}
	for range c.records(changed) {
		s, problem := c.sample()
		if problem != "" {
			return res, fmt.Errorf("%s:%d changed while importing: %s", res.File, c.line, problem)
		}
		batch = append(batch, s)
		if len(batch) == size {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	if len(batch) > 0 {
		if err := flush(); err != nil {
			return res, err
		}
	}
	if written != res.Rows {
		return res, fmt.Errorf("%s changed while importing: %d rows validated, %d read", res.File, res.Rows, written)
	}
	from, to := store.SamplesSpan(lo, hi)
	if err := im.commit(ctx, res, from, to); err != nil {
		return res, err
	}
	im.log().Info("imported", zap.String("kind", KindSamples), zap.String("file", res.File), zap.Int("rows", res.Rows), zap.Uint64("batch", res.BatchID))
	return res, nil
}

// scanSamples validates a whole samples file and writes nothing: how many
// rows it has, the span of their times and its SHA-256, or every bad line.
func scanSamples(path string) (rows int, lo, hi time.Time, sha string, err error) {
	c, err := openCSV(path, SampleColumns)
	if err != nil {
		return 0, lo, hi, "", fmt.Errorf("samples: %w", err)
	}
	defer c.Close()
	bad := &problems{file: c.name}
	for range c.records(bad) {
		s, problem := c.sample()
		if problem != "" {
			bad.add(c.line, "%s", problem)
			continue
		}
		if lo.IsZero() || s.TS.Before(lo) {
			lo = s.TS
		}
		if s.TS.After(hi) {
			hi = s.TS
		}
		rows++
	}
	if err := bad.err(); err != nil {
		return 0, lo, hi, "", err
	}
	return rows, lo, hi, c.sum(), nil
}

// sample parses the current record of a samples file.
func (c *csvFile) sample() (gpumeter.Sample, string) {
	var s gpumeter.Sample
	var err error
	if s.TS, err = parseTime("ts", c.get("ts")); err != nil {
		return s, err.Error()
	}
	if s.GPUUUID = c.get("gpu_uuid"); s.GPUUUID == "" {
		return s, "gpu_uuid is empty"
	}
	s.Hostname, s.Namespace, s.Pod = c.get("hostname"), c.get("namespace"), c.get("pod")
	for _, f := range []struct {
		name     string
		dst      **float64
		min, max float64
	}{
		{"gpu_util", &s.GPUUtil, 0, 100},
		{"gr_engine_active", &s.GrEngineActive, 0, 1},
		{"sm_active", &s.SMActive, 0, 1},
		{"power_w", &s.PowerW, 0, 1e6},
	} {
		v := c.get(f.name)
		if v == "" {
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || x < f.min || x > f.max || x != x {
			return s, fmt.Sprintf("%s %q is not a number from %g to %g", f.name, v, f.min, f.max)
		}
		*f.dst = &x
	}
	for _, f := range []struct {
		name string
		dst  **uint64
		max  uint64
	}{
		{"fb_used_mib", &s.FBUsedMiB, 1<<32 - 1},
		{"fb_free_mib", &s.FBFreeMiB, 1<<32 - 1},
		{"energy_mj", &s.EnergyMJ, 1<<63 - 1},
	} {
		v := c.get(f.name)
		if v == "" {
			continue
		}
		x, err := strconv.ParseUint(v, 10, 64)
		if err != nil || x > f.max {
			return s, fmt.Sprintf("%s %q is not a whole number from 0 to %d", f.name, v, f.max)
		}
		*f.dst = &x
	}
	return s, ""
}
