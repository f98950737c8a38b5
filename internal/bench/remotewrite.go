package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/collector"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/imports"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/server"
	"github.com/nipa-gpu/gpumeter/sim"
	"github.com/nipa-gpu/gpumeter/store"
)

// benchRemoteWrite: POST /api/v1/write of a provider's simulated GPUs, as a
// Prometheus sends them (requests of max_samples_per_send series values, 500
// in Prometheus 2.42's default queue_config and 2,000 in later releases, four
// shards at once), into each backend: series values and per-GPU samples
// stored a second, and the process's peak RSS.
func benchRemoteWrite() error {
	fmt.Println("\n== remote write ==")
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gpumeter-bench-rw-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// Pushes are of the last two hours (server.max_push_age): the half hour
	// pushed starts an hour ago.
	from := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	fleet := sim.New(1, 0.1, from.Add(-24*time.Hour), from.Add(24*time.Hour))
	if err := fleet.WriteInputs(dir, ""); err != nil {
		return err
	}
	var naver []*sim.GPU
	for _, n := range fleet.Nodes {
		if n.Provider.ID == "naver" {
			naver = append(naver, n.GPUs...)
		}
	}
	srv, err := storetest.NewServer()
	if err != nil {
		return err
	}
	defer srv.Remove()
	db, err := createDatabase(ctx, srv.DSN, "bench_rw")
	if err != nil {
		return err
	}
	const steps = 120 // half an hour at 15 s
	fmt.Printf("%d naver GPUs × %d scrapes = %d samples, %d series values\n", len(naver), steps, len(naver)*steps, len(naver)*steps*7)
	fmt.Printf("%-12s %-22s %10s %14s %14s %10s\n", "backend", "samples per request", "seconds", "values/s", "GPU samples/s", "peak RSS")
	for _, perRequest := range []int{500, 2000} {
		requests, values := pushRequests(fleet, naver, from, steps, perRequest)
		for _, dsn := range []string{"chdb://" + filepath.Join(dir, fmt.Sprintf("chdb-%d", perRequest)), db} {
			st, err := openMigrated(ctx, dsn)
			if err != nil {
				return err
			}
			im := &imports.Importer{Store: st, Log: zap.NewNop()}
			if _, err := im.Inventory(ctx, filepath.Join(dir, "inventory.csv")); err != nil {
				return err
			}
			cfg := config.Default()
			token := "bench-push"
			sum := sha256.Sum256([]byte(token))
			cfg.Principals = []config.Principal{{Name: "naver-push", Role: config.RoleIngest, Provider: "naver", TokenSHA256: hex.EncodeToString(sum[:])}}
			api := httptest.NewServer(server.New(st, cfg, zap.NewNop(), "bench", prometheus.NewRegistry()).Handler())
			work := make(chan []byte)
			var wg sync.WaitGroup
			var failed error
			var mu sync.Mutex
			start := time.Now()
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for body := range work {
						req, _ := http.NewRequest("POST", api.URL+"/api/v1/write", bytes.NewReader(body))
						req.Header.Set("Authorization", "Bearer "+token)
						req.Header.Set("Content-Encoding", "snappy")
						resp, err := http.DefaultClient.Do(req)
						if err == nil {
							resp.Body.Close()
							if resp.StatusCode != http.StatusNoContent {
								err = fmt.Errorf("push: %s", resp.Status)
							}
						}
						if err != nil {
							mu.Lock()
							failed = err
							mu.Unlock()
						}
					}
				}()
			}
			for _, r := range requests {
				work <- r
			}
			close(work)
			wg.Wait()
			el := time.Since(start)
			api.Close()
			if failed != nil {
				return failed
			}
			var stored uint64
			if err := st.Stream(ctx, "SELECT count() FROM samples FINAL", func(scan func(...any) error) error { return scan(&stored) }); err != nil {
				return err
			}
			st.Close()
			if int(stored) != len(naver)*steps {
				return fmt.Errorf("%s: %d samples stored, want %d", dsn[:5], stored, len(naver)*steps)
			}
			hwm, _ := procMemory(os.Getpid())
			backend := "chdb"
			if dsn == db {
				backend = "clickhouse"
				if err := dropDatabase(ctx, srv.DSN, "bench_rw"); err != nil {
					return err
				}
				if db, err = createDatabase(ctx, srv.DSN, "bench_rw"); err != nil {
					return err
				}
			}
			fmt.Printf("%-12s %-22d %10.2f %14.0f %14.0f %7.0f MB\n", backend, perRequest, el.Seconds(), float64(values)/el.Seconds(),
				float64(stored)/el.Seconds(), hwm)
		}
	}
	return nil
}

// pushRequests encodes the GPUs' samples over steps scrapes into snappy
// remote-write bodies of about perRequest series values each, scrape by
// scrape as a Prometheus sends them.
func dropDatabase(ctx context.Context, serverDSN, name string) error {
	st, err := store.Open(ctx, serverDSN)
	if err != nil {
		return err
	}
	defer st.Close()
	return store.DropDatabase(ctx, st, name)
}

func pushRequests(fleet *sim.Fleet, gpus []*sim.GPU, from time.Time, steps, perRequest int) (bodies [][]byte, values int) {
	var pending []gpumeter.Sample
	series := 0
	flush := func() {
		if len(pending) == 0 {
			return
		}
		req := collector.WriteRequest(pending)
		data, _ := req.Marshal()
		bodies = append(bodies, snappy.Encode(nil, data))
		values += len(req.Timeseries)
		pending, series = pending[:0], 0
	}
	for k := range steps {
		for _, g := range gpus {
			s := fleet.Sample(g, from.Add(time.Duration(k)*15*time.Second))
			pending = append(pending, s)
			series += len(collector.WriteRequest([]gpumeter.Sample{s}).Timeseries)
			if series >= perRequest {
				flush()
			}
		}
	}
	flush()
	return bodies, values
}
