package imports

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/store"
)

var inventoryColumns = []string{"gpu_uuid", "provider", "site", "node", "gpu_index", "model", "share", "valid_from", "valid_to"}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// Inventory imports an inventory file. The key is the GPU: a file that lists a
// GPU gives all of its rows, replacing what earlier imports said about it.
func (im *Importer) Inventory(ctx context.Context, path string) (Result, error) {
	rows, sha, err := ReadInventory(path)
	if err != nil {
		return Result{Kind: KindInventory}, err
	}
	gpus := map[string]bool{}
	var dirty time.Time
	for _, r := range rows {
		gpus[r.GPUUUID] = true
		dirty = earliest(dirty, r.ValidFrom)
	}
	// The rows this file replaces change the accounting from their start too.
	current, err := store.Inventory(ctx, im.Store)
	if err != nil {
		return Result{Kind: KindInventory}, err
	}
	for _, r := range current {
		if gpus[r.GPUUUID] {
			dirty = earliest(dirty, r.ValidFrom)
		}
	}
	return im.writeReference(ctx, KindInventory, fileName(path), sha, len(rows), len(gpus), dirty, func(batch uint64) error {
		return store.InsertInventory(ctx, im.Store, batch, rows)
	})
}

// ReadInventory parses and validates a whole inventory file.
func ReadInventory(path string) ([]gpumeter.InventoryRow, string, error) {
	c, err := openCSV(path, inventoryColumns)
	if err != nil {
		return nil, "", fmt.Errorf("inventory: %w", err)
	}
	defer c.Close()
	bad := &problems{file: c.name}
	var rows []gpumeter.InventoryRow
	var lines []int
	for range c.records(bad) {
		r := gpumeter.InventoryRow{
			GPUUUID: c.get("gpu_uuid"), Provider: c.get("provider"), Site: c.get("site"),
			Node: c.get("node"), Model: c.get("model"), Share: gpumeter.Share(c.get("share")),
		}
		for _, f := range []struct{ name, value string }{{"gpu_uuid", r.GPUUUID}, {"site", r.Site}, {"node", r.Node}, {"model", r.Model}} {
			if f.value == "" {
				bad.add(c.line, "%s is empty", f.name)
			}
		}
		if !idPattern.MatchString(r.Provider) {
			bad.add(c.line, "provider %q is not a provider id (lower-case letters, digits, _ and -)", r.Provider)
		}
		if !r.Share.Valid() {
			bad.add(c.line, "share %q is not government or private", r.Share)
		}
		if idx, err := strconv.ParseUint(c.get("gpu_index"), 10, 16); err != nil {
			bad.add(c.line, "gpu_index %q is not a whole number 0–65535", c.get("gpu_index"))
		} else {
			r.GPUIndex = uint16(idx)
		}
		var errFrom, errTo error
		r.ValidFrom, errFrom = parseTime("valid_from", c.get("valid_from"))
		r.ValidTo, errTo = parseOptionalTime("valid_to", c.get("valid_to"))
		for _, e := range []error{errFrom, errTo} {
			if e != nil {
				bad.add(c.line, "%v", e)
			}
		}
		if errFrom == nil && errTo == nil && r.ValidTo != nil && !r.ValidTo.After(r.ValidFrom) {
			bad.add(c.line, "valid_to %s is not after valid_from %s", c.get("valid_to"), c.get("valid_from"))
			continue
		}
		if errFrom != nil || errTo != nil {
			continue
		}
		rows = append(rows, r)
		lines = append(lines, c.line)
	}
	checkInventoryOverlaps(rows, lines, bad)
	if err := bad.err(); err != nil {
		return nil, "", err
	}
	return rows, c.sum(), nil
}

// checkInventoryOverlaps rejects rows of one GPU whose validity overlaps.
func checkInventoryOverlaps(rows []gpumeter.InventoryRow, lines []int, bad *problems) {
	byGPU := map[string][]int{}
	for i, r := range rows {
		byGPU[r.GPUUUID] = append(byGPU[r.GPUUUID], i)
	}
	for _, idx := range byGPU {
		sort.Slice(idx, func(a, b int) bool { return rows[idx[a]].ValidFrom.Before(rows[idx[b]].ValidFrom) })
		for k := 1; k < len(idx); k++ {
			prev, cur := rows[idx[k-1]], rows[idx[k]]
			if gpumeter.Overlaps(prev.ValidFrom, prev.ValidTo, cur.ValidFrom, cur.ValidTo) {
				bad.add(lines[idx[k]], "GPU %s: validity overlaps line %d (rows of one GPU must not overlap)", cur.GPUUUID, lines[idx[k-1]])
			}
		}
	}
}
