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

// newBatchID returns an id above every batch in the store: a later import
// always wins over an earlier one, even if the clock stepped back.
func (im *Importer) newBatchID(ctx context.Context) (uint64, error) {
	rows, err := im.Store.Query(ctx, "SELECT max(batch_id) FROM imports")
	if err != nil {
		return 0, fmt.Errorf("read imports: %w", err)
	}
	var last uint64
	if rows.Next() {
		if err := rows.Scan(&last); err != nil {
			return 0, err
		}
	}
	id := uint64(time.Now().UnixNano())
	if id <= last {
		id = last + 1
	}
	return id, nil
}

// commit records the import; its rows count from this moment on.
func (im *Importer) commit(ctx context.Context, r Result) error {
	row := []any{r.BatchID, r.Kind, r.File, r.SHA256, uint64(r.Rows), time.Now().UTC()}
	if err := im.Store.Insert(ctx, "imports", []string{"batch_id", "kind", "file", "sha256", "rows", "imported_at"}, [][]any{row}); err != nil {
		return fmt.Errorf("commit import of %s: %w", r.File, err)
	}
	return nil
}

// unchanged reports whether every key of a file currently resolves to an
// earlier import of the same bytes: then importing it again changes nothing.
func (im *Importer) unchanged(ctx context.Context, kind, sha string, keyColumn string, keys int) (bool, error) {
	q := fmt.Sprintf(`SELECT count(DISTINCT %s) FROM %s_current
WHERE batch_id GLOBAL IN (SELECT batch_id FROM imports WHERE kind = '%s' AND sha256 = '%s')`, keyColumn, kind, kind, sha)
	rows, err := im.Store.Query(ctx, q)
	if err != nil {
		return false, fmt.Errorf("read current %s: %w", kind, err)
	}
	var n int
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return false, err
		}
	}
	return n == keys, nil
}

// writeReference stores a validated reference file (inventory, projects,
// allocations): its rows in one insert, then the commit.
// dirtyFrom is the earliest time whose accounting the file changes.
func (im *Importer) writeReference(ctx context.Context, kind, file, sha, keyColumn string, keys int, columns []string, rows [][]any, dirtyFrom time.Time) (Result, error) {
	res := Result{Kind: kind, File: file, SHA256: sha, Rows: len(rows)}
	same, err := im.unchanged(ctx, kind, sha, keyColumn, keys)
	if err != nil {
		return res, err
	}
	if same {
		res.Unchanged = true
		im.log().Info("import unchanged", zap.String("kind", kind), zap.String("file", file), zap.String("sha256", sha))
		return res, nil
	}
	if res.BatchID, err = im.newBatchID(ctx); err != nil {
		return res, err
	}
	for _, r := range rows {
		r[0] = res.BatchID
	}
	if err := im.Store.Insert(ctx, kind, columns, rows); err != nil {
		return res, fmt.Errorf("write %s: %w", file, err)
	}
	if err := im.commit(ctx, res); err != nil {
		return res, err
	}
	if err := im.noteDirty(ctx, res, dirtyFrom, store.Forever); err != nil {
		return res, err
	}
	im.log().Info("imported", zap.String("kind", kind), zap.String("file", file), zap.Int("rows", len(rows)), zap.Uint64("batch", res.BatchID))
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
