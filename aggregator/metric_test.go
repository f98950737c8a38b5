package aggregator_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/aggregator"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/store"
)

// Each activity.metric decides by its own value; ratios are scaled ×100, and
// a ratio stored as Float32 right at the threshold (0.05 is 0.0500000007)
// counts as reaching it. One GPU, one sample a minute for 4 minutes (G 60 s):
//
//	minute  gpu_util  gr_engine_active  sm_active
//	0       0         0.5               0.03
//	1       80        0.01              0.9
//	2       (none)    0.05              (none)
//	3       4.99      (none)            0.05
func TestActivityMetric(t *testing.T) {
	dir := storetest.WriteFiles(t, map[string]string{
		"inventory.csv":   "gpu_uuid,provider,site,node,gpu_index,model,share,valid_from,valid_to\nM1,nhn,s,n,0,B200,government,2026-10-01T00:00:00Z,2026-10-01T00:04:00Z\n",
		"projects.csv":    "project_id,name,kind,provider,namespace\n",
		"allocations.csv": "allocation_id,project_id,gpu_uuid,node,start,end\n",
		"samples.csv": "ts,gpu_uuid,hostname,gpu_util,gr_engine_active,sm_active,fb_used_mib,fb_free_mib,power_w,energy_mj,namespace,pod\n" +
			"2026-10-01T00:00:00Z,M1,h,0,0.5,0.03,,,,,,\n" +
			"2026-10-01T00:01:00Z,M1,h,80,0.01,0.9,,,,,,\n" +
			"2026-10-01T00:02:00Z,M1,h,,0.05,,,,,,,\n" +
			"2026-10-01T00:03:00Z,M1,h,4.99,,0.05,,,,,,\n",
	})
	// active / idle / no_data seconds per metric:
	//   auto (max of util and gr×100): 50, 80, 5, 4.99 → A A A I
	//   gpu_util: 0, 80, –, 4.99 → I A N I
	//   gr_engine_active: 50, 1, 5, – → A I A N
	//   sm_active: 3, 90, –, 5 → I A N A
	want := map[gpumeter.Metric]string{
		gpumeter.MetricAuto:           "180 60 0",
		gpumeter.MetricGPUUtil:        "60 120 60",
		gpumeter.MetricGrEngineActive: "120 60 60",
		gpumeter.MetricSMActive:       "120 60 60",
	}
	storetest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		storetest.ImportDir(t, st, dir)
		for metric, w := range want {
			cfg := config.Default()
			cfg.Activity.Metric = metric
			if _, err := aggregator.New(st, cfg, nil).Recompute(ctx, day0, day0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			rows, err := store.SumRollups(ctx, st, store.RollupFilter{From: day0.Unix(), To: day0.Add(time.Hour).Unix()})
			if err != nil || len(rows) != 1 {
				t.Fatalf("%s: %v %v", metric, rows, err)
			}
			r := rows[0]
			if got := strings.Join([]string{itoa(r.Active), itoa(r.Idle), itoa(r.NoData)}, " "); got != w {
				t.Errorf("%s: active idle no_data = %s, want %s", metric, got, w)
			}
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
