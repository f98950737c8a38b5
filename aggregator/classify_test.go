package aggregator

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/store"
)

const base = int64(1790812800) // 2026-10-01T00:00:00Z, on the hour

func gov(from, to int64) InvSpan {
	return InvSpan{Span: Span{from, to}, Share: gpumeter.ShareGovernment, Provider: "nhn", Model: "B200", Node: "n1"}
}

// sums folds cells into class totals, the seven classes of SPEC §5.
func sums(cells map[cellKey]*cell) map[string]int64 {
	out := map[string]int64{}
	for _, c := range cells {
		prefix := "unallocated"
		switch c.kind {
		case gpumeter.ProjectPublic:
			prefix = "public"
		case gpumeter.ProjectProvider:
			prefix = "provider"
		}
		out[prefix+"_active"] += int64(c.active)
		out[prefix+"_idle"] += int64(c.idle)
		out["no_data"] += int64(c.noData)
		out["capacity"] += int64(c.capacity)
	}
	for k, v := range out {
		if v == 0 {
			delete(out, k)
		}
	}
	return out
}

func wantSums(t *testing.T, got map[cellKey]*cell, want map[string]int64) {
	t.Helper()
	g := sums(got)
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", g, want)
	}
}

func TestCoverageAndStates(t *testing.T) {
	// G = 60. Samples at +0 active, +15 active, +30 idle, +200 missing, +300 idle.
	//   +0   covers [0, 15)    15 s active
	//   +15  covers [15, 30)   15 s active
	//   +30  covers [30, 90)   60 s idle (the next sample is 170 s later: G caps it)
	//   +200 covers [200, 260) 60 s no_data (metric missing)
	//   +300 covers [300, 360) 60 s idle
	// covered 210 s; the other 3,390 s of the hour are no_data: 3,390 + 60 = 3,450.
	pts := []point{{base, 1, -1, 0}, {base + 15, 1, -1, 0}, {base + 30, 0, -1, 0}, {base + 200, -1, -1, 0}, {base + 300, 0, -1, 0}}
	got := classify(pts, []InvSpan{gov(base, gpumeter.Forever)}, nil, base, base+3600, 60, nil)
	wantSums(t, got, map[string]int64{"capacity": 3600, "unallocated_active": 30, "unallocated_idle": 120, "no_data": 3450})
	c := got[cellKey{Hour: base, Share: gpumeter.ShareGovernment}]
	if c.activeFrom != base || c.activeUntil != base+30 {
		t.Fatalf("active from %d until %d", c.activeFrom-base, c.activeUntil-base)
	}
}

func TestAllocationsSplitClasses(t *testing.T) {
	// Active all hour (a sample every 15 s). Public project [0, 1800),
	// provider project [1800, 3000), nothing after:
	// public_active 1,800, provider_active 1,200, unallocated_active 600.
	var pts []point
	for s := int64(0); s < 3600; s += 15 {
		pts = append(pts, point{base + s, 1, -1, 0})
	}
	holds := []HoldSpan{
		{Span{base, base + 1800}, "p-pub", gpumeter.ProjectPublic},
		{Span{base + 1800, base + 3000}, "p-own", gpumeter.ProjectProvider},
	}
	got := classify(pts, []InvSpan{gov(base, gpumeter.Forever)}, holds, base, base+3600, 60, nil)
	wantSums(t, got, map[string]int64{"capacity": 3600, "public_active": 1800, "provider_active": 1200, "unallocated_active": 600})
	if got[cellKey{Hour: base, Share: gpumeter.ShareGovernment, Project: "p-own"}].active != 1200 {
		t.Fatal("provider project cell")
	}
}

func TestRedesignationAndDecommission(t *testing.T) {
	// Private [0, 1000), government [1000, 3000), decommissioned at 3000:
	// capacity 3,000 s, split 1,000 private and 2,000 government; no samples,
	// so all of it no_data. The 600 s after 3000 are not capacity at all.
	inv := []InvSpan{
		{Span: Span{base, base + 1000}, Share: gpumeter.SharePrivate, Provider: "nhn", Model: "B200", Node: "n1"},
		gov(base+1000, base+3000),
	}
	got := classify(nil, inv, nil, base, base+3600, 60, nil)
	wantSums(t, got, map[string]int64{"capacity": 3000, "no_data": 3000})
	if got[cellKey{Hour: base, Share: gpumeter.SharePrivate, Project: ""}].capacity != 1000 || got[cellKey{Hour: base, Share: gpumeter.ShareGovernment, Project: ""}].capacity != 2000 {
		t.Fatal("shares")
	}
}

func TestCoverageCrossesWindowAndHour(t *testing.T) {
	// A sample 30 s before the window covers its first 30 s; one at +3590
	// covers [3590, 3650): 10 s in the first hour, 50 s in the second.
	pts := []point{{base - 30, 1, -1, 0}, {base + 3590, 0, -1, 0}}
	got := classify(pts, []InvSpan{gov(0, gpumeter.Forever)}, nil, base, base+7200, 60, nil)
	h0 := got[cellKey{Hour: base, Share: gpumeter.ShareGovernment, Project: ""}]
	h1 := got[cellKey{Hour: base + 3600, Share: gpumeter.ShareGovernment, Project: ""}]
	if h0.active != 30 || h0.idle != 10 || h0.noData != 3560 || h1.idle != 50 || h1.noData != 3550 {
		t.Fatalf("h0 %+v h1 %+v", *h0, *h1)
	}
}

// bruteForce classifies second by second, straight from the definitions.
func bruteForce(points []point, inv []InvSpan, holds []HoldSpan, from, to, gap int64) map[cellKey]*cell {
	cells := map[cellKey]*cell{}
	for s := from; s < to; s++ {
		var row *InvSpan
		for i := range inv {
			if inv[i].From <= s && s < inv[i].To {
				row = &inv[i]
			}
		}
		if row == nil {
			continue
		}
		var project string
		var kind gpumeter.ProjectKind
		for _, h := range holds {
			if h.From <= s && s < h.To {
				project, kind = h.Project, h.Kind
			}
		}
		state := store.StateMissing
		for i, p := range points {
			end := p.t + gap
			if i+1 < len(points) && points[i+1].t < end {
				end = points[i+1].t
			}
			if p.t <= s && s < end {
				state = p.state
			}
		}
		k := cellKey{Hour: floorHour(s), Share: row.Share, Project: project}
		if cells[k] == nil {
			cells[k] = &cell{kind: kind}
		}
		c := cells[k]
		c.capacity++
		switch state {
		case store.StateActive:
			c.active++
		case store.StateIdle:
			c.idle++
		default:
			c.noData++
		}
	}
	return cells
}

// randomScenario is a GPU with re-designations, gaps in validity, holds by
// public and provider projects, and irregular samples with missing values.
func randomScenario(r *rand.Rand, from, to int64) ([]point, []InvSpan, []HoldSpan, int64) {
	var inv []InvSpan
	for t := from - int64(r.Intn(600)); t < to; {
		length := int64(1 + r.Intn(3000))
		share := gpumeter.ShareGovernment
		if r.Intn(2) == 0 {
			share = gpumeter.SharePrivate
		}
		if r.Intn(4) > 0 {
			end := t + length
			if r.Intn(8) == 0 {
				end = gpumeter.Forever
			}
			inv = append(inv, InvSpan{Span: Span{t, end}, Share: share, Provider: "p", Model: "B200", Node: "n"})
			if end == gpumeter.Forever {
				break
			}
		}
		t += length + int64(r.Intn(2)*r.Intn(500))
	}
	var holds []HoldSpan
	for t := from - int64(r.Intn(900)); t < to; {
		length := int64(1 + r.Intn(2000))
		if r.Intn(3) > 0 {
			kind := gpumeter.ProjectPublic
			if r.Intn(2) == 0 {
				kind = gpumeter.ProjectProvider
			}
			holds = append(holds, HoldSpan{Span{t, t + length}, fmt.Sprintf("p%d", r.Intn(3)), kind})
		}
		t += length + int64(r.Intn(2)*r.Intn(300))
	}
	gap := int64(1 + r.Intn(90))
	var pts []point
	for t := from - gap - int64(r.Intn(60)); t < to; t += int64(1 + r.Intn(120)) {
		pts = append(pts, point{t, int8(r.Intn(3) - 1), -1, 0})
	}
	return pts, inv, holds, gap
}

// The conservation law and the definitions, on random scenarios: classify
// agrees with the second-by-second reading, and every GPU's classes sum to
// its capacity, which is its inventory validity within the window.
func TestClassifyMatchesDefinitionsOnRandomScenarios(t *testing.T) {
	r := rand.New(rand.NewSource(42))
	for i := 0; i < 300; i++ {
		from := base + int64(r.Intn(3600))
		to := from + int64(1+r.Intn(3*3600))
		pts, inv, holds, gap := randomScenario(r, from, to)
		got := classify(pts, inv, holds, from, to, gap, nil)
		want := bruteForce(pts, inv, holds, from, to, gap)
		if len(got) != len(want) {
			t.Fatalf("scenario %d: %d cells, want %d", i, len(got), len(want))
		}
		var capacity int64
		for k, w := range want {
			g := got[k]
			if g == nil || g.capacity != w.capacity || g.active != w.active || g.idle != w.idle || g.noData != w.noData || g.kind != w.kind {
				t.Fatalf("scenario %d cell %+v: got %+v want %+v", i, k, g, w)
			}
			if g.active+g.idle+g.noData != g.capacity {
				t.Fatalf("scenario %d: classes do not sum to capacity in %+v", i, g)
			}
			capacity += int64(g.capacity)
		}
		var valid int64
		for _, row := range inv {
			valid += max(0, min(row.To, to)-max(row.From, from))
		}
		if capacity != valid {
			t.Fatalf("scenario %d: capacity %d, inventory validity %d", i, capacity, valid)
		}
	}
}

// The attribution audit on random scenarios, second by second from the
// definitions: each covered second is matched, foreign, unknown or
// unlabeled, their sum is the covered seconds, and the stretches listed are
// exactly the foreign and unknown seconds.
func TestAttributionMatchesDefinitionsOnRandomScenarios(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	au := &audit{known: []string{"ns-p0", "ns-p1"}, projectOf: []string{"p0", "p1"}, others: []string{"stranger"}}
	for i := 0; i < 300; i++ {
		from := base + int64(r.Intn(3600))
		to := from + int64(1+r.Intn(3*3600))
		pts, inv, holds, gap := randomScenario(r, from, to)
		for k := range pts {
			pts[k].ns = int32(r.Intn(4) - 1) // -1 stranger, 0 none, 1 ns-p0, 2 ns-p1
		}
		au.grace = int64(r.Intn(900))
		got := classify(pts, inv, holds, from, to, gap, au)
		want := map[cellKey]*gpumeter.Attribution{}
		covered := int64(0)
		for s := from; s < to; s++ {
			var row *InvSpan
			for k := range inv {
				if inv[k].From <= s && s < inv[k].To {
					row = &inv[k]
				}
			}
			ns, isCovered := int32(0), false
			for k, p := range pts {
				end := p.t + gap
				if k+1 < len(pts) && pts[k+1].t < end {
					end = pts[k+1].t
				}
				if p.t <= s && s < end {
					ns, isCovered = p.ns, true
				}
			}
			if row == nil || !isCovered {
				continue
			}
			holder := ""
			for _, h := range holds {
				if h.From <= s && s < h.To {
					holder = h.Project
				}
			}
			key := cellKey{Hour: floorHour(s), Share: row.Share, Project: holder}
			if want[key] == nil {
				want[key] = &gpumeter.Attribution{}
			}
			a := want[key]
			covered++
			switch {
			case ns == 0:
				a.Unlabeled++
			case ns < 0:
				a.Unknown++
			default:
				p := au.projectOf[ns-1]
				stale := false
				for _, h := range holds {
					if h.Project == p && h.To <= s && s < h.To+au.grace {
						stale = true
					}
				}
				if p == holder || stale {
					a.Matched++
				} else {
					a.Foreign++
				}
			}
		}
		var sum int64
		for k, w := range want {
			g := got[k]
			if g == nil || g.attribution != *w {
				t.Fatalf("scenario %d cell %+v: got %+v, want %+v", i, k, g, *w)
			}
			var listed [2]int64
			for _, m := range g.mismatches {
				if m.Kind == "foreign" {
					listed[0] += m.To - m.From
				} else {
					listed[1] += m.To - m.From
				}
			}
			if listed != [2]int64{w.Foreign, w.Unknown} {
				t.Fatalf("scenario %d cell %+v: stretches %v s, foreign %d, unknown %d", i, k, listed, w.Foreign, w.Unknown)
			}
			sum += w.Total()
		}
		if sum != covered {
			t.Fatalf("scenario %d: attribution %d s, covered %d s", i, sum, covered)
		}
	}
}

// SPEC §5 Energy: "each consecutive pair i, i+1 of them (samples without the
// value are skipped, not breaks). Their delta is energy_mj(i+1) −
// energy_mj(i), or energy_mj(i+1) when that is smaller than energy_mj(i)
// (the counter restarted). When t(i+1) − t(i) ≤ G the delta belongs to
// second t(i) … When the gap is longer than G the delta is unattributed".
func TestEnergyDeltas(t *testing.T) {
	const gap = 60
	key := cellKey{Hour: base, Share: gpumeter.ShareGovernment}
	cells := map[cellKey]*cell{key: {}}
	inv := []InvSpan{gov(base, base+3600)}
	points := []point{
		{t: base, energy: 1000, state: store.StateActive},
		{t: base + 30, energy: 1500, state: store.StateIdle},           // 500 to base's active second
		{t: base + 60, energy: store.NoEnergy, state: store.StateIdle}, // skipped, not a break
		{t: base + 90, energy: 200, state: store.StateActive},          // restarted: 200 to base+30's idle second
		{t: base + 500, energy: 700, state: store.StateMissing},        // 410 s after: 500 unattributed, at base+500
		{t: base + 3610, energy: 800, state: store.StateActive},        // not capacity: nothing
	}
	energy(cells, points, nil, inv, nil, base, base+7200, gap)
	c := cells[key]
	if c.energyActive != 500 || c.energyIdle != 200 || c.energyNoData != 0 || c.energyUnattributed != 500 {
		t.Fatalf("active %d idle %d no_data %d unattributed %d, want 500 200 0 500",
			c.energyActive, c.energyIdle, c.energyNoData, c.energyUnattributed)
	}
	// The reading before the window starts the first pair; its second is
	// outside [from, to), so the delta goes nowhere.
	cells = map[cellKey]*cell{key: {}}
	energy(cells, points[:1], &store.EnergyReading{T: base - 10, MJ: 400}, inv, nil, base, base+3600, gap)
	if c := cells[key]; c.energyActive+c.energyIdle+c.energyNoData+c.energyUnattributed != 0 {
		t.Fatalf("a delta of a second before the window was counted: %+v", c)
	}
}
