package reports_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/ledger"
	"github.com/nipa-gpu/gpumeter/reports"
)

var kst = time.FixedZone("KST", 9*3600)

// testLedger is a month as the ledger gives it, in seconds. Its GPU-hours,
// worked out below, exercise the rounding: 9,029 s = 2.50806 h → 2.508;
// 3,609 s = 1.0025 h → 1.003 (half up); 600 s = 0.16667 h → 0.167.
func testLedger() *ledger.Ledger {
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, kst)
	A := from.Unix()
	day := func(d string, p string, share gpumeter.Share, s gpumeter.Seconds) ledger.Day {
		return ledger.Day{Day: d, Provider: p, Share: share, Seconds: s}
	}
	kakaoGov := gpumeter.Seconds{UnallocatedActive: 10800, NoData: 10800}
	nhnGov := gpumeter.Seconds{PublicActive: 7200, PublicIdle: 3609, ProviderActive: 9029, UnallocatedActive: 600, UnallocatedIdle: 20990, NoData: 1772}
	nhnPriv := gpumeter.Seconds{NoData: 21600}
	return &ledger.Ledger{
		Month: "2026-10", Timezone: "Asia/Seoul", From: from, To: from.AddDate(0, 1, 0),
		GeneratedAt: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), InputsSHA256: "abc",
		Providers: []ledger.Provider{
			{ID: "kakao", GPUs: ledger.ShareCounts{Government: 1}, Government: kakaoGov,
				Charges: []ledger.Charge{
					{Class: gpumeter.ProviderBorrowed, Model: "B200", BilledTo: gpumeter.BilledToProvider},
					{Class: gpumeter.UnallocatedActive, Model: "B200", Seconds: 10800, KRW: 9, BilledTo: gpumeter.BilledToProvider},
				},
				Violations: []ledger.Violation{{Kind: gpumeter.UnallocatedUse, GPU: "GPU-K1", Node: "k1", From: A, To: A + 21570, Seconds: 10800}},
				Checks:     []ledger.Check{{Item: ledger.CheckBorrowed, Usage: 0, Limit: 0, HasLimit: true, Unlimited: true}},
			},
			{ID: "nhn", GPUs: ledger.ShareCounts{Government: 2, Private: 1}, Government: nhnGov, Private: nhnPriv,
				Borrowed: 9029, PeakProviderSeconds: 3600, LongestHold: 10800,
				Charges: []ledger.Charge{
					{Class: gpumeter.ProviderBorrowed, Model: "B200", Seconds: 9029, KRW: 2508, BilledTo: gpumeter.BilledToProvider},
					{Class: gpumeter.PublicActive, Model: "B200", Seconds: 7200, KRW: 3001, BilledTo: gpumeter.BilledToGovernment},
				},
				Violations: []ledger.Violation{
					{Kind: gpumeter.BorrowTooLong, GPU: "GPU-G1", Node: "n1", From: A + 10800, To: gpumeter.Forever, Seconds: 10800},
					{Kind: gpumeter.BorrowOverMonthlyCap, From: A, To: A + 31*86400, Seconds: 1829},
				},
				Checks: []ledger.Check{
					{Item: ledger.CheckBorrowed, Usage: 2.508, Limit: 2, HasLimit: true, Over: true},
					{Item: ledger.CheckLongestHold, Usage: 3, Limit: 2, HasLimit: true, Over: true},
					{Item: ledger.CheckLent, Usage: 0},
				},
				Reallocation: ledger.Reallocation{Flags: 3, FlaggedIdle: 140400 + 1, Reallocated: 1, Declined: 1, Acknowledged: 2,
					MedianSecondsToAck: 9000},
				EnergyGovernment:   gpumeter.EnergyMJ{PublicActive: 3_601_800_000, ProviderActive: 1_799_999},
				EnergyUnattributed: 5_400_000,
				EnergyCharges:      []ledger.EnergyCharge{{Model: "B200", MJ: 3_609_000_000, KRW: 101, BilledTo: gpumeter.BilledToProvider}},
				Attribution:        gpumeter.Attribution{Matched: 3600, Foreign: 600, Unknown: 601, Unlabeled: 1800},
				Mismatches: []ledger.Mismatch{{GPU: "GPU-G1", Node: "n1", Share: gpumeter.ShareGovernment, Holder: "p-pub", Namespace: "own",
					SeenProject: "p-own", From: A + 3600, To: A + 4200}},
			},
		},
		Projects: []ledger.Project{
			{ID: "p-own", Provider: "nhn", Kind: gpumeter.ProjectProvider, Allocated: 10800, Active: 9029, NoData: 1771},
			{ID: "p-pub", Provider: "nhn", Kind: gpumeter.ProjectPublic, Allocated: 32400, Active: 7200, NoData: 21600, Energy: 3_601_800_000},
		},
		Daily: []ledger.Day{
			day("2026-10-01", "kakao", gpumeter.ShareGovernment, kakaoGov),
			day("2026-10-01", "nhn", gpumeter.ShareGovernment, nhnGov),
			day("2026-10-01", "nhn", gpumeter.SharePrivate, nhnPriv),
		},
		GPUs: []ledger.GPU{
			{GPU: "GPU-G1", Provider: "nhn", Node: "n1", Model: "B200", Share: gpumeter.ShareGovernment, Seconds: nhnGov},
			{GPU: "GPU-G3", Provider: "nhn", Node: "n2", Model: "B200", Share: gpumeter.SharePrivate, Seconds: nhnPriv},
			{GPU: "GPU-K1", Provider: "kakao", Node: "k1", Model: "B200", Share: gpumeter.ShareGovernment, Seconds: kakaoGov},
		},
		IdleFlags: []gpumeter.IdleFlag{{FlagID: "0123456789abcdef", Kind: gpumeter.FlagUnallocatedIdle, Provider: "nhn", Node: "n1",
			GPUUUID: "GPU-G2", Since: "2026-10-30T00:00:00Z", Hours: 39, ActivePct: 0, CoveragePct: 100, Recommendation: gpumeter.Offer}},
		ProjectNames: map[string]string{"p-own": "자체", "p-pub": "공공"},
		DataQuality: ledger.DataQuality{Covered: 52230, Capacity: 86400, UnregisteredGPUs: 1, NodesWithoutData: []string{"n2"},
			RefusedSamples: map[string]uint64{"foreign_gpu": 12}},
	}
}

// The JSON rounds the ledger's seconds to GPU-hours half up, to 3 decimals,
// and writes every §6 field.
func TestJSONFromLedger(t *testing.T) {
	got, err := json.Marshal(reports.JSON(testLedger()))
	if err != nil {
		t.Fatal(err)
	}
	// nhn government: 7,200 + 3,609 + 9,029 + 600 + 20,990 + 1,772 = 43,200 s = 12 h;
	// coverage 52,230 / 86,400 = 60.451 %. Flagged idle 140,401 s = 39.000 h;
	// median wait 9,000 s = 2.5 h; kakao's flags none, so its median is null.
	// Energy rounds to whole Wh half up: 3,601,800,000 mJ = 1,000.5 Wh ->
	// 1.001 kWh; 1,799,999 mJ = 0.49999 Wh -> 0; 5,400,000 mJ = 1.5 Wh ->
	// 0.002 kWh; the charge 3,609,000,000 mJ = 1.0025 kWh × 100.5 = 100.75 -> 101.
	want := `{"month":"2026-10","timezone":"Asia/Seoul","generated_at":"2026-11-03T00:00:00Z","inputs_sha256":"abc",` +
		`"providers":[{"provider":"kakao","gpus":{"government":1,"private":0},"capacity_gpu_hours":{"government":6,"private":0},` +
		`"hours":{"government":{"public_active":0,"public_idle":0,"provider_active":0,"provider_idle":0,"unallocated_active":3,"unallocated_idle":0,"no_data":3},` +
		`"private":{"public_active":0,"public_idle":0,"provider_active":0,"provider_idle":0,"unallocated_active":0,"unallocated_idle":0,"no_data":0}},` +
		`"borrowed_gpu_hours":0,"lent_gpu_hours":0,"private_used_gpu_hours":0,"peak_provider_gpus":0,` +
		`"charges_krw":[{"class":"provider_borrowed","model":"B200","gpu_hours":0,"krw":0,"billed_to":"provider"},` +
		`{"class":"unallocated_active","model":"B200","gpu_hours":3,"krw":9,"billed_to":"provider"}],` +
		`"violations":[{"kind":"unallocated_use","gpu_uuid":"GPU-K1","node":"k1","from":"2026-09-30T15:00:00Z","to":"2026-09-30T20:59:30Z","gpu_hours":3}],` +
		`"idle_reallocation":{"flags":0,"flagged_idle_gpu_hours":0,"reallocated":0,"declined":0,"median_hours_to_ack":null},` +
		`"energy_kwh":{"government":{"public_active":0,"public_idle":0,"provider_active":0,"provider_idle":0,"unallocated_active":0,"unallocated_idle":0,"no_data":0},"private":{"public_active":0,"public_idle":0,"provider_active":0,"provider_idle":0,"unallocated_active":0,"unallocated_idle":0,"no_data":0}},"energy_unattributed_kwh":0,"energy_charges_krw":[],` +
		`"attribution_gpu_hours":{"matched":0,"foreign":0,"unknown":0,"unlabeled":0},"attribution_mismatches":[]},` +
		`{"provider":"nhn","gpus":{"government":2,"private":1},"capacity_gpu_hours":{"government":12,"private":6},` +
		`"hours":{"government":{"public_active":2,"public_idle":1.003,"provider_active":2.508,"provider_idle":0,"unallocated_active":0.167,"unallocated_idle":5.831,"no_data":0.492},` +
		`"private":{"public_active":0,"public_idle":0,"provider_active":0,"provider_idle":0,"unallocated_active":0,"unallocated_idle":0,"no_data":6}},` +
		`"borrowed_gpu_hours":2.508,"lent_gpu_hours":0,"private_used_gpu_hours":0,"peak_provider_gpus":1,` +
		`"charges_krw":[{"class":"provider_borrowed","model":"B200","gpu_hours":2.508,"krw":2508,"billed_to":"provider"},` +
		`{"class":"public_active","model":"B200","gpu_hours":2,"krw":3001,"billed_to":"government"}],` +
		`"violations":[{"kind":"borrow_too_long","gpu_uuid":"GPU-G1","node":"n1","from":"2026-09-30T18:00:00Z","to":"","gpu_hours":3},` +
		`{"kind":"borrow_over_monthly_cap","gpu_uuid":"","node":"","from":"2026-09-30T15:00:00Z","to":"2026-10-31T15:00:00Z","gpu_hours":0.508}],` +
		`"idle_reallocation":{"flags":3,"flagged_idle_gpu_hours":39,"reallocated":1,"declined":1,"median_hours_to_ack":2.5},` +
		`"energy_kwh":{"government":{"public_active":1.001,"public_idle":0,"provider_active":0,"provider_idle":0,"unallocated_active":0,"unallocated_idle":0,"no_data":0},` +
		`"private":{"public_active":0,"public_idle":0,"provider_active":0,"provider_idle":0,"unallocated_active":0,"unallocated_idle":0,"no_data":0}},"energy_unattributed_kwh":0.002,` +
		`"energy_charges_krw":[{"model":"B200","kwh":1.003,"krw":101,"billed_to":"provider"}],` +
		`"attribution_gpu_hours":{"matched":1,"foreign":0.167,"unknown":0.167,"unlabeled":0.5},` +
		`"attribution_mismatches":[{"gpu_uuid":"GPU-G1","node":"n1","holder_project":"p-pub","namespace":"own","seen_project":"p-own",` +
		`"from":"2026-09-30T16:00:00Z","to":"2026-09-30T16:10:00Z","gpu_hours":0.167}]}],` +
		`"projects":[{"project_id":"p-own","provider":"nhn","kind":"provider","allocated_gpu_hours":3,"active_gpu_hours":2.508,"no_data_gpu_hours":0.492,"energy_kwh":0},` +
		`{"project_id":"p-pub","provider":"nhn","kind":"public","allocated_gpu_hours":9,"active_gpu_hours":2,"no_data_gpu_hours":6,"energy_kwh":1.001}],` +
		`"idle_flags":[{"flag_id":"0123456789abcdef","kind":"unallocated_idle","provider":"nhn","node":"n1","gpu_uuid":"GPU-G2","project_id":"",` +
		`"since":"2026-10-30T00:00:00Z","hours":39,"active_pct":0,"coverage_pct":100,"recommendation":"offer"}],` +
		`"data_quality":{"coverage_pct":60.451,"unregistered_gpus":1,"nodes_without_data":["n2"],"refused_samples":{"foreign_gpu":12,"unknown_gpu":0,"bad_timestamp":0,"too_old":0,"too_new":0,"conflict":0}}}`
	if string(got) != want {
		t.Fatalf("JSON:\n%s\nwant:\n%s", got, want)
	}
}

// An empty ledger still writes every list as [], never null.
func TestJSONOfNothing(t *testing.T) {
	got, _ := json.Marshal(reports.JSON(&ledger.Ledger{Month: "2026-10"}))
	for _, field := range []string{`"providers":[]`, `"projects":[]`, `"idle_flags":[]`, `"nodes_without_data":[]`} {
		if !json.Valid(got) || !strings.Contains(string(got), field) {
			t.Errorf("%s lacks %s", got, field)
		}
	}
}
