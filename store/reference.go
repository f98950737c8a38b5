package store

import (
	"context"
	"fmt"
	"time"

	"github.com/nipa-gpu/gpumeter"
)

// Reference is the inventory, projects and allocations in force: the newest
// import of each key (the *_current views).
type Reference struct {
	Inventory   []gpumeter.InventoryRow
	Projects    []gpumeter.Project
	Allocations []gpumeter.Allocation
}

// LoadReference reads all three reference tables.
func LoadReference(ctx context.Context, st Store) (*Reference, error) {
	var ref Reference
	var err error
	if ref.Inventory, err = Inventory(ctx, st); err != nil {
		return nil, err
	}
	if ref.Projects, err = Projects(ctx, st); err != nil {
		return nil, err
	}
	if ref.Allocations, err = Allocations(ctx, st); err != nil {
		return nil, err
	}
	return &ref, nil
}

// Inventory reads the inventory as it stands after all imports.
func Inventory(ctx context.Context, st Store) ([]gpumeter.InventoryRow, error) {
	var out []gpumeter.InventoryRow
	err := st.Stream(ctx, `SELECT gpu_uuid, provider, site, node, toUInt16(gpu_index), model, share, valid_from, valid_to
FROM inventory_current ORDER BY gpu_uuid, valid_from`, func(scan func(...any) error) error {
		var r gpumeter.InventoryRow
		var share string
		if err := scan(&r.GPUUUID, &r.Provider, &r.Site, &r.Node, &r.GPUIndex, &r.Model, &share, &r.ValidFrom, &r.ValidTo); err != nil {
			return err
		}
		r.Share = gpumeter.Share(share)
		r.ValidFrom = r.ValidFrom.UTC()
		r.ValidTo = utcPtr(r.ValidTo)
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	return out, nil
}

// Projects reads the projects as they stand after all imports.
func Projects(ctx context.Context, st Store) ([]gpumeter.Project, error) {
	var out []gpumeter.Project
	err := st.Stream(ctx, `SELECT project_id, name, kind, provider, namespace FROM projects_current ORDER BY project_id`,
		func(scan func(...any) error) error {
			var p gpumeter.Project
			var kind string
			if err := scan(&p.ID, &p.Name, &kind, &p.Provider, &p.Namespace); err != nil {
				return err
			}
			p.Kind = gpumeter.ProjectKind(kind)
			out = append(out, p)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read projects: %w", err)
	}
	return out, nil
}

// Allocations reads the allocations as they stand after all imports.
func Allocations(ctx context.Context, st Store) ([]gpumeter.Allocation, error) {
	var out []gpumeter.Allocation
	err := st.Stream(ctx, `SELECT allocation_id, project_id, gpu_uuid, node, start_ts, end_ts
FROM allocations_current ORDER BY allocation_id`, func(scan func(...any) error) error {
		var a gpumeter.Allocation
		if err := scan(&a.ID, &a.ProjectID, &a.GPUUUID, &a.Node, &a.Start, &a.End); err != nil {
			return err
		}
		a.Start = a.Start.UTC()
		a.End = utcPtr(a.End)
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read allocations: %w", err)
	}
	return out, nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// GPUCounts counts, per provider and share, the GPUs whose inventory rows of
// that share overlap [from, to).
func GPUCounts(ctx context.Context, st Store, from, to int64) (map[string]map[gpumeter.Share]int, error) {
	q := fmt.Sprintf(`SELECT provider, share, toUInt64(uniqExact(gpu_uuid)) FROM inventory_current
WHERE valid_from < toDateTime(%d) AND (isNull(valid_to) OR valid_to > toDateTime(%d))
GROUP BY provider, share`, to, max(from, 0))
	out := map[string]map[gpumeter.Share]int{}
	err := st.Stream(ctx, q, func(scan func(...any) error) error {
		var p, share string
		var n uint64
		if err := scan(&p, &share, &n); err != nil {
			return err
		}
		if out[p] == nil {
			out[p] = map[gpumeter.Share]int{}
		}
		out[p][gpumeter.Share(share)] = int(n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count GPUs: %w", err)
	}
	return out, nil
}

// UnregisteredGPUs counts the GPUs with samples in [from, to) that no
// inventory row names.
func UnregisteredGPUs(ctx context.Context, st Store, from, to int64) (int, error) {
	// sample_gpus has the GPUs of each hour's samples: whole hours count.
	q := fmt.Sprintf(`SELECT toUInt64(uniqExact(gpu_uuid)) FROM sample_gpus `+visibleSamples+`
WHERE hour >= toDateTime(%d) AND hour < toDateTime(%d) AND gpu_uuid GLOBAL NOT IN (SELECT gpu_uuid FROM inventory_current)`,
		max(from, 0)/3600*3600, to)
	var n uint64
	if err := st.Stream(ctx, q, func(scan func(...any) error) error { return scan(&n) }); err != nil {
		return 0, fmt.Errorf("count unregistered GPUs: %w", err)
	}
	return int(n), nil
}
