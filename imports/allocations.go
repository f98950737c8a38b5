package imports

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/store"
)

var allocationColumns = []string{"allocation_id", "project_id", "gpu_uuid", "node", "start", "end"}

type allocationLine struct {
	gpumeter.Allocation
	line int // 0: already in the store
}

// Allocations imports an allocations file; the key is allocation_id. It checks
// the file against the stored projects, inventory and the allocations it does
// not replace: a GPU is held by one project at a time, and only by projects
// of its own provider.
func (im *Importer) Allocations(ctx context.Context, path string) (Result, error) {
	allocs, sha, bad, err := readAllocations(path)
	if err != nil {
		return Result{Kind: KindAllocations}, err
	}
	projects, err := store.Projects(ctx, im.Store)
	if err != nil {
		return Result{Kind: KindAllocations}, err
	}
	inventory, err := store.Inventory(ctx, im.Store)
	if err != nil {
		return Result{Kind: KindAllocations}, err
	}
	stored, err := store.Allocations(ctx, im.Store)
	if err != nil {
		return Result{Kind: KindAllocations}, err
	}
	checkAllocations(allocs, stored, projects, inventory, bad)
	if err := bad.err(); err != nil {
		return Result{Kind: KindAllocations}, err
	}
	out := make([]gpumeter.Allocation, len(allocs))
	ids := map[string]bool{}
	var dirty time.Time
	for i, a := range allocs {
		out[i] = a.Allocation
		ids[a.ID] = true
		dirty = earliest(dirty, a.Start)
	}
	for _, a := range stored {
		if ids[a.ID] {
			dirty = earliest(dirty, a.Start) // the replaced allocation's time changes too
		}
	}
	return im.writeReference(ctx, KindAllocations, fileName(path), sha, len(allocs), len(allocs), dirty, func(batch uint64) error {
		return store.InsertAllocations(ctx, im.Store, batch, out)
	})
}

// readAllocations parses a whole allocations file; it returns the good rows and
// the problems of the bad ones, to which the checks against the store add.
func readAllocations(path string) ([]allocationLine, string, *problems, error) {
	c, err := openCSV(path, allocationColumns)
	if err != nil {
		return nil, "", nil, fmt.Errorf("allocations: %w", err)
	}
	defer c.Close()
	bad := &problems{file: c.name}
	var out []allocationLine
	idLine := map[string]int{}
	for range c.records(bad) {
		a := gpumeter.Allocation{ID: c.get("allocation_id"), ProjectID: c.get("project_id"), GPUUUID: c.get("gpu_uuid"), Node: c.get("node")}
		ok := true
		if a.ID == "" {
			bad.add(c.line, "allocation_id is empty")
			ok = false
		} else if prev, dup := idLine[a.ID]; dup {
			bad.add(c.line, "allocation %s is also on line %d", a.ID, prev)
			ok = false
		}
		idLine[a.ID] = c.line
		if a.ProjectID == "" {
			bad.add(c.line, "project_id is empty")
			ok = false
		}
		if (a.GPUUUID == "") == (a.Node == "") {
			bad.add(c.line, "give exactly one of gpu_uuid and node")
			ok = false
		}
		var errStart, errEnd error
		a.Start, errStart = parseTime("start", c.get("start"))
		a.End, errEnd = parseOptionalTime("end", c.get("end"))
		for _, e := range []error{errStart, errEnd} {
			if e != nil {
				bad.add(c.line, "%v", e)
				ok = false
			}
		}
		if errStart == nil && errEnd == nil && a.End != nil && !a.End.After(a.Start) {
			bad.add(c.line, "end %s is not after start %s", c.get("end"), c.get("start"))
			ok = false
		}
		if ok {
			out = append(out, allocationLine{Allocation: a, line: c.line})
		}
	}
	return out, c.sum(), bad, nil
}

// hold is one GPU held by one allocation.
type hold struct {
	alloc *allocationLine
	gpu   string
}

func checkAllocations(file []allocationLine, stored []gpumeter.Allocation, projects []gpumeter.Project,
	inventory []gpumeter.InventoryRow, bad *problems) {
	projectByID := map[string]gpumeter.Project{}
	for _, p := range projects {
		projectByID[p.ID] = p
	}
	byGPU := map[string][]gpumeter.InventoryRow{}
	byNode := map[string][]gpumeter.InventoryRow{}
	for _, r := range inventory {
		byGPU[r.GPUUUID] = append(byGPU[r.GPUUUID], r)
		byNode[r.Node] = append(byNode[r.Node], r)
	}
	// gpusOf expands an allocation into the GPUs it holds: its GPU, or every
	// GPU that the inventory places on its node while it runs.
	gpusOf := func(a gpumeter.Allocation) []gpumeter.InventoryRow {
		source := byGPU[a.GPUUUID]
		if a.Node != "" {
			source = byNode[a.Node]
		}
		var out []gpumeter.InventoryRow
		for _, r := range source {
			if gpumeter.Overlaps(a.Start, a.End, r.ValidFrom, r.ValidTo) {
				out = append(out, r)
			}
		}
		return out
	}
	inFile := map[string]bool{}
	var holds []hold
	for i := range file {
		a := &file[i]
		inFile[a.ID] = true
		p, known := projectByID[a.ProjectID]
		if !known {
			bad.add(a.line, "project %s is not in the imported projects", a.ProjectID)
			continue
		}
		rows := gpusOf(a.Allocation)
		if len(rows) == 0 {
			what := "GPU " + a.GPUUUID
			if a.Node != "" {
				what = "node " + a.Node
			}
			bad.add(a.line, "%s has no inventory row valid during the allocation", what)
			continue
		}
		seen := map[string]bool{}
		for _, r := range rows {
			if r.Provider != p.Provider {
				bad.add(a.line, "project %s of provider %s cannot hold GPU %s of provider %s", p.ID, p.Provider, r.GPUUUID, r.Provider)
				break
			}
			if !seen[r.GPUUUID] {
				seen[r.GPUUUID] = true
				holds = append(holds, hold{alloc: a, gpu: r.GPUUUID})
			}
		}
	}
	for i := range stored {
		if inFile[stored[i].ID] {
			continue // replaced by this file
		}
		a := &allocationLine{Allocation: stored[i]}
		seen := map[string]bool{}
		for _, r := range gpusOf(a.Allocation) {
			if !seen[r.GPUUUID] {
				seen[r.GPUUUID] = true
				holds = append(holds, hold{alloc: a, gpu: r.GPUUUID})
			}
		}
	}
	checkOverlaps(holds, bad)
}

// checkOverlaps rejects two allocations holding one GPU at the same second.
func checkOverlaps(holds []hold, bad *problems) {
	sort.Slice(holds, func(i, j int) bool {
		if holds[i].gpu != holds[j].gpu {
			return holds[i].gpu < holds[j].gpu
		}
		return holds[i].alloc.Start.Before(holds[j].alloc.Start)
	})
	for i := 0; i < len(holds); i++ {
		// Compare with every earlier hold of the GPU still running: an open or
		// long allocation can overlap several later ones.
		for j := i - 1; j >= 0 && holds[j].gpu == holds[i].gpu; j-- {
			a, b := holds[j].alloc, holds[i].alloc
			if !gpumeter.Overlaps(a.Start, a.End, b.Start, b.End) {
				continue
			}
			if b.line == 0 && a.line == 0 {
				continue // both stored; not this file's doing
			}
			line, other := b, a
			if b.line == 0 {
				line, other = a, b
			}
			where := fmt.Sprintf("line %d", other.line)
			if other.line == 0 {
				where = "stored allocation " + other.ID
			}
			bad.add(line.line, "GPU %s is already held from %s by project %s (%s)", holds[i].gpu,
				other.Start.Format(time.RFC3339), other.ProjectID, where)
			break
		}
	}
}
