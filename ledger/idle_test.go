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

func TestMain(m *testing.M) { storetest.Main(m) }

var T = time.Date(2026, 10, 10, 0, 0, 0, 0, time.UTC)

// Five government GPUs at T = 2026-10-10T00:00Z, idle thresholds 24 h / 72 h /
// 10 % / 90 %, one sample a minute unless said otherwise:
//
//	I1 unallocated since a1 ended 10-08 12:00; active until 10-08 20:00, idle since:
//	   unallocated_idle, since = latest of (T−35 d, 10-01, 10-08 12:00, 10-08 20:00)
//	   = 10-08 20:00, hours 28, coverage 100 %.
//	I2 held by public p-idle since 10-05; active 6 h of the last 72 (10-08 00:00–06:00):
//	   6/72 = 8.333 % < 10 % → allocated_idle since 10-05 00:00, hours 120.
//	I3 unallocated, idle, a sample every 2 min with G = 60 s: coverage 50 % → no flag.
//	I4 held by public p-busy, active: no flag. I5 held by provider p-own, idle: no flag.
func idleScenario(t *testing.T) string {
	var b strings.Builder
	b.WriteString(strings.Join(imports.SampleColumns, ",") + "\n")
	for s := T.Add(-96 * time.Hour); s.Before(T); s = s.Add(time.Minute) {
		row := func(gpu string, util int) {
			fmt.Fprintf(&b, "%s,%s,h,%d,,,,,,,,\n", s.Format(time.RFC3339), gpu, util)
		}
		if s.After(T.Add(-48 * time.Hour)) {
			u := 0
			if s.Before(time.Date(2026, 10, 8, 20, 0, 0, 0, time.UTC)) {
				u = 50
			}
			row("I1", u)
		}
		u2 := 0
		if !s.Before(time.Date(2026, 10, 8, 0, 0, 0, 0, time.UTC)) && s.Before(time.Date(2026, 10, 8, 6, 0, 0, 0, time.UTC)) {
			u2 = 50
		}
		row("I2", u2)
		if s.Minute()%2 == 0 {
			row("I3", 0)
		}
		row("I4", 70)
		row("I5", 0)
	}
	inv := "gpu_uuid,provider,site,node,gpu_index,model,share,valid_from,valid_to\n"
	for i := 1; i <= 5; i++ {
		inv += fmt.Sprintf("I%d,nhn,s,node-%d,0,B200,government,2026-10-01T00:00:00Z,\n", i, i)
	}
	return storetest.WriteFiles(t, map[string]string{
		"inventory.csv": inv,
		"projects.csv": "project_id,name,kind,provider,namespace\np-idle,idle,public,nhn,\np-busy,busy,public,nhn,\n" +
			"p-own,own,provider,nhn,\np-old,old,public,nhn,\n",
		"allocations.csv": "allocation_id,project_id,gpu_uuid,node,start,end\n" +
			"a1,p-old,I1,,2026-10-02T00:00:00Z,2026-10-08T12:00:00Z\n" +
			"a2,p-idle,I2,,2026-10-05T00:00:00Z,\n" +
			"a4,p-busy,I4,,2026-10-01T00:00:00Z,\n" +
			"a5,p-own,I5,,2026-10-01T00:00:00Z,\n",
		"samples.csv": b.String(),
	})
}

func TestIdleFlagsByHand(t *testing.T) {
	dir := idleScenario(t)
	cfg := config.Default()
	storetest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		storetest.ImportDir(t, st, dir)
		agg := aggregator.New(st, cfg, nil)
		if _, err := agg.Update(ctx, T.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Time{T, T.Add(30 * time.Minute)} {
			ref, err := store.LoadReference(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			flags, short, err := ledger.IdleFlags(ctx, agg, aggregator.NewTimelines(ref), cfg.Idle, at)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range flags {
				got = append(got, fmt.Sprintf("%s %s %s %q since=%s hours=%.3f active=%.3f coverage=%.3f %s",
					f.FlagID, f.Kind, f.GPUUUID, f.ProjectID, f.Since, f.Hours, f.ActivePct, f.CoveragePct, f.Recommendation))
			}
			i1Since := time.Date(2026, 10, 8, 20, 0, 0, 0, time.UTC)
			i2Since := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
			// After T no samples arrive: half an hour later, 30 min of the
			// window is no_data and I2's 72 h window lost 30 min of idle.
			i1Cov, i2Active, i2Cov := "100.000", "8.333", "100.000"
			if at.After(T) {
				i1Cov, i2Active, i2Cov = "97.917", "8.392", "99.306"
			}
			want := []string{
				fmt.Sprintf("%s unallocated_idle I1 \"\" since=2026-10-08T20:00:00Z hours=%.3f active=0.000 coverage=%s offer",
					gpumeter.FlagID("I1", gpumeter.FlagUnallocatedIdle, i1Since), at.Sub(i1Since).Hours(), i1Cov),
				fmt.Sprintf("%s allocated_idle I2 \"p-idle\" since=2026-10-05T00:00:00Z hours=%.3f active=%s coverage=%s reclaim",
					gpumeter.FlagID("I2", gpumeter.FlagAllocatedIdle, i2Since), at.Sub(i2Since).Hours(), i2Active, i2Cov),
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("at %s:\n%s\nwant:\n%s", at.Format(time.RFC3339), strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if strings.Join(short, ",") != "I3" {
				t.Fatalf("short of coverage: %v", short)
			}
		}
	})
}
