// Package aggregator accounts every capacity second of every GPU (SPEC §5):
// coverage from samples, active or not, the seven classes, and hourly
// rollups per GPU, share and project that reports read instead of samples.
package aggregator

import (
	"math"
	"slices"

	"github.com/nipa-gpu/gpumeter"
)

// Sample states as the store query gives them.
const (
	stateMissing int8 = -1 // the activity metric is missing: no_data
	stateIdle    int8 = 0
	stateActive  int8 = 1
)

// forever stands for an open end.
const forever = math.MaxInt64

type point struct {
	t     int64 // unix seconds
	state int8
}

type span struct{ from, to int64 } // [from, to), unix seconds

// invSpan is an inventory row of one GPU: capacity under a share.
type invSpan struct {
	span
	share    gpumeter.Share
	provider string
	model    string
	node     string
}

// holdSpan is the GPU held by one project.
type holdSpan struct {
	span
	project string
	kind    gpumeter.ProjectKind
}

// cellKey is one rollup row of a GPU: an hour, a share, a project.
type cellKey struct {
	hour    int64
	share   gpumeter.Share
	project string
}

// cell counts seconds; capacity = active + idle + noData always.
type cell struct {
	provider, node, model string
	kind                  gpumeter.ProjectKind
	capacity              uint32
	active, idle, noData  uint32
	activeFrom            int64 // first active second, 0 if none
	activeUntil           int64 // one past the last active second, 0 if none
}

// classify accounts one GPU over [from, to): points sorted by time (with
// those in [from-gap, from) for the coverage that reaches into the window),
// its inventory rows and holds, each sorted and non-overlapping. A sample at
// t covers [t, min(next, t+gap)); each capacity second takes the state of
// the sample covering it, or no_data.
func classify(points []point, inv []invSpan, holds []holdSpan, from, to, gap int64) map[cellKey]*cell {
	cells := map[cellKey]*cell{}
	// Coverage segments, clipped to the window.
	type seg struct {
		span
		state int8
	}
	segs := make([]seg, 0, len(points))
	for i, p := range points {
		end := p.t + gap
		if i+1 < len(points) && points[i+1].t < end {
			end = points[i+1].t
		}
		s, e := max(p.t, from), min(end, to)
		if s < e {
			segs = append(segs, seg{span{s, e}, p.state})
		}
	}
	// Elementary intervals: between any two consecutive boundaries nothing
	// changes (inventory row, hold, covering sample, hour). The segments'
	// boundaries come sorted; the few others are sorted and merged in.
	other := []int64{from, to}
	for _, r := range inv {
		other = append(other, clampInt(r.from, from, to), clampInt(r.to, from, to))
	}
	for _, h := range holds {
		other = append(other, clampInt(h.from, from, to), clampInt(h.to, from, to))
	}
	for h := floorHour(from) + 3600; h < to; h += 3600 {
		other = append(other, h)
	}
	slices.Sort(other)
	bounds := make([]int64, 0, 2*len(segs)+len(other))
	oi := 0
	push := func(b int64) {
		for oi < len(other) && other[oi] <= b {
			bounds = append(bounds, other[oi])
			oi++
		}
		bounds = append(bounds, b)
	}
	for _, s := range segs {
		push(s.from)
		push(s.to)
	}
	bounds = append(bounds, other[oi:]...)
	si, ii, hi := 0, 0, 0
	for k := 0; k+1 < len(bounds); k++ {
		a, b := bounds[k], bounds[k+1]
		if a == b || a < from || b > to {
			continue
		}
		for ii < len(inv) && inv[ii].to <= a {
			ii++
		}
		if ii == len(inv) || inv[ii].from > a {
			continue // not capacity
		}
		row := inv[ii]
		for hi < len(holds) && holds[hi].to <= a {
			hi++
		}
		var project string
		var kind gpumeter.ProjectKind
		if hi < len(holds) && holds[hi].from <= a {
			project, kind = holds[hi].project, holds[hi].kind
		}
		for si < len(segs) && segs[si].to <= a {
			si++
		}
		state := stateMissing
		if si < len(segs) && segs[si].from <= a {
			state = segs[si].state
		}
		key := cellKey{hour: floorHour(a), share: row.share, project: project}
		c := cells[key]
		if c == nil {
			c = &cell{provider: row.provider, node: row.node, model: row.model, kind: kind}
			cells[key] = c
		}
		n := uint32(b - a)
		c.capacity += n
		switch state {
		case stateActive:
			c.active += n
			if c.activeFrom == 0 || a < c.activeFrom {
				c.activeFrom = a
			}
			c.activeUntil = max(c.activeUntil, b)
		case stateIdle:
			c.idle += n
		default:
			c.noData += n
		}
	}
	return cells
}

func floorHour(t int64) int64 { return t - ((t%3600)+3600)%3600 }

func clampInt(v, lo, hi int64) int64 { return min(max(v, lo), hi) }
