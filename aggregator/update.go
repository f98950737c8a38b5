package aggregator

import (
	"context"
	"fmt"
	"sort"
	"time"

	"go.uber.org/zap"
)

// run is the state one aggregation leaves: rollups are complete for
// [from, until), dirty ranges noted up to dirtyUntil are taken into account,
// and params are the accounting parameters they were made with.
type run struct {
	from, until int64
	dirtyUntil  uint64
	params      string
}

func (a *Aggregator) lastRun(ctx context.Context) (run, bool, error) {
	var r run
	found := false
	err := a.Store.Stream(ctx, `SELECT toUInt32(aggregated_from), toUInt32(aggregated_until), dirty_until, params
FROM aggregate_runs ORDER BY run_id DESC LIMIT 1`, func(scan func(...any) error) error {
		var f, u uint32
		if err := scan(&f, &u, &r.dirtyUntil, &r.params); err != nil {
			return err
		}
		r.from, r.until, found = int64(f), int64(u), true
		return nil
	})
	if err != nil {
		return r, false, fmt.Errorf("read aggregate_runs: %w", err)
	}
	return r, found, nil
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
	last, ok, err := a.lastRun(ctx)
	if err != nil {
		return total, err
	}
	if ok && last.params != a.Params.String() {
		a.log().Warn("accounting parameters changed: recomputing all rollups",
			zap.String("was", last.params), zap.String("now", a.Params.String()))
		need = append(need, [2]time.Time{time.Unix(last.from, 0), time.Unix(last.until, 0)})
		ok = false
	}
	var ranges [][2]int64
	from, until := upto, upto
	if ok {
		from, until = last.from, max(last.until, upto)
		ranges = append(ranges, [2]int64{last.until, upto})
		dirty, err := a.dirtySince(ctx, last.dirtyUntil, snapshot)
		if err != nil {
			return total, err
		}
		ranges = append(ranges, dirty...)
	} else {
		first, err := a.firstSample(ctx)
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
		total.Hours += st.Hours
		total.GPUs = max(total.GPUs, st.GPUs)
		total.Samples += st.Samples
		total.Rows += st.Rows
	}
	row := []any{uint64(time.Now().UnixNano()), time.Unix(from, 0).UTC(), time.Unix(until, 0).UTC(), snapshot, a.Params.String(), time.Now().UTC()}
	if err := a.Store.Insert(ctx, "aggregate_runs", []string{"run_id", "aggregated_from", "aggregated_until", "dirty_until", "params", "finished_at"}, [][]any{row}); err != nil {
		return total, fmt.Errorf("record aggregation: %w", err)
	}
	return total, nil
}

func (a *Aggregator) dirtySince(ctx context.Context, after, upto uint64) ([][2]int64, error) {
	var out [][2]int64
	q := fmt.Sprintf(`SELECT toUInt32(from_ts), toUInt32(to_ts) FROM dirty_ranges WHERE noted_at > %d AND noted_at <= %d`, after, upto)
	err := a.Store.Stream(ctx, q, func(scan func(...any) error) error {
		var f, t uint32
		if err := scan(&f, &t); err != nil {
			return err
		}
		out = append(out, [2]int64{floorHour(int64(f)), ceilHour(int64(t))})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read dirty_ranges: %w", err)
	}
	return out, nil
}

func (a *Aggregator) firstSample(ctx context.Context) (int64, error) {
	var first int64
	err := a.Store.Stream(ctx, "SELECT toUInt32(min(ts)), count() FROM samples", func(scan func(...any) error) error {
		var t uint32
		var n uint64
		if err := scan(&t, &n); err != nil {
			return err
		}
		if n > 0 {
			first = int64(t)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read samples: %w", err)
	}
	return first, nil
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
