package ledger

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/aggregator"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/store"
)

// The rules of SPEC §5, each on a few hand-made rows: no store, no samples.

const hour = int64(3600)

var monthStart = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).Unix()

func row(gpu, node string, share gpumeter.Share, project string, kind gpumeter.ProjectKind, active, idle, noData int64) store.Rollup {
	return store.Rollup{Hour: monthStart, GPU: gpu, Provider: "nhn", Node: node, Model: "B200", Share: share, Project: project, Kind: kind,
		Capacity: active + idle + noData, Active: active, Idle: idle, NoData: noData}
}

func TestAccountShares(t *testing.T) {
	// SPEC §5: "`borrowed` = `provider_active + provider_idle` on the government share (the provider holds a government GPU)."
	rows := []store.Rollup{
		row("GPU-1", "n1", gpumeter.ShareGovernment, "", gpumeter.Unallocated, 100, 200, 300),
		row("GPU-1", "n1", gpumeter.ShareGovernment, "nhn-own", gpumeter.ProjectProvider, 1000, 800, 200),
		row("GPU-2", "n2", gpumeter.SharePrivate, "pub", gpumeter.ProjectPublic, 50, 50, 0),
		row("GPU-2", "n2", gpumeter.SharePrivate, "nhn-own", gpumeter.ProjectProvider, 30, 20, 10),
		row("GPU-3", "n3", gpumeter.ShareGovernment, "", gpumeter.Unallocated, 0, 0, 3600),
	}
	counts := map[string]map[gpumeter.Share]int{"nhn": {gpumeter.ShareGovernment: 2, gpumeter.SharePrivate: 1}, "kakao": {gpumeter.ShareGovernment: 1}}
	l := &Ledger{}
	l.account(rows, counts, config.Config{}, "")
	if len(l.Providers) != 2 || l.Providers[0].ID != "kakao" || l.Providers[1].ID != "nhn" {
		t.Fatalf("providers %+v: want kakao (no rows, still listed) and nhn", l.Providers)
	}
	p := l.Providers[1]
	// Seven classes sum to capacity, to the second, on each share.
	if gov, priv := p.Government.Total(), p.Private.Total(); gov != 600+2000+3600 || priv != 100+60 {
		t.Fatalf("capacity government %d private %d", gov, priv)
	}
	if p.Borrowed != 1800 || p.Lent != 100 || p.PrivateUsed != 50 {
		t.Fatalf("borrowed %d lent %d private_used %d, want 1800 100 50", p.Borrowed, p.Lent, p.PrivateUsed)
	}
	if p.Government.UnallocatedActive != 100 || p.Government.NoData != 200+300+3600 || p.Private.PublicActive != 50 {
		t.Fatalf("classes %+v %+v", p.Government, p.Private)
	}
	if p.GPUs != (ShareCounts{2, 1}) {
		t.Fatalf("GPUs %+v", p.GPUs)
	}
	// SPEC §6: "A project's `allocated_gpu_hours` is all capacity time under its allocations (no_data included)".
	want := []Project{
		{ID: "nhn-own", Provider: "nhn", Kind: gpumeter.ProjectProvider, Allocated: 2000 + 60, Active: 1030, NoData: 210},
		{ID: "pub", Provider: "nhn", Kind: gpumeter.ProjectPublic, Allocated: 100, Active: 50},
	}
	if !reflect.DeepEqual(l.Projects, want) {
		t.Fatalf("projects %+v\nwant %+v", l.Projects, want)
	}
	if dq := l.DataQuality; dq.Covered != 2250 || dq.Capacity != 6360 || !reflect.DeepEqual(dq.NodesWithoutData, []string{"n3"}) {
		t.Fatalf("data quality %+v", dq)
	}
}

func TestCharges(t *testing.T) {
	// SPEC §5: "For each (provider, class, model): amount = round_half_up(seconds / 3600 × krw_per_gpu_hour) KRW."
	byModel := map[gpumeter.Class]map[string]int64{
		gpumeter.ProviderBorrowed: {"B200": 1800},
		gpumeter.PublicActive:     {"B200": 7200},
		gpumeter.PublicIdle:       {},
	}
	tariffs := []config.Tariff{
		{Class: gpumeter.ProviderBorrowed, Model: "B200", KRWPerGPUHour: 1, BilledTo: gpumeter.BilledToProvider},  // 0.5 won: up to 1
		{Class: gpumeter.PublicActive, Model: "B200", KRWPerGPUHour: 0.1, BilledTo: gpumeter.BilledToGovernment},  // 0.2 won: 0
		{Class: gpumeter.PublicIdle, Model: "B200", KRWPerGPUHour: 5000, BilledTo: gpumeter.BilledToGovernment},   // no seconds
		{Class: gpumeter.PublicActive, Model: "H200", KRWPerGPUHour: 9000, BilledTo: gpumeter.BilledToGovernment}, // a model it lacks
	}
	want := []Charge{
		{Class: gpumeter.ProviderBorrowed, Model: "B200", Seconds: 1800, KRW: 1, BilledTo: gpumeter.BilledToProvider},
		{Class: gpumeter.PublicActive, Model: "B200", Seconds: 7200, KRW: 0, BilledTo: gpumeter.BilledToGovernment},
		{Class: gpumeter.PublicIdle, Model: "B200", Seconds: 0, KRW: 0, BilledTo: gpumeter.BilledToGovernment},
	}
	if got := charges(tariffs, byModel); !reflect.DeepEqual(got, want) {
		t.Fatalf("charges %+v\nwant %+v", got, want)
	}
}

func ref(inv []gpumeter.InventoryRow, projects []gpumeter.Project, allocs []gpumeter.Allocation) *aggregator.Timelines {
	return aggregator.NewTimelines(&store.Reference{Inventory: inv, Projects: projects, Allocations: allocs})
}

func at(h int64) time.Time { return time.Unix(monthStart+h*hour, 0).UTC() }

func ptr[T any](v T) *T { return &v }

func TestBorrowHolds(t *testing.T) {
	// SPEC §5: "one government GPU held by the provider's projects without a break … (back-to-back allocations count as one hold)".
	inv := []gpumeter.InventoryRow{
		{GPUUUID: "GPU-1", Provider: "nhn", Node: "n1", Share: gpumeter.ShareGovernment, ValidFrom: at(0), ValidTo: ptr(at(100))},
		{GPUUUID: "GPU-1", Provider: "nhn", Node: "n1", Share: gpumeter.SharePrivate, ValidFrom: at(100)}, // re-designated
		{GPUUUID: "GPU-2", Provider: "nhn", Node: "n2", Share: gpumeter.SharePrivate, ValidFrom: at(0)},
	}
	projects := []gpumeter.Project{{ID: "own-a", Kind: gpumeter.ProjectProvider, Provider: "nhn"},
		{ID: "own-b", Kind: gpumeter.ProjectProvider, Provider: "nhn"}, {ID: "pub", Kind: gpumeter.ProjectPublic, Provider: "nhn"}}
	allocs := []gpumeter.Allocation{
		{ID: "1", ProjectID: "own-a", GPUUUID: "GPU-1", Start: at(0), End: ptr(at(10))},
		{ID: "2", ProjectID: "own-b", GPUUUID: "GPU-1", Start: at(10), End: ptr(at(20))}, // back to back: one hold
		{ID: "3", ProjectID: "pub", GPUUUID: "GPU-1", Start: at(20), End: ptr(at(30))},   // a public project breaks it
		{ID: "4", ProjectID: "own-a", GPUUUID: "GPU-1", Start: at(30), End: ptr(at(31))},
		{ID: "5", ProjectID: "own-a", GPUUUID: "GPU-1", Start: at(32)}, // open: held until the government row ends
		{ID: "6", ProjectID: "own-a", GPUUUID: "GPU-2", Start: at(0)},  // private share: not borrowing
	}
	want := []Hold{
		{GPU: "GPU-1", Node: "n1", Provider: "nhn", From: at(0).Unix(), To: at(20).Unix()},
		{GPU: "GPU-1", Node: "n1", Provider: "nhn", From: at(30).Unix(), To: at(31).Unix()},
		{GPU: "GPU-1", Node: "n1", Provider: "nhn", From: at(32).Unix(), To: at(100).Unix()},
	}
	if got := BorrowHolds(ref(inv, projects, allocs)); !reflect.DeepEqual(got, want) {
		t.Fatalf("holds %+v\nwant %+v", got, want)
	}
}

func TestViolations(t *testing.T) {
	// SPEC §5: "`borrow_too_long` … longer than `max_borrow_hours`; `borrow_over_monthly_cap` — monthly `borrowed` above `monthly_borrow_gpu_hours`; `unallocated_use` — `unallocated_active` time on a government GPU".
	start, end := monthStart, monthStart+100*hour
	holds := []Hold{
		{GPU: "GPU-1", Node: "n1", Provider: "nhn", From: start - 10*hour, To: start + 5*hour},   // 15 h, 5 of them in the period
		{GPU: "GPU-2", Node: "n2", Provider: "nhn", From: start + 50*hour, To: gpumeter.Forever}, // open: 50 h by the period's end
		{GPU: "GPU-3", Node: "n3", Provider: "nhn", From: start, To: start + 3*hour},             // within the limit
		{GPU: "GPU-9", Node: "n9", Provider: "kakao", From: start, To: end},                      // another provider's
	}
	use1 := row("GPU-4", "n4", gpumeter.ShareGovernment, "", gpumeter.Unallocated, 600, 3000, 0)
	use1.ActiveFrom, use1.ActiveUntil = start+3000, start+3600
	use2 := use1
	use2.Hour, use2.Active, use2.ActiveFrom, use2.ActiveUntil = start+hour, 60, start+hour, start+hour+60
	private := row("GPU-5", "n5", gpumeter.SharePrivate, "", gpumeter.Unallocated, 3600, 0, 0)
	private.ActiveFrom, private.ActiveUntil = start, start+hour
	p := &Provider{ID: "nhn", Borrowed: 10 * hour, Limits: config.ProviderLimits{MaxBorrowHours: 12, MonthlyBorrowGPUHours: 4}}
	p.violations(holds, []store.Rollup{use1, use2, private}, start, end)
	want := []Violation{
		{Kind: gpumeter.BorrowTooLong, GPU: "GPU-1", Node: "n1", From: start - 10*hour, To: start + 5*hour, Seconds: 5 * hour},
		{Kind: gpumeter.BorrowTooLong, GPU: "GPU-2", Node: "n2", From: start + 50*hour, To: gpumeter.Forever, Seconds: 50 * hour},
		{Kind: gpumeter.BorrowOverMonthlyCap, From: start, To: end, Seconds: 6 * hour},
		{Kind: gpumeter.UnallocatedUse, GPU: "GPU-4", Node: "n4", From: start + 3000, To: start + hour + 60, Seconds: 660},
	}
	if !reflect.DeepEqual(p.Violations, want) {
		t.Fatalf("violations %+v\nwant %+v", p.Violations, want)
	}
	if p.LongestHold != 50*hour {
		t.Fatalf("longest hold %d, want 50 h", p.LongestHold)
	}
	// A cap of 0 is no cap.
	p.Limits.MonthlyBorrowGPUHours = 0
	p.violations(nil, nil, start, end)
	if len(p.Violations) != 0 {
		t.Fatalf("no cap: %+v", p.Violations)
	}
}

func TestCheckStatus(t *testing.T) {
	// SPEC §6: "`gpumeter limits` … shows a provider its own usage against its limits" (0 = no cap).
	p := &Provider{GPUs: ShareCounts{Private: 10}, Borrowed: 5 * hour, PeakProviderSeconds: 11 * hour,
		Limits: config.ProviderLimits{PrivateShareGPUs: 10, MonthlyBorrowGPUHours: 0, MaxBorrowHours: 720}}
	got := map[CheckItem]CheckStatus{}
	for _, c := range p.checks() {
		got[c.Item] = c.Status()
	}
	want := map[CheckItem]CheckStatus{CheckPrivateShareGPUs: StatusOK, CheckPeakGPUs: StatusOver, CheckBorrowed: StatusNoCap,
		CheckLongestHold: StatusOK, CheckLent: StatusContext, CheckPrivateUsed: StatusContext}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("statuses %v\nwant %v", got, want)
	}
}

func TestMismatchRuns(t *testing.T) {
	// SPEC §5: "Maximal runs of consecutive `foreign` or `unknown` seconds on one GPU with the same holder and the same namespace that last at least `min_mismatch_minutes` are listed".
	projects := []gpumeter.Project{{ID: "own", Kind: gpumeter.ProjectProvider, Namespace: "ns-own"},
		{ID: "pub", Kind: gpumeter.ProjectPublic, Namespace: "ns-pub"}}
	frag := func(gpu string, share gpumeter.Share, holder, ns, kind string, from, to int64) store.Mismatch {
		return store.Mismatch{GPU: gpu, Provider: "nhn", Node: "n", Share: share, Project: holder, From: monthStart + from, To: monthStart + to,
			Namespace: ns, Kind: kind}
	}
	gov, priv := gpumeter.ShareGovernment, gpumeter.SharePrivate
	fragments := []store.Mismatch{
		frag("GPU-1", gov, "pub", "ns-own", "foreign", 3000, 3600), // joined across the hour: 20 min
		frag("GPU-1", gov, "pub", "ns-own", "foreign", 3600, 4200),
		frag("GPU-1", gov, "pub", "ns-x", "unknown", 4200, 5400), // another namespace: a run of its own
		frag("GPU-2", gov, "", "ns-own", "foreign", 0, 500),      // 8 min 20 s: counted, not listed
		frag("GPU-3", priv, "", "ns-own", "foreign", 0, 600),     // private share: listed, no violation
		frag("GPU-4", gov, "own", "ns-pub", "foreign", 0, 600),   // a public namespace on a provider's hold: no violation
	}
	r := mismatchRuns(fragments, projects, 600)
	var got []string
	for _, m := range r.of("nhn") {
		got = append(got, fmt.Sprintf("%s %s %q %d", m.GPU, m.Namespace, m.SeenProject, m.To-m.From))
	}
	if want := []string{`GPU-1 ns-own "own" 1200`, `GPU-1 ns-x "" 1200`, `GPU-3 ns-own "own" 600`, `GPU-4 ns-pub "pub" 600`}; !reflect.DeepEqual(got, want) {
		t.Fatalf("runs %q\nwant %q", got, want)
	}
	// SPEC §5: "A listed run on a government GPU whose namespace is a `provider` project's while the holder is a `public` project or nobody is also the violation `attribution_mismatch`".
	want := []Violation{{Kind: gpumeter.AttributionMismatch, GPU: "GPU-1", Node: "n", From: monthStart + 3000, To: monthStart + 4200, Seconds: 1200}}
	if v := r.violations("nhn"); !reflect.DeepEqual(v, want) {
		t.Fatalf("violations %+v\nwant %+v", v, want)
	}
}

func TestDaysAndPeak(t *testing.T) {
	// SPEC §5: "`peak_provider_gpus` = the largest, over the hours of the month, of (provider-allocated GPU-seconds in that hour / 3600)".
	seoul, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		t.Fatal(err)
	}
	h := func(hr int64, gpu string, share gpumeter.Share, kind gpumeter.ProjectKind, active, idle, noData int64) store.Rollup {
		r := row(gpu, "n", share, "p", kind, active, idle, noData)
		r.Hour = monthStart + hr*hour
		r.EnergyActive = 10
		return r
	}
	hours := []store.Rollup{
		h(14, "GPU-1", gpumeter.ShareGovernment, gpumeter.ProjectProvider, 3000, 600, 0), // 23:00 KST on the 1st
		h(14, "GPU-2", gpumeter.SharePrivate, gpumeter.ProjectProvider, 0, 0, 1800),      // no_data still held: counts
		h(15, "GPU-1", gpumeter.ShareGovernment, gpumeter.ProjectProvider, 3600, 0, 0),   // 00:00 KST on the 2nd
		h(15, "GPU-3", gpumeter.ShareGovernment, gpumeter.ProjectPublic, 3600, 0, 0),     // public: not the provider's
	}
	l := &Ledger{Providers: []Provider{{ID: "nhn"}}}
	l.days(hours, seoul)
	if p := l.Providers[0].PeakProviderSeconds; p != 5400 {
		t.Fatalf("peak %d s (%.3f GPUs), want 5400 (1.5 GPUs)", p, gpumeter.Hours(p))
	}
	var got []string
	for _, d := range l.Daily {
		got = append(got, fmt.Sprintf("%s %s %d", d.Day, d.Share, d.Seconds.Total()))
	}
	want := []string{"2026-10-01 government 3600", "2026-10-01 private 1800", "2026-10-02 government 7200"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("days %q\nwant %q", got, want)
	}
	if l.Daily[2].Energy != 20 {
		t.Fatalf("energy of the 2nd: %d mJ, want 20", l.Daily[2].Energy)
	}
}

// windows answers the idle rule from hand-made totals.
type windows struct {
	totals     map[int64]map[string]aggregator.Totals // by the window's length
	lastActive map[string]int64
	now        int64
}

func (w windows) GovernmentTotals(_ context.Context, _ *aggregator.Timelines, gpus []string, from, to int64) (map[string]aggregator.Totals, error) {
	out := map[string]aggregator.Totals{}
	for _, g := range gpus {
		if t, ok := w.totals[to-from][g]; ok && to == w.now {
			out[g] = t
		}
	}
	return out, nil
}

func (w windows) LastActive(_ context.Context, gpus []string, _, _ int64) (map[string]int64, error) {
	out := map[string]int64{}
	for _, g := range gpus {
		if t, ok := w.lastActive[g]; ok {
			out[g] = t
		}
	}
	return out, nil
}

func TestIdleFlags(t *testing.T) {
	// SPEC §5: "`unallocated_idle`: no allocation during the last `unallocated_hours`, every covered second in it idle, coverage ≥ `min_coverage_pct`" and "`allocated_idle`: allocated to the same public project through the last `allocated_hours`, active share of covered seconds < `allocated_max_active_pct`".
	cfg := config.Idle{UnallocatedHours: 24, AllocatedHours: 72, AllocatedMaxActivePct: 10, MinCoveragePct: 90}
	now := int64(200)
	gov := func(gpu string) gpumeter.InventoryRow {
		return gpumeter.InventoryRow{GPUUUID: gpu, Provider: "nhn", Node: "n-" + gpu, Share: gpumeter.ShareGovernment, ValidFrom: at(0)}
	}
	private := gov("GPU-P")
	private.Share = gpumeter.SharePrivate
	inv := []gpumeter.InventoryRow{gov("GPU-U"), gov("GPU-S"), gov("GPU-A"), gov("GPU-B"), gov("GPU-R"), private}
	projects := []gpumeter.Project{{ID: "pub", Kind: gpumeter.ProjectPublic, Provider: "nhn"}}
	allocs := []gpumeter.Allocation{
		{ID: "1", ProjectID: "pub", GPUUUID: "GPU-A", Start: at(100), End: ptr(at(150))}, // back to back: held since 100
		{ID: "2", ProjectID: "pub", GPUUUID: "GPU-A", Start: at(150)},
		{ID: "3", ProjectID: "pub", GPUUUID: "GPU-B", Start: at(100)},
		{ID: "4", ProjectID: "pub", GPUUUID: "GPU-R", Start: at(10), End: ptr(at(150))}, // ended 50 h ago
	}
	day, three := 24*hour, 72*hour
	w := windows{now: at(now).Unix(), totals: map[int64]map[string]aggregator.Totals{
		day: {
			"GPU-U": {Capacity: day, Idle: day},          // idle, covered
			"GPU-S": {Capacity: day, Idle: day * 8 / 10}, // 80 % covered: short
			"GPU-R": {Capacity: day, Idle: day},
			"GPU-P": {Capacity: day, Idle: day},
		},
		three: {
			"GPU-A": {Capacity: three, Active: three / 20, Idle: three - three/20}, // 5 % active
			"GPU-B": {Capacity: three, Active: three / 5, Idle: three - three/5},   // 20 % active
		},
	}, lastActive: map[string]int64{"GPU-U": at(120).Unix(), "GPU-R": at(100).Unix()}}
	flags, short, err := IdleFlags(context.Background(), w, ref(inv, projects, allocs), cfg, at(now))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range flags {
		got = append(got, f.GPUUUID+" "+string(f.Kind)+" "+f.Since+" "+f.ProjectID+" "+string(f.Recommendation))
	}
	// since: one second after the last active second (GPU-U), the end of the
	// last allocation (GPU-R), the allocation's start (GPU-A, back to back).
	want := []string{
		"GPU-A allocated_idle " + at(100).Format(time.RFC3339) + " pub reclaim",
		"GPU-R unallocated_idle " + at(150).Format(time.RFC3339) + "  offer",
		"GPU-U unallocated_idle " + at(120).Format(time.RFC3339) + "  offer",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("flags %q\nwant %q", got, want)
	}
	// SPEC §5: "A GPU short of coverage gets no idle flag; it is listed under data quality instead."
	if !reflect.DeepEqual(short, []string{"GPU-S"}) {
		t.Fatalf("short of coverage %v, want GPU-S", short)
	}
	if f := flags[2]; f.Hours != 80 || f.CoveragePct != 100 || f.ActivePct != 0 || f.FlagID != gpumeter.FlagID("GPU-U", gpumeter.FlagUnallocatedIdle, at(120)) {
		t.Fatalf("GPU-U's flag %+v", f)
	}
}
