package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/nipa-gpu/gpumeter/aggregator"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/imports"
	"github.com/nipa-gpu/gpumeter/sim"
	"github.com/nipa-gpu/gpumeter/store"
)

// benchAggregate: `gpumeter aggregate` over one full-fleet day (13,136 GPUs
// at 15 s ≈ 75.7M samples) on the embedded engine, then the month's JSON
// report read from a month of rollups.
func benchAggregate(bin string, plain bool) error {
	fmt.Println("\n== aggregate ==")
	if plain {
		fmt.Println("(samples without energy counters or namespaces)")
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gpumeter-bench-agg-")
	if err != nil {
		return err
	}
	if os.Getenv("BENCH_KEEP") == "" {
		defer os.RemoveAll(dir)
	} else {
		fmt.Println("keeping", dir)
	}
	month := time.Date(2026, 10, 1, 0, 0, 0, 0, time.FixedZone("KST", 9*3600))
	fleet := sim.New(1, 1, month, month.AddDate(0, 1, 0))
	inputs := filepath.Join(dir, "inputs")
	if err := fleet.WriteInputs(inputs, ""); err != nil {
		return err
	}
	dsn := "chdb://" + filepath.Join(dir, "store")
	st, err := openMigrated(ctx, dsn)
	if err != nil {
		return err
	}
	im := &imports.Importer{Store: st}
	for _, kind := range []string{"inventory", "projects", "allocations"} {
		if _, err := im.Import(ctx, kind, filepath.Join(inputs, kind+".csv")); err != nil {
			return err
		}
	}
	day := month.Add(24 * time.Hour) // 2026-10-02 KST
	start := time.Now()
	// The engine generates the day's samples itself: every GPU every 15 s,
	// utilization from a hash, a few missing values.
	// Energy counters climbing at 300-700 W, and the namespace of the
	// project holding each GPU that day (none when unallocated), with an
	// hour in 250 of pods in a namespace no project has: energy and the
	// attribution audit are worked as in production.
	var uuids, holders []string
	for _, nd := range fleet.Nodes {
		for _, g := range nd.GPUs {
			ns := ""
			if p, _ := g.Holder(day.Add(12 * time.Hour)); p != nil {
				ns = p.Namespace
			}
			uuids, holders = append(uuids, "'"+g.UUID+"'"), append(holders, "'"+ns+"'")
		}
	}
	if err := st.Exec(ctx, "SET max_query_size = 100000000"); err != nil { // the holders' list
		return err
	}
	energy, namespace := "toUInt64(k * 15 * (300000 + cityHash64(gpu_uuid) % 400000))",
		fmt.Sprintf("if(cityHash64(gpu_uuid, intDiv(k, 240)) %% 250 = 1, 'ci-runner', transform(toString(gpu_uuid), [%s], [%s], ''))",
			strings.Join(uuids, ","), strings.Join(holders, ","))
	if plain {
		energy, namespace = "NULL", "''"
	}
	err = st.Exec(ctx, fmt.Sprintf(`INSERT INTO samples (gpu_uuid, ts, hostname, gpu_util, gr_engine_active, power_w, energy_mj, namespace, version)
SELECT gpu_uuid, toDateTime(%d + k * 15), node,
       if(cityHash64(gpu_uuid, k) %% 200 = 0, NULL, toFloat32(cityHash64(gpu_uuid, intDiv(k, 240)) %% 100)),
       toFloat32((cityHash64(gpu_uuid, k) %% 1000) / 1000), toFloat32(300),
       %s, %s, 1
FROM (SELECT DISTINCT gpu_uuid, node FROM inventory_current) ARRAY JOIN range(5760) AS k`, day.Unix(), energy, namespace))
	if err != nil {
		return err
	}
	var n uint64
	if err := st.Stream(ctx, "SELECT count() FROM samples", func(scan func(...any) error) error { return scan(&n) }); err != nil {
		return err
	}
	fmt.Printf("generated %d samples for %s in %.1f s (in the engine)\n", n, day.Format("2006-01-02"), time.Since(start).Seconds())
	// Rollups of the rest of the month are synthesised by the engine too, so
	// that the report reads a full month of them, and the run state says all
	// is aggregated up to now; the day itself is then aggregated by gpumeter.
	err = st.Exec(ctx, fmt.Sprintf(`INSERT INTO aggregate_runs (run_id, aggregated_from, aggregated_until, dirty_until, params, finished_at)
VALUES (1, toDateTime(%d), toDateTime(%d), %d, '`+aggregator.ParamsFrom(config.Default()).String()+`', now())`,
		month.Unix(), time.Now().Truncate(time.Hour).Unix(), time.Now().UnixNano()))
	if err != nil {
		return err
	}
	// A day an INSERT, as aggregate writes them: a rollup part then covers
	// a day's hours, not every hour of the month (whose parts FINAL would
	// have to merge all through).
	for d := 0; d < 31; d++ {
		err = st.Exec(ctx, fmt.Sprintf(`INSERT INTO gpu_hours (hour, gpu_uuid, provider, node, model, share, project_id, project_kind,
    capacity, active, idle, no_data, active_from, active_until, version)
SELECT toDateTime(%d + h * 3600), gpu_uuid, provider, node, model, share, '', '',
       3600, a, 3600 - a - 60, 60, 0, 0, 1
FROM (SELECT gpu_uuid, provider, node, model, share FROM inventory_current) ARRAY JOIN range(%d, %d) AS h
ARRAY JOIN [toUInt32(cityHash64(gpu_uuid, h) %% 3000)] AS a`, month.Unix(), d*24, d*24+24))
		if err != nil {
			return err
		}
	}
	st.Close()

	// Baselines: what the engine alone takes for the reads each command
	// cannot do without (the floor under it), in the same run.
	dayFloor, err := readStates(ctx, dsn, day)
	if err != nil {
		return err
	}
	from, to := month.Unix(), month.AddDate(0, 1, 0).Unix()
	monthFloor, err := engineTime(ctx, dsn, fmt.Sprintf(`SELECT count(), sum(c) FROM (
SELECT gpu_uuid, share, project_id, sum(capacity) AS c FROM gpu_hours FINAL
WHERE hour >= toDateTime(%d) AND hour < toDateTime(%d) AND capacity > 0 GROUP BY gpu_uuid, share, project_id)`, from, to))
	if err != nil {
		return err
	}

	m, err := timeCommand(bin, "aggregate", "--store", dsn, "--from", day.Format(time.RFC3339),
		"--to", day.Add(24*time.Hour).Format(time.RFC3339), "--log-level", "warn")
	if err != nil {
		return err
	}
	fmt.Printf("aggregate one full-fleet day: %.1f s, %.0f samples/s, peak RSS %.0f MB (anon %.0f MB)\n",
		m.wall.Seconds(), float64(n)/m.wall.Seconds(), m.rssMB, m.anonMB)
	fmt.Printf("  baseline: the day's samples read into Go as states, deduplicated in GPU and time order, nothing else done: %.1f s (aggregate = %.1fx)\n",
		dayFloor.Seconds(), m.wall.Seconds()/dayFloor.Seconds())
	out := filepath.Join(dir, "report.json")
	m, err = timeCommand(bin, "report", "--month", "2026-10", "--format", "json", "--out", out, "--store", dsn, "--log-level", "warn")
	if err != nil {
		return err
	}
	fi, _ := os.Stat(out)
	fmt.Printf("month JSON report from rollups (13,136 GPUs × 744 h): %.1f s, peak RSS %.0f MB, %d bytes\n",
		m.wall.Seconds(), m.rssMB, fi.Size())
	fmt.Printf("  baseline: the engine summing the month's rollups per GPU, share and project: %.1f s (report = %.1fx)\n",
		monthFloor.Seconds(), m.wall.Seconds()/monthFloor.Seconds())
	if err := benchWorkbook(bin, dsn, dir, m); err != nil {
		return err
	}
	return benchAPI(dsn, day)
}

// engineTime is how long the engine takes for a query whose result is one
// small row, in a process of its own (the store allows one at a time).
func engineTime(ctx context.Context, dsn, q string) (time.Duration, error) {
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	start := time.Now()
	err = st.Stream(ctx, q, func(func(...any) error) error { return nil })
	return time.Since(start), err
}

// benchWorkbook: the month's workbook against excelize streaming the same
// number of plain cells.
func benchWorkbook(bin, dsn, dir string, jsonRun measured) error {
	out := filepath.Join(dir, "nipa.xlsx")
	m, err := timeCommand(bin, "report", "--month", "2026-10", "--format", "xlsx", "--out", out, "--store", dsn, "--log-level", "warn")
	if err != nil {
		return err
	}
	f, err := excelize.OpenFile(out)
	if err != nil {
		return err
	}
	cells := 0
	for _, sheet := range f.GetSheetList() {
		rows, err := f.GetRows(sheet)
		if err != nil {
			return err
		}
		for _, r := range rows {
			cells += len(r)
		}
	}
	f.Close()
	fi, _ := os.Stat(out)
	// Baseline: the same number of plain numeric cells, streamed, 16 a row.
	start := time.Now()
	base := excelize.NewFile()
	sw, err := base.NewStreamWriter("Sheet1")
	if err != nil {
		return err
	}
	row := make([]any, 16)
	for r := 0; r*16 < cells; r++ {
		for i := range row {
			row[i] = float64(r*16 + i)
		}
		name, _ := excelize.CoordinatesToCellName(1, r+1)
		if err := sw.SetRow(name, row); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	if err := base.SaveAs(filepath.Join(dir, "plain.xlsx")); err != nil {
		return err
	}
	baseWall := time.Since(start)
	// The workbook's own share: the xlsx run less the JSON run of the same
	// report (both read the same rollups).
	own := m.wall - jsonRun.wall
	fmt.Printf("month workbook (%d cells, %.1f MB): %.1f s in all (%.1f s beyond the JSON report), peak RSS %.0f MB\n",
		cells, float64(fi.Size())/1e6, m.wall.Seconds(), own.Seconds(), m.rssMB)
	fmt.Printf("excelize streaming %d plain cells: %.2f s; workbook beyond JSON / plain = %.1fx\n",
		cells, baseWall.Seconds(), own.Seconds()/baseWall.Seconds())
	return nil
}

// readStates reads one day's sample states of every GPU into Go the way
// aggregate does (256 GPUs a query) and does nothing with them: the floor
// under aggregate's classification.
func readStates(ctx context.Context, dsn string, day time.Time) (time.Duration, error) {
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	ref, err := store.LoadReference(ctx, st)
	if err != nil {
		return 0, err
	}
	from, to := day.Unix(), day.Add(24*time.Hour).Unix()
	gpus := aggregator.NewTimelines(ref).GPUsWithCapacity(from, to)
	params := aggregator.ParamsFrom(config.Default())
	activity := params.Activity
	var namespaces []string
	for _, p := range ref.Projects {
		if p.Namespace != "" {
			namespaces = append(namespaces, p.Namespace)
		}
	}
	start := time.Now()
	for off := 0; off < len(gpus); off += 256 {
		part := gpus[off:min(off+256, len(gpus))]
		if _, _, err := store.SampleStates(ctx, st, part, from-60, to+60, activity, namespaces, func(store.SamplePoint) {}); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}
