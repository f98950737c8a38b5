package collector

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/ingest"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/store"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func payload(t *testing.T, name string) []byte {
	data, err := os.ReadFile("../testdata/collector/" + name + "/metrics.prom")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func serve(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

func newCollector(t *testing.T, sink Sink, targets []string, spoolDir string) (*Collector, *Metrics) {
	m := NewMetrics(prometheus.NewRegistry())
	log := zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))
	if s, ok := sink.(*StoreSink); ok {
		s.Ingest, s.Log = m.Ingest, log
	}
	sp, err := OpenSpool(spoolDir, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	return &Collector{
		Targets: &Targets{Static: targets}, Interval: time.Second, Timeout: 500 * time.Millisecond,
		Concurrency: 4, Metrics: m, Log: log,
		Writer: &Writer{Sink: sink, Spool: sp, Metrics: m, Log: log, BatchRows: 1000,
			FlushInterval: 200 * time.Millisecond, RetryMin: 200 * time.Millisecond, RetryMax: time.Second},
	}, m
}

// storeSink writes into st, opened already.
func storeSink(st store.Store) *StoreSink {
	return &StoreSink{Open: func(context.Context) (store.Store, error) { return st, nil }}
}

func countSamples(t *testing.T, st store.Store, where string) (final, raw int) {
	t.Helper()
	for i, q := range []string{"SELECT count() FROM samples FINAL", "SELECT count() FROM samples"} {
		n := storetest.Count(t, st, q+" WHERE "+where)
		if i == 0 {
			final = n
		} else {
			raw = n
		}
	}
	return final, raw
}

// Good, failing, slow and garbage targets side by side: every round of the
// good ones lands, the bad ones are counted and invent nothing.
func TestCollectorWithBadTargets(t *testing.T) {
	st := storetest.Open(t, storetest.Backends()[0].DSN(t))
	good := payload(t, "mixed-node")
	var fails atomic.Int32
	targets := []string{
		serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write(good) }),
		serve(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "reloading", 500) }),
		serve(t, func(w http.ResponseWriter, r *http.Request) {
			select { // slower than the timeout, and than the interval
			case <-time.After(3 * time.Second):
			case <-r.Context().Done():
			}
		}),
		serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write(payload(t, "garbage")) }),
		serve(t, func(w http.ResponseWriter, r *http.Request) { fails.Add(1) }), // 200 with an empty body
		"http://127.0.0.1:1/metrics", // refused
	}
	c, m := newCollector(t, storeSink(st), targets, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 4500*time.Millisecond)
	defer cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	okRounds := int(testutil.ToFloat64(m.Scrapes.WithLabelValues(targets[0], "ok")))
	if okRounds < 3 {
		t.Fatalf("good target scraped %d times in 4.5 s at 1 s", okRounds)
	}
	final, raw := countSamples(t, st, "1")
	if final != 4*okRounds || raw != final {
		t.Fatalf("stored %d (raw %d) samples, want %d (4 GPUs × %d rounds)", final, raw, 4*okRounds, okRounds)
	}
	for target, outcome := range map[string]string{targets[1]: "http_5xx", targets[2]: "timeout", targets[3]: "parse_error",
		targets[4]: "empty", targets[5]: "refused"} {
		if n := testutil.ToFloat64(m.Scrapes.WithLabelValues(target, outcome)); n < 2 {
			t.Errorf("%s: %v scrapes counted %s", target, n, outcome)
		}
		if up := testutil.ToFloat64(m.TargetUp.WithLabelValues(target)); up != 0 {
			t.Errorf("%s marked up", target)
		}
	}
	if n := testutil.ToFloat64(m.Ingest.Invalid(ingest.Scrape, "", "gpu_util", ReasonOutOfRange)); n != float64(okRounds) {
		t.Errorf("out-of-range gpu_util counted %v times, want %d", n, okRounds)
	}
	// The slow target's scrapes are timed out, never stacked.
	if n := testutil.ToFloat64(m.Overlaps.WithLabelValues(targets[2])); n != 0 {
		t.Errorf("slow target overlapped %v times despite the timeout", n)
	}
}

// The store goes down in the middle of collecting and comes back: every sample
// arrives exactly once.
func TestOutageLosesAndDuplicatesNothing(t *testing.T) {
	srv, err := storetest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Remove()
	st := storetest.Open(t, srv.DSN)
	good := payload(t, "mixed-node")
	target := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write(good) })
	spoolDir := t.TempDir()
	c, m := newCollector(t, storeSink(st), []string{target}, spoolDir)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()

	time.Sleep(2200 * time.Millisecond)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	spooled, _, _ := c.Writer.Spool.Stats()
	if spooled == 0 {
		t.Fatal("nothing spooled while the store was down")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	rounds := int(testutil.ToFloat64(m.Scrapes.WithLabelValues(target, "ok")))
	final, raw := countSamples(t, st, "1")
	if final != 4*rounds {
		t.Fatalf("%d samples stored, want %d (4 GPUs × %d rounds)", final, 4*rounds, rounds)
	}
	if raw != final {
		t.Fatalf("%d rows for %d samples: a batch was written twice", raw, final)
	}
	if b, segs, _ := c.Writer.Spool.Stats(); b != 0 || segs != 0 {
		t.Fatalf("spool not drained: %d bytes in %d segments", b, segs)
	}
	if testutil.ToFloat64(m.WriteErrors) == 0 || testutil.ToFloat64(m.SpoolDropped) != 0 {
		t.Fatalf("write errors %v, dropped %v", testutil.ToFloat64(m.WriteErrors), testutil.ToFloat64(m.SpoolDropped))
	}
	entries, _ := os.ReadDir(spoolDir)
	if len(entries) != 0 {
		t.Fatalf("spool dir holds %d files", len(entries))
	}
}

func TestSpoolOrderLimitAndRestart(t *testing.T) {
	dir := t.TempDir()
	sp, err := OpenSpool(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	batch := func(gpu string, n int) []Owned {
		out := make([]Owned, n)
		for i := range out {
			u := float64(i % 100)
			out[i] = Owned{Sample: gpumeter.Sample{TS: scrapeTime.Add(time.Duration(i) * time.Second), GPUUUID: gpu, GPUUtil: &u}, Owner: "nhn"}
		}
		return out
	}
	for _, g := range []string{"a", "b", "c"} {
		if dropped, err := sp.Put(batch(g, 10)); err != nil || dropped != 0 {
			t.Fatal(dropped, err)
		}
	}
	// Reopened (a restart), the segments are still there, oldest first.
	sp, err = OpenSpool(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := sp.Oldest()
	if err != nil || !ok || len(got) != 10 || got[0].GPUUUID != "a" || *got[9].GPUUtil != 9 || !got[0].TS.Equal(scrapeTime) || got[0].Owner != "nhn" {
		t.Fatalf("oldest: %v %v %+v", ok, err, got[:1])
	}
	sp.DropOldest()
	got, _, _ = sp.Oldest()
	if got[0].GPUUUID != "b" {
		t.Fatalf("order: %s", got[0].GPUUUID)
	}
	// A spool at its limit drops its oldest segments, and says how many samples.
	size, _, _ := sp.Stats()
	sp.MaxBytes = size + 10
	dropped, err := sp.Put(batch("d", 10))
	if err != nil || dropped != 10 {
		t.Fatalf("dropped %d, %v", dropped, err)
	}
	got, _, _ = sp.Oldest()
	if got[0].GPUUUID != "c" {
		t.Fatalf("after drop, oldest is %s", got[0].GPUUUID)
	}
	if !strings.HasSuffix(filepath.Base(sp.segs[0].path), ".jsonl.gz") {
		t.Fatal(sp.segs[0].path)
	}
}

func TestTargetsFileIsReread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "targets")
	list := func(ts []Target) string {
		var out []string
		for _, tg := range ts {
			out = append(out, tg.URL+"="+tg.Provider)
		}
		return strings.Join(out, " ")
	}
	os.WriteFile(path, []byte("# nodes\nhttp://a:9400/metrics\n\nhttp://b:9400/metrics kakao # rack 2\n"), 0o644)
	tg := &Targets{Static: []string{"http://a:9400/metrics"}, Provider: "nhn", File: path, Providers: []string{"kakao", "nhn"}}
	got, err := tg.Current()
	if err != nil || list(got) != "http://a:9400/metrics=nhn http://b:9400/metrics=kakao" {
		t.Fatalf("%v %v", got, err)
	}
	os.WriteFile(path, []byte("http://c:9400/metrics\n"), 0o644)
	os.Chtimes(path, time.Now().Add(time.Second), time.Now().Add(time.Second))
	if got, _ = tg.Current(); list(got) != "http://a:9400/metrics=nhn http://c:9400/metrics=nhn" {
		t.Fatalf("after change: %v", got)
	}
	for i, bad := range map[string]string{"c:9400\n": `targets:1: "c:9400" is not an http(s) URL`,
		"http://d/metrics sk\n": `targets:1: provider "sk" is not configured`, "http://d/metrics a b\n": `targets:1: want URL [provider], got 3 fields`} {
		os.WriteFile(path, []byte(i), 0o644)
		os.Chtimes(path, time.Now().Add(2*time.Second), time.Now().Add(2*time.Second))
		got, err = tg.Current()
		if err == nil || !strings.Contains(err.Error(), bad) || list(got) != "http://a:9400/metrics=nhn http://c:9400/metrics=nhn" {
			t.Fatalf("bad file %q: %v %v", i, got, err)
		}
	}
}

// N collectors with --shard I/N cover every target once.
func TestShardsSplitTargets(t *testing.T) {
	const n = 3
	shards := make([]Shard, n)
	for i := range shards {
		var err error
		if shards[i], err = ParseShard(fmt.Sprintf("%d/%d", i, n)); err != nil {
			t.Fatal(err)
		}
	}
	counts := make([]int, n)
	for k := range 1642 {
		url := fmt.Sprintf("http://node-%04d:9400/metrics", k)
		owners := 0
		for i, sh := range shards {
			if sh.Has(url) {
				owners++
				counts[i]++
			}
		}
		if owners != 1 {
			t.Fatalf("%s is in %d shards", url, owners)
		}
	}
	for i, c := range counts {
		if c < 1642/n*8/10 {
			t.Errorf("shard %d/%d has %d of 1642 targets", i, n, c)
		}
	}
	for _, bad := range []string{"3/3", "-1/3", "1/0", "1", "a/b", "1/3x"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("shard %q accepted", bad)
		}
	}
}
