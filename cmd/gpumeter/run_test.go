package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/reports"
	"github.com/nipa-gpu/gpumeter/server"
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
	srv := httptest.NewServer(server.New(st, cfg, zap.NewNop(), "test", prometheus.NewRegistry()).Handler())
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

// limits shows the small month's nhn over its borrowing limits, with its
// three violations.
func TestLimitsTable(t *testing.T) {
	dsn := storetest.Backends()[0].DSN(t)
	small := "../../testdata/reports/small/"
	for _, kind := range []string{"inventory", "projects", "allocations", "samples"} {
		if code := run(context.Background(), []string{"import", kind, small + kind + ".csv", "--store", dsn, "--log-level", "error"}); code != exitOK {
			t.Fatalf("import %s: exit %d", kind, code)
		}
	}
	var out, errOut strings.Builder
	code := runWith(context.Background(), []string{"limits", "--provider", "nhn", "--month", "2026-10", "--config", small + "config.yaml",
		"--store", dsn, "--log-level", "error"}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		"borrowed GPU-hours this month  2.508  2.000  OVER",
		"longest borrow hold, hours  3.000  2.000  OVER",
		"violations: 3",
		"borrow_too_long          GPU-G1  n1    2026-09-30T18:00:00Z  2026-09-30T21:00:00Z  3.000",
		"borrow_over_monthly_cap  -       -     2026-09-30T15:00:00Z  2026-10-31T15:00:00Z  0.508",
		"unallocated_use          GPU-G2  n1    2026-09-30T17:00:00Z  2026-09-30T17:10:00Z  0.167",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("limits output lacks %q:\n%s", want, out.String())
		}
	}
}

// The monthly job writes last month's workbook and JSON for NIPA and for
// each provider.
func TestMonthlyReportJob(t *testing.T) {
	st := storetest.Open(t, storetest.Backends()[0].DSN(t))
	cfg := config.Default()
	cfg.Schedule.ReportDir = t.TempDir()
	svc := server.New(st, cfg, zap.NewNop(), "test", prometheus.NewRegistry())
	if err := svc.MonthlyReport(context.Background()); err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(cfg.Location())
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location()).AddDate(0, -1, 0).Format("2006-01")
	for _, name := range []string{"nipa", "kakao", "naver", "nhn"} {
		for _, ext := range []string{".xlsx", ".json"} {
			if _, err := os.Stat(filepath.Join(cfg.Schedule.ReportDir, name+"-"+month+ext)); err != nil {
				t.Error(err)
			}
		}
	}
}
