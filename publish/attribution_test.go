package publish_test

import (
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/reports"
	"github.com/nipa-gpu/gpumeter/store"
)

// The attribution month of testdata/reports/attribution/README.md, worked
// by hand: stale labels within and past the grace, mismatch runs of 9 and 10
// minutes (one across an hour), an unknown namespace, the violation.
func TestAttributionByHand(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		cfg := load(t, st, "../testdata/reports/attribution/")
		rep := publishJSON(t, st, cfg, "2026-10", "", time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC))
		if len(rep.Providers) != 1 {
			t.Fatalf("providers: %+v", rep.Providers)
		}
		p := rep.Providers[0]
		if want := (reports.Attribution{Matched: 1.5, Foreign: 0.483, Unknown: 0.083, Unlabeled: 0.933}); p.AttributionGPUHours != want {
			t.Errorf("attribution %+v, want %+v", p.AttributionGPUHours, want)
		}
		want := []reports.Mismatch{
			{GPUUUID: "GPU-A1", Node: "a1", Namespace: "pub", SeenProject: "p-pub", From: "2026-10-01T01:30:00Z", To: "2026-10-01T01:40:00Z", GPUHours: 0.167},
			{GPUUUID: "GPU-A1", Node: "a1", Namespace: "own", SeenProject: "p-own", From: "2026-10-01T01:55:00Z", To: "2026-10-01T02:05:00Z", GPUHours: 0.167},
		}
		if len(p.AttributionMismatches) != len(want) {
			t.Fatalf("mismatches %+v", p.AttributionMismatches)
		}
		for i := range want {
			if p.AttributionMismatches[i] != want[i] {
				t.Errorf("mismatch %d: %+v, want %+v", i, p.AttributionMismatches[i], want[i])
			}
		}
		var found []reports.Violation
		for _, v := range p.Violations {
			if v.Kind == gpumeter.AttributionMismatch {
				found = append(found, v)
			}
		}
		if len(found) != 1 || found[0].From != "2026-10-01T01:55:00Z" || found[0].To != "2026-10-01T02:05:00Z" || found[0].GPUHours != 0.167 {
			t.Errorf("attribution_mismatch violations: %+v", found)
		}
	})
}
