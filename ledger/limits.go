package ledger

import (
	"cmp"
	"maps"
	"slices"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/aggregator"
	"github.com/nipa-gpu/gpumeter/store"
)

// Hold is one government GPU held by its provider's own projects without a
// break: back-to-back allocations, even of different projects, are one hold.
type Hold struct {
	GPU, Node, Provider string
	From, To            int64 // To is gpumeter.Forever for a hold that has not ended
}

// BorrowHolds lists the holds of government GPUs by their providers' own
// projects, in GPU and time order.
func BorrowHolds(tl *aggregator.Timelines) []Hold {
	var out []Hold
	for _, g := range slices.Sorted(maps.Keys(tl.Inv)) {
		var pieces []Hold
		for _, h := range tl.Holds[g] {
			if h.Kind != gpumeter.ProjectProvider {
				continue
			}
			for _, r := range tl.Inv[g] {
				if r.Share != gpumeter.ShareGovernment {
					continue
				}
				if f, t := max(h.From, r.From), min(h.To, r.To); f < t {
					pieces = append(pieces, Hold{GPU: g, Node: r.Node, Provider: r.Provider, From: f, To: t})
				}
			}
		}
		slices.SortFunc(pieces, func(a, b Hold) int { return cmp.Compare(a.From, b.From) })
		for _, p := range pieces {
			if n := len(out); n > 0 && out[n-1].GPU == g && out[n-1].To >= p.From {
				out[n-1].To = max(out[n-1].To, p.To)
				continue
			}
			out = append(out, p)
		}
	}
	return out
}

// violations lists the provider's violations of its limits in the period
// [start, end), and finds its longest hold.
func (p *Provider) violations(holds []Hold, rows []store.Rollup, start, end int64) {
	p.Violations = []Violation{}
	maxHold := int64(p.Limits.MaxBorrowHours * 3600)
	for _, h := range holds {
		if h.Provider != p.ID || h.From >= end || h.To <= start {
			continue
		}
		// How long the hold has lasted by the end of the period.
		heldUntil := min(h.To, end)
		p.LongestHold = max(p.LongestHold, heldUntil-h.From)
		if maxHold > 0 && heldUntil-h.From > maxHold {
			p.Violations = append(p.Violations, Violation{Kind: gpumeter.BorrowTooLong, GPU: h.GPU, Node: h.Node,
				From: h.From, To: h.To, Seconds: heldUntil - max(h.From, start)})
		}
	}
	if limit := int64(p.Limits.MonthlyBorrowGPUHours * 3600); limit > 0 && p.Borrowed > limit {
		p.Violations = append(p.Violations, Violation{Kind: gpumeter.BorrowOverMonthlyCap, From: start, To: end, Seconds: p.Borrowed - limit})
	}
	// Use without an allocation: unallocated active time on a government
	// GPU, from its first to one past its last active second.
	var use []Violation
	for _, r := range rows {
		if r.Provider != p.ID || r.Share != gpumeter.ShareGovernment || r.Kind != gpumeter.Unallocated || r.Active == 0 {
			continue
		}
		if n := len(use); n > 0 && use[n-1].GPU == r.GPU {
			u := &use[n-1]
			u.Seconds += r.Active
			u.From, u.To = min(u.From, r.ActiveFrom), max(u.To, r.ActiveUntil)
			continue
		}
		use = append(use, Violation{Kind: gpumeter.UnallocatedUse, GPU: r.GPU, Node: r.Node, From: r.ActiveFrom, To: r.ActiveUntil, Seconds: r.Active})
	}
	p.Violations = append(p.Violations, use...)
}

// CheckItem names a figure checked against a provider's limits.
type CheckItem string

const (
	CheckPrivateShareGPUs CheckItem = "private_share_gpus" // GPUs of the private share (inventory)
	CheckPeakGPUs         CheckItem = "peak"               // peak GPUs on the provider's own projects
	CheckBorrowed         CheckItem = "monthly_cap"        // borrowed GPU-hours this month
	CheckLongestHold      CheckItem = "max_borrow"         // longest borrow hold, hours
	CheckLent             CheckItem = "lent"               // public GPU-hours on the private share
	CheckPrivateUsed      CheckItem = "private_used"       // the provider's own GPU-hours on the private share
)

// Check is one figure of a provider against its limit.
type Check struct {
	Item      CheckItem
	Usage     float64 // GPUs, or GPU-hours rounded to 3 decimals
	Limit     float64
	HasLimit  bool // false: a figure shown for context, with no limit
	Unlimited bool // the limit is 0, which means no cap
	Over      bool
}

// CheckStatus is what a check says of its figure.
type CheckStatus string

const (
	StatusContext CheckStatus = ""       // a figure shown for context: no limit
	StatusNoCap   CheckStatus = "no_cap" // the limit is 0, which means no cap
	StatusOver    CheckStatus = "over"
	StatusOK      CheckStatus = "ok"
)

// Status is the check's verdict, the one every view shows.
func (c Check) Status() CheckStatus {
	switch {
	case !c.HasLimit:
		return StatusContext
	case c.Unlimited:
		return StatusNoCap
	case c.Over:
		return StatusOver
	}
	return StatusOK
}

func (p *Provider) checks() []Check {
	lim := p.Limits
	check := func(item CheckItem, usage, limit float64, unlimited bool) Check {
		return Check{Item: item, Usage: usage, Limit: limit, HasLimit: true, Unlimited: unlimited, Over: !unlimited && usage > limit}
	}
	return []Check{
		check(CheckPrivateShareGPUs, float64(p.GPUs.Private), float64(lim.PrivateShareGPUs), false),
		check(CheckPeakGPUs, gpumeter.Hours(p.PeakProviderSeconds), float64(lim.PrivateShareGPUs), false),
		check(CheckBorrowed, gpumeter.Hours(p.Borrowed), lim.MonthlyBorrowGPUHours, lim.MonthlyBorrowGPUHours == 0),
		check(CheckLongestHold, gpumeter.Hours(p.LongestHold), lim.MaxBorrowHours, false),
		{Item: CheckLent, Usage: gpumeter.Hours(p.Lent)},
		{Item: CheckPrivateUsed, Usage: gpumeter.Hours(p.PrivateUsed)},
	}
}
