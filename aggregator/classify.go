// Package aggregator accounts every capacity second of every GPU (SPEC §5):
// coverage from samples, active or not, the seven classes, and hourly
// rollups per GPU, share and project that reports read instead of samples.
package aggregator

import (
	"slices"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/store"
)

type point struct {
	t      int64 // unix seconds
	state  int8  // store.State*
	energy int64 // millijoules; store.NoEnergy when the sample has none
	ns     int32 // namespace, as store.SamplePoint has it
}

// audit is what the attribution audit (SPEC §5) needs to judge a namespace:
// the namespaces of registered projects (ns i > 0 is known[i-1], whose
// project is projectOf[i-1]), the others seen (ns -i is others[i-1]), and
// how long a project's labels are still its own after its allocation ends.
type audit struct {
	known, projectOf, others []string
	grace                    int64
}

func (a *audit) name(ns int32) string {
	switch {
	case ns > 0:
		return a.known[ns-1]
	case ns < 0:
		return a.others[-ns-1]
	}
	return ""
}

// cellKey is one rollup row of a GPU: an hour, a share, a project.
type cellKey = store.RollupKey

// cell counts seconds; capacity = active + idle + noData always.
type cell struct {
	provider, node, model string
	kind                  gpumeter.ProjectKind
	capacity              uint32
	active, idle, noData  uint32
	activeFrom            int64 // first active second, 0 if none
	activeUntil           int64 // one past the last active second, 0 if none
	// Energy in millijoules by the state of its second, and unattributed.
	energyActive, energyIdle, energyNoData, energyUnattributed int64
	// Covered seconds by the namespace seen, and the stretches of foreign
	// or unknown ones.
	attribution gpumeter.Attribution
	mismatches  []store.Mismatch
}

// classify accounts one GPU over [from, to): points sorted by time (with
// those in [from-gap, from) for the coverage that reaches into the window),
// its inventory rows and holds, each sorted and non-overlapping. A sample at
// t covers [t, min(next, t+gap)); each capacity second takes the state of
// the sample covering it, or no_data.
//
// With au, each covered second is also judged by the namespace on its
// covering sample (SPEC §5 "Attribution audit").
func classify(points []point, inv []InvSpan, holds []HoldSpan, from, to, gap int64, au *audit) map[cellKey]*cell {
	cells := map[cellKey]*cell{}
	// Coverage segments, clipped to the window.
	type seg struct {
		Span
		state int8
		ns    int32
	}
	segs := make([]seg, 0, len(points))
	for i, p := range points {
		end := p.t + gap
		if i+1 < len(points) && points[i+1].t < end {
			end = points[i+1].t
		}
		s, e := max(p.t, from), min(end, to)
		if s >= e {
			continue
		}
		// A run of touching segments of one state is one segment: the
		// intervals below are then few, however many samples there are.
		if n := len(segs); n > 0 && segs[n-1].To == s && segs[n-1].state == p.state && segs[n-1].ns == p.ns {
			segs[n-1].To = e
			continue
		}
		segs = append(segs, seg{Span{s, e}, p.state, p.ns})
	}
	// Elementary intervals: between any two consecutive boundaries nothing
	// changes (inventory row, hold, covering sample, hour). The segments'
	// boundaries come sorted; the few others are sorted and merged in.
	other := []int64{from, to}
	for _, r := range inv {
		other = append(other, clampInt(r.From, from, to), clampInt(r.To, from, to))
	}
	for _, h := range holds {
		other = append(other, clampInt(h.From, from, to), clampInt(h.To, from, to))
		if au != nil && h.To < gpumeter.Forever-au.grace {
			other = append(other, clampInt(h.To+au.grace, from, to))
		}
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
		push(s.From)
		push(s.To)
	}
	bounds = append(bounds, other[oi:]...)
	si, ii, hi := 0, 0, 0
	var last *cell
	var lastKey cellKey
	for k := 0; k+1 < len(bounds); k++ {
		a, b := bounds[k], bounds[k+1]
		if a == b || a < from || b > to {
			continue
		}
		for ii < len(inv) && inv[ii].To <= a {
			ii++
		}
		if ii == len(inv) || inv[ii].From > a {
			continue // not capacity
		}
		row := inv[ii]
		for hi < len(holds) && holds[hi].To <= a {
			hi++
		}
		var project string
		var kind gpumeter.ProjectKind
		if hi < len(holds) && holds[hi].From <= a {
			project, kind = holds[hi].Project, holds[hi].Kind
		}
		for si < len(segs) && segs[si].To <= a {
			si++
		}
		state := store.StateMissing
		covered := si < len(segs) && segs[si].From <= a
		if covered {
			state = segs[si].state
		}
		key := cellKey{Hour: floorHour(a), Share: row.Share, Project: project}
		// Consecutive intervals mostly fall in the same cell: look it up
		// in the map only when the key changes.
		c := last
		if key != lastKey || c == nil {
			c, lastKey = cells[key], key
		}
		if c == nil {
			c = &cell{provider: row.Provider, node: row.Node, model: row.Model, kind: kind}
			cells[key] = c
		}
		last = c
		n := uint32(b - a)
		c.capacity += n
		if covered && au != nil {
			c.judge(au, segs[si].ns, project, holds, a, b)
		}
		switch state {
		case store.StateActive:
			c.active += n
			if c.activeFrom == 0 || a < c.activeFrom {
				c.activeFrom = a
			}
			c.activeUntil = max(c.activeUntil, b)
		case store.StateIdle:
			c.idle += n
		default:
			c.noData += n
		}
	}
	return cells
}

// judge counts the covered seconds [a, b) under holder by what namespace ns
// says: matched when it is the holder's, or that of a project whose
// allocation of this GPU ended less than the grace ago; foreign when it is
// another project's; unknown when no project has it; unlabeled when empty.
// Foreign and unknown seconds extend the cell's stretches.
func (c *cell) judge(au *audit, ns int32, holder string, holds []HoldSpan, a, b int64) {
	n := b - a
	kind := "unknown"
	switch {
	case ns == 0:
		c.attribution.Unlabeled += n
		return
	case ns > 0:
		p := au.projectOf[ns-1]
		if p == holder {
			c.attribution.Matched += n
			return
		}
		for _, h := range holds {
			if h.Project == p && h.To <= a && a < h.To+au.grace {
				c.attribution.Matched += n
				return
			}
		}
		c.attribution.Foreign += n
		kind = "foreign"
	default:
		c.attribution.Unknown += n
	}
	name := au.name(ns)
	if k := len(c.mismatches); k > 0 && c.mismatches[k-1].To == a && c.mismatches[k-1].Namespace == name && c.mismatches[k-1].Kind == kind {
		c.mismatches[k-1].To = b
		return
	}
	c.mismatches = append(c.mismatches, store.Mismatch{From: a, To: b, Namespace: name, Kind: kind})
}

// energy adds a GPU's energy over [from, to) to its cells (SPEC §5): the
// counter's delta between consecutive samples that have it (a decrease is a
// restart: the later value is the delta) belongs to the earlier sample's
// second when they are at most gap apart, by that second's state, share and
// holder; across a longer gap it is unattributed, in the later sample's
// second. A second that is not capacity takes nothing. points run from
// before from to beyond to by gap; prev is the last reading before them,
// when the first reading in them needs one.
func energy(cells map[cellKey]*cell, points []point, prev *store.EnergyReading, inv []InvSpan, holds []HoldSpan, from, to, gap int64) {
	var last *point
	if prev != nil {
		last = &point{t: prev.T, energy: prev.MJ, state: store.StateMissing}
	}
	at := cellFinder{cells: cells, inv: inv, holds: holds}
	for i := range points {
		q := &points[i]
		if q.energy == store.NoEnergy {
			continue
		}
		if p := last; p != nil {
			delta := q.energy - p.energy
			if q.energy < p.energy {
				delta = q.energy
			}
			switch {
			case q.t-p.t <= gap && p.t >= from && p.t < to:
				if c := at.cell(p.t); c != nil {
					switch p.state {
					case store.StateActive:
						c.energyActive += delta
					case store.StateIdle:
						c.energyIdle += delta
					default:
						c.energyNoData += delta
					}
				}
			case q.t-p.t > gap && q.t >= from && q.t < to:
				if c := at.cell(q.t); c != nil {
					c.energyUnattributed += delta
				}
			}
		}
		last = q
	}
}

// cellFinder finds the cell of a second, nil when it is not capacity. Every
// capacity second of the window has its cell already. Asked in time order,
// it walks the inventory rows and holds once.
type cellFinder struct {
	cells  map[cellKey]*cell
	inv    []InvSpan
	holds  []HoldSpan
	ii, hi int
	key    cellKey
	last   *cell
}

func (f *cellFinder) cell(t int64) *cell {
	for f.ii < len(f.inv) && f.inv[f.ii].To <= t {
		f.ii++
	}
	if f.ii == len(f.inv) || f.inv[f.ii].From > t {
		return nil
	}
	for f.hi < len(f.holds) && f.holds[f.hi].To <= t {
		f.hi++
	}
	project := ""
	if f.hi < len(f.holds) && f.holds[f.hi].From <= t {
		project = f.holds[f.hi].Project
	}
	k := cellKey{Hour: floorHour(t), Share: f.inv[f.ii].Share, Project: project}
	if k != f.key || f.last == nil {
		f.key, f.last = k, f.cells[k]
	}
	return f.last
}

func floorHour(t int64) int64 { return t - ((t%3600)+3600)%3600 }

func clampInt(v, lo, hi int64) int64 { return min(max(v, lo), hi) }
