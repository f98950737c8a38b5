package imports

import (
	"context"
	"fmt"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/store"
)

// CurrentInventory reads the inventory as it stands after all imports.
func CurrentInventory(ctx context.Context, st store.Store) ([]gpumeter.InventoryRow, error) {
	rows, err := st.Query(ctx, `SELECT gpu_uuid, provider, site, node, gpu_index, model, share, valid_from, valid_to
FROM inventory_current ORDER BY gpu_uuid, valid_from`)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	out := make([]gpumeter.InventoryRow, 0, rows.Len())
	for rows.Next() {
		var r gpumeter.InventoryRow
		var idx int
		var share string
		if err := rows.Scan(&r.GPUUUID, &r.Provider, &r.Site, &r.Node, &idx, &r.Model, &share, &r.ValidFrom, &r.ValidTo); err != nil {
			return nil, fmt.Errorf("read inventory: %w", err)
		}
		r.GPUIndex, r.Share = uint16(idx), gpumeter.Share(share)
		out = append(out, r)
	}
	return out, nil
}

// CurrentProjects reads the projects as they stand after all imports.
func CurrentProjects(ctx context.Context, st store.Store) ([]gpumeter.Project, error) {
	rows, err := st.Query(ctx, `SELECT project_id, name, kind, provider, namespace FROM projects_current ORDER BY project_id`)
	if err != nil {
		return nil, fmt.Errorf("read projects: %w", err)
	}
	out := make([]gpumeter.Project, 0, rows.Len())
	for rows.Next() {
		var p gpumeter.Project
		var kind string
		if err := rows.Scan(&p.ID, &p.Name, &kind, &p.Provider, &p.Namespace); err != nil {
			return nil, fmt.Errorf("read projects: %w", err)
		}
		p.Kind = gpumeter.ProjectKind(kind)
		out = append(out, p)
	}
	return out, nil
}

// CurrentAllocations reads the allocations as they stand after all imports.
func CurrentAllocations(ctx context.Context, st store.Store) ([]gpumeter.Allocation, error) {
	rows, err := st.Query(ctx, `SELECT allocation_id, project_id, gpu_uuid, node, start_ts, end_ts
FROM allocations_current ORDER BY allocation_id`)
	if err != nil {
		return nil, fmt.Errorf("read allocations: %w", err)
	}
	out := make([]gpumeter.Allocation, 0, rows.Len())
	for rows.Next() {
		var a gpumeter.Allocation
		if err := rows.Scan(&a.ID, &a.ProjectID, &a.GPUUUID, &a.Node, &a.Start, &a.End); err != nil {
			return nil, fmt.Errorf("read allocations: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}
