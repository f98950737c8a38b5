package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/store"
)

// The sums per GPU and per hour are the same whether the engine makes them
// in one pass (GROUPING SETS, chdb) or two (server 18.16), and count only
// each key's latest version.
func TestSumRollupsWithHours(t *testing.T) {
	const h0 = 1790780400 // 2026-10-01 00:00 KST
	row := func(hour int64, gpu, provider string, share gpumeter.Share, project string, kind gpumeter.ProjectKind, active, idle int64) store.Rollup {
		return store.Rollup{Hour: h0 + hour*3600, GPU: gpu, Provider: provider, Node: "n-" + gpu, Model: "H200", Share: share,
			Project: project, Kind: kind, Capacity: active + idle + 60, Active: active, Idle: idle, NoData: 60,
			ActiveFrom: h0 + hour*3600, ActiveUntil: h0 + hour*3600 + active, EnergyActive: 1000 * active, EnergyIdle: 10 * idle,
			EnergyUnattributed: 7, Attribution: gpumeter.Attribution{Matched: active, Unlabeled: idle}}
	}
	first := []store.Rollup{
		row(0, "GPU-A", "nhn", gpumeter.ShareGovernment, "p1", gpumeter.ProjectPublic, 3000, 540),
		row(1, "GPU-A", "nhn", gpumeter.ShareGovernment, "p1", gpumeter.ProjectPublic, 100, 3440),
		row(0, "GPU-B", "nhn", gpumeter.ShareGovernment, "", "", 0, 3540),
		row(1, "GPU-B", "nhn", gpumeter.ShareGovernment, "p2", gpumeter.ProjectProvider, 1800, 1740),
		row(0, "GPU-K", "kakao", gpumeter.SharePrivate, "k1", gpumeter.ProjectProvider, 3540, 0),
	}
	// A recomputation of GPU-B's hour 1: another holder, the old key zeroed.
	second := []store.Rollup{
		{Hour: h0 + 3600, GPU: "GPU-B", Share: gpumeter.ShareGovernment, Project: "p2"},
		row(1, "GPU-B", "nhn", gpumeter.ShareGovernment, "p3", gpumeter.ProjectPublic, 900, 2640),
	}
	want := strings.Join([]string{
		"GPU-A government p1 public: capacity 7200 active 3100 idle 3980 energy 3139814 attribution 7080",
		"GPU-B government  : capacity 3600 active 0 idle 3540 energy 35407 attribution 3540",
		"GPU-B government p3 public: capacity 3600 active 900 idle 2640 energy 926407 attribution 3540",
		"GPU-K private k1 provider: capacity 3600 active 3540 idle 0 energy 3540007 attribution 3540",
	}, "\n")
	wantHours := strings.Join([]string{
		"0 kakao private provider: capacity 3600 active 3540 idle 0 energy 3540007",
		"0 nhn government : capacity 3600 active 0 idle 3540 energy 35407",
		"0 nhn government public: capacity 3600 active 3000 idle 540 energy 3005407",
		"3600 nhn government public: capacity 7200 active 1000 idle 6080 energy 1060814",
	}, "\n")
	storetest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		if err := store.WriteRollups(ctx, st, first, 1); err != nil {
			t.Fatal(err)
		}
		if err := store.WriteRollups(ctx, st, second, 2); err != nil {
			t.Fatal(err)
		}
		f := store.RollupFilter{From: h0, To: h0 + 2*3600}
		gpus, hours, err := store.SumRollupsWithHours(ctx, st, f)
		if err != nil {
			t.Fatal(err)
		}
		var got, gotHours []string
		for _, r := range gpus {
			got = append(got, fmt.Sprintf("%s %s %s %s: capacity %d active %d idle %d energy %d attribution %d", r.GPU, r.Share, r.Project,
				r.Kind, r.Capacity, r.Active, r.Idle, r.EnergyActive+r.EnergyIdle+r.EnergyNoData+r.EnergyUnattributed, r.Attribution.Total()))
		}
		for _, r := range hours {
			if r.GPU != "" || r.Project != "" {
				t.Errorf("an hour's sum names GPU %q, project %q", r.GPU, r.Project)
			}
			gotHours = append(gotHours, fmt.Sprintf("%d %s %s %s: capacity %d active %d idle %d energy %d", r.Hour-h0, r.Provider, r.Share,
				r.Kind, r.Capacity, r.Active, r.Idle, r.EnergyActive+r.EnergyIdle+r.EnergyNoData+r.EnergyUnattributed))
		}
		if g := strings.Join(got, "\n"); g != want {
			t.Errorf("per GPU:\n%s\nwant\n%s", g, want)
		}
		if g := strings.Join(gotHours, "\n"); g != wantHours {
			t.Errorf("per hour:\n%s\nwant\n%s", g, wantHours)
		}
		alone, err := store.SumRollups(ctx, st, f)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(alone) != fmt.Sprint(gpus) {
			t.Errorf("SumRollups differs:\n%v\n%v", alone, gpus)
		}
	})
}
