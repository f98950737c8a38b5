package main

import (
	"context"
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nipa-gpu/gpumeter/internal/storetest"
)

func TestMain(m *testing.M) {
	// The kill tests run this test binary as gpumeter itself.
	if os.Getenv("GPUMETER_TEST_AS_MAIN") == "1" {
		os.Exit(run(context.Background(), os.Args[1:]))
	}
	storetest.Main(m)
}

const fleet = "../../testdata/imports/fleet/"

// A binary that uses a server must run where libchdb is absent: the library is
// opened with dlopen only when a chdb:// store is, never linked.
func TestServerStoreNeedsNoLibchdb(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	libs, _ := f.ImportedLibraries()
	f.Close()
	for _, l := range libs {
		if strings.Contains(l, "chdb") {
			t.Fatalf("binary links %s", l)
		}
	}
	t.Setenv("CHDB_LIB_PATH", "/nonexistent/libchdb.so")
	dsn := storetest.Backends()[1].DSN(t)
	for _, args := range [][]string{
		{"migrate", "--store", dsn},
		{"import", "inventory", fleet + "inventory.csv", "--store", dsn},
		{"import", "projects", fleet + "projects.csv", "--store", dsn},
		{"import", "allocations", fleet + "allocations.csv", "--store", dsn},
		{"import", "samples", fleet + "samples.csv", "--store", dsn},
	} {
		if code := run(context.Background(), args); code != exitOK {
			t.Fatalf("%v: exit %d", args, code)
		}
	}
	if code := run(context.Background(), []string{"migrate", "--store", "chdb://" + t.TempDir()}); code != exitError {
		t.Fatalf("chdb store without libchdb: exit %d, want %d", code, exitError)
	}
}

func TestExitStatuses(t *testing.T) {
	dsn := "chdb://" + t.TempDir()
	bad := filepath.Join(t.TempDir(), "inventory.csv")
	os.WriteFile(bad, []byte("gpu_uuid,provider,site,node,gpu_index,model,share,valid_from,valid_to\nGPU-1,nhn,s,n,0,B200,shared,2026-10-01T00:00:00Z,\n"), 0o644)
	quote := filepath.Join(t.TempDir(), "projects.csv")
	os.WriteFile(quote, []byte("project_id,name,kind,provider,namespace\nfoo\"bar,x,public,naver,\n"), 0o644)
	cfg := filepath.Join(t.TempDir(), "gpumeter.yaml")
	os.WriteFile(cfg, []byte("activity: {threshold_pct: 500}\n"), 0o644)
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"migrate", "--store", dsn}, exitOK},
		{[]string{"import", "inventory", fleet + "inventory.csv", "--store", dsn}, exitOK},
		{[]string{"import", "inventory", bad, "--store", dsn}, exitError},
		{[]string{"import", "projects", quote, "--store", dsn}, exitError},
		{[]string{"samples", "--gpu", "GPU-1", "--from", "2026-10-01T00:00:00Z", "--to", "2026-11-01T00:00:00Z", "--store", dsn}, exitOK},
		{[]string{"samples", "--gpu", "GPU-1", "--from", "2026-10-01", "--to", "2026-11-01T00:00:00Z"}, exitUsage},
		{[]string{"import", "inventory", "/nonexistent.csv", "--store", dsn}, exitError},
		{[]string{"migrate", "--config", cfg, "--store", dsn}, exitError},
		{[]string{"migrate", "--store", "mysql://x"}, exitError},
		{[]string{"import", "gpus", "x.csv"}, exitUsage},
		{[]string{"import", "inventory"}, exitUsage},
		{[]string{"migrate", "--no-such-flag"}, exitUsage},
		{[]string{"report", "--month", "2026-10"}, exitUsage}, // no --out
		{[]string{"report", "--month", "2026-10", "--format", "pdf", "--out", "-"}, exitUsage},
		{[]string{"report", "--month", "2026-10", "--lang", "ja", "--out", "-"}, exitUsage},
		{[]string{"frobnicate"}, exitUsage},
	} {
		if got := run(context.Background(), c.args); got != c.want {
			t.Errorf("gpumeter %s: exit %d, want %d", strings.Join(c.args, " "), got, c.want)
		}
	}
}
