package imports

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/ingest"
	"github.com/nipa-gpu/gpumeter/store"
)

// SampleColumns is the header of a samples file (SPEC §3.4).
var SampleColumns = []string{"ts", "gpu_uuid", "hostname", "gpu_util", "gr_engine_active", "sm_active",
	"fb_used_mib", "fb_free_mib", "power_w", "energy_mj", "namespace", "pod"}

// AbandonedAfter is how long after it began an import that never committed
// counts as abandoned (killed, or failed while writing): no import of
// samples runs for a day.
const AbandonedAfter = 24 * time.Hour

// DefaultBatchRows is the samples of one insert; an import holds four
// batches. Fewer, larger inserts leave the engine fewer parts to merge.
const DefaultBatchRows = 50000

// Samples imports a samples file in one streaming pass: every line is
// validated as it is read, and while no line has been bad the rows go to the
// store in batches, written by other goroutines as the next batch is read,
// so that reading, checking and the store's work overlap. Rows carry the
// import's batch id, as their version too: no reader sees them until the
// import's commit (ingest.ImportWriter), whatever moment the import
// stops at. A file with a bad line is read to its end, so that every bad line
// is named, and what was written of it is dropped: the store is as it was.
// A re-import rewrites the same (gpu_uuid, ts) keys, which count once.
// Memory is bounded by four batches whatever the file's size. Samples of
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
	iw := im.ingester().Import(res.BatchID)
	w := newBatchWriter(ctx, im, iw, size)
	cur := w.next()
	res.Rows, _, _, err = readSamples(ctx, c, func(r *store.SampleRow) {
		if w.failed() {
			return
		}
		cur.Add(r)
		if cur.Full() {
			cur = w.send(cur)
		}
	})
	if err == nil {
		w.send(cur)
	}
	werr := w.close()
	written := iw.Written()
	res.SHA256 = c.sum()
	if err != nil {
		return res, im.abandon(iw, err)
	}
	if werr != nil {
		return res, im.abandon(iw, fmt.Errorf("write %s: stopped after %d of %d rows, none of which counts until the import is run again: %w",
			res.File, written, res.Rows, werr))
	}
	if res.Empty = res.Rows == 0; res.Empty {
		im.log().Info("import holds no rows", zap.String("kind", KindSamples), zap.String("file", res.File))
		return res, nil
	}
	stall("commit")
	if err := iw.Commit(ctx, store.Import{Kind: res.Kind, File: res.File, SHA256: res.SHA256, Rows: res.Rows}); err != nil {
		return res, err
	}
	im.log().Info("imported", zap.String("kind", KindSamples), zap.String("file", res.File), zap.Int("rows", res.Rows), zap.Uint64("batch", res.BatchID))
	return res, nil
}

// readSamples validates every line of a samples file and hands each good
// sample to keep while no line has been bad: how many rows it has and the
// span of their times, or every bad line.
func readSamples(ctx context.Context, c *csvFile, keep func(*store.SampleRow)) (rows int, lo, hi time.Time, err error) {
	bad := &problems{file: c.name}
	var r store.SampleRow
	for range c.records(bad) {
		if rows%8192 == 0 && ctx.Err() != nil {
			return rows, lo, hi, ctx.Err()
		}
		if problem := c.sample(&r); problem != "" {
			bad.add(c.line, "%s", problem)
			continue
		}
		rows++
		if lo.IsZero() || r.TS.Before(lo) {
			lo = r.TS
		}
		if r.TS.After(hi) {
			hi = r.TS
		}
		if bad.total == 0 && keep != nil {
			keep(&r)
		}
	}
	return rows, lo, hi, bad.err()
}

// abandon drops what a failed import wrote (no reader sees it either way)
// and returns its error.
func (im *Importer) abandon(iw *ingest.ImportWriter, err error) error {
	if n, derr := iw.Abandon(context.Background()); derr != nil {
		im.log().Warn("a failed import's samples not dropped: the next import drops them", zap.Error(derr))
	} else if n > 0 {
		im.log().Info("a failed import's samples dropped", zap.Int("partitions", n))
	}
	return err
}

// batchWriter writes an import's batches on goroutines of their own, two
// inserts at a time, so that one batch is encoded while the store takes the
// last, and the next one is read meanwhile; four batches circulate.
type batchWriter struct {
	free, full chan *store.SampleBatch
	wg         sync.WaitGroup
	mu         sync.Mutex
	err        error
	errSet     atomic.Bool
}

const (
	writers         = 2
	batchesInFlight = 4
)

func newBatchWriter(ctx context.Context, im *Importer, iw *ingest.ImportWriter, size int) *batchWriter {
	w := &batchWriter{free: make(chan *store.SampleBatch, batchesInFlight), full: make(chan *store.SampleBatch, batchesInFlight)}
	for range batchesInFlight {
		w.free <- store.NewSampleBatch(size)
	}
	for range writers {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for b := range w.full {
				if !w.errSet.Load() && b.Len() > 0 {
					err := iw.Write(ctx, b)
					w.mu.Lock()
					if err != nil && w.err == nil {
						w.err = err
						w.errSet.Store(true)
					}
					w.mu.Unlock()
					if err == nil {
						stall("second batch")
					}
				}
				b.Reset()
				w.free <- b
			}
		}()
	}
	return w
}

func (w *batchWriter) next() *store.SampleBatch { return <-w.free }

// send hands a batch to the writer and returns an empty one.
func (w *batchWriter) send(b *store.SampleBatch) *store.SampleBatch {
	w.full <- b
	return w.next()
}

func (w *batchWriter) failed() bool { return w.errSet.Load() }

// close waits for the writes and says why they failed, if they did.
func (w *batchWriter) close() error {
	close(w.full)
	w.wg.Wait()
	return w.err
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

// sample parses the current record of a samples file into r.
func (c *csvFile) sample(r *store.SampleRow) string {
	var err error
	if r.TS, err = parseTime("ts", c.field(colTS)); err != nil {
		return err.Error()
	}
	if r.GPU = c.field(colGPU); r.GPU == "" {
		return "gpu_uuid is empty"
	}
	r.Host, r.Namespace, r.Pod, r.Has = c.field(colHost), c.field(colNamespace), c.field(colPod), 0
	for i, f := range [...]struct {
		col      int
		min, max float64
	}{{colGPUUtil, 0, 100}, {colGrEngineActive, 0, 1}, {colSMActive, 0, 1}, {colPower, 0, 1e6}} {
		v := c.field(f.col)
		if v == "" {
			continue
		}
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || x < f.min || x > f.max || x != x {
			return fmt.Sprintf("%s %q is not a number from %g to %g", SampleColumns[f.col], v, f.min, f.max)
		}
		r.Float[i], r.Has = x, r.Has|1<<i
	}
	for i, f := range [...]struct {
		col int
		max uint64
	}{{colFBUsed, 1<<32 - 1}, {colFBFree, 1<<32 - 1}, {colEnergy, 1<<63 - 1}} {
		v := c.field(f.col)
		if v == "" {
			continue
		}
		x, err := strconv.ParseUint(v, 10, 64)
		if err != nil || x > f.max {
			return fmt.Sprintf("%s %q is not a whole number from 0 to %d", SampleColumns[f.col], v, f.max)
		}
		if i < 2 {
			r.FB[i] = x
		} else {
			r.Energy = x
		}
		r.Has |= 1 << (4 + i)
	}
	return ""
}
