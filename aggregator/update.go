package aggregator

import (
	"context"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/store"
)

// Recalculate recomputes the given ranges whatever the run state says (an
// operator's explicit --from/--to), then brings the rest up to date (Update).
func (a *Aggregator) Recalculate(ctx context.Context, now time.Time, ranges ...[2]time.Time) (Stats, error) {
	var total Stats
	for _, r := range ranges {
		st, err := a.Recompute(ctx, r[0], r[1])
		if err != nil {
			return total, err
		}
		total.add(st)
	}
	st, err := a.Update(ctx, now, ranges...)
	total.add(st)
	return total, err
}

// Update brings the rollups up to date at now: the whole hours since the last
// run, the ranges noted dirty since (late samples, changed inputs), and any
// part of need not yet aggregated. Only whole hours before now are
// aggregated. A change of accounting parameters recomputes everything.
func (a *Aggregator) Update(ctx context.Context, now time.Time, need ...[2]time.Time) (Stats, error) {
	var total Stats
	// Dirty notes are ordered by when they were written, whatever time the
	// accounting is brought up to.
	snapshot := uint64(time.Now().UnixNano())
	upto := floorHour(now.Unix())
	last, ok, err := store.LastAggregateRun(ctx, a.Store)
	if err != nil {
		return total, err
	}
	if ok && last.Params != a.Params.String() {
		a.log().Warn("accounting parameters changed: recomputing all rollups",
			zap.String("was", last.Params), zap.String("now", a.Params.String()))
		need = append(need, [2]time.Time{time.Unix(last.From, 0), time.Unix(last.Until, 0)})
		ok = false
	}
	var ranges [][2]int64
	from, until := upto, upto
	if ok {
		from, until = last.From, max(last.Until, upto)
		ranges = append(ranges, [2]int64{last.Until, upto})
		dirty, err := store.DirtySince(ctx, a.Store, last.DirtyUntil, snapshot)
		if err != nil {
			return total, err
		}
		earliest := from
		for _, d := range dirty {
			ranges = append(ranges, [2]int64{floorHour(d[0]), ceilHour(d[1])})
			earliest = min(earliest, floorHour(d[0]))
		}
		// A change before what was aggregated so far (the first run found no
		// samples, or an import backfills before the first sample): the
		// accounting starts again at the first sample, as a fresh start's
		// would. Only then is the first sample looked for: it reads every
		// sample's time.
		if earliest < from {
			first, err := store.FirstSampleTime(ctx, a.Store)
			if err != nil {
				return total, err
			}
			if first > 0 && floorHour(first) < from {
				ranges = append(ranges, [2]int64{floorHour(first), from})
				from = floorHour(first)
			}
		}
	} else {
		first, err := store.FirstSampleTime(ctx, a.Store)
		if err != nil {
			return total, err
		}
		if first > 0 {
			from = floorHour(first)
		}
		ranges = append(ranges, [2]int64{from, upto})
	}
	for _, n := range need {
		f, t := floorHour(n[0].Unix()), min(ceilHour(n[1].Unix()), upto)
		if f < from || t > until {
			ranges = append(ranges, [2]int64{f, t})
		}
		from = min(from, f)
		until = max(until, t)
	}
	for _, r := range mergeRanges(ranges, from, upto) {
		st, err := a.Recompute(ctx, time.Unix(r[0], 0), time.Unix(r[1], 0))
		if err != nil {
			return total, err
		}
		total.add(st)
	}
	err = store.RecordAggregateRun(ctx, a.Store, store.AggregateRun{From: from, Until: until, DirtyUntil: snapshot, Params: a.Params.String()})
	return total, err
}

// mergeRanges clips ranges to [lo, hi) and merges those that touch.
func mergeRanges(ranges [][2]int64, lo, hi int64) [][2]int64 {
	var clipped [][2]int64
	for _, r := range ranges {
		f, t := max(r[0], lo), min(r[1], hi)
		if f < t {
			clipped = append(clipped, [2]int64{f, t})
		}
	}
	sort.Slice(clipped, func(i, j int) bool { return clipped[i][0] < clipped[j][0] })
	var out [][2]int64
	for _, r := range clipped {
		if n := len(out); n > 0 && r[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}
