package aggregator

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/store"
)

// Params are the accounting parameters: rollups made under others are redone.
type Params struct {
	store.Activity
	Gap time.Duration
	// Grace is how long a project's labels are still its own after its
	// allocation ends (attribution.grace).
	Grace time.Duration
}

// ParamsFrom takes the parameters from the configuration.
func ParamsFrom(cfg config.Config) Params {
	return Params{Activity: store.Activity{Metric: cfg.Activity.Metric, ThresholdPct: cfg.Activity.ThresholdPct},
		Gap: cfg.Activity.MaxSampleGap.Duration, Grace: cfg.Attribution.Grace.Duration}
}

func (p Params) String() string {
	return fmt.Sprintf("metric=%s threshold_pct=%g max_sample_gap=%s attribution_grace=%s", p.Metric, p.ThresholdPct, p.Gap, p.Grace)
}

// New makes the aggregator of a configuration over st (log nil: silent).
func New(st store.Store, cfg config.Config, log *zap.Logger) *Aggregator {
	return &Aggregator{Store: st, Params: ParamsFrom(cfg), Log: log}
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

func (s *Stats) add(o Stats) {
	s.Hours += o.Hours
	s.GPUs = max(s.GPUs, o.GPUs)
	s.Samples += o.Samples
	s.Rows += o.Rows
}

func (a *Aggregator) log() *zap.Logger {
	if a.Log == nil {
		return zap.NewNop()
	}
	return a.Log
}

// Recompute rewrites the rollups of the whole hours in [from, to).
func (a *Aggregator) Recompute(ctx context.Context, from, to time.Time) (Stats, error) {
	var stats Stats
	A, B := floorHour(from.Unix()), ceilHour(to.Unix())
	if A >= B {
		return stats, nil
	}
	ref, err := store.LoadReference(ctx, a.Store)
	if err != nil {
		return stats, err
	}
	tl := NewTimelines(ref)
	// The GPUs with capacity, and those with rollups there already (a GPU
	// since removed from the inventory must lose them).
	stale, err := store.RollupGPUs(ctx, a.Store, store.RollupFilter{From: A, To: B})
	if err != nil {
		return stats, err
	}
	gpus := slices.Compact(slices.Sorted(slices.Values(append(tl.GPUsWithCapacity(A, B), stale...))))
	stats.GPUs = len(gpus)
	stats.Hours = int((B - A) / 3600)
	version := uint64(time.Now().UnixNano())
	var rows []store.Rollup
	flush := func() error {
		if err := store.WriteRollups(ctx, a.Store, rows, version); err != nil {
			return err
		}
		stats.Rows += len(rows)
		rows = rows[:0]
		return nil
	}
	days := int((B - A + 86399) / 86400)
	for day, nth := A, 1; day < B; day, nth = day+86400, nth+1 {
		dayEnd := min(day+86400, B)
		// One read of the day's keys: asking per chunk of GPUs makes the
		// engine go through the whole day's rollups for each chunk.
		old, err := store.RollupKeys(ctx, a.Store, store.RollupFilter{From: day, To: dayEnd})
		if err != nil {
			return stats, err
		}
		n, err := a.eachCells(ctx, tl, gpus, day, dayEnd, func(part []string, cells map[string]map[cellKey]*cell) error {
			for _, g := range part {
				rows = appendRows(rows, g, cells[g], old[g])
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

// appendRows turns a GPU's cells into rollup rows, with zeros for the keys
// an earlier run wrote that this one no longer has, so that they read as gone.
func appendRows(rows []store.Rollup, gpu string, cells map[cellKey]*cell, old []cellKey) []store.Rollup {
	for _, k := range old {
		if cells[k] == nil {
			rows = append(rows, store.Rollup{Hour: k.Hour, GPU: gpu, Share: k.Share, Project: k.Project})
		}
	}
	keys := slices.SortedFunc(maps.Keys(cells), func(a, b cellKey) int {
		return cmp.Or(cmp.Compare(a.Hour, b.Hour), cmp.Compare(a.Share, b.Share), cmp.Compare(a.Project, b.Project))
	})
	for _, k := range keys {
		c := cells[k]
		rows = append(rows, store.Rollup{Hour: k.Hour, GPU: gpu, Provider: c.provider, Node: c.node, Model: c.model,
			Share: k.Share, Project: k.Project, Kind: c.kind, Capacity: int64(c.capacity), Active: int64(c.active),
			Idle: int64(c.idle), NoData: int64(c.noData), ActiveFrom: c.activeFrom, ActiveUntil: c.activeUntil,
			EnergyActive: c.energyActive, EnergyIdle: c.energyIdle, EnergyNoData: c.energyNoData, EnergyUnattributed: c.energyUnattributed,
			Attribution: c.attribution, Mismatches: c.mismatches})
	}
	return rows
}

// eachCells classifies GPUs over [from, to) straight from the samples, a
// chunk of GPUs at a time, handing fn each chunk's cells; it returns how
// many samples it read.
func (a *Aggregator) eachCells(ctx context.Context, tl *Timelines, gpus []string, from, to int64,
	fn func(part []string, cells map[string]map[cellKey]*cell) error) (int, error) {
	chunk := a.ChunkGPUs
	if chunk <= 0 {
		chunk = 256
	}
	gap := int64(a.Params.Gap / time.Second)
	total := 0
	// The samples of a chunk, GPU after GPU, in one buffer used again for
	// every chunk: GPU i's are points[start[i]:start[i+1]].
	var points []point
	for off := 0; off < len(gpus); off += chunk {
		part := gpus[off:min(off+chunk, len(gpus))]
		points = points[:0]
		start := make([]int, len(part)+1)
		last, ordered := -1, true
		// Beyond to by gap: the energy delta of a sample near the end
		// belongs to its second, and needs the next one.
		n, others, err := store.SampleStates(ctx, a.Store, part, from-gap, to+gap, a.Params.Activity, tl.Namespaces, func(p store.SamplePoint) {
			ordered = ordered && p.GPU >= last
			for ; last < p.GPU; last++ {
				start[last+1] = len(points)
			}
			points = append(points, point{p.T, p.State, p.Energy, p.Namespace})
		})
		if err != nil {
			return total, err
		}
		if !ordered {
			return total, fmt.Errorf("read samples: GPUs came back out of the order asked")
		}
		for ; last < len(part); last++ {
			start[last+1] = len(points)
		}
		total += n
		prev, err := a.energyBefore(ctx, part, points, start, from, gap)
		if err != nil {
			return total, err
		}
		au := &audit{known: tl.Namespaces, projectOf: tl.NamespaceProject, others: others, grace: int64(a.Params.Grace / time.Second)}
		cells := make(map[string]map[cellKey]*cell, len(part))
		for i, g := range part {
			pts := points[start[i]:start[i+1]]
			cells[g] = classify(pts, tl.Inv[g], tl.Holds[g], from, to, gap, au)
			var p *store.EnergyReading
			if r, ok := prev[g]; ok {
				p = &r
			}
			energy(cells[g], pts, p, tl.Inv[g], tl.Holds[g], from, to, gap)
		}
		if err := fn(part, cells); err != nil {
			return total, err
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
	return total, nil
}

// EnergyLookback bounds how far before a window the last energy reading of
// a GPU is looked for, when the window's samples begin after a gap.
const EnergyLookback = 35 * 24 * 3600

// energyBefore finds, for the GPUs whose first energy reading in the window
// has no reading before it among the points, the last one before them: the
// delta across that gap is unattributed, never lost.
func (a *Aggregator) energyBefore(ctx context.Context, part []string, points []point, start []int, from, gap int64) (map[string]store.EnergyReading, error) {
	var need []string
	for i, g := range part {
		for _, p := range points[start[i]:start[i+1]] {
			if p.energy == store.NoEnergy {
				continue
			}
			if p.t >= from {
				need = append(need, g)
			}
			break
		}
	}
	return store.LastEnergy(ctx, a.Store, need, from-EnergyLookback, from-gap)
}

// Totals are one GPU's seconds on the government share over a window.
type Totals struct {
	Capacity, Active, Idle int64
	ActiveUntil            int64 // one past the last active second, 0 if none
}

// CoveragePct is the covered share of capacity, in percent.
func (t Totals) CoveragePct() float64 {
	if t.Capacity == 0 {
		return 0
	}
	return float64(t.Active+t.Idle) * 100 / float64(t.Capacity)
}

// ActivePct is the active share of covered seconds, in percent.
func (t Totals) ActivePct() float64 {
	if t.Active+t.Idle == 0 {
		return 0
	}
	return float64(t.Active) * 100 / float64(t.Active+t.Idle)
}

// GovernmentTotals sums each GPU's government-share seconds over [from, to):
// whole hours from the rollups (which must be up to date), the parts of
// hours at either end classified from the samples.
func (a *Aggregator) GovernmentTotals(ctx context.Context, tl *Timelines, gpus []string, from, to int64) (map[string]Totals, error) {
	out := map[string]Totals{}
	add := func(g string, capacity, active, idle, until int64) {
		t := out[g]
		t.Capacity += capacity
		t.Active += active
		t.Idle += idle
		t.ActiveUntil = max(t.ActiveUntil, until)
		out[g] = t
	}
	h0, h1 := ceilHour(from), floorHour(to)
	var edges [][2]int64
	if h0 >= h1 {
		edges = append(edges, [2]int64{from, to})
	} else {
		rows, err := store.SumRollups(ctx, a.Store, store.RollupFilter{From: h0, To: h1, Share: gpumeter.ShareGovernment})
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			add(r.GPU, r.Capacity, r.Active, r.Idle, r.ActiveUntil)
		}
		edges = append(edges, [2]int64{from, h0}, [2]int64{h1, to})
	}
	for _, e := range edges {
		if e[0] >= e[1] {
			continue
		}
		_, err := a.eachCells(ctx, tl, gpus, e[0], e[1], func(part []string, cells map[string]map[cellKey]*cell) error {
			for g, byKey := range cells {
				for k, c := range byKey {
					if k.Share == gpumeter.ShareGovernment {
						add(g, int64(c.capacity), int64(c.active), int64(c.idle), c.activeUntil)
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// LastActive is, per GPU of gpus, the end of its last active second in the
// whole hours of [from, to).
func (a *Aggregator) LastActive(ctx context.Context, gpus []string, from, to int64) (map[string]int64, error) {
	if ceilHour(from) >= floorHour(to) || len(gpus) == 0 {
		return map[string]int64{}, nil
	}
	return store.LastActive(ctx, a.Store, store.RollupFilter{From: ceilHour(from), To: floorHour(to), GPUs: gpus})
}

func ceilHour(t int64) int64 { return floorHour(t + 3599) }
