package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/collector"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/ingest"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/reports"
	"github.com/nipa-gpu/gpumeter/store"
)

func push(t *testing.T, url, token string, req *prompb.WriteRequest) (int, string) {
	t.Helper()
	data, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return pushBody(t, url, token, snappy.Encode(nil, data))
}

func pushBody(t *testing.T, url, token string, body []byte) (int, string) {
	t.Helper()
	r, _ := http.NewRequest("POST", url+"/api/v1/write", bytes.NewReader(body))
	r.Header.Set("Content-Encoding", "snappy")
	r.Header.Set("Content-Type", "application/x-protobuf")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

func pushed(at time.Time, gpu string, util float64) gpumeter.Sample {
	return gpumeter.Sample{TS: at, GPUUUID: gpu, Hostname: "n1", GPUUtil: &util}
}

// An ingest principal's push stores its provider's GPUs; another provider's
// GPU, or one in no inventory at that time, is refused (400 with the counts,
// the valid samples stored), counted, and in the month's data quality.
func TestRemoteWriteOwnership(t *testing.T) {
	s, st := smallService(t)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	// 2026-09-30T16:00:07Z: the small month's inventory is valid, and no
	// sample is stored at that second (they are 30 s apart, on the minute).
	at := smallStart.Add(time.Hour + 7*time.Second)
	// The pushes are of the small month, as seen from a clock a few hours on.
	s.push.ingest.MaxPushAge, s.push.ingest.Now = 12*time.Hour, func() time.Time { return at.Add(9 * time.Hour) }
	mixed := collector.WriteRequest([]gpumeter.Sample{
		pushed(at, "GPU-G1", 50), pushed(at, "GPU-K1", 50), pushed(at, "GPU-NOPE", 50), pushed(at.Add(8*time.Hour), "GPU-G2", 50),
	})
	code, body := push(t, srv.URL, "tok-push", mixed)
	var refused WriteRefused
	if code != 400 || json.Unmarshal([]byte(body), &refused) != nil || refused.Accepted != 1 ||
		refused.Refused["foreign_gpu"] != 1 || refused.Refused["unknown_gpu"] != 2 {
		t.Fatalf("mixed push: %d %s", code, body)
	}
	if n := storetest.Count(t, st, "SELECT count() FROM samples WHERE ts = toDateTime('2026-09-30 16:00:07') AND gpu_util = 50"); n != 1 {
		t.Fatalf("%d pushed samples stored, want GPU-G1's only", n)
	}
	if n := storetest.Count(t, st, "SELECT count() FROM samples WHERE gpu_uuid IN ('GPU-K1', 'GPU-NOPE') AND gpu_util = 50"); n != 0 {
		t.Fatalf("refused samples stored: %d", n)
	}
	if got := testutil.ToFloat64(s.push.ingestMetrics.Stored(ingest.RemoteWrite, "nhn")); got != 1 {
		t.Errorf("gpumeter_ingested_samples_total{source=remote_write,provider=nhn} = %v, want 1", got)
	}
	for reason, want := range map[string]float64{"foreign_gpu": 1, "unknown_gpu": 2} {
		if got := testutil.ToFloat64(s.push.ingestMetrics.Refused(ingest.RemoteWrite, "nhn", reason)); got != want {
			t.Errorf("gpumeter_refused_samples_total{source=remote_write,provider=nhn,reason=%s} = %v, want %v", reason, got, want)
		}
	}
	// What a scrape would count as invalid, a push counts too: a utilisation
	// of 4294967295 is a missing value, never stored.
	if code, body := push(t, srv.URL, "tok-push", collector.WriteRequest([]gpumeter.Sample{pushed(at.Add(3*time.Minute), "GPU-G1", 4294967295)})); code != 204 {
		t.Fatalf("out-of-range push: %d %s", code, body)
	}
	if got := testutil.ToFloat64(s.push.ingestMetrics.Invalid(ingest.RemoteWrite, "nhn", "gpu_util", collector.ReasonOutOfRange)); got != 1 {
		t.Errorf("gpumeter_invalid_values_total{source=remote_write,provider=nhn,field=gpu_util,reason=out_of_range} = %v, want 1", got)
	}
	// A staleness marker says a series ended: nothing is stored of it.
	marker := pushed(at.Add(time.Minute), "GPU-G1", 0)
	marker.Hostname = "stale-host"
	stale := collector.WriteRequest([]gpumeter.Sample{marker})
	stale.Timeseries[0].Samples[0].Value = math.Float64frombits(value.StaleNaN)
	if code, body := push(t, srv.URL, "tok-push", stale); code != 204 {
		t.Fatalf("stale marker: %d %s", code, body)
	}
	if code, body := push(t, srv.URL, "tok-push", collector.WriteRequest([]gpumeter.Sample{pushed(at.Add(2*time.Minute), "GPU-G2", 7)})); code != 204 {
		t.Fatalf("valid push: %d %s", code, body)
	}
	if n := storetest.Count(t, st, "SELECT count() FROM samples WHERE hostname = 'stale-host' OR gpu_util = 7"); n != 1 {
		t.Fatalf("stale and valid pushes stored %d samples, want 1 (the valid one)", n)
	}
	if got := refusedInReport(t, srv); got != (reports.Refused{ForeignGPU: 1, UnknownGPU: 2}) {
		t.Fatalf("report's refused samples: %+v", got)
	}
	// Only ingest principals push; bodies are checked.
	for token, want := range map[string]int{"tok-nipa": 403, "tok-nhn": 403, "": 401, "nope": 401} {
		if code, _ := push(t, srv.URL, token, mixed); code != want {
			t.Errorf("push as %q: %d, want %d", token, code, want)
		}
	}
	for name, b := range map[string][]byte{"not snappy": []byte("hello"), "not protobuf": snappy.Encode(nil, []byte("\xff\xff\xff"))} {
		if code, body := pushBody(t, srv.URL, "tok-push", b); code != 400 || !json.Valid([]byte(body)) {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	s.push.maxWriteBytes = 4096
	var many []gpumeter.Sample
	for i := range 200 {
		many = append(many, pushed(at.Add(time.Duration(i)*time.Second), "GPU-G1", 1))
	}
	if code, body := push(t, srv.URL, "tok-push", collector.WriteRequest(many)); code != 413 || !strings.Contains(body, "too large") {
		t.Fatalf("over max_write_bytes: %d %s", code, body)
	}
}

// refusedInReport is nhn's October data quality's refused samples.
func refusedInReport(t *testing.T, srv *httptest.Server) reports.Refused {
	t.Helper()
	c := client{t: t, url: srv.URL, c: srv.Client()}
	_, rep := c.ready("/api/v1/reports/2026-10.json?provider=nhn", "tok-nipa")
	var r reports.Report
	if err := json.Unmarshal([]byte(rep), &r); err != nil {
		t.Fatal(err)
	}
	return r.DataQuality.RefusedSamples
}

// A push reports what was just seen: a sample older than
// server.max_push_age or more than five minutes ahead is refused (too_old,
// too_new), and one at a time the store cannot hold is bad input
// (bad_timestamp): 400 with the counts, never a 5xx that a sender would
// retry forever; the valid samples are stored; the refusals are in the
// month's data quality.
func TestRemoteWriteTimes(t *testing.T) {
	s, st := smallService(t)
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	now := smallStart.Add(4*time.Hour + 7*time.Second) // off the stored samples' seconds
	s.push.ingest.Now = func() time.Time { return now }
	req := collector.WriteRequest([]gpumeter.Sample{
		pushed(now.Add(-time.Minute), "GPU-G1", 31),                         // fresh
		pushed(now.Add(-3*time.Hour), "GPU-G1", 32),                         // older than the default 2 h
		pushed(now.Add(10*time.Minute), "GPU-G1", 33),                       // ahead
		pushed(time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), "GPU-G1", 34), // before 1970
	})
	for range 2 { // a sender's retry gets the same answer
		code, body := push(t, srv.URL, "tok-push", req)
		var refused WriteRefused
		if code != 400 || json.Unmarshal([]byte(body), &refused) != nil || refused.Accepted != 1 ||
			!reflect.DeepEqual(refused.Refused, map[string]int{"too_old": 1, "too_new": 1, "bad_timestamp": 1}) {
			t.Fatalf("push: %d %s", code, body)
		}
	}
	if n := storetest.Count(t, st, "SELECT count() FROM samples FINAL WHERE gpu_util >= 31 AND gpu_util <= 34"); n != 1 {
		t.Fatalf("%d samples stored, want the fresh one", n)
	}
	// Twice each: the bad timestamp in the hour it arrived (04:00 KST on the
	// 1st), too_old and too_new in their own (01:00 and 04:00).
	if got := refusedInReport(t, srv); got != (reports.Refused{BadTimestamp: 2, TooOld: 2, TooNew: 2}) {
		t.Fatalf("report's refused samples: %+v", got)
	}
}

// The probe's attack: nhn's ingest token pushes GPU-G2's use of 02:00–02:10
// KST on October 1st as idle, to make its unallocated_use violation vanish.
// Pushed weeks later it is too old; pushed at once, the seconds are stored
// already: refused either way (400, counted, in the data quality), the
// imported samples stay and so does the violation.
func TestPushCannotRewriteHistory(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			s, st := smallServiceOn(t, b.DSN(t))
			srv := httptest.NewServer(s.Handler())
			defer srv.Close()
			use := smallStart.Add(2 * time.Hour) // 02:00 KST
			var idle []gpumeter.Sample
			for i := range 20 {
				zero := 0.0
				sm := pushed(use.Add(time.Duration(i)*30*time.Second), "GPU-G2", 0)
				sm.GrEngineActive = &zero
				idle = append(idle, sm)
			}
			for _, c := range []struct {
				now    time.Time
				reason string
			}{{time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC), gpumeter.RefusedTooOld}, {use.Add(15 * time.Minute), gpumeter.RefusedConflict}} {
				s.push.ingest.Now = func() time.Time { return c.now }
				code, body := push(t, srv.URL, "tok-push", collector.WriteRequest(idle))
				var refused WriteRefused
				if code != 400 || json.Unmarshal([]byte(body), &refused) != nil || refused.Accepted != 0 ||
					!reflect.DeepEqual(refused.Refused, map[string]int{c.reason: 20}) {
					t.Fatalf("push at %s: %d %s", c.now, code, body)
				}
			}
			got, err := store.Samples(context.Background(), st, "GPU-G2", use, use.Add(10*time.Minute))
			if err != nil || len(got) != 20 || *got[0].GrEngineActive != 0.8 || !strings.HasPrefix(got[0].Origin, "import:") {
				t.Fatalf("GPU-G2's samples of 02:00–02:10: %d, %v", len(got), err)
			}
			c := client{t: t, url: srv.URL, c: srv.Client()}
			_, body := c.ready("/api/v1/reports/2026-10.json?provider=nhn", "tok-nipa")
			var rep reports.Report
			if err := json.Unmarshal([]byte(body), &rep); err != nil {
				t.Fatal(err)
			}
			var kept bool
			for _, p := range rep.Providers {
				for _, v := range p.Violations {
					kept = kept || v.Kind == gpumeter.UnallocatedUse && v.GPUUUID == "GPU-G2" && v.GPUHours == 0.167
				}
			}
			if !kept || rep.DataQuality.RefusedSamples != (reports.Refused{TooOld: 20, Conflict: 20}) {
				t.Fatalf("report after the attack: violation kept %v, refused %+v", kept, rep.DataQuality.RefusedSamples)
			}
		})
	}
}

// An agent (collect --remote-write) pushes through its spool: the central
// service stopped for a while and started again, nothing is lost and
// nothing written twice.
func TestAgentSurvivesCentralOutage(t *testing.T) {
	st := storetest.Open(t, storetest.Backends()[0].DSN(t))
	storetest.ImportDir(t, st, storetest.WriteFiles(t, map[string]string{"inventory.csv": "gpu_uuid,provider,site,node,gpu_index,model,share,valid_from,valid_to\n" +
		"GPU-mix-0,nhn,s,kakao-b200-0007,0,B200,government,2026-01-01T00:00:00Z,\n" +
		"GPU-mix-1,nhn,s,kakao-b200-0007,1,B200,government,2026-01-01T00:00:00Z,\n" +
		"GPU-mix-2,nhn,s,kakao-b200-0007,2,B200,government,2026-01-01T00:00:00Z,\n" +
		"GPU-mix-3,nhn,s,kakao-b200-0007,3,B200,government,2026-01-01T00:00:00Z,\n"}))
	cfg := config.Default()
	cfg.Principals = []config.Principal{{Name: "nhn-push", Role: config.RoleIngest, Provider: "nhn", TokenSHA256: sum("push-token")}}
	svc := New(st, cfg, zap.NewNop(), "test", prometheus.NewRegistry())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	central := &http.Server{Handler: svc.Handler()}
	go central.Serve(ln)

	payload, err := os.ReadFile("../testdata/collector/mixed-node/metrics.prom")
	if err != nil {
		t.Fatal(err)
	}
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(payload) }))
	defer exporter.Close()
	m := collector.NewMetrics(prometheus.NewRegistry())
	log := zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))
	spool, err := collector.OpenSpool(t.TempDir(), 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector.Collector{Targets: &collector.Targets{Static: []string{exporter.URL}}, Interval: time.Second,
		Timeout: 500 * time.Millisecond, Concurrency: 2, Limits: collector.DefaultLimits, Metrics: m, Log: log,
		Writer: &collector.Writer{Sink: &collector.RemoteWrite{URL: "http://" + addr + "/api/v1/write", Token: "push-token"},
			Spool: spool, Metrics: m, Log: log, BatchRows: 1000, FlushInterval: 200 * time.Millisecond,
			RetryMin: 200 * time.Millisecond, RetryMax: time.Second}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()

	time.Sleep(2200 * time.Millisecond)
	shut, stop := context.WithTimeout(context.Background(), 5*time.Second)
	central.Shutdown(shut) // as systemd stops it: requests in flight finish
	stop()
	time.Sleep(3 * time.Second)
	if b, _, _ := spool.Stats(); b == 0 {
		t.Fatal("nothing spooled while the central service was down")
	}
	if ln, err = net.Listen("tcp", addr); err != nil {
		t.Fatal(err)
	}
	central = &http.Server{Handler: svc.Handler()}
	go central.Serve(ln)
	defer central.Close()
	time.Sleep(3 * time.Second)
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	rounds := int(testutil.ToFloat64(m.Scrapes.WithLabelValues(exporter.URL, "ok")))
	final := storetest.Count(t, st, "SELECT count() FROM samples FINAL")
	raw := storetest.Count(t, st, "SELECT count() FROM samples")
	if final != 4*rounds || raw != final {
		t.Fatalf("%d samples (%d rows) stored centrally, want %d (4 GPUs × %d rounds), each once", final, raw, 4*rounds, rounds)
	}
	if b, _, _ := spool.Stats(); b != 0 {
		t.Fatalf("agent spool not drained: %d bytes", b)
	}
	if testutil.ToFloat64(m.Dropped) != 0 || testutil.ToFloat64(m.WriteErrors) == 0 {
		t.Fatalf("dropped %v, write errors %v", testutil.ToFloat64(m.Dropped), testutil.ToFloat64(m.WriteErrors))
	}
	// Pushed samples are the scraped ones: compare one GPU with a direct parse.
	want, _, _ := collector.ParseDCGM(bytes.NewReader(payload), time.Unix(0, 0), collector.DefaultLimits)
	got, err := store.Samples(context.Background(), st, "GPU-mix-1", time.Unix(0, 0), time.Now().Add(time.Hour))
	if err != nil || len(got) == 0 {
		t.Fatal(got, err)
	}
	for _, g := range got {
		if g.Origin != "remote_write:nhn-push" {
			t.Fatalf("origin %q, want the ingest principal's", g.Origin)
		}
		g.TS, g.Origin = time.Unix(0, 0).UTC(), ""
		if a, b := jsonOf(g), jsonOf(want[1]); a != b {
			t.Fatalf("pushed %s\nscraped %s", a, b)
		}
	}
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
