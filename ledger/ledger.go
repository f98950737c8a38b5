// Package ledger is where SPEC §5 is computed: from the hourly rollups and the
// reference data, loaded once, it builds everything a period's accounting
// says for all providers or one (classes per provider, share, project, day
// and GPU; borrowed, lent, private used and peak; holds, violations and
// charges; idle flags; data quality). The JSON report, the workbook, the
// limits view and the HTTP API only format a Ledger; none recomputes a rule.
package ledger

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/aggregator"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/store"
)

// Scope selects what a ledger covers.
type Scope struct {
	Month    string    // YYYY-MM in the configured time zone
	Provider string    // "" for every provider
	Now      time.Time // a month still running is cut at the last whole hour before it
}

// Ledger is a period's accounting. Its figures are in seconds, millijoules
// or counts, which the formats round; only the limit checks (Check.Usage)
// and the idle flags (SPEC §6's fields) come rounded, by the root's Hours,
// Pct and Round3 as the formats round.
type Ledger struct {
	Month, Timezone string
	Provider        string    // the scope: "" for every provider
	From, To        time.Time // the period, in the configured zone
	GeneratedAt     time.Time
	InputsSHA256    string
	Params          aggregator.Params

	Providers []Provider
	Projects  []Project
	Daily     []Day
	GPUs      []GPU
	IdleFlags []gpumeter.IdleFlag
	// ShortCoverage lists the government GPUs that got no idle flag for want
	// of coverage.
	ShortCoverage []string
	ProjectNames  map[string]string
	DataQuality   DataQuality
}

// Provider is one provider's month.
type Provider struct {
	ID                  string
	GPUs                ShareCounts
	Government, Private gpumeter.Seconds
	// Borrowed is provider_active + provider_idle on the government share,
	// Lent public time on the private share, PrivateUsed provider time on it.
	Borrowed, Lent, PrivateUsed int64
	// PeakProviderSeconds is the largest, over the hours, of the capacity
	// seconds under the provider's own projects in that hour.
	PeakProviderSeconds int64
	// LongestHold is the longest hold of a government GPU by the provider's
	// projects that overlaps the period, up to the period's end.
	LongestHold int64
	Limits      config.ProviderLimits
	Checks      []Check
	Charges     []Charge
	Violations  []Violation
	// Reallocation is what became of the idle flags of the period.
	Reallocation Reallocation
	// Energy of the provider's GPUs by share and class, and what came
	// across gaps longer than max_sample_gap (SPEC §5), in millijoules.
	EnergyGovernment, EnergyPrivate gpumeter.EnergyMJ
	EnergyUnattributed              int64
	EnergyCharges                   []EnergyCharge
	// Attribution counts the covered seconds of the provider's GPUs by the
	// namespace seen; Mismatches lists the runs of foreign or unknown
	// namespaces of at least attribution.min_mismatch_minutes (SPEC §5).
	Attribution gpumeter.Attribution
	Mismatches  []Mismatch
}

// Mismatch is a run of consecutive seconds on one GPU, under one holder
// ("" for none), on which one namespace not the holder's was seen.
type Mismatch struct {
	GPU, Node   string
	Share       gpumeter.Share
	Holder      string
	Namespace   string
	SeenProject string // the project whose namespace it is; "" for an unknown namespace
	From, To    int64
}

// EnergyCharge prices the energy of one model's GPUs of a provider: all of
// it, attributed or not.
type EnergyCharge struct {
	Model    string
	MJ       int64
	KRW      int64
	BilledTo gpumeter.BilledTo
}

// ShareCounts counts GPUs per share.
type ShareCounts struct{ Government, Private int }

// Capacity is the provider's capacity seconds on both shares.
func (p Provider) Capacity() int64 { return p.Government.Total() + p.Private.Total() }

// Charge is the price of one class's seconds on one model.
type Charge struct {
	Class    gpumeter.Class
	Model    string
	Seconds  int64
	KRW      int64
	BilledTo gpumeter.BilledTo
}

// Violation is a breach of a provider's limits. To is gpumeter.Forever for a
// hold that has not ended.
type Violation struct {
	Kind      gpumeter.ViolationKind
	GPU, Node string
	From, To  int64
	Seconds   int64
}

// Project is one project's time in the period.
type Project struct {
	ID, Provider              string
	Kind                      gpumeter.ProjectKind
	Allocated, Active, NoData int64
	Energy                    int64 // millijoules of the seconds it held the GPUs
}

// Day is one local day of a provider's share.
type Day struct {
	Day      string // YYYY-MM-DD in the configured zone
	Provider string
	Share    gpumeter.Share
	Seconds  gpumeter.Seconds
	Energy   int64 // millijoules, unattributed included
}

// GPU is one GPU's period on one share.
type GPU struct {
	GPU, Provider, Node, Model string
	Share                      gpumeter.Share
	Seconds                    gpumeter.Seconds
}

// DataQuality says how well the period is covered by samples.
type DataQuality struct {
	Covered, Capacity int64 // seconds
	UnregisteredGPUs  int   // GPUs with samples and no inventory row (program-wide scope only)
	NodesWithoutData  []string
	// RefusedSamples counts by reason the samples refused by ownership
	// (SPEC §9): pushed, or scraped from a target listed for the provider.
	RefusedSamples map[string]uint64
}

// Period is a month's time range in the configured zone, cut at the last
// whole hour before now for a month still running.
func Period(month string, loc *time.Location, now time.Time) (from, to time.Time, err error) {
	from, err = time.ParseInLocation("2006-01", month, loc)
	if err != nil {
		return from, to, fmt.Errorf("month %q: want YYYY-MM", month)
	}
	to = from.AddDate(0, 1, 0)
	if cut := now.Truncate(time.Hour); cut.Before(to) {
		to = cut
	}
	if !to.After(from) {
		return from, to, fmt.Errorf("month %s has not begun", month)
	}
	return from, to, nil
}

// Build computes the ledger of a scope from the store. It only reads: the
// rollups must be up to date (aggregator.Update) for the figures to include
// every sample stored.
func Build(ctx context.Context, st store.Store, cfg config.Config, sc Scope) (*Ledger, error) {
	loc := cfg.Location()
	from, to, err := Period(sc.Month, loc, sc.Now)
	if err != nil {
		return nil, err
	}
	start, end := from.Unix(), to.Unix()
	agg := aggregator.New(st, cfg, nil)
	l := &Ledger{Month: sc.Month, Timezone: cfg.Timezone, Provider: sc.Provider, From: from, To: to,
		GeneratedAt: sc.Now.UTC().Truncate(time.Second), Params: agg.Params, ProjectNames: map[string]string{}}
	ref, err := store.LoadReference(ctx, st)
	if err != nil {
		return nil, err
	}
	tl := aggregator.NewTimelines(ref)
	for _, p := range ref.Projects {
		if sc.Provider == "" || p.Provider == sc.Provider {
			l.ProjectNames[p.ID] = p.Name
		}
	}
	filter := store.RollupFilter{From: start, To: end, Provider: sc.Provider}
	// GPUs come back without node and model, which the inventory gives.
	rows, hours, err := store.SumRollupsWithHours(ctx, st, filter)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		r := &rows[i]
		if place, ok := tl.Place(r.GPU, r.Share, start, end); ok {
			r.Node, r.Model = place.Node, place.Model
		}
	}
	counts, err := store.GPUCounts(ctx, st, start, end)
	if err != nil {
		return nil, err
	}
	if l.InputsSHA256, err = inputsHash(ctx, st, cfg); err != nil {
		return nil, err
	}
	l.account(rows, counts, cfg, sc.Provider)
	l.days(hours, loc)
	holds := BorrowHolds(tl)
	// Only GPUs with foreign or unknown seconds have stretches to read.
	var mismatched []string
	for _, r := range rows {
		if r.Attribution.Foreign+r.Attribution.Unknown > 0 && (len(mismatched) == 0 || mismatched[len(mismatched)-1] != r.GPU) {
			mismatched = append(mismatched, r.GPU)
		}
	}
	var fragments []store.Mismatch
	if len(mismatched) > 0 {
		only := filter
		only.GPUs = mismatched
		if fragments, err = store.Mismatches(ctx, st, only); err != nil {
			return nil, err
		}
	}
	runs := mismatchRuns(fragments, ref.Projects, int64(cfg.Attribution.MinMismatchMinutes)*60)
	for i := range l.Providers {
		p := &l.Providers[i]
		p.violations(holds, rows, start, end)
		p.Mismatches = runs.of(p.ID)
		p.Violations = append(p.Violations, runs.violations(p.ID)...)
		p.Checks = p.checks()
	}
	if sc.Provider == "" {
		// Samples of unregistered GPUs belong to no provider: only the
		// program-wide ledger counts them.
		if l.DataQuality.UnregisteredGPUs, err = store.UnregisteredGPUs(ctx, st, start, end); err != nil {
			return nil, err
		}
	}
	if l.DataQuality.RefusedSamples, err = store.Rejections(ctx, st, start, end, sc.Provider); err != nil {
		return nil, err
	}
	flags, short, err := IdleFlags(ctx, agg, tl, cfg.Idle, to)
	if err != nil {
		return nil, err
	}
	inScope := map[string]bool{}
	for _, g := range l.GPUs {
		inScope[g.GPU] = true
	}
	kept, err := store.TrackedFlags(ctx, st, store.FlagFilter{Provider: sc.Provider})
	if err != nil {
		return nil, err
	}
	for _, f := range stable(kept, flags, to) {
		if sc.Provider == "" || f.Provider == sc.Provider {
			l.IdleFlags = append(l.IdleFlags, f)
		}
	}
	ids := make([]string, len(kept))
	for i, f := range kept {
		ids[i] = f.FlagID
	}
	acks, err := store.Acks(ctx, st, ids)
	if err != nil {
		return nil, err
	}
	realloc := reallocation(kept, acks, start, end)
	for i := range l.Providers {
		if r := realloc[l.Providers[i].ID]; r != nil {
			l.Providers[i].Reallocation = *r
		}
	}
	for _, g := range short {
		if sc.Provider == "" || inScope[g] {
			l.ShortCoverage = append(l.ShortCoverage, g)
		}
	}
	return l, nil
}

// account sums the per-GPU rollups into providers, projects, GPUs, charges
// and data quality.
func (l *Ledger) account(rows []store.Rollup, counts map[string]map[gpumeter.Share]int, cfg config.Config, scope string) {
	type acc struct {
		p             *Provider
		classByModel  map[gpumeter.Class]map[string]int64
		energyByModel map[string]int64
	}
	accs := map[string]*acc{}
	get := func(id string) *acc {
		if accs[id] == nil {
			accs[id] = &acc{p: &Provider{ID: id, Limits: cfg.Providers[id]}, classByModel: map[gpumeter.Class]map[string]int64{},
				energyByModel: map[string]int64{}}
			for _, c := range gpumeter.TariffClasses {
				accs[id].classByModel[c] = map[string]int64{}
			}
		}
		return accs[id]
	}
	projects := map[string]*Project{}
	gpus := map[[2]string]*GPU{}
	var gpuKeys [][2]string
	nodeCovered := map[string]int64{}
	for _, r := range rows {
		a := get(r.Provider)
		var s gpumeter.Seconds
		s.Add(r.Kind, r.Active, r.Idle, r.NoData)
		var e gpumeter.EnergyMJ
		e.Add(r.Kind, r.EnergyActive, r.EnergyIdle, r.EnergyNoData)
		a.p.EnergyUnattributed += r.EnergyUnattributed
		a.p.Attribution.Plus(r.Attribution)
		a.energyByModel[r.Model] += e.Total() + r.EnergyUnattributed
		if r.Share == gpumeter.ShareGovernment {
			a.p.EnergyGovernment.Plus(e)
		} else {
			a.p.EnergyPrivate.Plus(e)
		}
		if r.Share == gpumeter.ShareGovernment {
			a.p.Government.Plus(s)
			if r.Kind == gpumeter.ProjectProvider {
				a.classByModel[gpumeter.ProviderBorrowed][r.Model] += r.Active + r.Idle // borrowed excludes no_data
			}
		} else {
			a.p.Private.Plus(s)
		}
		for _, c := range gpumeter.Classes {
			a.classByModel[c][r.Model] += s.Of(c)
		}
		if r.Project != "" {
			p := projects[r.Project]
			if p == nil {
				p = &Project{ID: r.Project, Provider: r.Provider, Kind: r.Kind}
				projects[r.Project] = p
			}
			p.Allocated += r.Capacity
			p.Active += r.Active
			p.NoData += r.NoData
			p.Energy += e.Total()
		}
		k := [2]string{r.GPU, string(r.Share)}
		if gpus[k] == nil {
			gpus[k] = &GPU{GPU: r.GPU, Provider: r.Provider, Node: r.Node, Model: r.Model, Share: r.Share}
			gpuKeys = append(gpuKeys, k)
		}
		gpus[k].Seconds.Plus(s)
		l.DataQuality.Covered += r.Active + r.Idle
		l.DataQuality.Capacity += r.Capacity
		nodeCovered[r.Node] += r.Active + r.Idle
	}
	for id := range counts {
		if scope == "" || id == scope {
			get(id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(accs)) {
		a := accs[id]
		p := a.p
		p.GPUs = ShareCounts{counts[id][gpumeter.ShareGovernment], counts[id][gpumeter.SharePrivate]}
		p.Borrowed = p.Government.ProviderActive + p.Government.ProviderIdle
		p.Lent = p.Private.PublicActive + p.Private.PublicIdle
		p.PrivateUsed = p.Private.ProviderActive + p.Private.ProviderIdle
		p.Charges = charges(cfg.Tariffs, a.classByModel)
		p.EnergyCharges = []EnergyCharge{}
		for _, t := range cfg.EnergyTariffs {
			if mJ, ok := a.energyByModel[t.Model]; ok {
				p.EnergyCharges = append(p.EnergyCharges, EnergyCharge{Model: t.Model, MJ: mJ, KRW: gpumeter.KRWForEnergy(mJ, t.KRWPerKWh), BilledTo: t.BilledTo})
			}
		}
		l.Providers = append(l.Providers, *p)
	}
	for _, id := range slices.Sorted(maps.Keys(projects)) {
		l.Projects = append(l.Projects, *projects[id])
	}
	for _, k := range gpuKeys {
		l.GPUs = append(l.GPUs, *gpus[k])
	}
	l.DataQuality.NodesWithoutData = []string{}
	for node, c := range nodeCovered {
		if c == 0 {
			l.DataQuality.NodesWithoutData = append(l.DataQuality.NodesWithoutData, node)
		}
	}
	slices.Sort(l.DataQuality.NodesWithoutData)
}

// charges prices a provider's seconds by (class, model): the tariffs in their
// configured order, for the models the provider has.
func charges(tariffs []config.Tariff, classByModel map[gpumeter.Class]map[string]int64) []Charge {
	models := map[string]bool{}
	for _, c := range gpumeter.Classes {
		for m := range classByModel[c] {
			models[m] = true
		}
	}
	out := []Charge{}
	for _, t := range tariffs {
		if !models[t.Model] {
			continue
		}
		sec := classByModel[t.Class][t.Model]
		out = append(out, Charge{Class: t.Class, Model: t.Model, Seconds: sec, KRW: gpumeter.KRW(sec, t.KRWPerGPUHour), BilledTo: t.BilledTo})
	}
	return out
}

// days sums the hourly rollups into local days, and finds each provider's
// peak hour of its own projects.
func (l *Ledger) days(hours []store.Rollup, loc *time.Location) {
	type dayKey struct {
		day, provider string
		share         gpumeter.Share
	}
	daily := map[dayKey]*gpumeter.Seconds{}
	energy := map[dayKey]int64{}
	peak := map[string]map[int64]int64{}
	for _, h := range hours {
		k := dayKey{time.Unix(h.Hour, 0).In(loc).Format("2006-01-02"), h.Provider, h.Share}
		if daily[k] == nil {
			daily[k] = &gpumeter.Seconds{}
		}
		daily[k].Add(h.Kind, h.Active, h.Idle, h.NoData)
		energy[k] += h.EnergyActive + h.EnergyIdle + h.EnergyNoData + h.EnergyUnattributed
		if h.Kind == gpumeter.ProjectProvider {
			if peak[h.Provider] == nil {
				peak[h.Provider] = map[int64]int64{}
			}
			peak[h.Provider][h.Hour] += h.Capacity
		}
	}
	keys := slices.SortedFunc(maps.Keys(daily), func(a, b dayKey) int {
		return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.provider, b.provider), cmp.Compare(a.share, b.share))
	})
	for _, k := range keys {
		l.Daily = append(l.Daily, Day{Day: k.day, Provider: k.provider, Share: k.share, Seconds: *daily[k], Energy: energy[k]})
	}
	for i := range l.Providers {
		p := &l.Providers[i]
		for _, s := range peak[p.ID] {
			p.PeakProviderSeconds = max(p.PeakProviderSeconds, s)
		}
	}
}

// inputsHash fingerprints what the figures were computed from: the input
// files in force (kind and SHA-256 of each import still current) and the
// accounting parameters, limits and tariffs.
func inputsHash(ctx context.Context, st store.Store, cfg config.Config) (string, error) {
	lines, err := store.CurrentImportHashes(ctx, st)
	if err != nil {
		return "", err
	}
	slices.Sort(lines)
	lines = append(lines, aggregator.ParamsFrom(cfg).String(), fmt.Sprintf("idle %+v", cfg.Idle))
	for _, p := range slices.Sorted(maps.Keys(cfg.Providers)) {
		lines = append(lines, fmt.Sprintf("limits %s %+v", p, cfg.Providers[p]))
	}
	for _, t := range cfg.Tariffs {
		lines = append(lines, fmt.Sprintf("tariff %+v", t))
	}
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:]), nil
}
