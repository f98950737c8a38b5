// Command bench measures imports and storage (make bench): a 1M-row samples
// CSV imported with `gpumeter import samples` into each backend, beside the
// engine's own bulk insert of the same file as the baseline, with peak RSS,
// and bytes on disk per sample on the embedded engine after merges.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/nipa-gpu/gpumeter/imports"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/schemas"
	"github.com/nipa-gpu/gpumeter/sim"
	"github.com/nipa-gpu/gpumeter/store"
	_ "github.com/nipa-gpu/gpumeter/store/chdb"
	_ "github.com/nipa-gpu/gpumeter/store/clickhouse"
)

func main() {
	if os.Getenv(serveExportersEnv) != "" {
		if err := serveExporters(); err != nil {
			fmt.Fprintln(os.Stderr, "bench exporters:", err)
			os.Exit(1)
		}
		return
	}
	rows := flag.Int("rows", 1_000_000, "samples in the generated CSV")
	bin := flag.String("bin", "bin/gpumeter", "gpumeter binary")
	what := flag.String("what", "import,collector,remotewrite,aggregate", "benchmarks to run: import, collector, remotewrite, aggregate")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the benchmarks here")
	plain := flag.Bool("plain", false, "aggregate: samples without energy counters or namespaces (energy and the attribution audit idle)")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	for _, w := range strings.Split(*what, ",") {
		var err error
		switch w {
		case "import":
			err = benchImport(*rows, *bin)
		case "collector":
			err = benchCollector(*bin)
		case "remotewrite":
			err = benchRemoteWrite()
		case "aggregate":
			err = benchAggregate(*bin, *plain)
		default:
			err = fmt.Errorf("unknown benchmark %q", w)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			pprof.StopCPUProfile()
			os.Exit(1)
		}
	}
}

func benchImport(n int, bin string) error {
	fmt.Println("== import ==")
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gpumeter-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	csvPath := filepath.Join(dir, "samples.csv")
	size, err := generate(csvPath, n)
	if err != nil {
		return err
	}
	fmt.Printf("samples CSV: %d rows, %.1f MB\n\n", n, float64(size)/1e6)

	srv, err := storetest.NewServer()
	if err != nil {
		return err
	}
	defer srv.Remove()
	serverDSN := srv.DSN

	fmt.Printf("%-12s %-26s %10s %12s %10s\n", "backend", "method", "seconds", "rows/s", "peak RSS")
	// Embedded engine.
	// Both sides write into a store migrated beforehand: what is timed is the
	// import, process start included.
	chdbDir := filepath.Join(dir, "chdb")
	if _, err := timeCommand(bin, "migrate", "--store", "chdb://"+chdbDir, "--log-level", "warn"); err != nil {
		return err
	}
	imp, err := timeCommand(bin, "import", "samples", csvPath, "--store", "chdb://"+chdbDir, "--log-level", "warn")
	if err != nil {
		return err
	}
	report("chdb", "gpumeter import samples", n, imp)
	base, err := baselineChdb(ctx, filepath.Join(dir, "chdb-base"), csvPath)
	if err != nil {
		return err
	}
	report("chdb", "INSERT FORMAT CSV (engine)", n, base)
	fmt.Printf("%-12s %-26s %10.0f%%\n", "chdb", "engine time / gpumeter's", 100*base.wall.Seconds()/imp.wall.Seconds())

	// Server.
	db, err := createDatabase(ctx, serverDSN, "bench")
	if err != nil {
		return err
	}
	if _, err := timeCommand(bin, "migrate", "--store", db, "--log-level", "warn"); err != nil {
		return err
	}
	imp2, err := timeCommand(bin, "import", "samples", csvPath, "--store", db, "--log-level", "warn")
	if err != nil {
		return err
	}
	report("clickhouse", "gpumeter import samples", n, imp2)
	baseDB, err := createDatabase(ctx, serverDSN, "bench_base")
	if err != nil {
		return err
	}
	base2, err := baselineServer(ctx, baseDB, csvPath)
	if err != nil {
		return err
	}
	report("clickhouse", "clickhouse-client FORMAT CSV", n, base2)
	fmt.Printf("%-12s %-26s %10.0f%%\n\n", "clickhouse", "engine time / gpumeter's", 100*base2.wall.Seconds()/imp2.wall.Seconds())

	return diskUsage(ctx, "chdb://"+chdbDir)
}

type measured struct {
	wall   time.Duration
	rssMB  float64 // peak resident set (VmHWM), libchdb's code pages included
	anonMB float64 // peak anonymous memory: the heap of Go and of the engine
}

func report(backend, method string, n int, m measured) {
	rss := "-"
	if m.rssMB > 0 {
		rss = fmt.Sprintf("%.0f MB (anon %.0f MB)", m.rssMB, m.anonMB)
	}
	fmt.Printf("%-12s %-26s %10.2f %12.0f   %s\n", backend, method, m.wall.Seconds(), float64(n)/m.wall.Seconds(), rss)
}

func timeCommand(name string, args ...string) (measured, error) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return measured{}, err
	}
	// getrusage's ru_maxrss survives exec, so a child started by a large
	// parent reports the parent's size: read the child's own /proc instead.
	var m measured
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			m.wall = time.Since(start)
			if err != nil {
				return m, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
			}
			return m, nil
		case <-tick.C:
			hwm, anon := procMemory(cmd.Process.Pid)
			m.rssMB = max(m.rssMB, hwm)
			m.anonMB = max(m.anonMB, anon)
		}
	}
}

// procMemory reads VmHWM and RssAnon of a process, in MB.
func procMemory(pid int) (hwm, anon float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		var kb float64
		if _, err := fmt.Sscanf(line, "VmHWM: %f kB", &kb); err == nil {
			hwm = kb / 1024
		}
		if _, err := fmt.Sscanf(line, "RssAnon: %f kB", &kb); err == nil {
			anon = kb / 1024
		}
	}
	return hwm, anon
}

// generate writes n samples of the simulated fleet (sim) at 15 s, node by
// node over as many hours as it takes: daily cycles, jobs starting and
// stopping, idle and unallocated GPUs, blank values, energy counters. Real
// series, not noise: what the storage codecs are measured on.
func generate(path string, n int) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString(strings.Join(imports.SampleColumns, ",") + "\n")
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	fleet := sim.New(1, 0.0134, from, from.AddDate(0, 1, 0)) // 22 nodes, 176 GPUs
	steps := (n + len(fleet.Nodes)*sim.GPUsPerNode - 1) / (len(fleet.Nodes) * sim.GPUsPerNode)
	written := 0
	opt := func(p *float64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	}
	optU := func(p *uint64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatUint(*p, 10)
	}
	for _, node := range fleet.Nodes {
		for _, g := range node.GPUs {
			for k := 0; k < steps && written < n; k++ {
				s := fleet.Sample(g, from.Add(time.Duration(k)*15*time.Second))
				fmt.Fprintf(w, "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", s.TS.Format(time.RFC3339), s.GPUUUID, s.Hostname,
					opt(s.GPUUtil), opt(s.GrEngineActive), opt(s.SMActive), optU(s.FBUsedMiB), optU(s.FBFreeMiB), opt(s.PowerW),
					optU(s.EnergyMJ), s.Namespace, s.Pod)
				written++
			}
		}
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

var csvInsert = "INSERT INTO samples (" + strings.Join(imports.SampleColumns, ", ") + ")"

func baselineChdb(ctx context.Context, dir, csvPath string) (measured, error) {
	st, err := openMigrated(ctx, "chdb://"+dir)
	if err != nil {
		return measured{}, err
	}
	defer st.Close()
	data, err := os.ReadFile(csvPath)
	if err != nil {
		return measured{}, err
	}
	start := time.Now()
	q := csvInsert + " SETTINGS date_time_input_format = 'best_effort' FORMAT CSVWithNames\n" + string(data)
	if err := st.Exec(ctx, q); err != nil {
		return measured{}, fmt.Errorf("baseline insert: %w", err)
	}
	return measured{wall: time.Since(start)}, nil
}

func baselineServer(ctx context.Context, dsn, csvPath string) (measured, error) {
	st, err := openMigrated(ctx, dsn)
	if err != nil {
		return measured{}, err
	}
	st.Close()
	host, port, db := splitDSN(dsn)
	f, err := os.Open(csvPath)
	if err != nil {
		return measured{}, err
	}
	defer f.Close()
	cmd := exec.Command("clickhouse-client", "--host", host, "--port", port, "--database", db,
		"--date_time_input_format", "best_effort", "--query", csvInsert+" FORMAT CSVWithNames")
	cmd.Stdin, cmd.Stderr = f, os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return measured{}, fmt.Errorf("clickhouse-client insert: %w", err)
	}
	return measured{wall: time.Since(start)}, nil
}

func splitDSN(dsn string) (host, port, db string) {
	rest := dsn[strings.LastIndex(dsn, "@")+1:]
	hostport, db, _ := strings.Cut(rest, "/")
	host, port, _ = strings.Cut(hostport, ":")
	return host, port, db
}

func openMigrated(ctx context.Context, dsn string) (store.Store, error) {
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if _, err := schemas.Migrate(ctx, st, schemas.Options{SamplesTTLDays: 400}); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func createDatabase(ctx context.Context, serverDSN, name string) (string, error) {
	st, err := store.Open(ctx, serverDSN)
	if err != nil {
		return "", err
	}
	defer st.Close()
	if err := st.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+name); err != nil {
		return "", err
	}
	return serverDSN[:strings.LastIndex(serverDSN, "/")+1] + name, nil
}

// diskUsage merges the embedded engine's samples and reports bytes on disk.
func diskUsage(ctx context.Context, dsn string) error {
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Exec(ctx, "OPTIMIZE TABLE samples FINAL"); err != nil {
		return err
	}
	var bytes, n float64
	err = st.Stream(ctx, `SELECT toFloat64(sum(bytes_on_disk)), toFloat64(sum(rows)) FROM system.parts
WHERE database = currentDatabase() AND table = 'samples' AND active`, func(scan func(...any) error) error { return scan(&bytes, &n) })
	if err != nil {
		return err
	}
	metrics := []string{"gpu_util", "gr_engine_active", "sm_active", "fb_used_mib", "fb_free_mib", "power_w", "energy_mj"}
	var counts []string
	for _, m := range metrics {
		counts = append(counts, "count("+m+")")
	}
	var values float64
	err = st.Stream(ctx, "SELECT toFloat64("+strings.Join(counts, " + ")+") FROM samples", func(scan func(...any) error) error { return scan(&values) })
	if err != nil {
		return err
	}
	fmt.Printf("embedded engine after OPTIMIZE FINAL: %.1f MB on disk for %.0f samples\n", bytes/1e6, n)
	fmt.Printf("  %.2f bytes per sample, %.2f bytes per metric value (%.0f values)\n", bytes/n, bytes/values, values)
	fmt.Printf("  %-18s %12s %12s\n", "column", "bytes/sample", "ratio")
	return st.Stream(ctx, `SELECT name, toFloat64(data_compressed_bytes), toFloat64(data_uncompressed_bytes) FROM system.columns
WHERE database = currentDatabase() AND table = 'samples' ORDER BY data_compressed_bytes DESC`, func(scan func(...any) error) error {
		var name string
		var comp, raw float64
		if err := scan(&name, &comp, &raw); err != nil {
			return err
		}
		fmt.Printf("  %-18s %12.3f %11.1fx\n", name, comp/n, raw/comp)
		return nil
	})
}
