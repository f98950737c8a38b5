package publish_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/imports"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/ledger"
	"github.com/nipa-gpu/gpumeter/publish"
	"github.com/nipa-gpu/gpumeter/reports"
	"github.com/nipa-gpu/gpumeter/store"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const small = "../testdata/reports/small/"

func load(t *testing.T, st store.Store, dir string) config.Config {
	t.Helper()
	storetest.ImportDir(t, st, dir)
	cfg, err := config.Load(dir + "config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func canonical(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	json.Unmarshal(data, &generic)
	out, _ := json.MarshalIndent(generic, "", "  ")
	return string(out)
}

// publishJSON issues a month's report and gives its JSON.
func publishJSON(t *testing.T, st store.Store, cfg config.Config, month, provider string, now time.Time) *reports.Report {
	t.Helper()
	iss, err := publish.Publish(context.Background(), st, cfg, publish.Request{Scope: ledger.Scope{Month: month, Provider: provider, Now: now}})
	if err != nil {
		t.Fatal(err)
	}
	return iss.Report
}

// The small case's figures are worked out by hand in
// testdata/reports/small/README.md; the report must give them exactly.
func TestSmallMonthByHand(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		cfg := load(t, st, small)
		now := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
		rep := publishJSON(t, st, cfg, "2026-10", "", now)
		if rep.GeneratedAt != "2026-11-03T00:00:00Z" || len(rep.InputsSHA256) != 64 {
			t.Fatalf("generated_at %q inputs_sha256 %q", rep.GeneratedAt, rep.InputsSHA256)
		}
		rep.GeneratedAt, rep.InputsSHA256 = "", ""
		wantData, err := os.ReadFile(small + "expected.json")
		if err != nil {
			t.Fatal(err)
		}
		var want any
		if err := json.Unmarshal(wantData, &want); err != nil {
			t.Fatal(err)
		}
		if got, w := canonical(t, rep), canonical(t, want); got != w {
			t.Fatalf("report:\n%s\nwant:\n%s", got, w)
		}
		// The same store gives the same report; the provider's report holds
		// nothing of the others.
		again := publishJSON(t, st, cfg, "2026-10", "", now)
		again.GeneratedAt, again.InputsSHA256 = "", ""
		if canonical(t, again) != canonical(t, rep) {
			t.Fatal("a second build differs")
		}
		only := publishJSON(t, st, cfg, "2026-10", "kakao", now)
		data, _ := json.Marshal(only)
		for _, foreign := range []string{"nhn", "GPU-G1", "GPU-G2", "GPU-G3", "p-pub", "p-own", `"n1"`, `"n2"`, "GPU-UNKNOWN"} {
			if bytes.Contains(data, []byte(foreign)) {
				t.Errorf("kakao's report mentions %s:\n%s", foreign, data)
			}
		}
		if len(only.Providers) != 1 || only.DataQuality.UnregisteredGPUs != 0 {
			t.Errorf("kakao report: %s", data)
		}
	})
}

// A report issued again after late data says which figures changed.
func TestReissueSaysWhatChanged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		cfg := load(t, st, small)
		now := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
		first, err := publish.Publish(ctx, st, cfg, publish.Request{Scope: ledger.Scope{Month: "2026-10", Now: now}})
		if err != nil || !first.Previous.IsZero() || first.Changes != nil {
			t.Fatalf("first issue: %v", err)
		}
		// G3 (private, lent to p-pub) reports late: one sample at 01:00 KST, active.
		late := t.TempDir() + "/late.csv"
		os.WriteFile(late, []byte("ts,gpu_uuid,hostname,gpu_util,gr_engine_active,sm_active,fb_used_mib,fb_free_mib,power_w,energy_mj,namespace,pod\n"+
			"2026-10-01T01:00:00+09:00,GPU-G3,n2,90,,,,,,,,\n"), 0o644)
		if _, err := (&imports.Importer{Store: st}).Samples(ctx, late); err != nil {
			t.Fatal(err)
		}
		second, err := publish.Publish(ctx, st, cfg, publish.Request{Scope: ledger.Scope{Month: "2026-10", Now: now.Add(time.Hour)}})
		if err != nil || !second.Previous.Equal(now) {
			t.Fatalf("previous %v, %v", second, err)
		}
		var got []string
		for _, c := range second.Changes {
			got = append(got, c.Path+": "+c.Was+" -> "+c.Now)
		}
		// 60 s of G3 move from no_data to public_active, on the private share:
		// lent, public_active charges, and coverage change with them.
		want := []string{
			"data_quality.coverage_pct: 60.451 -> 60.521", // 52,290 of 86,400 s
			"data_quality.nodes_without_data[n2]: n2 -> ",
			"projects[p-pub].active_gpu_hours: 2 -> 2.017",
			"projects[p-pub].no_data_gpu_hours: 6 -> 5.983",
			"providers[nhn].attribution_gpu_hours.unlabeled: 11.508 -> 11.525", // 60 s more covered, no namespace
			"providers[nhn].charges_krw[public_active B200].gpu_hours: 2 -> 2.017",
			"providers[nhn].charges_krw[public_active B200].krw: 3001 -> 3026", // 7,260 s × 1,500.5 / 3,600 = 3,025.99
			"providers[nhn].hours.private.no_data: 6 -> 5.983",
			"providers[nhn].hours.private.public_active: 0 -> 0.017",
			"providers[nhn].lent_gpu_hours: 0 -> 0.017",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}

// The same month on a real replicated cluster (ZooKeeper and two shards):
// ON CLUSTER DDL, Replicated tables and Distributed reads give the figures
// worked out by hand, with the data spread over both shards.
func TestSmallMonthOnCluster(t *testing.T) {
	c, err := storetest.NewCluster()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Remove()
	st := storetest.Open(t, c.DSN)
	cfg := load(t, st, small)
	now := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	rep := publishJSON(t, st, cfg, "2026-10", "", now)
	rep.GeneratedAt, rep.InputsSHA256 = "", ""
	wantData, _ := os.ReadFile(small + "expected.json")
	var want any
	json.Unmarshal(wantData, &want)
	if got, w := canonical(t, rep), canonical(t, want); got != w {
		t.Fatalf("report on the cluster:\n%s\nwant:\n%s", got, w)
	}
	total := 0
	for _, dsn := range c.ServerDSNs() {
		shard, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		n := storetest.Count(t, shard, "SELECT count() FROM samples_local")
		shard.Close()
		if n == 0 {
			t.Fatalf("shard %s holds no samples: want some on each", dsn)
		}
		total += n
	}
	if total != 2101 {
		t.Fatalf("shards hold %d samples, the file has 2,101", total)
	}
}

// A provider's workbook holds nothing of the other providers.
func TestProviderWorkbookIsItsOwn(t *testing.T) {
	st := storetest.Open(t, storetest.Backends()[0].DSN(t))
	cfg := load(t, st, small)
	now := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	iss, err := publish.Publish(context.Background(), st, cfg, publish.Request{Scope: ledger.Scope{Month: "2026-10", Provider: "kakao", Now: now}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := iss.WriteWorkbook(&buf, "en"); err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, sheet := range f.GetSheetList() {
		rows, _ := f.GetRows(sheet)
		for _, row := range rows {
			for _, c := range row {
				for _, foreign := range []string{"nhn", "GPU-G1", "GPU-G2", "GPU-G3", "p-pub", "p-own", "GPU-UNKNOWN"} {
					if strings.Contains(c, foreign) {
						t.Errorf("%s: %q mentions %s", sheet, c, foreign)
					}
				}
			}
		}
	}
}

// The configuration a workbook records holds no secret and no principal.
func TestConfigTextHidesSecretsAndPrincipals(t *testing.T) {
	cfg := config.Default()
	cfg.Store = "clickhouse://gm:dbpa55@db:9000/metering?password=dbpa55"
	cfg.Webhook = config.Webhook{URL: "https://hook:hookpa55@portal.example/idle?token=t0ken", Secret: "s3cret"}
	cfg.Principals = []config.Principal{{Name: "nhn-ops", Role: config.RoleProvider, Provider: "nhn",
		TokenSHA256: "32fdbb4ca72fda2b646436c88c39ab0e010e69e22427f2884521aa51889ce7ae"}}
	text := publish.ConfigText(cfg, "nhn")
	for _, secret := range []string{"dbpa55", "hookpa55", "t0ken", "s3cret", "nhn-ops", "32fdbb4c", "principals", "kakao"} {
		if strings.Contains(text, secret) {
			t.Errorf("the workbook's configuration shows %q:\n%s", secret, text)
		}
	}
}
