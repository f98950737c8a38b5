package aggregator

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/store"
)

// Idle flag kinds and their recommendations (SPEC §5).
const (
	FlagUnallocatedIdle = "unallocated_idle"
	FlagAllocatedIdle   = "allocated_idle"
)

// lookback bounds how far the start of an idle stretch is looked for.
const lookback = 35 * 24 * time.Hour

// Flag is idle government capacity at time At.
type Flag struct {
	ID             string
	Kind           string
	Provider, Node string
	GPU            string
	Project        string
	Since, At      time.Time
	ActivePct      float64
	CoveragePct    float64
	Recommendation string
}

// FlagID is the first 16 hex digits of SHA-256 of gpu_uuid|kind|since (UTC,
// RFC 3339): the same idle stretch gets the same id on every run.
func FlagID(gpu, kind string, since time.Time) string {
	sum := sha256.Sum256([]byte(gpu + "|" + kind + "|" + since.UTC().Format(time.RFC3339)))
	return hex.EncodeToString(sum[:])[:16]
}

// totals are one GPU's seconds over a window.
type totals struct {
	capacity, active, idle int64
	activeUntil            int64
}

func (t totals) coveragePct() float64 {
	if t.capacity == 0 {
		return 0
	}
	return float64(t.active+t.idle) * 100 / float64(t.capacity)
}

// Idle evaluates the idle flags at t over government GPUs, and lists the
// GPUs that get none for want of coverage. The rollups must be up to date
// for the whole hours before t (Update does that); the part of an hour at
// either end of a window is classified from samples.
func Idle(ctx context.Context, st store.Store, p Params, cfg config.Idle, t time.Time) (flags []Flag, shortOfCoverage []string, err error) {
	return (&Aggregator{Store: st, Params: p}).idle(ctx, cfg, t)
}

func (a *Aggregator) idle(ctx context.Context, cfg config.Idle, at time.Time) ([]Flag, []string, error) {
	T := at.Unix()
	U := int64(cfg.UnallocatedHours * 3600)
	Al := int64(cfg.AllocatedHours * 3600)
	ref, err := loadReference(ctx, a.Store)
	if err != nil {
		return nil, nil, err
	}
	// Government GPUs at t: the inventory row holding its last second.
	rowAt := map[string]invSpan{}
	var gpus []string
	for g, rows := range ref.inv {
		for _, r := range rows {
			if r.from < T && T <= r.to && r.share == gpumeter.ShareGovernment {
				rowAt[g] = r
				gpus = append(gpus, g)
			}
		}
	}
	sort.Strings(gpus)
	unallocWin, err := a.windowTotals(ctx, ref, gpus, T-U, T)
	if err != nil {
		return nil, nil, err
	}
	allocWin, err := a.windowTotals(ctx, ref, gpus, T-Al, T)
	if err != nil {
		return nil, nil, err
	}
	lastActive, err := a.lastActive(ctx, T-int64(lookback/time.Second), T)
	if err != nil {
		return nil, nil, err
	}
	var flags []Flag
	var short []string
	for _, g := range gpus {
		row, holds := rowAt[g], ref.holds[g]
		if !overlapsAny(holds, T-U, T) {
			w := unallocWin[g]
			if w.capacity == 0 {
				continue
			}
			if w.coveragePct() < cfg.MinCoveragePct {
				short = append(short, g)
				continue
			}
			if w.active > 0 {
				continue
			}
			since := max(T-int64(lookback/time.Second), row.from, lastActive[g], w.activeUntil)
			for _, h := range holds {
				if h.to <= T {
					since = max(since, h.to)
				}
			}
			flags = append(flags, a.flag(FlagUnallocatedIdle, g, "", row, since, at, w, "offer"))
			continue
		}
		project, start, ok := heldThrough(holds, T-Al, T)
		if !ok {
			continue
		}
		w := allocWin[g]
		if w.capacity == 0 {
			continue
		}
		if w.coveragePct() < cfg.MinCoveragePct {
			short = append(short, g)
			continue
		}
		if activePct(w) < cfg.AllocatedMaxActivePct {
			flags = append(flags, a.flag(FlagAllocatedIdle, g, project, row, start, at, w, "reclaim"))
		}
	}
	return flags, short, nil
}

func activePct(w totals) float64 {
	if w.active+w.idle == 0 {
		return 0
	}
	return float64(w.active) * 100 / float64(w.active+w.idle)
}

func (a *Aggregator) flag(kind, gpu, project string, row invSpan, since int64, at time.Time, w totals, rec string) Flag {
	s := time.Unix(since, 0).UTC()
	return Flag{ID: FlagID(gpu, kind, s), Kind: kind, Provider: row.provider, Node: row.node, GPU: gpu, Project: project,
		Since: s, At: at, ActivePct: activePct(w), CoveragePct: w.coveragePct(), Recommendation: rec}
}

func overlapsAny(holds []holdSpan, from, to int64) bool {
	for _, h := range holds {
		if h.from < to && h.to > from {
			return true
		}
	}
	return false
}

// heldThrough finds one public project holding the GPU through [from, to),
// back-to-back allocations of it counting as one, and where that began.
func heldThrough(holds []holdSpan, from, to int64) (string, int64, bool) {
	i := -1
	for k, h := range holds {
		if h.from < to && to <= h.to {
			i = k
		}
	}
	if i < 0 || holds[i].kind != gpumeter.ProjectPublic {
		return "", 0, false
	}
	project, start := holds[i].project, holds[i].from
	for k := i - 1; k >= 0 && holds[k].project == project && holds[k].to == start; k-- {
		start = holds[k].from
	}
	return project, start, start <= from
}

// windowTotals sums each GPU's seconds over [from, to): whole hours from the
// rollups, the parts of hours at the ends from the samples.
func (a *Aggregator) windowTotals(ctx context.Context, ref *reference, gpus []string, from, to int64) (map[string]totals, error) {
	out := map[string]totals{}
	add := func(g string, capacity, active, idle, until int64) {
		t := out[g]
		t.capacity += capacity
		t.active += active
		t.idle += idle
		t.activeUntil = max(t.activeUntil, until)
		out[g] = t
	}
	h0, h1 := ceilHour(from), floorHour(to)
	var edges [][2]int64
	if h0 >= h1 {
		edges = append(edges, [2]int64{from, to})
	} else {
		rows, err := Rollups(ctx, a.Store, h0, h1, "share = 'government'")
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
		_, err := a.eachCells(ctx, ref, gpus, e[0], e[1], func(part []string, cells map[string]map[cellKey]*cell) error {
			for g, byKey := range cells {
				for k, c := range byKey {
					if k.share == gpumeter.ShareGovernment {
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

// lastActive is, per GPU, the end of its last active second in whole hours
// of [from, to) (a window's partial hours are added by windowTotals).
func (a *Aggregator) lastActive(ctx context.Context, from, to int64) (map[string]int64, error) {
	out := map[string]int64{}
	if ceilHour(from) >= floorHour(to) {
		return out, nil
	}
	rows, err := Rollups(ctx, a.Store, ceilHour(from), floorHour(to), "active_until > 0")
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[r.GPU] = max(out[r.GPU], r.ActiveUntil)
	}
	return out, nil
}

// eachCells classifies GPUs over [from, to) straight from the samples, a
// chunk of GPUs at a time, handing fn each chunk's cells; it returns how
// many samples it read.
func (a *Aggregator) eachCells(ctx context.Context, ref *reference, gpus []string, from, to int64,
	fn func(part []string, cells map[string]map[cellKey]*cell) error) (int, error) {
	chunk := a.ChunkGPUs
	if chunk <= 0 {
		chunk = 256
	}
	gap := int64(a.Params.Gap / time.Second)
	total := 0
	for off := 0; off < len(gpus); off += chunk {
		part := gpus[off:min(off+chunk, len(gpus))]
		points, n, err := a.readSamples(ctx, part, from-gap, to)
		if err != nil {
			return total, err
		}
		total += n
		cells := make(map[string]map[cellKey]*cell, len(part))
		for _, g := range part {
			cells[g] = classify(points[g], ref.inv[g], ref.holds[g], from, to, gap)
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
