package imports

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/store"
)

// Kinds of input file.
const (
	KindInventory   = "inventory"
	KindProjects    = "projects"
	KindAllocations = "allocations"
	KindSamples     = "samples"
)

// Kinds lists the input kinds in the order they depend on each other.
var Kinds = []string{KindInventory, KindProjects, KindAllocations, KindSamples}

// Importer writes validated input files into a store.
type Importer struct {
	Store store.Store
	Log   *zap.Logger
	// BatchRows is how many samples go into one insert (bounded memory).
	BatchRows int
}

// Result says what an import did.
type Result struct {
	Kind      string
	File      string
	SHA256    string
	BatchID   uint64
	Rows      int
	Unchanged bool // the store already held exactly this file's rows
}

// Import reads one file of the given kind.
func (im *Importer) Import(ctx context.Context, kind, path string) (Result, error) {
	switch kind {
	case KindInventory:
		return im.Inventory(ctx, path)
	case KindProjects:
		return im.Projects(ctx, path)
	case KindAllocations:
		return im.Allocations(ctx, path)
	case KindSamples:
		return im.Samples(ctx, path)
	}
	return Result{}, fmt.Errorf("import: unknown kind %q (want %s)", kind, strings.Join(Kinds, ", "))
}

func (im *Importer) log() *zap.Logger {
	if im.Log == nil {
		return zap.NewNop()
	}
	return im.Log
}

// commit records the import; its rows count from this moment on.
func (im *Importer) commit(ctx context.Context, r Result) error {
	return store.CommitImport(ctx, im.Store, store.Import{BatchID: r.BatchID, Kind: r.Kind, File: r.File, SHA256: r.SHA256, Rows: r.Rows})
}

// writeReference stores a validated reference file (inventory, projects,
// allocations) of rows rows and keys distinct keys: insert writes its rows under the batch
// id in one insert, then the import is committed. dirtyFrom is the earliest
// time whose accounting the file changes.
func (im *Importer) writeReference(ctx context.Context, kind, file, sha string, rows, keys int, dirtyFrom time.Time, insert func(batch uint64) error) (Result, error) {
	res := Result{Kind: kind, File: file, SHA256: sha, Rows: rows}
	same, err := store.ImportUnchanged(ctx, im.Store, kind, sha, keys)
	if err != nil {
		return res, err
	}
	if same {
		res.Unchanged = true
		im.log().Info("import unchanged", zap.String("kind", kind), zap.String("file", file), zap.String("sha256", sha))
		return res, nil
	}
	if res.BatchID, err = store.NewBatchID(ctx, im.Store); err != nil {
		return res, err
	}
	if err := insert(res.BatchID); err != nil {
		return res, fmt.Errorf("write %s: %w", file, err)
	}
	if err := im.commit(ctx, res); err != nil {
		return res, err
	}
	if err := im.noteDirty(ctx, res, dirtyFrom, time.Time{}); err != nil {
		return res, err
	}
	im.log().Info("imported", zap.String("kind", kind), zap.String("file", file), zap.Int("rows", rows), zap.Uint64("batch", res.BatchID))
	return res, nil
}

// noteDirty tells the aggregation what the committed import changed. Should
// that fail, the data is in, and only an explicit recomputation is missing.
func (im *Importer) noteDirty(ctx context.Context, res Result, from, to time.Time) error {
	if from.IsZero() {
		return nil
	}
	if err := store.NoteDirty(ctx, im.Store, from, to, res.Kind); err != nil {
		return fmt.Errorf("%s imported, but its accounting is not yet marked for recomputation: run `gpumeter aggregate --from %s`: %w",
			res.File, from.Format(time.RFC3339), err)
	}
	return nil
}

// earliest is the first of times, ignoring zero ones.
func earliest(times ...time.Time) time.Time {
	var out time.Time
	for _, t := range times {
		if !t.IsZero() && (out.IsZero() || t.Before(out)) {
			out = t
		}
	}
	return out
}
