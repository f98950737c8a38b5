// Package reports builds the monthly report (SPEC §6) from the hourly
// rollups: the JSON machine contract, and the workbook for people.
package reports

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nipa-gpu/gpumeter/aggregator"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/imports"
	"github.com/nipa-gpu/gpumeter/store"
)

// Report is the JSON of SPEC §6, field for field.
type Report struct {
	Month        string      `json:"month"`
	Timezone     string      `json:"timezone"`
	GeneratedAt  string      `json:"generated_at"`
	InputsSHA256 string      `json:"inputs_sha256"`
	Providers    []Provider  `json:"providers"`
	Projects     []Project   `json:"projects"`
	IdleFlags    []IdleFlag  `json:"idle_flags"`
	DataQuality  DataQuality `json:"data_quality"`
}

type Provider struct {
	Provider            string       `json:"provider"`
	GPUs                ShareCounts  `json:"gpus"`
	CapacityGPUHours    ShareHours   `json:"capacity_gpu_hours"`
	Hours               ShareClasses `json:"hours"`
	BorrowedGPUHours    float64      `json:"borrowed_gpu_hours"`
	LentGPUHours        float64      `json:"lent_gpu_hours"`
	PrivateUsedGPUHours float64      `json:"private_used_gpu_hours"`
	PeakProviderGPUs    float64      `json:"peak_provider_gpus"`
	ChargesKRW          []Charge     `json:"charges_krw"`
	Violations          []Violation  `json:"violations"`
}

type ShareCounts struct {
	Government int `json:"government"`
	Private    int `json:"private"`
}

type ShareHours struct {
	Government float64 `json:"government"`
	Private    float64 `json:"private"`
}

type ShareClasses struct {
	Government Classes `json:"government"`
	Private    Classes `json:"private"`
}

// Classes are the seven classes of SPEC §5 in GPU-hours.
type Classes struct {
	PublicActive      float64 `json:"public_active"`
	PublicIdle        float64 `json:"public_idle"`
	ProviderActive    float64 `json:"provider_active"`
	ProviderIdle      float64 `json:"provider_idle"`
	UnallocatedActive float64 `json:"unallocated_active"`
	UnallocatedIdle   float64 `json:"unallocated_idle"`
	NoData            float64 `json:"no_data"`
}

type Charge struct {
	Class    string  `json:"class"`
	Model    string  `json:"model"`
	GPUHours float64 `json:"gpu_hours"`
	KRW      int64   `json:"krw"`
	BilledTo string  `json:"billed_to"`
}

type Violation struct {
	Kind     string  `json:"kind"`
	GPUUUID  string  `json:"gpu_uuid"`
	Node     string  `json:"node"`
	From     string  `json:"from"`
	To       string  `json:"to"`
	GPUHours float64 `json:"gpu_hours"`
}

type Project struct {
	ProjectID         string  `json:"project_id"`
	Provider          string  `json:"provider"`
	Kind              string  `json:"kind"`
	AllocatedGPUHours float64 `json:"allocated_gpu_hours"`
	ActiveGPUHours    float64 `json:"active_gpu_hours"`
	NoDataGPUHours    float64 `json:"no_data_gpu_hours"`
}

type IdleFlag struct {
	FlagID         string  `json:"flag_id"`
	Kind           string  `json:"kind"`
	Provider       string  `json:"provider"`
	Node           string  `json:"node"`
	GPUUUID        string  `json:"gpu_uuid"`
	ProjectID      string  `json:"project_id"`
	Since          string  `json:"since"`
	Hours          float64 `json:"hours"`
	ActivePct      float64 `json:"active_pct"`
	CoveragePct    float64 `json:"coverage_pct"`
	Recommendation string  `json:"recommendation"`
}

type DataQuality struct {
	CoveragePct      float64  `json:"coverage_pct"`
	UnregisteredGPUs int      `json:"unregistered_gpus"`
	NodesWithoutData []string `json:"nodes_without_data"`
}

// Seconds are the seven classes in seconds, the unit every figure is
// computed in before it is rounded for display.
type Seconds struct {
	PublicActive, PublicIdle, ProviderActive, ProviderIdle, UnallocatedActive, UnallocatedIdle, NoData int64
}

// Add counts a rollup row into its classes.
func (s *Seconds) Add(r aggregator.Row) {
	s.NoData += r.NoData
	switch r.Kind {
	case "public":
		s.PublicActive += r.Active
		s.PublicIdle += r.Idle
	case "provider":
		s.ProviderActive += r.Active
		s.ProviderIdle += r.Idle
	default:
		s.UnallocatedActive += r.Active
		s.UnallocatedIdle += r.Idle
	}
}

// Total is the capacity the classes make up.
func (s Seconds) Total() int64 {
	return s.PublicActive + s.PublicIdle + s.ProviderActive + s.ProviderIdle + s.UnallocatedActive + s.UnallocatedIdle + s.NoData
}

func (s Seconds) hours() Classes {
	return Classes{Hours(s.PublicActive), Hours(s.PublicIdle), Hours(s.ProviderActive), Hours(s.ProviderIdle),
		Hours(s.UnallocatedActive), Hours(s.UnallocatedIdle), Hours(s.NoData)}
}

// Hours turns seconds into GPU-hours rounded half up to 3 decimals.
func Hours(seconds int64) float64 {
	sign := int64(1)
	if seconds < 0 {
		sign, seconds = -1, -seconds
	}
	return float64(sign*((seconds*1000+1800)/3600)) / 1000
}

// KRW is round_half_up(seconds / 3600 × rate), computed exactly: the rate is
// taken as the decimal it is written as, not as a binary float.
func KRW(seconds int64, rate float64) int64 {
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(rate, 'f', -1, 64))
	if !ok {
		return 0
	}
	x := new(big.Rat).Mul(r, new(big.Rat).SetFrac64(seconds, 3600))
	x.Add(x, big.NewRat(1, 2))
	return new(big.Int).Quo(x.Num(), x.Denom()).Int64() // floor for x >= 0
}

func pct(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return float64((part*100000+whole/2)/whole) / 1000
}

// Options select what a report covers.
type Options struct {
	Month    string // YYYY-MM
	Provider string // "" for all
	Now      time.Time
}

// Period is the report's time range: the month in the configured zone,
// cut at the last whole hour before now for a month still running.
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

// Detail is what the workbook shows beyond the JSON: days, GPUs, names.
type Detail struct {
	From, To      time.Time
	Daily         []DailyRow
	GPUs          []GPURow
	ProjectNames  map[string]string
	ShortCoverage []string // government GPUs that idle evaluation skipped for want of coverage
	Params        aggregator.Params
}

// DailyRow is one local day of a provider's share.
type DailyRow struct {
	Day      string // YYYY-MM-DD in the configured zone
	Provider string
	Share    string
	Seconds  Seconds
}

// GPURow is one GPU's month on one share.
type GPURow struct {
	GPU, Provider, Node, Model, Share string
	Seconds                           Seconds
}

// Build computes the report from the store: rollups are brought up to date
// for the month first, so a report always reflects every sample stored.
func Build(ctx context.Context, st store.Store, cfg config.Config, o Options) (*Report, error) {
	rep, _, err := build(ctx, st, cfg, o, false)
	return rep, err
}

// BuildDetail computes the report and the detail the workbook shows.
func BuildDetail(ctx context.Context, st store.Store, cfg config.Config, o Options) (*Report, *Detail, error) {
	return build(ctx, st, cfg, o, true)
}

func build(ctx context.Context, st store.Store, cfg config.Config, o Options, detail bool) (*Report, *Detail, error) {
	loc := cfg.Location()
	from, to, err := Period(o.Month, loc, o.Now)
	if err != nil {
		return nil, nil, err
	}
	agg := &aggregator.Aggregator{Store: st, Params: aggregator.ParamsFrom(cfg)}
	if _, err := agg.Update(ctx, o.Now, [2]time.Time{from, to}); err != nil {
		return nil, nil, err
	}
	A, B := from.Unix(), to.Unix()
	where := ""
	if o.Provider != "" {
		where = "provider = " + store.Quote(o.Provider)
	}
	rows, err := aggregator.Rollups(ctx, st, A, B, where)
	if err != nil {
		return nil, nil, err
	}
	hourly, err := aggregator.HourlyProviderSeconds(ctx, st, A, B)
	if err != nil {
		return nil, nil, err
	}
	holds, err := aggregator.BorrowHolds(ctx, st)
	if err != nil {
		return nil, nil, err
	}
	rep := &Report{Month: o.Month, Timezone: cfg.Timezone, GeneratedAt: o.Now.UTC().Format(time.RFC3339),
		Providers: []Provider{}, Projects: []Project{}, IdleFlags: []IdleFlag{}}
	if rep.InputsSHA256, err = inputsHash(ctx, st, cfg); err != nil {
		return nil, nil, err
	}
	gpus, err := gpuCounts(ctx, st, A, B)
	if err != nil {
		return nil, nil, err
	}
	type acc struct {
		gov, priv      Seconds
		classByModel   map[[2]string]int64 // (class, model) -> seconds
		borrowByModel  map[string]int64
		unallocatedUse map[string]*aggregator.Row
	}
	accs := map[string]*acc{}
	get := func(p string) *acc {
		if accs[p] == nil {
			accs[p] = &acc{classByModel: map[[2]string]int64{}, borrowByModel: map[string]int64{}, unallocatedUse: map[string]*aggregator.Row{}}
		}
		return accs[p]
	}
	projects := map[string]*Project{}
	projectSeconds := map[string]*[3]int64{}
	var covered, capacity int64
	nodeCovered := map[string]int64{}
	nodeProvider := map[string]string{}
	for _, r := range rows {
		a := get(r.Provider)
		var s Seconds
		s.Add(r)
		if r.Share == "government" {
			addSeconds(&a.gov, s)
			if r.Kind == "provider" {
				a.borrowByModel[r.Model] += r.Active + r.Idle // borrowed excludes no_data (SPEC §5)
			}
			if r.Kind == "" && r.Active > 0 {
				u := a.unallocatedUse[r.GPU]
				if u == nil {
					c := r
					a.unallocatedUse[r.GPU] = &c
				} else {
					u.Active += r.Active
					u.ActiveFrom = min(u.ActiveFrom, r.ActiveFrom)
					u.ActiveUntil = max(u.ActiveUntil, r.ActiveUntil)
				}
			}
		} else {
			addSeconds(&a.priv, s)
		}
		for class, sec := range s.byClass() {
			a.classByModel[[2]string{class, r.Model}] += sec
		}
		if r.Project != "" {
			if projects[r.Project] == nil {
				projects[r.Project] = &Project{ProjectID: r.Project, Provider: r.Provider, Kind: r.Kind}
				projectSeconds[r.Project] = &[3]int64{}
			}
			ps := projectSeconds[r.Project]
			ps[0] += r.Capacity
			ps[1] += r.Active
			ps[2] += r.NoData
		}
		covered += r.Active + r.Idle
		capacity += r.Capacity
		nodeCovered[r.Node] += r.Active + r.Idle
		nodeProvider[r.Node] = r.Provider
	}
	providerIDs := make([]string, 0, len(accs))
	for p := range accs {
		providerIDs = append(providerIDs, p)
	}
	for p := range gpus {
		if accs[p] == nil && (o.Provider == "" || p == o.Provider) {
			get(p)
			providerIDs = append(providerIDs, p)
		}
	}
	sort.Strings(providerIDs)
	for _, p := range providerIDs {
		a := accs[p]
		limits := cfg.Providers[p]
		borrowed := a.gov.ProviderActive + a.gov.ProviderIdle
		out := Provider{
			Provider:            p,
			GPUs:                gpus[p],
			CapacityGPUHours:    ShareHours{Hours(a.gov.Total()), Hours(a.priv.Total())},
			Hours:               ShareClasses{a.gov.hours(), a.priv.hours()},
			BorrowedGPUHours:    Hours(borrowed),
			LentGPUHours:        Hours(a.priv.PublicActive + a.priv.PublicIdle),
			PrivateUsedGPUHours: Hours(a.priv.ProviderActive + a.priv.ProviderIdle),
			ChargesKRW:          []Charge{},
			Violations:          []Violation{},
		}
		var peak int64
		for _, s := range hourly[p] {
			peak = max(peak, s)
		}
		out.PeakProviderGPUs = Hours(peak) // seconds in one hour / 3600, to 3 decimals
		models := map[string]bool{}
		for k := range a.classByModel {
			models[k[1]] = true
		}
		for _, t := range cfg.Tariffs {
			if !models[t.Model] {
				continue
			}
			sec := a.classByModel[[2]string{t.Class, t.Model}]
			if t.Class == "provider_borrowed" {
				sec = a.borrowByModel[t.Model]
			}
			out.ChargesKRW = append(out.ChargesKRW, Charge{Class: t.Class, Model: t.Model, GPUHours: Hours(sec),
				KRW: KRW(sec, t.KRWPerGPUHour), BilledTo: t.BilledTo})
		}
		out.Violations = violations(p, limits, holds, a.unallocatedUse, borrowed, A, B)
		rep.Providers = append(rep.Providers, out)
	}
	ids := make([]string, 0, len(projects))
	for id := range projects {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		p, s := projects[id], projectSeconds[id]
		p.AllocatedGPUHours, p.ActiveGPUHours, p.NoDataGPUHours = Hours(s[0]), Hours(s[1]), Hours(s[2])
		rep.Projects = append(rep.Projects, *p)
	}
	rep.DataQuality.CoveragePct = pct(covered, capacity)
	if rep.DataQuality.NodesWithoutData == nil {
		rep.DataQuality.NodesWithoutData = []string{}
	}
	for node, c := range nodeCovered {
		if c == 0 {
			rep.DataQuality.NodesWithoutData = append(rep.DataQuality.NodesWithoutData, node)
		}
	}
	sort.Strings(rep.DataQuality.NodesWithoutData)
	if o.Provider == "" {
		// Samples of unregistered GPUs belong to no provider: only the
		// program-wide report counts them.
		if rep.DataQuality.UnregisteredGPUs, err = unregistered(ctx, st, A, B); err != nil {
			return nil, nil, err
		}
	}
	flags, short, err := aggregator.Idle(ctx, st, agg.Params, cfg.Idle, to)
	if err != nil {
		return nil, nil, err
	}
	for _, f := range flags {
		if o.Provider == "" || f.Provider == o.Provider {
			rep.IdleFlags = append(rep.IdleFlags, IdleFlagJSON(f))
		}
	}
	if !detail {
		return rep, nil, nil
	}
	d := &Detail{From: from, To: to, Params: agg.Params}
	if err := d.fill(ctx, st, o, rows, short, loc); err != nil {
		return nil, nil, err
	}
	return rep, d, nil
}

func addSeconds(dst *Seconds, s Seconds) {
	dst.PublicActive += s.PublicActive
	dst.PublicIdle += s.PublicIdle
	dst.ProviderActive += s.ProviderActive
	dst.ProviderIdle += s.ProviderIdle
	dst.UnallocatedActive += s.UnallocatedActive
	dst.UnallocatedIdle += s.UnallocatedIdle
	dst.NoData += s.NoData
}

func (s Seconds) byClass() map[string]int64 {
	return map[string]int64{
		"public_active": s.PublicActive, "public_idle": s.PublicIdle,
		"provider_active": s.ProviderActive, "provider_idle": s.ProviderIdle,
		"unallocated_active": s.UnallocatedActive, "unallocated_idle": s.UnallocatedIdle, "no_data": s.NoData,
	}
}

// violations lists a provider's violations of its limits in [A, B).
func violations(provider string, limits config.ProviderLimits, holds []aggregator.Hold,
	unallocatedUse map[string]*aggregator.Row, borrowed int64, A, B int64) []Violation {
	out := []Violation{}
	ts := func(t int64) string { return time.Unix(t, 0).UTC().Format(time.RFC3339) }
	maxHold := int64(limits.MaxBorrowHours * 3600)
	for _, h := range holds {
		if h.Provider != provider || h.From >= B || h.To <= A {
			continue
		}
		// How long the hold has lasted by the end of the period.
		end := min(h.To, B)
		if maxHold > 0 && end-h.From > maxHold {
			to := ts(h.To)
			if h.To == aggregator.Forever {
				to = ""
			}
			out = append(out, Violation{Kind: "borrow_too_long", GPUUUID: h.GPU, Node: h.Node, From: ts(h.From), To: to,
				GPUHours: Hours(end - max(h.From, A))})
		}
	}
	if limit := int64(limits.MonthlyBorrowGPUHours * 3600); limit > 0 && borrowed > limit {
		out = append(out, Violation{Kind: "borrow_over_monthly_cap", From: ts(A), To: ts(B), GPUHours: Hours(borrowed - limit)})
	}
	gpus := make([]string, 0, len(unallocatedUse))
	for g := range unallocatedUse {
		gpus = append(gpus, g)
	}
	sort.Strings(gpus)
	for _, g := range gpus {
		u := unallocatedUse[g]
		out = append(out, Violation{Kind: "unallocated_use", GPUUUID: g, Node: u.Node, From: ts(u.ActiveFrom),
			To: ts(u.ActiveUntil), GPUHours: Hours(u.Active)})
	}
	return out
}

// gpuCounts counts, per provider and share, the GPUs whose inventory rows of
// that share overlap [A, B).
func gpuCounts(ctx context.Context, st store.Store, A, B int64) (map[string]ShareCounts, error) {
	q := fmt.Sprintf(`SELECT provider, share, toUInt64(uniqExact(gpu_uuid)) FROM inventory_current
WHERE valid_from < toDateTime(%d) AND (isNull(valid_to) OR valid_to > toDateTime(%d))
GROUP BY provider, share`, B, A)
	out := map[string]ShareCounts{}
	err := st.Stream(ctx, q, func(scan func(...any) error) error {
		var p, share string
		var n uint64
		if err := scan(&p, &share, &n); err != nil {
			return err
		}
		c := out[p]
		if share == "government" {
			c.Government = int(n)
		} else {
			c.Private = int(n)
		}
		out[p] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count GPUs: %w", err)
	}
	return out, nil
}

func unregistered(ctx context.Context, st store.Store, A, B int64) (int, error) {
	q := fmt.Sprintf(`SELECT toUInt64(uniqExact(gpu_uuid)) FROM samples
WHERE ts >= toDateTime(%d) AND ts < toDateTime(%d) AND gpu_uuid GLOBAL NOT IN (SELECT gpu_uuid FROM inventory_current)`, A, B)
	var n uint64
	err := st.Stream(ctx, q, func(scan func(...any) error) error { return scan(&n) })
	if err != nil {
		return 0, fmt.Errorf("count unregistered GPUs: %w", err)
	}
	return int(n), nil
}

// inputsHash fingerprints what the figures were computed from: the input
// files in force (kind and SHA-256 of each import still current) and the
// accounting parameters, limits and tariffs.
func inputsHash(ctx context.Context, st store.Store, cfg config.Config) (string, error) {
	var lines []string
	for _, kind := range []string{"inventory", "projects", "allocations"} {
		q := fmt.Sprintf(`SELECT DISTINCT sha256 FROM imports WHERE kind = '%s' AND batch_id GLOBAL IN (SELECT DISTINCT batch_id FROM %s_current)`, kind, kind)
		err := st.Stream(ctx, q, func(scan func(...any) error) error {
			var sha string
			if err := scan(&sha); err != nil {
				return err
			}
			lines = append(lines, kind+" "+sha)
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("read imports: %w", err)
		}
	}
	sort.Strings(lines)
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

// IdleFlagJSON is a flag as the JSON contract writes it.
func IdleFlagJSON(f aggregator.Flag) IdleFlag {
	return IdleFlag{FlagID: f.ID, Kind: f.Kind, Provider: f.Provider, Node: f.Node, GPUUUID: f.GPU, ProjectID: f.Project,
		Since: f.Since.Format(time.RFC3339), Hours: Hours(f.At.Unix() - f.Since.Unix()),
		ActivePct: round3(f.ActivePct), CoveragePct: round3(f.CoveragePct), Recommendation: f.Recommendation}
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }

func (d *Detail) fill(ctx context.Context, st store.Store, o Options, rows []aggregator.Row, short []string, loc *time.Location) error {
	where := ""
	if o.Provider != "" {
		where = "provider = " + store.Quote(o.Provider)
	}
	hours, err := aggregator.HourlyClasses(ctx, st, d.From.Unix(), d.To.Unix(), where)
	if err != nil {
		return err
	}
	type dayKey struct{ day, provider, share string }
	daily := map[dayKey]*Seconds{}
	var keys []dayKey
	for _, h := range hours {
		k := dayKey{time.Unix(h.Hour, 0).In(loc).Format("2006-01-02"), h.Provider, h.Share}
		if daily[k] == nil {
			daily[k] = &Seconds{}
			keys = append(keys, k)
		}
		daily[k].Add(aggregator.Row{Kind: h.Kind, Capacity: h.Capacity, Active: h.Active, Idle: h.Idle, NoData: h.NoData})
	}
	slices.SortFunc(keys, func(a, b dayKey) int {
		return cmp.Or(cmp.Compare(a.day, b.day), cmp.Compare(a.provider, b.provider), cmp.Compare(a.share, b.share))
	})
	for _, k := range keys {
		d.Daily = append(d.Daily, DailyRow{Day: k.day, Provider: k.provider, Share: k.share, Seconds: *daily[k]})
	}
	byGPU := map[[2]string]*GPURow{}
	var gpuKeys [][2]string
	for _, r := range rows {
		k := [2]string{r.GPU, r.Share}
		if byGPU[k] == nil {
			byGPU[k] = &GPURow{GPU: r.GPU, Provider: r.Provider, Node: r.Node, Model: r.Model, Share: r.Share}
			gpuKeys = append(gpuKeys, k)
		}
		byGPU[k].Seconds.Add(r)
	}
	for _, k := range gpuKeys {
		d.GPUs = append(d.GPUs, *byGPU[k])
	}
	projects, err := imports.CurrentProjects(ctx, st)
	if err != nil {
		return err
	}
	d.ProjectNames = map[string]string{}
	for _, p := range projects {
		d.ProjectNames[p.ID] = p.Name
	}
	if o.Provider == "" {
		d.ShortCoverage = short
	} else {
		for _, g := range short {
			for _, r := range d.GPUs {
				if r.GPU == g {
					d.ShortCoverage = append(d.ShortCoverage, g)
					break
				}
			}
		}
	}
	return nil
}
