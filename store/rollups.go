package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nipa-gpu/gpumeter"
)

// Rollup is one hour of one GPU under one share and holder (project_id ""
// for none): gpu_hours' row. Capacity = Active + Idle + NoData always.
type Rollup struct {
	Hour                           int64 // unix, whole hour
	GPU, Provider, Node, Model     string
	Share                          gpumeter.Share
	Project                        string
	Kind                           gpumeter.ProjectKind
	Capacity, Active, Idle, NoData int64
	ActiveFrom, ActiveUntil        int64 // unix; 0: no active second
	// Energy in millijoules by the state of the second it belongs to, and
	// what came across a gap longer than max_sample_gap (SPEC §5).
	EnergyActive, EnergyIdle, EnergyNoData, EnergyUnattributed int64
	// Covered seconds by what the namespace on the covering sample says
	// (SPEC §5 "Attribution audit"), and the stretches of foreign or
	// unknown seconds in this row.
	Attribution gpumeter.Attribution
	Mismatches  []Mismatch
}

// Mismatch is a stretch [From, To) of one GPU's seconds under one holder
// (Project, "" for none) on which a namespace not the holder's was seen:
// Kind "foreign" (another project's) or "unknown" (no project's).
type Mismatch struct {
	GPU, Provider, Node string
	Share               gpumeter.Share
	Project             string
	From, To            int64
	Namespace, Kind     string
}

// energySums sums the energy columns in setEnergy's order.
const energySums = `toUInt64(sum(energy_active_mj)), toUInt64(sum(energy_idle_mj)), toUInt64(sum(energy_no_data_mj)),
    toUInt64(sum(energy_unattributed_mj)), toUInt64(sum(attr_matched)), toUInt64(sum(attr_foreign)), toUInt64(sum(attr_unknown)),
    toUInt64(sum(attr_unlabeled))`

// setEnergy takes energySums' values.
func (r *Rollup) setEnergy(e [8]uint64) {
	r.EnergyActive, r.EnergyIdle, r.EnergyNoData, r.EnergyUnattributed = int64(e[0]), int64(e[1]), int64(e[2]), int64(e[3])
	r.Attribution = gpumeter.Attribution{Matched: int64(e[4]), Foreign: int64(e[5]), Unknown: int64(e[6]), Unlabeled: int64(e[7])}
}

// Mismatches reads the stretches of foreign or unknown namespaces in the
// selected rollups, per GPU in time order.
func Mismatches(ctx context.Context, st Store, f RollupFilter) ([]Mismatch, error) {
	// The rows with stretches are few: any version of them is found without
	// FINAL, and FINAL then reads those keys only (a PREWHERE on key columns,
	// which every version of a key shares, is safe before FINAL).
	q := `SELECT gpu_uuid, provider, node, share, project_id, toUInt32(m_from), toUInt32(m_to), m_ns, m_kind
FROM gpu_hours FINAL ARRAY JOIN mismatch_from AS m_from, mismatch_to AS m_to, mismatch_namespace AS m_ns, mismatch_kind AS m_kind
PREWHERE (gpu_uuid, hour) GLOBAL IN (SELECT gpu_uuid, hour FROM gpu_hours WHERE ` + f.conditions() + ` AND notEmpty(mismatch_from))
WHERE ` + f.conditions() + `
ORDER BY gpu_uuid, m_from`
	var out []Mismatch
	err := st.Stream(ctx, q, func(scan func(...any) error) error {
		var m Mismatch
		var share string
		var from, to uint32
		if err := scan(&m.GPU, &m.Provider, &m.Node, &share, &m.Project, &from, &to, &m.Namespace, &m.Kind); err != nil {
			return err
		}
		m.Share, m.From, m.To = gpumeter.Share(share), int64(from), int64(to)
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read mismatches: %w", err)
	}
	return out, nil
}

// RollupKey identifies a rollup row of a GPU.
type RollupKey struct {
	Hour    int64
	Share   gpumeter.Share
	Project string
}

var rollupColumns = []string{"hour", "gpu_uuid", "provider", "node", "model", "share", "project_id", "project_kind",
	"capacity", "active", "idle", "no_data", "active_from", "active_until",
	"energy_active_mj", "energy_idle_mj", "energy_no_data_mj", "energy_unattributed_mj",
	"attr_matched", "attr_foreign", "attr_unknown", "attr_unlabeled",
	"mismatch_from", "mismatch_to", "mismatch_namespace", "mismatch_kind", "version"}

// WriteRollups writes rollup rows under one version: the highest version of
// a key is the one read (FINAL). A row with zero capacity marks a key that a
// recomputation no longer has.
func WriteRollups(ctx context.Context, st Store, rows []Rollup, version uint64) error {
	out := make([][]any, len(rows))
	for i, r := range rows {
		n := len(r.Mismatches)
		from, to, ns, kind := make([]uint32, n), make([]uint32, n), make([]string, n), make([]string, n)
		for k, m := range r.Mismatches {
			from[k], to[k], ns[k], kind[k] = uint32(m.From), uint32(m.To), m.Namespace, m.Kind
		}
		a := r.Attribution
		out[i] = []any{time.Unix(r.Hour, 0).UTC(), r.GPU, r.Provider, r.Node, r.Model, string(r.Share), r.Project, string(r.Kind),
			uint32(r.Capacity), uint32(r.Active), uint32(r.Idle), uint32(r.NoData), uint32(r.ActiveFrom), uint32(r.ActiveUntil),
			uint64(r.EnergyActive), uint64(r.EnergyIdle), uint64(r.EnergyNoData), uint64(r.EnergyUnattributed),
			uint32(a.Matched), uint32(a.Foreign), uint32(a.Unknown), uint32(a.Unlabeled), from, to, ns, kind, version}
	}
	if err := st.Insert(ctx, "gpu_hours", rollupColumns, out); err != nil {
		return fmt.Errorf("write rollups: %w", err)
	}
	return nil
}

// RollupFilter selects rollups: the whole hours of [From, To), optionally one
// provider's, one share's, or only those with an active second.
type RollupFilter struct {
	From, To   int64 // unix seconds
	Provider   string
	Share      gpumeter.Share
	GPUs       []string // nil: all; empty: none
	ActiveOnly bool
}

// where renders the filter over the rollups as the latest recomputation left
// them: FINAL keeps the highest version of each (hour, gpu, share, project),
// and a recomputation writes zeros for the keys it no longer has.
func (f RollupFilter) where() string { return "gpu_hours FINAL WHERE " + f.conditions() }

func (f RollupFilter) conditions() string {
	conds := []string{fmt.Sprintf("hour >= toDateTime(%d) AND hour < toDateTime(%d) AND capacity > 0", max(f.From, 0), f.To)}
	if f.Provider != "" {
		conds = append(conds, "provider = "+quote(f.Provider))
	}
	if f.Share != "" {
		conds = append(conds, "share = "+quote(string(f.Share)))
	}
	switch {
	case f.GPUs == nil:
	case len(f.GPUs) == 0:
		conds = append(conds, "0") // none
	default:
		conds = append(conds, "gpu_uuid IN ("+quoteList(f.GPUs)+")")
	}
	if f.ActiveOnly {
		conds = append(conds, "active_until > 0")
	}
	return strings.Join(conds, " AND ")
}

// RollupKeys reads the keys with capacity that the filter's GPUs have.
func RollupKeys(ctx context.Context, st Store, f RollupFilter) (map[string][]RollupKey, error) {
	out := map[string][]RollupKey{}
	err := st.Stream(ctx, `SELECT gpu_uuid, toUInt32(hour), share, project_id FROM `+f.where(), func(scan func(...any) error) error {
		var g, share, project string
		var h uint32
		if err := scan(&g, &h, &share, &project); err != nil {
			return err
		}
		out[g] = append(out[g], RollupKey{Hour: int64(h), Share: gpumeter.Share(share), Project: project})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read rollups: %w", err)
	}
	return out, nil
}

// RollupGPUs lists the GPUs that have rollups with capacity.
func RollupGPUs(ctx context.Context, st Store, f RollupFilter) ([]string, error) {
	var out []string
	// Without FINAL: a GPU whose rows were all zeroed since is listed too,
	// which costs a recomputation of nothing and misses nothing.
	q := `SELECT DISTINCT gpu_uuid FROM gpu_hours WHERE ` + f.conditions()
	err := st.Stream(ctx, q, func(scan func(...any) error) error {
		var g string
		if err := scan(&g); err != nil {
			return err
		}
		out = append(out, g)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read rollups: %w", err)
	}
	return out, nil
}

// SumRollups sums the selected rollups per GPU, share and project, in that
// order: the engine does the summing, Go gets one row per key. Node and
// model are left to the inventory: carrying those strings through the
// engine's GROUP BY costs a quarter of its time.
func SumRollups(ctx context.Context, st Store, f RollupFilter) ([]Rollup, error) {
	var out []Rollup
	err := streamSums(ctx, st, sumQuery(f, true, false), func(r Rollup) { out = append(out, r) })
	return out, err
}

// SumRollupsWithHours gives SumRollups' sums and, beside them, the sums per
// hour, provider, share and holder kind, in that order (for daily figures in
// any time zone and the hourly peak; their GPU and project are empty).
// FINAL's merge is most of a month report's time: engines with GROUPING
// SETS make both in one pass over the rollups.
func SumRollupsWithHours(ctx context.Context, st Store, f RollupFilter) (gpus, hours []Rollup, err error) {
	split := func(r Rollup) {
		if r.GPU == "" { // a GPU is never unnamed: an hour's sum
			hours = append(hours, r)
		} else {
			gpus = append(gpus, r)
		}
	}
	if st.Dialect().GroupingSets() {
		err = streamSums(ctx, st, sumQuery(f, true, true), split)
		return gpus, hours, err
	}
	if err = streamSums(ctx, st, sumQuery(f, true, false), split); err == nil {
		err = streamSums(ctx, st, sumQuery(f, false, true), split)
	}
	return gpus, hours, err
}

// sumQuery sums the selected rollups per GPU, share and project, per hour,
// provider, share and holder kind, or both at once (GROUPING SETS). The GPU,
// hour and project of a sum without them read as their types' defaults, as
// GROUPING SETS gives them; rows come in GPU, hour, provider, share,
// project and kind order.
func sumQuery(f RollupFilter, perGPU, perHour bool) string {
	const byGPU, byHour = "gpu_uuid, share, project_id", "hour, provider, share, project_kind"
	gpu, hour, project, group := "''", "toUInt32(0)", "''", byHour
	if perGPU {
		gpu, project, group = "gpu_uuid", "project_id", byGPU
	}
	if perHour {
		hour = "toUInt32(hour)"
	}
	if perGPU && perHour {
		group = "GROUPING SETS ((" + byGPU + "), (" + byHour + "))"
	}
	return `SELECT ` + gpu + ` AS g, ` + hour + ` AS h, any(provider) AS p, share, ` + project + ` AS j, any(project_kind) AS k,
    toUInt64(sum(capacity)), toUInt64(sum(active)), toUInt64(sum(idle)), toUInt64(sum(no_data)),
    toUInt32(minIf(active_from, active_from > 0)), toUInt32(max(active_until)),
    ` + energySums + `
FROM ` + f.where() + `
GROUP BY ` + group + `
ORDER BY g, h, p, share, j, k`
}

// streamSums hands fn each row of a sumQuery.
func streamSums(ctx context.Context, st Store, q string, fn func(Rollup)) error {
	err := st.Stream(ctx, q, func(scan func(...any) error) error {
		var r Rollup
		var share, kind string
		var h uint32
		var c, a, i, n uint64
		var af, au uint32
		var e [8]uint64
		if err := scan(&r.GPU, &h, &r.Provider, &share, &r.Project, &kind, &c, &a, &i, &n, &af, &au, &e[0], &e[1], &e[2], &e[3],
			&e[4], &e[5], &e[6], &e[7]); err != nil {
			return err
		}
		r.Hour, r.Share, r.Kind = int64(h), gpumeter.Share(share), gpumeter.ProjectKind(kind)
		r.Capacity, r.Active, r.Idle, r.NoData = int64(c), int64(a), int64(i), int64(n)
		r.ActiveFrom, r.ActiveUntil = int64(af), int64(au)
		r.setEnergy(e)
		fn(r)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read rollups: %w", err)
	}
	return nil
}

// LastActive is, per GPU, the end of its last active second in the
// selected rollups.
func LastActive(ctx context.Context, st Store, f RollupFilter) (map[string]int64, error) {
	f.ActiveOnly = true
	out := map[string]int64{}
	err := st.Stream(ctx, `SELECT gpu_uuid, toUInt32(max(active_until)) FROM `+f.where()+` GROUP BY gpu_uuid`,
		func(scan func(...any) error) error {
			var g string
			var t uint32
			if err := scan(&g, &t); err != nil {
				return err
			}
			out[g] = int64(t)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("read rollups: %w", err)
	}
	return out, nil
}
