package aggregator_test

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter/aggregator"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/imports"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/store"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var day0 = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// randomFleet writes a random fleet's inputs: GPUs with re-designations and
// gaps in validity, allocations of public and provider projects one after
// another, samples at irregular intervals with missing values and silences.
// It returns the directory and each GPU's capacity seconds in [day0, end).
func randomFleet(t *testing.T, seed int64, end time.Time) (string, map[string]int64) {
	r := rand.New(rand.NewSource(seed))
	ts := func(t time.Time) string { return t.Format(time.RFC3339) }
	inv := []string{"gpu_uuid,provider,site,node,gpu_index,model,share,valid_from,valid_to"}
	alloc := []string{"allocation_id,project_id,gpu_uuid,node,start,end"}
	samples := []string{strings.Join(imports.SampleColumns, ",")}
	capacity := map[string]int64{}
	providers := []string{"naver", "nhn"}
	nalloc := 0
	for g := 0; g < 6; g++ {
		gpu := fmt.Sprintf("R%d", g)
		prov := providers[g%2]
		for t := day0.Add(-time.Duration(r.Intn(4)) * time.Hour); t.Before(end); {
			length := time.Duration(1+r.Intn(30)) * time.Hour
			length += time.Duration(r.Intn(3600)) * time.Second
			share := []string{"government", "private"}[r.Intn(2)]
			to := t.Add(length)
			toS := ts(to)
			if r.Intn(5) == 0 {
				to, toS = end.Add(1000*time.Hour), ""
			}
			inv = append(inv, fmt.Sprintf("%s,%s,s,node-%d,%d,B200,%s,%s,%s", gpu, prov, g/2, g%2, share, ts(t), toS))
			capacity[gpu] += int64(minTime(to, end).Sub(maxTime(t, day0)) / time.Second)
			if toS == "" {
				break
			}
			t = to.Add(time.Duration(r.Intn(2)*r.Intn(7200)) * time.Second)
		}
		for t := day0.Add(-2 * time.Hour); t.Before(end); {
			length := time.Duration(600+r.Intn(20*3600)) * time.Second
			if r.Intn(3) > 0 {
				nalloc++
				project := prov + []string{"-pub", "-own"}[r.Intn(2)]
				alloc = append(alloc, fmt.Sprintf("x%d,%s,%s,,%s,%s", nalloc, project, gpu, ts(t), ts(t.Add(length))))
			}
			t = t.Add(length + time.Duration(r.Intn(2)*r.Intn(3600))*time.Second)
		}
		for t := day0.Add(-90 * time.Second); t.Before(end); t = t.Add(time.Duration(5+r.Intn(80)) * time.Second) {
			if r.Intn(50) == 0 {
				t = t.Add(time.Duration(r.Intn(7200)) * time.Second) // a silence
			}
			util := fmt.Sprint(r.Intn(30))
			if r.Intn(10) == 0 {
				util = ""
			}
			samples = append(samples, fmt.Sprintf("%s,%s,h,%s,,,,,,,,", ts(t), gpu, util))
		}
	}
	// Every GPU's capacity in [day0, end): the test only looks there.
	for g, c := range capacity {
		if c < 0 {
			capacity[g] = 0
		}
	}
	projects := "project_id,name,kind,provider,namespace\n"
	for _, p := range providers {
		projects += fmt.Sprintf("%s-pub,pub,public,%s,\n%s-own,own,provider,%s,\n", p, p, p, p)
	}
	dir := storetest.WriteFiles(t, map[string]string{
		"inventory.csv":   strings.Join(inv, "\n") + "\n",
		"projects.csv":    projects,
		"allocations.csv": strings.Join(alloc, "\n") + "\n",
		"samples.csv":     strings.Join(samples, "\n") + "\n",
	})
	return dir, capacity
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// dump renders rollups so that two backends can be compared.
func dump(rows []store.Rollup) string {
	var lines []string
	for _, r := range rows {
		lines = append(lines, fmt.Sprintf("%s %s %s %s %d %d %d %d %d %d", r.GPU, r.Share, r.Project, r.Kind,
			r.Capacity, r.Active, r.Idle, r.NoData, r.ActiveFrom, r.ActiveUntil))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// The conservation law on random fleets, through the store: every GPU's
// classes sum to its capacity, to the second, and both backends agree.
func TestConservationOnRandomFleets(t *testing.T) {
	end := day0.Add(48 * time.Hour)
	cfg := config.Default()
	for seed := int64(1); seed <= 3; seed++ {
		dir, capacity := randomFleet(t, seed, end)
		results := map[string]string{}
		storetest.Each(t, func(t *testing.T, st store.Store) {
			ctx := context.Background()
			storetest.ImportDir(t, st, dir)
			agg := aggregator.New(st, cfg, nil)
			agg.ChunkGPUs = 4
			if _, err := agg.Update(ctx, end, [2]time.Time{day0, end}); err != nil {
				t.Fatal(err)
			}
			rows, err := store.SumRollups(ctx, st, store.RollupFilter{From: day0.Unix(), To: end.Unix()})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			for _, r := range rows {
				if r.Active+r.Idle+r.NoData != r.Capacity {
					t.Fatalf("seed %d: %+v: classes do not sum to capacity", seed, r)
				}
				got[r.GPU] += r.Capacity
			}
			for g, want := range capacity {
				if got[g] != want {
					t.Errorf("seed %d: %s capacity %d s, inventory says %d s", seed, g, got[g], want)
				}
			}
			results[st.Dialect().Backend] = dump(rows)
		})
		if results["chdb"] != results["clickhouse"] {
			t.Fatalf("seed %d: backends differ:\nchdb:\n%s\nclickhouse:\n%s", seed, results["chdb"], results["clickhouse"])
		}
	}
}

// Late samples re-open only the hours they touch; an unchanged store
// recomputes nothing.
func TestLateSamplesReopenTheirHours(t *testing.T) {
	cfg := config.Default()
	end := day0.Add(24 * time.Hour)
	dir := storetest.WriteFiles(t, map[string]string{
		"inventory.csv":   "gpu_uuid,provider,site,node,gpu_index,model,share,valid_from,valid_to\nL1,nhn,s,n,0,B200,government,2026-10-01T00:00:00Z,\n",
		"projects.csv":    "project_id,name,kind,provider,namespace\n",
		"allocations.csv": "allocation_id,project_id,gpu_uuid,node,start,end\n",
		"samples.csv": strings.Join(imports.SampleColumns, ",") + "\n2026-10-01T00:00:00Z,L1,h,50,,,,,,,,\n" +
			"2026-10-01T20:00:00Z,L1,h,50,,,,,,,,\n",
	})
	late := storetest.WriteFiles(t, map[string]string{"samples.csv": strings.Join(imports.SampleColumns, ",") + "\n" +
		"2026-10-01T10:30:00Z,L1,h,80,,,,,,,,\n2026-10-01T10:30:40Z,L1,h,80,,,,,,,,\n"})
	storetest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		storetest.ImportDir(t, st, dir)
		agg := aggregator.New(st, cfg, nil)
		if _, err := agg.Update(ctx, end); err != nil {
			t.Fatal(err)
		}
		active := func() int64 {
			rows, err := store.SumRollups(ctx, st, store.RollupFilter{From: day0.Unix(), To: end.Unix()})
			if err != nil {
				t.Fatal(err)
			}
			var a int64
			for _, r := range rows {
				a += r.Active
			}
			return a
		}
		if a := active(); a != 120 { // two samples, 60 s each
			t.Fatalf("active %d s, want 120", a)
		}
		if st, err := agg.Update(ctx, end); err != nil || st.Hours != 0 {
			t.Fatalf("nothing new, yet %d hours recomputed (%v)", st.Hours, err)
		}
		if _, err := (&imports.Importer{Store: st}).Samples(ctx, late+"/samples.csv"); err != nil {
			t.Fatal(err)
		}
		stats, err := agg.Update(ctx, end)
		if err != nil {
			t.Fatal(err)
		}
		// 10:30:00 covers [10:30:00, 10:30:40), 10:30:40 covers 60 s: +100 s.
		// The dirty range is the late samples' span ± 1 h: hours 09–11.
		if a := active(); a != 220 || stats.Hours != 3 {
			t.Fatalf("after late samples: active %d s (want 220), %d hours recomputed (want 3)", a, stats.Hours)
		}
	})
}

// `import inventory; aggregate; import samples; aggregate`: the first run
// finds no samples, and the samples imported after it are still rolled up
// (issue 23: both runs used to aggregate 0 hours).
func TestSamplesAfterAnEmptyFirstRun(t *testing.T) {
	cfg := config.Default()
	end := day0.Add(24 * time.Hour)
	dir := storetest.WriteFiles(t, map[string]string{
		"inventory.csv": "gpu_uuid,provider,site,node,gpu_index,model,share,valid_from,valid_to\nE1,nhn,s,n,0,B200,government,2026-10-01T00:00:00Z,\n",
	})
	samples := storetest.WriteFiles(t, map[string]string{"samples.csv": strings.Join(imports.SampleColumns, ",") + "\n" +
		"2026-10-01T03:00:00Z,E1,h,50,,,,,,,,\n2026-10-01T05:00:00Z,E1,h,50,,,,,,,,\n"})
	storetest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		storetest.ImportDir(t, st, dir)
		agg := aggregator.New(st, cfg, nil)
		if stats, err := agg.Update(ctx, end); err != nil || stats.Hours != 0 {
			t.Fatalf("first run, no samples: %d hours, %v", stats.Hours, err)
		}
		if _, err := (&imports.Importer{Store: st}).Samples(ctx, samples+"/samples.csv"); err != nil {
			t.Fatal(err)
		}
		stats, err := agg.Update(ctx, end)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := store.SumRollups(ctx, st, store.RollupFilter{From: day0.Unix(), To: end.Unix()})
		if err != nil {
			t.Fatal(err)
		}
		var active, capacity int64
		for _, r := range rows {
			active, capacity = active+r.Active, capacity+r.Capacity
		}
		// From the first sample's hour (03:00) to the end of the day: 21 h.
		if active != 120 || capacity != 21*3600 || stats.Hours != 21 {
			t.Fatalf("second run: %d hours, active %d s (want 120), capacity %d s (want %d)", stats.Hours, active, capacity, 21*3600)
		}
	})
}
