package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/nipa-gpu/gpumeter/store"
)

// ImportWriter takes the samples of one import (SPEC §10): written under the
// import's batch id, seen by no reader until Commit records the import and,
// in the same row, the hours its samples change. An import is NIPA's own, so
// its samples are not checked for ownership. Write is safe for concurrent use.
type ImportWriter struct {
	in    *Ingester
	batch uint64

	mu      sync.Mutex
	lo, hi  time.Time
	written int
}

// Import starts writing the samples of the import batch.
func (in *Ingester) Import(batch uint64) *ImportWriter {
	return &ImportWriter{in: in, batch: batch}
}

// Write stores one batch of the import's samples, unseen until Commit.
func (w *ImportWriter) Write(ctx context.Context, b *store.SampleBatch) error {
	if b.Len() == 0 {
		return nil
	}
	if err := store.InsertImportedBatch(ctx, w.in.store, b, w.batch); err != nil {
		return err
	}
	lo, hi := b.Span()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.written == 0 || lo.Before(w.lo) {
		w.lo = lo
	}
	if w.written == 0 || hi.After(w.hi) {
		w.hi = hi
	}
	w.written += b.Len()
	return nil
}

// Written is how many samples were written so far.
func (w *ImportWriter) Written() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written
}

// Commit makes the import's samples visible: im (its batch id, kind, file,
// hash and rows) is recorded with the hours they change. Before it, whatever
// moment the import stops at, nothing of it is seen.
func (w *ImportWriter) Commit(ctx context.Context, im store.Import) error {
	w.mu.Lock()
	written, lo, hi := w.written, w.lo, w.hi
	w.mu.Unlock()
	im.BatchID = w.batch
	if written > 0 {
		im.DirtyFrom, im.DirtyTo = dirtySpan(lo, hi)
	}
	if err := store.CommitImport(ctx, w.in.store, im); err != nil {
		return err
	}
	w.in.metrics.stored.WithLabelValues(string(Import), "").Add(float64(written))
	return nil
}

// Abandon drops what a failed import wrote; no reader sees it either way,
// and an import that cannot drop it leaves it to the next one.
func (w *ImportWriter) Abandon(ctx context.Context) (partitions int, err error) {
	return store.DropImport(ctx, w.in.store, w.batch)
}
