package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/collector"
	"github.com/nipa-gpu/gpumeter/ingest"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/sim"
)

// serveExportersEnv makes the bench binary serve the fleet's exporters
// (serveExporters) instead of benchmarking.
const serveExportersEnv = "GPUMETER_BENCH_EXPORTERS"

// exporterBodies are what every endpoint of the fleet serves: the realistic
// 8×H200 payload (all default counters, Kubernetes labels) with UUIDs of
// its own, pre-rendered, so that serving costs next to nothing.
func exporterBodies(fleet *sim.Fleet) (map[string][]byte, error) {
	fixture, err := os.ReadFile("testdata/collector/h200-k8s/metrics.prom")
	if err != nil {
		return nil, err
	}
	bodies := map[string][]byte{}
	for i, n := range fleet.Nodes {
		bodies["/nodes/"+n.Name+"/metrics"] = bytes.ReplaceAll(fixture, []byte("a7c3-000000"), []byte(fmt.Sprintf("a7c3-%06d", i)))
	}
	return bodies, nil
}

// serveExporters serves the fleet's bodies on a loopback port, prints its
// URL, and runs until killed.
func serveExporters() error {
	at := time.Date(2026, 10, 15, 5, 0, 0, 0, time.UTC)
	bodies, err := exporterBodies(sim.New(1, 1, at.AddDate(0, 0, -14), at.AddDate(0, 0, 17)))
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println("http://" + ln.Addr().String())
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(bodies[r.URL.Path]) }))
}

// benchCollector: one full-fleet scrape round (13,136 GPUs on 1,642
// endpoints) against bare expfmt parsing of the same bytes; then sustained
// writes into each backend; then the collector's RSS in a process of its own.
func benchCollector(bin string) error {
	fmt.Println("\n== collector ==")
	at := time.Date(2026, 10, 15, 5, 0, 0, 0, time.UTC)
	fleet := sim.New(1, 1, at.AddDate(0, 0, -14), at.AddDate(0, 0, 17))
	bodies, err := exporterBodies(fleet)
	if err != nil {
		return err
	}
	total := 0
	for _, b := range bodies {
		total += len(b)
	}
	// The exporters run in a process of their own, as they would on other
	// machines: the round's CPU is the collector's alone.
	exporters := exec.Command(os.Args[0])
	exporters.Env = append(os.Environ(), serveExportersEnv+"=1")
	exporters.Stderr = os.Stderr
	out, err := exporters.StdoutPipe()
	if err != nil {
		return err
	}
	if err := exporters.Start(); err != nil {
		return err
	}
	defer func() { exporters.Process.Kill(); exporters.Wait() }()
	base, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return fmt.Errorf("exporters: %w", err)
	}
	srv := struct{ URL string }{strings.TrimSpace(base)}
	var targets []string
	for path := range bodies {
		targets = append(targets, srv.URL+path)
	}
	fmt.Printf("fleet: %d endpoints, %d GPUs, %.1f MB of exposition text per round\n",
		len(targets), len(fleet.Nodes)*sim.GPUsPerNode, float64(total)/1e6)

	// Baselines: expfmt, and the Prometheus scraper's own lexer
	// (model/textparse), alone over the same bytes, one core.
	cpu0 := cpuSeconds()
	start := time.Now()
	for _, b := range bodies {
		p := expfmt.NewTextParser(model.UTF8Validation)
		if _, err := p.TextToMetricFamilies(bytes.NewReader(b)); err != nil {
			return err
		}
	}
	expfmtWall, expfmtCPU := time.Since(start), cpuSeconds()-cpu0
	cpu0 = cpuSeconds()
	start = time.Now()
	for _, b := range bodies {
		p := textparse.NewPromParser(b, labels.NewSymbolTable(), false)
		var lbls labels.Labels
		for {
			entry, err := p.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if entry == textparse.EntrySeries {
				p.Series()
				p.Labels(&lbls)
			}
		}
	}
	baseWall, baseCPU := time.Since(start), cpuSeconds()-cpu0
	// gpumeter's parser over the same bytes: textparse plus the rules of
	// SPEC §4 (one sample per GPU, MIG, time-slicing, sentinels).
	cpu0 = cpuSeconds()
	start = time.Now()
	for _, b := range bodies {
		if _, _, err := collector.ParseDCGM(bytes.NewReader(b), at, collector.DefaultLimits); err != nil {
			return err
		}
	}
	parseWall, parseCPU := time.Since(start), cpuSeconds()-cpu0

	// One collector round: HTTP, parse, normalise, hand to the writer.
	sink := &countingSink{}
	m := collector.NewMetrics(prometheus.NewRegistry())
	spool, err := collector.OpenSpool(filepath.Join(os.TempDir(), "gpumeter-bench-spool"), 1<<30)
	if err != nil {
		return err
	}
	w := &collector.Writer{Sink: sink, Spool: spool, Metrics: m, Log: zap.NewNop(), BatchRows: 20000, FlushInterval: time.Second}
	w.Start()
	var samples int
	cpu0 = cpuSeconds()
	start = time.Now()
	sem := make(chan struct{}, 64)
	done := make(chan int, len(targets))
	for _, u := range targets {
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			got, _, err := collector.HTTPTarget{URL: u}.Scrape(context.Background(), at)
			if err != nil {
				panic(err)
			}
			w.Add("", got)
			done <- len(got)
		}()
	}
	for range targets {
		samples += <-done
	}
	w.Close()
	roundWall, roundCPU := time.Since(start), cpuSeconds()-cpu0
	fmt.Printf("%-34s %8s %8s\n", "", "wall s", "CPU s")
	fmt.Printf("%-34s %8.2f %8.2f\n", "expfmt parse only", expfmtWall.Seconds(), expfmtCPU)
	fmt.Printf("%-34s %8.2f %8.2f\n", "textparse (lexer + labels) only", baseWall.Seconds(), baseCPU)
	fmt.Printf("%-34s %8.2f %8.2f   (%.2fx textparse alone)\n", "collector.ParseDCGM only", parseWall.Seconds(), parseCPU, parseCPU/baseCPU)
	fmt.Printf("%-34s %8.2f %8.2f   (%d samples; CPU %.2fx textparse alone)\n", "collector round (64 in flight)",
		roundWall.Seconds(), roundCPU, samples, roundCPU/baseCPU)

	// Sustained writes: a day's worth of one round's samples, in batches.
	batch := make([]gpumeter.Sample, 0, samples)
	for _, n := range fleet.Nodes {
		for _, g := range n.GPUs {
			batch = append(batch, fleet.Sample(g, at))
		}
	}
	dir, _ := os.MkdirTemp("", "gpumeter-bench-")
	defer os.RemoveAll(dir)
	srvCH, err := storetest.NewServer()
	if err != nil {
		return err
	}
	defer srvCH.Remove()
	chDB, err := createDatabase(context.Background(), srvCH.DSN, "bench_collect")
	if err != nil {
		return err
	}
	for _, dsn := range []string{"chdb://" + filepath.Join(dir, "chdb"), chDB} {
		st, err := openMigrated(context.Background(), dsn)
		if err != nil {
			return err
		}
		const rounds = 20
		in := ingest.New(st, nil, nil)
		start := time.Now()
		for r := 0; r < rounds; r++ {
			for i := range batch {
				batch[i].TS = at.Add(time.Duration(r) * 15 * time.Second)
			}
			for off := 0; off < len(batch); off += 20000 {
				if _, err := in.Write(context.Background(), ingest.Origin{Source: ingest.Scrape}, batch[off:min(off+20000, len(batch))]); err != nil {
					return err
				}
			}
		}
		el := time.Since(start)
		fmt.Printf("sustained writes %-10s %d rounds × %d samples: %.0f samples/s (%.0f× the fleet's 876 samples/s at 15 s)\n",
			st.Dialect().Backend, rounds, len(batch), float64(rounds*len(batch))/el.Seconds(),
			float64(rounds*len(batch))/el.Seconds()/(13136.0/15))
		st.Close()
	}

	// The collector's RSS: a real `gpumeter collect --once` over the fleet.
	tf := filepath.Join(dir, "targets.txt")
	os.WriteFile(tf, []byte(strings.Join(targets, "\n")+"\n"), 0o644)
	cfg := filepath.Join(dir, "collect.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("collector:\n  scrape_interval: 10s\n  scrape_timeout: 10s\n  targets_file: %s\n  spool_dir: %s\n  listen: \"\"\n",
		tf, filepath.Join(dir, "spool"))), 0o644)
	for _, dsn := range []string{chDB, "chdb://" + filepath.Join(dir, "chdb-collect")} {
		m, err := timeCommand(bin, "collect", "--once", "--config", cfg, "--store", dsn, "--log-level", "error")
		if err != nil {
			return err
		}
		backend, _, _ := strings.Cut(dsn, ":")
		fmt.Printf("collect --once into %-10s peak RSS %.0f MB (anon %.0f MB)\n", backend, m.rssMB, m.anonMB)
	}
	return nil
}

type countingSink struct{ rows int }

func (c *countingSink) Write(_ context.Context, batch []collector.Owned) (int, error) {
	c.rows += len(batch)
	return len(batch), nil
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
