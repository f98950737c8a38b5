package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nipa-gpu/gpumeter"
)

// Import is one committed input file: its rows count from the moment this
// row is written (the *_current views and every samples read see committed
// batches only), and the same row marks the hours it changes for
// recomputation, so that no moment exists when one is true and not the other.
type Import struct {
	BatchID            uint64
	Kind               string // inventory, projects, allocations or samples
	File               string
	SHA256             string
	Rows               int
	DirtyFrom, DirtyTo time.Time // the hours whose accounting it changes: none for a zero DirtyFrom; a zero DirtyTo is open
}

// keyColumns are the key of each reference kind: a later import replaces the
// rows of the same keys.
var keyColumns = map[string]string{"inventory": "gpu_uuid", "projects": "project_id", "allocations": "allocation_id"}

// NewBatchID returns an id above every batch in the store: a later import
// always wins over an earlier one, even if the clock stepped back.
func NewBatchID(ctx context.Context, st Store) (uint64, error) {
	var last uint64
	if err := st.Stream(ctx, "SELECT toUInt64(max(batch_id)) FROM imports", func(scan func(...any) error) error { return scan(&last) }); err != nil {
		return 0, fmt.Errorf("read imports: %w", err)
	}
	id := uint64(time.Now().UnixNano())
	if id <= last {
		id = last + 1
	}
	return id, nil
}

// CommitImport records an import as done, in one row: its rows become
// visible and its hours dirty at once.
func CommitImport(ctx context.Context, st Store, im Import) error {
	from, to := time.Unix(0, 0).UTC(), time.Unix(0, 0).UTC() // nothing dirty
	if !im.DirtyFrom.IsZero() {
		from, to = dirtyRange(im.DirtyFrom, im.DirtyTo)
	}
	row := []any{im.BatchID, im.Kind, im.File, im.SHA256, uint64(im.Rows), time.Now().UTC(), from, to, uint64(time.Now().UnixNano())}
	columns := []string{"batch_id", "kind", "file", "sha256", "rows", "imported_at", "dirty_from", "dirty_to", "noted_at"}
	if err := st.Insert(ctx, "imports", columns, [][]any{row}); err != nil {
		return fmt.Errorf("commit import of %s: %w", im.File, err)
	}
	return nil
}

// ImportUnchanged reports whether all keys of a reference file of this kind
// and hash currently resolve to an earlier import of the same bytes: then
// importing it again changes nothing.
func ImportUnchanged(ctx context.Context, st Store, kind, sha string, keys int) (bool, error) {
	key, ok := keyColumns[kind]
	if !ok {
		return false, fmt.Errorf("import kind %q has no keys", kind)
	}
	q := fmt.Sprintf(`SELECT toUInt64(count(DISTINCT %s)) FROM %s_current
WHERE batch_id GLOBAL IN (SELECT batch_id FROM imports WHERE kind = %s AND sha256 = %s)`, key, kind, quote(kind), quote(sha))
	var n uint64
	if err := st.Stream(ctx, q, func(scan func(...any) error) error { return scan(&n) }); err != nil {
		return false, fmt.Errorf("read current %s: %w", kind, err)
	}
	return int(n) == keys, nil
}

// CurrentImportHashes lists "kind sha256" for every import whose rows are
// still in force, in the order of kinds.
func CurrentImportHashes(ctx context.Context, st Store) ([]string, error) {
	var out []string
	for _, kind := range []string{"inventory", "projects", "allocations"} {
		q := fmt.Sprintf(`SELECT DISTINCT sha256 FROM imports WHERE kind = %s AND batch_id GLOBAL IN (SELECT DISTINCT batch_id FROM %s_current)`, quote(kind), kind)
		err := st.Stream(ctx, q, func(scan func(...any) error) error {
			var sha string
			if err := scan(&sha); err != nil {
				return err
			}
			out = append(out, kind+" "+sha)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read imports: %w", err)
		}
	}
	return out, nil
}

// InsertInventory writes inventory rows under a batch id (not yet committed).
func InsertInventory(ctx context.Context, st Store, batch uint64, rows []gpumeter.InventoryRow) error {
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = []any{batch, r.GPUUUID, r.Provider, r.Site, r.Node, r.GPUIndex, r.Model, string(r.Share), r.ValidFrom, r.ValidTo}
	}
	return st.Insert(ctx, "inventory", []string{"batch_id", "gpu_uuid", "provider", "site", "node", "gpu_index", "model", "share", "valid_from", "valid_to"}, out)
}

// InsertProjects writes project rows under a batch id (not yet committed).
func InsertProjects(ctx context.Context, st Store, batch uint64, rows []gpumeter.Project) error {
	out := make([][]any, len(rows))
	for i, p := range rows {
		out[i] = []any{batch, p.ID, p.Name, string(p.Kind), p.Provider, p.Namespace}
	}
	return st.Insert(ctx, "projects", []string{"batch_id", "project_id", "name", "kind", "provider", "namespace"}, out)
}

// InsertAllocations writes allocation rows under a batch id (not yet committed).
func InsertAllocations(ctx context.Context, st Store, batch uint64, rows []gpumeter.Allocation) error {
	out := make([][]any, len(rows))
	for i, a := range rows {
		out[i] = []any{batch, a.ID, a.ProjectID, a.GPUUUID, a.Node, a.Start, a.End}
	}
	return st.Insert(ctx, "allocations", []string{"batch_id", "allocation_id", "project_id", "gpu_uuid", "node", "start_ts", "end_ts"}, out)
}

// DropAbandonedImports drops the samples of imports that began more than
// olderThan ago and never committed (killed, or failed while writing), which
// no reader sees: their partitions (month, batch) go whole, so a committed
// row is never touched. It returns how many partitions it dropped. On a
// cluster it sees the partitions of the node it is connected to.
func DropAbandonedImports(ctx context.Context, st Store, olderThan time.Duration) (int, error) {
	committed := map[uint64]bool{0: true} // batch 0: collected samples
	err := st.Stream(ctx, "SELECT DISTINCT batch_id FROM imports WHERE kind = 'samples'", func(scan func(...any) error) error {
		var b uint64
		if err := scan(&b); err != nil {
			return err
		}
		committed[b] = true
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read imports: %w", err)
	}
	cutoff := uint64(time.Now().Add(-olderThan).UnixNano())
	return dropSamplePartitions(ctx, st, func(b uint64) bool { return !committed[b] && b < cutoff })
}

// DropImport drops the samples a failed import wrote under its batch id,
// which no reader sees: the store is left as it was.
func DropImport(ctx context.Context, st Store, batch uint64) (int, error) {
	return dropSamplePartitions(ctx, st, func(b uint64) bool { return b == batch && batch != 0 })
}

// dropSamplePartitions drops the partitions of samples whose batch id drop
// picks, and sample_gpus' of the same batches; a partition is (YYYYMM,
// batch_id) in both. It returns how many it dropped of samples.
func dropSamplePartitions(ctx context.Context, st Store, drop func(batch uint64) bool) (int, error) {
	n, err := dropBatchPartitions(ctx, st, "samples", drop)
	if err != nil {
		return n, err
	}
	_, err = dropBatchPartitions(ctx, st, "sample_gpus", drop)
	return n, err
}

func dropBatchPartitions(ctx context.Context, st Store, name string, drop func(batch uint64) bool) (int, error) {
	d := st.Dialect()
	table, onCluster := name, ""
	if d.Cluster != "" {
		table, onCluster = d.Database+"."+name+"_local", " ON CLUSTER "+d.Cluster
	}
	var doomed []string
	q := fmt.Sprintf(`SELECT DISTINCT partition FROM system.parts WHERE database = currentDatabase() AND table = %s AND active`,
		quote(strings.TrimPrefix(table, d.Database+".")))
	err := st.Stream(ctx, q, func(scan func(...any) error) error {
		var p string
		if err := scan(&p); err != nil {
			return err
		}
		_, batch, ok := strings.Cut(strings.Trim(p, "()"), ",")
		b, err := strconv.ParseUint(strings.TrimSpace(batch), 10, 64)
		if ok && err == nil && drop(b) {
			doomed = append(doomed, p)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read %s partitions: %w", name, err)
	}
	for i, p := range doomed {
		if err := st.Exec(ctx, fmt.Sprintf("ALTER TABLE %s%s DROP PARTITION %s", table, onCluster, p)); err != nil {
			return i, fmt.Errorf("drop uncommitted import %s %s: %w", name, p, err)
		}
	}
	return len(doomed), nil
}
