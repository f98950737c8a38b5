package imports

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
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

// Samples imports a samples file in one streaming pass: every line is
// validated as it is read, and while no line has been bad the rows go to the
// store in batches, written by a second goroutine as the next batch is read,
// so that reading, checking and the store's work overlap. Rows carry the
// import's batch id, as their version too: no reader sees them until the
// import's commit (store.InsertImportedSamples), whatever moment the import
// stops at. A file with a bad line is read to its end, so that every bad line
// is named, and what was written of it is dropped: the store is as it was.
// A re-import rewrites the same (gpu_uuid, ts) keys, which count once.
// Memory is bounded by three batches whatever the file's size. Samples of
// GPUs not in the inventory are kept for the data-quality report.
func (im *Importer) Samples(ctx context.Context, path string) (Result, error) {
	res := Result{Kind: KindSamples, File: fileName(path)}
	c, err := openCSV(path, SampleColumns)
	if err != nil {
		return res, fmt.Errorf("samples: %w", err)
	}
	defer c.Close()
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
	im.log().Info("reading samples", zap.String("file", res.File), zap.Uint64("batch", res.BatchID))
	size := im.BatchRows
	if size <= 0 {
		size = DefaultBatchRows
	}
	w := newBatchWriter(ctx, im, res.BatchID, size)
	cur := w.next()
	var lo, hi time.Time
	res.Rows, lo, hi, err = readSamples(ctx, c, func(s gpumeter.Sample) {
		if w.failed() {
			return
		}
		cur.Add(s)
		if cur.Full() {
			cur = w.send(cur)
		}
	})
	if err == nil {
		w.send(cur)
	}
	written, werr := w.close()
	res.SHA256 = c.sum()
	if err != nil {
		return res, im.abandon(res, err)
	}
	if werr != nil {
		return res, im.abandon(res, fmt.Errorf("write %s: stopped after %d of %d rows, none of which counts until the import is run again: %w",
			res.File, written, res.Rows, werr))
	}
	if res.Empty = res.Rows == 0; res.Empty {
		im.log().Info("import holds no rows", zap.String("kind", KindSamples), zap.String("file", res.File))
		return res, nil
	}
	from, to := store.SamplesSpan(lo, hi)
	if err := im.commit(ctx, res, from, to); err != nil {
		return res, err
	}
	im.log().Info("imported", zap.String("kind", KindSamples), zap.String("file", res.File), zap.Int("rows", res.Rows), zap.Uint64("batch", res.BatchID))
	return res, nil
}

// readSamples validates every line of a samples file and hands each good
// sample to keep while no line has been bad: how many rows it has and the
// span of their times, or every bad line.
func readSamples(ctx context.Context, c *csvFile, keep func(gpumeter.Sample)) (rows int, lo, hi time.Time, err error) {
	bad := &problems{file: c.name}
	for range c.records(bad) {
		if rows%8192 == 0 && ctx.Err() != nil {
			return rows, lo, hi, ctx.Err()
		}
		s, problem := c.sample()
		if problem != "" {
			bad.add(c.line, "%s", problem)
			continue
		}
		rows++
		if lo.IsZero() || s.TS.Before(lo) {
			lo = s.TS
		}
		if s.TS.After(hi) {
			hi = s.TS
		}
		if bad.total == 0 && keep != nil {
			keep(s)
		}
	}
	return rows, lo, hi, bad.err()
}

// abandon drops what a failed import wrote (no reader sees it either way)
// and returns its error.
func (im *Importer) abandon(res Result, err error) error {
	if n, derr := store.DropImport(context.Background(), im.Store, res.BatchID); derr != nil {
		im.log().Warn("a failed import's samples not dropped: the next import drops them", zap.Error(derr))
	} else if n > 0 {
		im.log().Info("a failed import's samples dropped", zap.Int("partitions", n))
	}
	return err
}

// batchWriter writes an import's batches on a goroutine of its own, while
// the next one is read; three batches circulate between them.
type batchWriter struct {
	free, full chan *store.SampleBatch
	done       chan struct{}
	written    int
	err        error
	errSet     atomic.Bool
}

func newBatchWriter(ctx context.Context, im *Importer, batchID uint64, size int) *batchWriter {
	w := &batchWriter{free: make(chan *store.SampleBatch, 3), full: make(chan *store.SampleBatch, 3), done: make(chan struct{})}
	for range 3 {
		w.free <- store.NewSampleBatch(size)
	}
	go func() {
		defer close(w.done)
		for b := range w.full {
			if !w.errSet.Load() && b.Len() > 0 {
				if err := store.InsertImportedBatch(ctx, im.Store, b, batchID); err != nil {
					w.err = err
					w.errSet.Store(true)
				} else {
					if w.written == 0 {
						im.log().Info("writing samples", zap.Uint64("batch", batchID))
					}
					w.written += b.Len()
					stall("second batch")
				}
			}
			b.Reset()
			w.free <- b
		}
	}()
	return w
}

func (w *batchWriter) next() *store.SampleBatch { return <-w.free }

// send hands a batch to the writer and returns an empty one.
func (w *batchWriter) send(b *store.SampleBatch) *store.SampleBatch {
	w.full <- b
	return w.next()
}

func (w *batchWriter) failed() bool { return w.errSet.Load() }

// close waits for the writes and says how many rows were written, or why not.
func (w *batchWriter) close() (int, error) {
	close(w.full)
	<-w.done
	return w.written, w.err
}

// Positions of the columns in SampleColumns.
const (
	colTS = iota
	colGPU
	colHost
	colGPUUtil
	colGrEngineActive
	colSMActive
	colFBUsed
	colFBFree
	colPower
	colEnergy
	colNamespace
	colPod
)

// sample parses the current record of a samples file.
func (c *csvFile) sample() (gpumeter.Sample, string) {
	var s gpumeter.Sample
	var err error
	if s.TS, err = parseTime("ts", c.field(colTS)); err != nil {
		return s, err.Error()
	}
	if s.GPUUUID = c.field(colGPU); s.GPUUUID == "" {
		return s, "gpu_uuid is empty"
	}
	s.Hostname, s.Namespace, s.Pod = c.field(colHost), c.field(colNamespace), c.field(colPod)
	for _, f := range [...]struct {
		col      int
		dst      **float64
		min, max float64
	}{
		{colGPUUtil, &s.GPUUtil, 0, 100},
		{colGrEngineActive, &s.GrEngineActive, 0, 1},
		{colSMActive, &s.SMActive, 0, 1},
		{colPower, &s.PowerW, 0, 1e6},
	} {
		v := c.field(f.col)
		if v == "" {
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || x < f.min || x > f.max || x != x {
			return s, fmt.Sprintf("%s %q is not a number from %g to %g", SampleColumns[f.col], v, f.min, f.max)
		}
		*f.dst = &x
	}
	for _, f := range [...]struct {
		col int
		dst **uint64
		max uint64
	}{
		{colFBUsed, &s.FBUsedMiB, 1<<32 - 1},
		{colFBFree, &s.FBFreeMiB, 1<<32 - 1},
		{colEnergy, &s.EnergyMJ, 1<<63 - 1},
	} {
		v := c.field(f.col)
		if v == "" {
			continue
		}
		x, err := strconv.ParseUint(v, 10, 64)
		if err != nil || x > f.max {
			return s, fmt.Sprintf("%s %q is not a whole number from 0 to %d", SampleColumns[f.col], v, f.max)
		}
		*f.dst = &x
	}
	return s, ""
}
