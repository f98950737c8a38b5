package ledger

import (
	"context"
	"slices"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/aggregator"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/store"
)

// Lookback bounds how far back the start of an idle stretch is looked for.
const Lookback = 35 * 24 * time.Hour

// Idle evaluates the idle flags at t (SPEC §5) over every provider's
// government GPUs. The rollups must be up to date for the whole hours of
// the look-back (aggregator.Update).
func Idle(ctx context.Context, st store.Store, cfg config.Config, t time.Time) ([]gpumeter.IdleFlag, error) {
	ref, err := store.LoadReference(ctx, st)
	if err != nil {
		return nil, err
	}
	agg := aggregator.New(st, cfg, nil)
	flags, _, err := IdleFlags(ctx, agg, aggregator.NewTimelines(ref), cfg.Idle, t)
	return flags, err
}

// Windows is what the idle rule reads of the accounted seconds; the
// aggregator answers it from the rollups, classifying the part of an hour at
// either end of a window from samples.
type Windows interface {
	// GovernmentTotals sums the capacity, active and idle seconds of each
	// GPU's government share in [from, to).
	GovernmentTotals(ctx context.Context, tl *aggregator.Timelines, gpus []string, from, to int64) (map[string]aggregator.Totals, error)
	// LastActive is one past each GPU's last active second in [from, to),
	// for the GPUs that have one.
	LastActive(ctx context.Context, gpus []string, from, to int64) (map[string]int64, error)
}

// IdleFlags evaluates the idle flags at `at` over government GPUs, and lists
// the GPUs that get none for want of coverage.
func IdleFlags(ctx context.Context, win Windows, tl *aggregator.Timelines, cfg config.Idle, at time.Time) (flags []gpumeter.IdleFlag, short []string, err error) {
	flags = []gpumeter.IdleFlag{}
	now := at.Unix()
	unallocWindow := int64(cfg.UnallocatedHours * 3600)
	allocWindow := int64(cfg.AllocatedHours * 3600)
	lookback := now - int64(Lookback/time.Second)
	// Government GPUs at now: the inventory row holding its last second.
	rowAt := map[string]aggregator.InvSpan{}
	var gpus []string
	for g, rows := range tl.Inv {
		for _, r := range rows {
			if r.From < now && now <= r.To && r.Share == gpumeter.ShareGovernment {
				rowAt[g] = r
				gpus = append(gpus, g)
			}
		}
	}
	slices.Sort(gpus)
	unallocWin, err := win.GovernmentTotals(ctx, tl, gpus, now-unallocWindow, now)
	if err != nil {
		return nil, nil, err
	}
	allocWin, err := win.GovernmentTotals(ctx, tl, gpus, now-allocWindow, now)
	if err != nil {
		return nil, nil, err
	}
	// Only the GPUs idle and unallocated through the window need to know
	// when they were last active: a look-back of 35 days of rollups.
	var candidates []string
	for _, g := range gpus {
		if w := unallocWin[g]; !overlapsAny(tl.Holds[g], now-unallocWindow, now) && w.Capacity > 0 && w.Active == 0 {
			candidates = append(candidates, g)
		}
	}
	lastActive, err := win.LastActive(ctx, candidates, lookback, now)
	if err != nil {
		return nil, nil, err
	}
	flag := func(kind gpumeter.FlagKind, gpu, project string, row aggregator.InvSpan, since int64, w aggregator.Totals) gpumeter.IdleFlag {
		s := time.Unix(since, 0).UTC()
		return gpumeter.IdleFlag{FlagID: gpumeter.FlagID(gpu, kind, s), Kind: kind, Provider: row.Provider, Node: row.Node,
			GPUUUID: gpu, ProjectID: project, Since: s.Format(time.RFC3339), Hours: gpumeter.Hours(now - since),
			ActivePct: gpumeter.Round3(w.ActivePct()), CoveragePct: gpumeter.Round3(w.CoveragePct()), Recommendation: kind.Recommendation()}
	}
	for _, g := range gpus {
		row, holds := rowAt[g], tl.Holds[g]
		if !overlapsAny(holds, now-unallocWindow, now) {
			w := unallocWin[g]
			if w.Capacity == 0 {
				continue
			}
			if w.CoveragePct() < cfg.MinCoveragePct {
				short = append(short, g)
				continue
			}
			if w.Active > 0 {
				continue
			}
			since := max(lookback, row.From, lastActive[g], w.ActiveUntil)
			for _, h := range holds {
				if h.To <= now {
					since = max(since, h.To)
				}
			}
			flags = append(flags, flag(gpumeter.FlagUnallocatedIdle, g, "", row, since, w))
			continue
		}
		project, start, ok := heldThrough(holds, now-allocWindow, now)
		if !ok {
			continue
		}
		w := allocWin[g]
		if w.Capacity == 0 {
			continue
		}
		if w.CoveragePct() < cfg.MinCoveragePct {
			short = append(short, g)
			continue
		}
		if w.ActivePct() < cfg.AllocatedMaxActivePct {
			flags = append(flags, flag(gpumeter.FlagAllocatedIdle, g, project, row, start, w))
		}
	}
	return flags, short, nil
}

func overlapsAny(holds []aggregator.HoldSpan, from, to int64) bool {
	for _, h := range holds {
		if h.From < to && h.To > from {
			return true
		}
	}
	return false
}

// heldThrough finds one public project holding the GPU through [from, to),
// back-to-back allocations of it counting as one, and where that began.
func heldThrough(holds []aggregator.HoldSpan, from, to int64) (string, int64, bool) {
	i := -1
	for k, h := range holds {
		if h.From < to && to <= h.To {
			i = k
		}
	}
	if i < 0 || holds[i].Kind != gpumeter.ProjectPublic {
		return "", 0, false
	}
	project, start := holds[i].Project, holds[i].From
	for k := i - 1; k >= 0 && holds[k].Project == project && holds[k].To == start; k-- {
		start = holds[k].From
	}
	return project, start, start <= from
}
