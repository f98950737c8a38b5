package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/aggregator"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/server"
	"github.com/nipa-gpu/gpumeter/store"
)

// benchAPI: 50 concurrent GETs of the full-fleet month's JSON report, once
// the month is built, while a day's aggregation runs in the same process.
// Baseline: the same 50 GETs with nothing else running.
func benchAPI(dsn string, day time.Time) error {
	fmt.Println("\n== api ==")
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	cfg := config.Default()
	sum := sha256.Sum256([]byte("bench-nipa"))
	cfg.Principals = []config.Principal{{Name: "bench", Role: config.RoleNIPA, TokenSHA256: hex.EncodeToString(sum[:])}}
	srv := httptest.NewServer(server.New(st, cfg, zap.NewNop(), "bench", prometheus.NewRegistry()).Handler())
	defer srv.Close()
	get := func() (time.Duration, int, error) {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/reports/2026-10.json", nil)
		req.Header.Set("Authorization", "Bearer bench-nipa")
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start), resp.StatusCode, nil
	}
	start := time.Now()
	for {
		_, code, err := get()
		if err != nil {
			return err
		}
		if code == http.StatusOK {
			break
		}
		if code != http.StatusAccepted {
			return fmt.Errorf("GET report: HTTP %d", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Printf("first GET to a built month (202 until then): %.1f s\n", time.Since(start).Seconds())
	burst := func() ([]time.Duration, error) {
		var mu sync.Mutex
		var took []time.Duration
		var first error
		var wg sync.WaitGroup
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, code, err := get()
				mu.Lock()
				defer mu.Unlock()
				if err == nil && code != http.StatusOK {
					err = fmt.Errorf("HTTP %d", code)
				}
				if err != nil && first == nil {
					first = err
				}
				took = append(took, d)
			}()
		}
		wg.Wait()
		slices.Sort(took)
		return took, first
	}
	quiet, err := burst()
	if err != nil {
		return err
	}
	agg := aggregator.New(st, cfg, nil)
	done := make(chan error, 1)
	go func() {
		_, err := agg.Recompute(ctx, day, day.Add(24*time.Hour))
		done <- err
	}()
	time.Sleep(2 * time.Second) // well into the aggregation
	busy, err := burst()
	if err != nil {
		return err
	}
	if err := <-done; err != nil {
		return err
	}
	fmt.Printf("50 concurrent GETs of the month's JSON: median %s, slowest %s (baseline, nothing else running: median %s, slowest %s)\n",
		busy[len(busy)/2].Round(time.Millisecond), busy[len(busy)-1].Round(time.Millisecond),
		quiet[len(quiet)/2].Round(time.Millisecond), quiet[len(quiet)-1].Round(time.Millisecond))
	return nil
}
