package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
)

// collect --once --print on a node with MIG, time-slicing and sentinels: one
// correct JSON line per GPU on stdout, nothing else there.
func TestCollectOncePrint(t *testing.T) {
	body, err := os.ReadFile("../../testdata/collector/mixed-node/metrics.prom")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	var out, errOut bytes.Buffer
	if code := runWith(context.Background(), []string{"collect", "--once", "--print", "--target", srv.URL + "/metrics"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want one per GPU:\n%s", len(lines), out.String())
	}
	want := []string{
		`"gpu_uuid":"GPU-mix-0","hostname":"kakao-b200-0007","gpu_util":88,"gr_engine_active":0.91,"sm_active":0.77,"fb_used_mib":61234,"fb_free_mib":80000,"power_w":612.5,"energy_mj":123456789,"namespace":"p-2026-0117","pod":"llm-0"}`,
		`"gpu_uuid":"GPU-mix-1","hostname":"kakao-b200-0007","gpu_util":40,"gr_engine_active":0.42,"sm_active":0.3,"fb_used_mib":30000,"fb_free_mib":111234,"power_w":300.25,"energy_mj":222,"namespace":"team-a","pod":"pod-a"}`,
		`"gpu_uuid":"GPU-mix-2","hostname":"kakao-b200-0007","gpu_util":null,"gr_engine_active":0.35,"sm_active":0.25,"fb_used_mib":15000,"fb_free_mib":65000,"power_w":250.5,"energy_mj":999,"namespace":"mig-ns","pod":"mig-pod"}`,
		`"gpu_uuid":"GPU-mix-3","hostname":"kakao-b200-0007","gpu_util":null,"gr_engine_active":null,"sm_active":0,"fb_used_mib":null,"fb_free_mib":140000,"power_w":75,"energy_mj":5555,"namespace":"","pod":""}`,
	}
	for i, line := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(line, want[i]) || !strings.HasPrefix(line, `{"ts":"20`) {
			t.Errorf("line %d:\n%s\nwant suffix\n%s", i, line, want[i])
		}
	}

	// A failing target: exit 1, one line on stderr, nothing on stdout.
	out.Reset()
	errOut.Reset()
	if code := runWith(context.Background(), []string{"collect", "--once", "--print", "--target", "http://127.0.0.1:1/metrics"}, &out, &errOut); code != exitError {
		t.Fatalf("dead target: exit %d", code)
	}
	if out.Len() != 0 || strings.Count(strings.TrimSpace(errOut.String()), "\n") != 0 || !strings.Contains(errOut.String(), "refused") {
		t.Fatalf("dead target: stdout %q stderr %q", out.String(), errOut.String())
	}
}

// collect --once stores one scrape of every target and returns.
func TestCollectOnceStores(t *testing.T) {
	body, err := os.ReadFile("../../testdata/collector/mixed-node/metrics.prom")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	dsn := storetest.Backends()[0].DSN(t)
	cfg := t.TempDir() + "/c.yaml"
	os.WriteFile(cfg, []byte("collector: {spool_dir: "+t.TempDir()+", listen: \"\"}\n"), 0o644)
	var out, errOut bytes.Buffer
	if code := runWith(context.Background(), []string{"collect", "--once", "--target", srv.URL + "/metrics", "--config", cfg, "--store", dsn, "--log-level", "error"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	st := storetest.Open(t, dsn)
	if n := storetest.Count(t, st, "SELECT count() FROM samples FINAL"); n != 4 {
		t.Fatalf("%d samples stored, want 4 (one per GPU)", n)
	}
	// gpumeter samples says who sent each: the target.
	var gpu string
	if err := st.Stream(context.Background(), "SELECT min(gpu_uuid) FROM samples", func(scan func(...any) error) error { return scan(&gpu) }); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out.Reset()
	from, to := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if code := runWith(context.Background(), []string{"samples", "--gpu", gpu, "--from", from, "--to", to, "--store", dsn}, &out, &errOut); code != exitOK {
		t.Fatalf("samples: exit %d: %s", code, errOut.String())
	}
	var got gpumeter.Sample
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || got.GPUUUID != gpu || got.Origin != "scrape:"+srv.URL+"/metrics" {
		t.Fatalf("gpumeter samples printed %s (%v)", out.String(), err)
	}
}
