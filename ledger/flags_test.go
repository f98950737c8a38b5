package ledger_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/aggregator"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/imports"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/ledger"
	"github.com/nipa-gpu/gpumeter/store"
)

func day(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, time.UTC) }

// Two government GPUs, a sample every 10 minutes (G = 10 min):
//
//	L1 unallocated since 08-01, idle until 10-12 00:00, then active until 10-13.
//	L2 held by public p-idle since 09-01, idle until 10-13.
//
// Evaluations at E1 = 10-10 00:00, E2 = 10-11 00:00, E3 = 10-12 06:00 (UTC).
func lifecycleScenario(t *testing.T) string {
	var b strings.Builder
	b.WriteString(strings.Join(imports.SampleColumns, ",") + "\n")
	for s := day(8, 1, 0); s.Before(day(10, 13, 0)); s = s.Add(10 * time.Minute) {
		u := 0
		if !s.Before(day(10, 12, 0)) {
			u = 50
		}
		fmt.Fprintf(&b, "%s,L1,h,%d,,,,,,,,\n", s.Format(time.RFC3339), u)
		if !s.Before(day(9, 1, 0)) {
			fmt.Fprintf(&b, "%s,L2,h,0,,,,,,,,\n", s.Format(time.RFC3339))
		}
	}
	return storetest.WriteFiles(t, map[string]string{
		"inventory.csv": "gpu_uuid,provider,site,node,gpu_index,model,share,valid_from,valid_to\n" +
			"L1,nhn,s,node-1,0,B200,government,2026-08-01T00:00:00Z,\n" +
			"L2,kakao,s,node-2,0,B200,government,2026-08-01T00:00:00Z,\n",
		"projects.csv":    "project_id,name,kind,provider,namespace\np-idle,idle,public,kakao,\n",
		"allocations.csv": "allocation_id,project_id,gpu_uuid,node,start,end\na1,p-idle,L2,,2026-09-01T00:00:00Z,\n",
		"samples.csv":     b.String(),
	})
}

// A flag keeps its id and since while it stays open, even where the 35-day
// look-back moves its computed since; it closes when the GPU is no longer
// idle; acknowledgements give the month's reallocation figures.
func TestIdleFlagLifecycle(t *testing.T) {
	dir := lifecycleScenario(t)
	cfg := config.Default()
	cfg.Activity.MaxSampleGap = config.Duration{Duration: 10 * time.Minute}
	E1, E2, E3 := day(10, 10, 0), day(10, 11, 0), day(10, 12, 6)
	storetest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		storetest.ImportDir(t, st, dir)
		if _, err := aggregator.New(st, cfg, nil).Update(ctx, day(10, 14, 0)); err != nil {
			t.Fatal(err)
		}
		track := func(at time.Time) map[string]gpumeter.TrackedFlag {
			t.Helper()
			flags, err := ledger.Track(ctx, st, cfg, at)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]gpumeter.TrackedFlag{}
			for _, f := range flags {
				out[f.GPUUUID] = f
			}
			return out
		}
		// E1: L1's since is the look-back's start, E1 − 35 d = 09-05.
		id1 := gpumeter.FlagID("L1", gpumeter.FlagUnallocatedIdle, day(9, 5, 0))
		id2 := gpumeter.FlagID("L2", gpumeter.FlagAllocatedIdle, day(9, 1, 0))
		at1 := track(E1)
		if f := at1["L1"]; f.FlagID != id1 || f.Since != "2026-09-05T00:00:00Z" || f.Hours != 840 || !f.FlaggedAt.Equal(E1) || !f.Open() {
			t.Fatalf("E1, L1: %+v", f)
		}
		if f := at1["L2"]; f.FlagID != id2 || f.Since != "2026-09-01T00:00:00Z" || f.Open() != true {
			t.Fatalf("E1, L2: %+v", f)
		}
		// E2: the look-back now starts at 09-06, but the stretch is the same:
		// the same id and since; hours from 09-05 = 36 d = 864.
		at2 := track(E2)
		if f := at2["L1"]; f.FlagID != id1 || f.Since != "2026-09-05T00:00:00Z" || f.Hours != 864 || !f.FlaggedAt.Equal(E1) || !f.SeenAt.Equal(E2) {
			t.Fatalf("E2, L1: %+v", f)
		}
		// Read-only, an hour later: the stable id too, and nothing recorded.
		found, err := ledger.Idle(ctx, st, cfg, E2.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		stable, err := ledger.Stable(ctx, st, found, E2.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(stable) != 2 || stable[0].FlagID != id1 || stable[0].Hours != 865 || found[0].FlagID == id1 {
			t.Fatalf("stable at E2+1h: %+v (found %+v)", stable, found)
		}
		// The portal acknowledges: L1 reallocated 5 h after it was flagged, L2
		// declined 9 h after.
		for _, a := range []gpumeter.Ack{
			{FlagID: id1, Action: gpumeter.FlagReallocated, AllocationID: "portal-77", Principal: "portal", At: E1.Add(5 * time.Hour)},
			{FlagID: id2, Action: gpumeter.FlagDeclined, Note: "노트", Principal: "portal", At: E1.Add(9 * time.Hour)},
		} {
			if err := store.RecordAck(ctx, st, a); err != nil {
				t.Fatal(err)
			}
		}
		// E3: L1 has been active since 10-12 00:00: closed. L2 still open.
		at3 := track(E3)
		if f := at3["L1"]; f.FlagID != id1 || !f.ClosedAt.Equal(E3) || !f.SeenAt.Equal(E2) {
			t.Fatalf("E3, L1: %+v", f)
		}
		if f := at3["L2"]; f.FlagID != id2 || !f.Open() || !f.SeenAt.Equal(E3) {
			t.Fatalf("E3, L2: %+v", f)
		}
		if _, err := ledger.Track(ctx, st, cfg, E2); err == nil || !strings.Contains(err.Error(), "go forward") {
			t.Fatalf("an evaluation back in time: %v", err)
		}
		closed, err := store.TrackedFlags(ctx, st, store.FlagFilter{Closed: true})
		if err != nil {
			t.Fatal(err)
		}
		acks, err := store.Acks(ctx, st, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(closed) != 1 || closed[0].FlagID != id1 || closed[0].Status(acks[id1]) != gpumeter.FlagClosed {
			t.Fatalf("closed flags: %+v", closed)
		}
		// October in Seoul begins 09-30 15:00 UTC. L1's stretch [09-05, E2)
		// gives 10-11 00:00 − 09-30 15:00 = 249 h of it, L2's [09-01, E3)
		// 10-12 06:00 − 09-30 15:00 = 279 h. Median wait: (5 + 9) / 2 = 7 h.
		l, err := ledger.Build(ctx, st, cfg, ledger.Scope{Month: "2026-10", Now: day(11, 28, 0)})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]ledger.Reallocation{}
		for _, p := range l.Providers {
			got[p.ID] = p.Reallocation
		}
		want := map[string]ledger.Reallocation{
			"nhn":   {Flags: 1, FlaggedIdle: 249 * 3600, Reallocated: 1, Acknowledged: 1, MedianSecondsToAck: 5 * 3600},
			"kakao": {Flags: 1, FlaggedIdle: 279 * 3600, Declined: 1, Acknowledged: 1, MedianSecondsToAck: 9 * 3600},
		}
		if fmt.Sprint(got["nhn"], got["kakao"]) != fmt.Sprint(want["nhn"], want["kakao"]) {
			t.Fatalf("reallocation: %+v, want %+v", got, want)
		}
	})
}
