package aggregator

import (
	"context"
	"fmt"
)

// Row is a rollup row summed over some hours: one GPU, share and project.
type Row struct {
	GPU, Provider, Node, Model, Share, Project, Kind string
	Capacity, Active, Idle, NoData                   int64
	ActiveFrom, ActiveUntil                          int64 // unix; 0: no active second
}

// current reads the rollups of [from, to) as the latest recomputation left
// them: FINAL keeps the highest version of each (hour, gpu, share, project),
// and a recomputation writes zeros for the keys it no longer has.
func current(from, to int64) string {
	return fmt.Sprintf(`gpu_hours FINAL WHERE hour >= toDateTime(%d) AND hour < toDateTime(%d) AND capacity > 0`, from, to)
}

// Rollups sums the rollups of [from, to) (whole hours) per GPU, share and
// project; where is an extra SQL condition ("" for none).
func Rollups(ctx context.Context, st Streamer, from, to int64, where string) ([]Row, error) {
	if where != "" {
		where = " AND (" + where + ")"
	}
	q := fmt.Sprintf(`SELECT gpu_uuid, any(provider), any(node), any(model), share, project_id, any(project_kind),
    toUInt64(sum(capacity)), toUInt64(sum(active)), toUInt64(sum(idle)), toUInt64(sum(no_data)),
    toUInt32(minIf(active_from, active_from > 0)), toUInt32(max(active_until))
FROM %s%s
GROUP BY gpu_uuid, share, project_id
ORDER BY gpu_uuid, share, project_id`, current(from, to), where)
	var out []Row
	err := st.Stream(ctx, q, func(scan func(...any) error) error {
		var r Row
		var c, a, i, n uint64
		var af, au uint32
		if err := scan(&r.GPU, &r.Provider, &r.Node, &r.Model, &r.Share, &r.Project, &r.Kind, &c, &a, &i, &n, &af, &au); err != nil {
			return err
		}
		r.Capacity, r.Active, r.Idle, r.NoData = int64(c), int64(a), int64(i), int64(n)
		r.ActiveFrom, r.ActiveUntil = int64(af), int64(au)
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read rollups: %w", err)
	}
	return out, nil
}

// HourlyProviderSeconds sums, per provider and hour of [from, to), the
// capacity seconds under the provider's own projects (for peak_provider_gpus).
func HourlyProviderSeconds(ctx context.Context, st Streamer, from, to int64) (map[string]map[int64]int64, error) {
	q := fmt.Sprintf(`SELECT provider, toUInt32(hour), toUInt64(sum(capacity)) FROM %s AND project_kind = 'provider'
GROUP BY provider, hour`, current(from, to))
	out := map[string]map[int64]int64{}
	err := st.Stream(ctx, q, func(scan func(...any) error) error {
		var p string
		var h uint32
		var s uint64
		if err := scan(&p, &h, &s); err != nil {
			return err
		}
		if out[p] == nil {
			out[p] = map[int64]int64{}
		}
		out[p][int64(h)] = int64(s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read rollups: %w", err)
	}
	return out, nil
}

// Streamer is the part of the store that reads large results.
type Streamer interface {
	Stream(ctx context.Context, query string, fn func(scan func(dest ...any) error) error) error
}

// HourRow is one hour's seconds of a provider, share and kind of holder.
type HourRow struct {
	Provider, Share, Kind  string
	Hour                   int64
	Capacity, Active, Idle int64
	NoData                 int64
}

// HourlyClasses sums the rollups of [from, to) per provider, share, holder
// kind and hour (for daily figures in any time zone).
func HourlyClasses(ctx context.Context, st Streamer, from, to int64, where string) ([]HourRow, error) {
	if where != "" {
		where = " AND (" + where + ")"
	}
	q := fmt.Sprintf(`SELECT provider, share, project_kind, toUInt32(hour), toUInt64(sum(capacity)), toUInt64(sum(active)),
    toUInt64(sum(idle)), toUInt64(sum(no_data))
FROM %s%s
GROUP BY provider, share, project_kind, hour
ORDER BY hour, provider, share, project_kind`, current(from, to), where)
	var out []HourRow
	err := st.Stream(ctx, q, func(scan func(...any) error) error {
		var r HourRow
		var h uint32
		var c, a, i, n uint64
		if err := scan(&r.Provider, &r.Share, &r.Kind, &h, &c, &a, &i, &n); err != nil {
			return err
		}
		r.Hour, r.Capacity, r.Active, r.Idle, r.NoData = int64(h), int64(c), int64(a), int64(i), int64(n)
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read rollups: %w", err)
	}
	return out, nil
}
