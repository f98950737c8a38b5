package reports_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/imports"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/reports"
	"github.com/nipa-gpu/gpumeter/store"
)

func TestMain(m *testing.M) { storetest.Main(m) }

const small = "../testdata/reports/small/"

func load(t *testing.T, st store.Store, dir string) config.Config {
	t.Helper()
	im := &imports.Importer{Store: st}
	for _, kind := range imports.Kinds {
		if _, err := im.Import(context.Background(), kind, dir+kind+".csv"); err != nil {
			t.Fatal(err)
		}
	}
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

// The small case's figures are worked out by hand in
// testdata/reports/small/README.md; the report must give them exactly.
func TestSmallMonthByHand(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		cfg := load(t, st, small)
		now := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
		rep, err := reports.Build(context.Background(), st, cfg, reports.Options{Month: "2026-10", Now: now})
		if err != nil {
			t.Fatal(err)
		}
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
		again, _ := reports.Build(context.Background(), st, cfg, reports.Options{Month: "2026-10", Now: now})
		again.GeneratedAt, again.InputsSHA256 = "", ""
		if canonical(t, again) != canonical(t, rep) {
			t.Fatal("a second build differs")
		}
		only, err := reports.Build(context.Background(), st, cfg, reports.Options{Month: "2026-10", Provider: "kakao", Now: now})
		if err != nil {
			t.Fatal(err)
		}
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
