package server_test

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

func TestMain(m *testing.M) { storetest.Main(m) }

// The HTTP API over a store holding the small month.
func TestAPI(t *testing.T) {
	st := storetest.Open(t, storetest.Backends()[0].DSN(t))
	storetest.ImportDir(t, st, "../testdata/reports/small/")
	cfg, err := config.Load("../testdata/reports/small/config.yaml")
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
	// Reads never write: no rollups, runs or issues appear behind a GET.
	written := func() int {
		return storetest.Count(t, st, "SELECT count() FROM gpu_hours") + storetest.Count(t, st, "SELECT count() FROM aggregate_runs") +
			storetest.Count(t, st, "SELECT count() FROM report_issues")
	}
	defer func() {
		if n := written(); n != 0 {
			t.Errorf("the API's GETs wrote %d rows", n)
		}
	}()
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
