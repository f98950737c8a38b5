package publish_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/store"
)

// The energy month of testdata/reports/energy/README.md, worked by hand: a
// counter restart, gaps longer than G (one across a whole day of
// aggregation), a delta whose earlier second is before the inventory, pairs
// crossing an hour and an allocation boundary, a reading skipped for want of
// a value.
func TestEnergyByHand(t *testing.T) {
	const dir = "../testdata/reports/energy/"
	storetest.Each(t, func(t *testing.T, st store.Store) {
		cfg := load(t, st, dir)
		rep := publishJSON(t, st, cfg, "2026-10", "", time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC))
		type energy struct {
			Provider              string
			EnergyKWh             map[string]map[string]float64 `json:"energy_kwh"`
			EnergyUnattributedKWh float64                       `json:"energy_unattributed_kwh"`
			EnergyChargesKRW      []struct {
				Model string
				KWh   float64 `json:"kwh"`
				KRW   int64
			} `json:"energy_charges_krw"`
		}
		var got struct {
			Providers []energy
			Projects  []struct {
				ProjectID string  `json:"project_id"`
				EnergyKWh float64 `json:"energy_kwh"`
			}
		}
		data, _ := json.Marshal(rep)
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]map[string]float64{
			"nhn":   {"public_active": 1, "public_idle": 0.3, "provider_idle": 0.15, "provider_active": 0.3},
			"kakao": {"unallocated_idle": 0.01, "unallocated_active": 0.001, "no_data": 0.004},
		}
		unattributed := map[string]float64{"nhn": 0.45, "kakao": 0.015}
		charges := map[string][2]float64{"nhn": {2.2, 440}, "kakao": {0.03, 6}}
		if len(got.Providers) != 2 {
			t.Fatalf("providers: %s", data)
		}
		for _, p := range got.Providers {
			for class, kwh := range p.EnergyKWh["government"] {
				if kwh != want[p.Provider][class] {
					t.Errorf("%s government %s: %v kWh, want %v", p.Provider, class, kwh, want[p.Provider][class])
				}
			}
			for class, kwh := range p.EnergyKWh["private"] {
				if kwh != 0 {
					t.Errorf("%s private %s: %v kWh", p.Provider, class, kwh)
				}
			}
			if p.EnergyUnattributedKWh != unattributed[p.Provider] {
				t.Errorf("%s unattributed: %v kWh, want %v", p.Provider, p.EnergyUnattributedKWh, unattributed[p.Provider])
			}
			c := charges[p.Provider]
			if len(p.EnergyChargesKRW) != 1 || p.EnergyChargesKRW[0].KWh != c[0] || float64(p.EnergyChargesKRW[0].KRW) != c[1] {
				t.Errorf("%s energy charges %+v, want %v kWh, %v KRW", p.Provider, p.EnergyChargesKRW, c[0], c[1])
			}
		}
		projects := map[string]float64{}
		for _, p := range got.Projects {
			projects[p.ProjectID] = p.EnergyKWh
		}
		if projects["p-pub"] != 1.3 || projects["p-own"] != 0.45 {
			t.Errorf("projects' energy: %v, want p-pub 1.3, p-own 0.45", projects)
		}
		// Late data re-opens the hours: a reading of 200 Wh at 01:01:50
		// (util 0) splits the gap 01:01:20–01:10:00: 50 Wh more of
		// provider_idle (0.200 kWh), and the gap's delta is 200 now
		// (unattributed 200 + 200 = 0.400 kWh).
		late := storetest.WriteFiles(t, map[string]string{"samples.csv": "ts,gpu_uuid,hostname,gpu_util,gr_engine_active,sm_active," +
			"fb_used_mib,fb_free_mib,power_w,energy_mj,namespace,pod\n2026-10-01T01:01:50Z,GPU-E1,e1,0,,,,,,720000000,,\n"})
		storetest.ImportDir(t, st, late)
		again := publishJSON(t, st, cfg, "2026-10", "nhn", time.Date(2026, 11, 3, 1, 0, 0, 0, time.UTC))
		nhn := again.Providers[0]
		if nhn.EnergyKWh.Government.ProviderIdle != 0.2 || nhn.EnergyUnattributedKWh != 0.4 {
			t.Fatalf("after the late reading: provider_idle %v, unattributed %v; want 0.2, 0.4", nhn.EnergyKWh.Government.ProviderIdle,
				nhn.EnergyUnattributedKWh)
		}
	})
}
