package aggregator

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/imports"
	"github.com/nipa-gpu/gpumeter/store"
)

// Params are the accounting parameters: rollups made under others are redone.
type Params struct {
	Metric       string
	ThresholdPct float64
	Gap          time.Duration
}

// ParamsFrom takes the parameters from the configuration.
func ParamsFrom(cfg config.Config) Params {
	return Params{Metric: cfg.Activity.Metric, ThresholdPct: cfg.Activity.ThresholdPct, Gap: cfg.Activity.MaxSampleGap.Duration}
}

func (p Params) String() string {
	return fmt.Sprintf("metric=%s threshold_pct=%g max_sample_gap=%s", p.Metric, p.ThresholdPct, p.Gap)
}

// stateExpr is the SQL for a sample's state: 1 active, 0 idle, -1 missing.
// Ratios are scaled ×100; the metric is rounded to 1/1000 before the
// comparison so that Float32 storage (0.05 is 0.0500000007) decides nothing.
func (p Params) stateExpr() string {
	thr := fmt.Sprintf("%g", p.ThresholdPct)
	one := func(col, scale string) string {
		return fmt.Sprintf("toInt8(multiIf(isNull(%s), -1, round(toFloat64(%s) * %s, 3) >= %s, 1, 0))", col, col, scale, thr)
	}
	switch p.Metric {
	case config.MetricGPUUtil:
		return one("gpu_util", "1")
	case config.MetricGrEngineActive:
		return one("gr_engine_active", "100")
	case config.MetricSMActive:
		return one("sm_active", "100")
	}
	// auto: the larger of gpu_util and gr_engine_active×100 among those present.
	return fmt.Sprintf(`toInt8(multiIf(isNull(gpu_util) AND isNull(gr_engine_active), -1,
round(greatest(ifNull(toFloat64(gpu_util), -1), ifNull(toFloat64(gr_engine_active) * 100, -1)), 3) >= %s, 1, 0))`, thr)
}

// Aggregator computes the hourly rollups.
type Aggregator struct {
	Store  store.Store
	Params Params
	Log    *zap.Logger
	// ChunkGPUs bounds the samples held at once: GPUs read per query, one
	// day at a time (256 GPUs × a day at 15 s ≈ 1.5M samples).
	ChunkGPUs int
	// Progress, if set, hears after each day of a recomputation.
	Progress func(day, days int)
}

// Stats says what a run did.
type Stats struct {
	Hours   int // hours recomputed (distinct)
	GPUs    int
	Samples int
	Rows    int
}

// reference is the inventory and allocations as per-GPU timelines.
type reference struct {
	inv   map[string][]invSpan
	holds map[string][]holdSpan
}

func (a *Aggregator) log() *zap.Logger {
	if a.Log == nil {
		return zap.NewNop()
	}
	return a.Log
}

func loadReference(ctx context.Context, st store.Store) (*reference, error) {
	rows, err := imports.CurrentInventory(ctx, st)
	if err != nil {
		return nil, err
	}
	projects, err := imports.CurrentProjects(ctx, st)
	if err != nil {
		return nil, err
	}
	allocs, err := imports.CurrentAllocations(ctx, st)
	if err != nil {
		return nil, err
	}
	ref := &reference{inv: map[string][]invSpan{}, holds: map[string][]holdSpan{}}
	byNode := map[string][]gpumeter.InventoryRow{}
	for _, r := range rows {
		ref.inv[r.GPUUUID] = append(ref.inv[r.GPUUUID], invSpan{span: span{r.ValidFrom.Unix(), end(r.ValidTo)},
			share: r.Share, provider: r.Provider, model: r.Model, node: r.Node})
		byNode[r.Node] = append(byNode[r.Node], r)
	}
	kinds := map[string]gpumeter.ProjectKind{}
	for _, p := range projects {
		kinds[p.ID] = p.Kind
	}
	for _, al := range allocs {
		s := span{al.Start.Unix(), end(al.End)}
		kind := kinds[al.ProjectID]
		if al.GPUUUID != "" {
			ref.holds[al.GPUUUID] = append(ref.holds[al.GPUUUID], holdSpan{s, al.ProjectID, kind})
			continue
		}
		// A node allocation holds each GPU while the inventory places it there.
		for _, r := range byNode[al.Node] {
			f, t := max(s.from, r.ValidFrom.Unix()), min(s.to, end(r.ValidTo))
			if f < t {
				ref.holds[r.GPUUUID] = append(ref.holds[r.GPUUUID], holdSpan{span{f, t}, al.ProjectID, kind})
			}
		}
	}
	for _, list := range ref.inv {
		sort.Slice(list, func(i, j int) bool { return list[i].from < list[j].from })
	}
	for _, list := range ref.holds {
		sort.Slice(list, func(i, j int) bool { return list[i].from < list[j].from })
	}
	return ref, nil
}

func end(t *time.Time) int64 {
	if t == nil {
		return forever
	}
	return t.Unix()
}

var rollupColumns = []string{"hour", "gpu_uuid", "provider", "node", "model", "share", "project_id", "project_kind",
	"capacity", "active", "idle", "no_data", "active_from", "active_until", "version"}

// Recompute rewrites the rollups of the whole hours in [from, to).
func (a *Aggregator) Recompute(ctx context.Context, from, to time.Time) (Stats, error) {
	var stats Stats
	A, B := floorHour(from.Unix()), ceilHour(to.Unix())
	if A >= B {
		return stats, nil
	}
	ref, err := loadReference(ctx, a.Store)
	if err != nil {
		return stats, err
	}
	gpus, err := a.gpusFor(ctx, ref, A, B)
	if err != nil {
		return stats, err
	}
	stats.GPUs = len(gpus)
	stats.Hours = int((B - A) / 3600)
	version := uint64(time.Now().UnixNano())
	var rows [][]any
	flush := func() error {
		if err := a.Store.Insert(ctx, "gpu_hours", rollupColumns, rows); err != nil {
			return fmt.Errorf("write rollups: %w", err)
		}
		stats.Rows += len(rows)
		rows = rows[:0]
		return nil
	}
	days := int((B - A + 86399) / 86400)
	for day, nth := A, 1; day < B; day, nth = day+86400, nth+1 {
		dayEnd := min(day+86400, B)
		n, err := a.eachCells(ctx, ref, gpus, day, dayEnd, func(part []string, cells map[string]map[cellKey]*cell) error {
			old, err := a.existingKeys(ctx, part, day, dayEnd)
			if err != nil {
				return err
			}
			for _, g := range part {
				rows = appendRows(rows, g, cells[g], old[g], version)
			}
			if len(rows) >= 50000 {
				return flush()
			}
			return nil
		})
		if err != nil {
			return stats, err
		}
		stats.Samples += n
		if a.Progress != nil {
			a.Progress(nth, days)
		}
	}
	if err := flush(); err != nil {
		return stats, err
	}
	a.log().Info("rollups recomputed", zap.Time("from", time.Unix(A, 0).UTC()), zap.Time("to", time.Unix(B, 0).UTC()),
		zap.Int("gpus", stats.GPUs), zap.Int("samples", stats.Samples), zap.Int("rows", stats.Rows))
	return stats, nil
}

// gpusFor lists the GPUs with capacity in [A, B), and those with rollups
// there already (a GPU since removed from the inventory must lose them).
func (a *Aggregator) gpusFor(ctx context.Context, ref *reference, A, B int64) ([]string, error) {
	set := map[string]bool{}
	for g, rows := range ref.inv {
		for _, r := range rows {
			if r.from < B && r.to > A {
				set[g] = true
			}
		}
	}
	q := fmt.Sprintf("SELECT DISTINCT gpu_uuid FROM gpu_hours WHERE hour >= toDateTime(%d) AND hour < toDateTime(%d) AND capacity > 0", A, B)
	err := a.Store.Stream(ctx, q, func(scan func(...any) error) error {
		var g string
		if err := scan(&g); err != nil {
			return err
		}
		set[g] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read rollups: %w", err)
	}
	out := make([]string, 0, len(set))
	for g := range set {
		out = append(out, g)
	}
	sort.Strings(out)
	return out, nil
}

// readSamples reads the samples of some GPUs in [from, to), deduplicated
// by (gpu_uuid, ts), in time order, reduced to their state.
func (a *Aggregator) readSamples(ctx context.Context, gpus []string, from, to int64) (map[string][]point, int, error) {
	// GPUs come back as their 1-based place in the list: a number per row
	// instead of a string.
	list := store.QuoteList(gpus)
	places := make([]string, len(gpus))
	for i := range gpus {
		places[i] = strconv.Itoa(i + 1)
	}
	q := fmt.Sprintf(`SELECT transform(toString(gpu_uuid), [%s], [%s], toUInt32(0)), toUInt32(ts), %s FROM samples FINAL
WHERE gpu_uuid IN (%s) AND ts >= toDateTime(%d) AND ts < toDateTime(%d)
ORDER BY gpu_uuid, ts`, list, strings.Join(places, ","), a.Params.stateExpr(), list, max(from, 0), to)
	byIndex := make([][]point, len(gpus))
	n := 0
	err := a.Store.Stream(ctx, q, func(scan func(...any) error) error {
		var i, t uint32
		var s int8
		if err := scan(&i, &t, &s); err != nil {
			return err
		}
		if i == 0 || int(i) > len(gpus) {
			return fmt.Errorf("read samples: GPU index %d out of range", i)
		}
		byIndex[i-1] = append(byIndex[i-1], point{int64(t), s})
		n++
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read samples: %w", err)
	}
	out := make(map[string][]point, len(gpus))
	for i, g := range gpus {
		out[g] = byIndex[i]
	}
	return out, n, nil
}

// appendRows turns a GPU's cells into rollup rows, with zeros for the keys
// an earlier run wrote that this one no longer has, so that they read as gone.
func appendRows(rows [][]any, gpu string, cells map[cellKey]*cell, old []cellKey, version uint64) [][]any {
	for _, k := range old {
		if cells[k] == nil {
			rows = append(rows, []any{time.Unix(k.hour, 0).UTC(), gpu, "", "", "", string(k.share), k.project, "",
				uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), uint32(0), version})
		}
	}
	keys := slices.SortedFunc(maps.Keys(cells), func(a, b cellKey) int {
		return cmp.Or(cmp.Compare(a.hour, b.hour), cmp.Compare(a.share, b.share), cmp.Compare(a.project, b.project))
	})
	for _, k := range keys {
		c := cells[k]
		rows = append(rows, []any{time.Unix(k.hour, 0).UTC(), gpu, c.provider, c.node, c.model, string(k.share), k.project,
			string(c.kind), c.capacity, c.active, c.idle, c.noData, uint32(c.activeFrom), uint32(c.activeUntil), version})
	}
	return rows
}

// existingKeys reads the rollup keys with capacity that some GPUs have in [from, to).
func (a *Aggregator) existingKeys(ctx context.Context, gpus []string, from, to int64) (map[string][]cellKey, error) {
	q := fmt.Sprintf(`SELECT gpu_uuid, toUInt32(hour), share, project_id FROM gpu_hours FINAL
WHERE gpu_uuid IN (%s) AND hour >= toDateTime(%d) AND hour < toDateTime(%d) AND capacity > 0`, store.QuoteList(gpus), from, to)
	out := map[string][]cellKey{}
	err := a.Store.Stream(ctx, q, func(scan func(...any) error) error {
		var g, share, project string
		var h uint32
		if err := scan(&g, &h, &share, &project); err != nil {
			return err
		}
		out[g] = append(out[g], cellKey{hour: int64(h), share: gpumeter.Share(share), project: project})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read rollups: %w", err)
	}
	return out, nil
}

func ceilHour(t int64) int64 { return floorHour(t + 3599) }
