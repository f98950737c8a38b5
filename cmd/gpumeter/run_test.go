package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/reports"
)

// The HTTP API of `gpumeter run` over a store holding the small month.
func TestRunAPI(t *testing.T) {
	dsn := storetest.Backends()[0].DSN(t)
	for _, kind := range []string{"inventory", "projects", "allocations", "samples"} {
		if code := run(context.Background(), []string{"import", kind, "../../testdata/reports/small/" + kind + ".csv", "--store", dsn, "--log-level", "error"}); code != exitOK {
			t.Fatalf("import %s: exit %d", kind, code)
		}
	}
	st := storetest.Open(t, dsn)
	cfg, err := config.Load("../../testdata/reports/small/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	j := &jobs{e: &env{cfg: cfg, log: zap.NewNop(), st: st},
		runs:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "r"}, []string{"job", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "d"}, []string{"job"})}
	srv := httptest.NewServer(apiHandler(j, reg))
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	code, body := get("/api/v1/reports/2026-10.json?provider=kakao")
	var rep reports.Report
	if code != 200 || json.Unmarshal([]byte(body), &rep) != nil || rep.Month != "2026-10" || len(rep.Providers) != 1 || rep.Providers[0].Provider != "kakao" {
		t.Fatalf("report: %d %.300s", code, body)
	}
	if code, body := get("/api/v1/reports/2026-13.json"); code != 500 || !strings.Contains(body, "error") {
		t.Fatalf("bad month: %d %s", code, body)
	}
	if code, body := get("/api/v1/idle"); code != 200 || !strings.HasPrefix(strings.TrimSpace(body), "[") {
		t.Fatalf("idle: %d %s", code, body)
	}
	if code, _ := get("/api/v1/reports/2026-10.csv"); code != 404 {
		t.Fatalf("unknown file: %d", code)
	}
}
