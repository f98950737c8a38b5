package ingest_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/ingest"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/store"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var t0 = time.Date(2026, 10, 1, 2, 0, 0, 0, time.UTC)

const inventory = "gpu_uuid,provider,site,node,gpu_index,model,share,valid_from,valid_to\n" +
	"GPU-N1,nhn,s,n1,0,B200,government,2026-01-01T00:00:00Z,\n" +
	"GPU-N2,nhn,s,n1,1,B200,government,2026-01-01T00:00:00Z,2026-10-01T03:00:00Z\n" +
	"GPU-K1,kakao,s,k1,0,B200,government,2026-01-01T00:00:00Z,\n"

func sample(gpu string, t time.Time, util float64) gpumeter.Sample {
	return gpumeter.Sample{GPUUUID: gpu, TS: t, Hostname: "h", GPUUtil: &util}
}

// Every road in does the same five things: ownership (SPEC §9), the write,
// the dirty hours, the refusals recorded by hour for the data quality, and
// the counters.
func TestWrite(t *testing.T) {
	dir := storetest.WriteFiles(t, map[string]string{"inventory.csv": inventory})
	storetest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		storetest.ImportDir(t, st, dir)
		m := ingest.NewMetrics(prometheus.NewRegistry())
		in := ingest.New(st, m, nil)
		in.Now = func() time.Time { return t0.Add(2 * time.Hour) } // pushed as they were seen
		before := uint64(time.Now().UnixNano())
		push := []gpumeter.Sample{
			sample("GPU-N1", t0, 50),
			sample("GPU-K1", t0, 50),                     // kakao's
			sample("GPU-X", t0.Add(time.Minute), 50),     // nobody's
			sample("GPU-N2", t0.Add(90*time.Minute), 50), // nhn's row ended at 03:00
		}
		res, err := in.Write(ctx, ingest.Origin{Source: ingest.RemoteWrite, Provider: "nhn"}, push)
		if err != nil {
			t.Fatal(err)
		}
		if res.Stored != 1 || res.Refused[gpumeter.RefusedForeignGPU] != 1 || res.Refused[gpumeter.RefusedUnknownGPU] != 2 || res.RefusedTotal() != 3 {
			t.Fatalf("result %+v", res)
		}
		if n := storetest.Count(t, st, "SELECT count() FROM samples"); n != 1 {
			t.Fatalf("%d samples stored, want GPU-N1's only", n)
		}
		// Refusals are recorded in the hour of their samples.
		for _, c := range []struct {
			hour    time.Time
			foreign uint64
			unknown uint64
		}{{t0, 1, 1}, {t0.Add(time.Hour), 0, 1}} {
			got, err := store.Rejections(ctx, st, c.hour.Unix(), c.hour.Add(time.Hour).Unix(), "nhn")
			if err != nil || got[gpumeter.RefusedForeignGPU] != c.foreign || got[gpumeter.RefusedUnknownGPU] != c.unknown {
				t.Fatalf("rejections recorded in %s: %v %v", c.hour, got, err)
			}
		}
		dirty, err := store.DirtySince(ctx, st, before, uint64(time.Now().UnixNano()))
		if err != nil {
			t.Fatal(err)
		}
		if want := [2]int64{t0.Add(-ingest.MaxGap).Unix(), t0.Add(ingest.MaxGap + time.Second).Unix()}; !slices.Contains(dirty, want) {
			t.Fatalf("dirty ranges %v, want %v among them", dirty, want)
		}
		if got := testutil.ToFloat64(m.Stored(ingest.RemoteWrite, "nhn")); got != 1 {
			t.Errorf("stored counter %v, want 1", got)
		}
		for reason, want := range map[string]float64{gpumeter.RefusedForeignGPU: 1, gpumeter.RefusedUnknownGPU: 2} {
			if got := testutil.ToFloat64(m.Refused(ingest.RemoteWrite, "nhn", reason)); got != want {
				t.Errorf("refused counter %s %v, want %v", reason, got, want)
			}
		}
		// NIPA's own source is not checked; what is stored already, the
		// same, is not written again.
		res, err = in.Write(ctx, ingest.Origin{Source: ingest.Scrape}, push)
		if err != nil || res.Stored != 3 || res.Repeated != 1 || res.Refused != nil {
			t.Fatalf("unchecked: %+v %v", res, err)
		}
		res, err = in.Write(ctx, ingest.Origin{Source: ingest.Scrape}, push)
		if err != nil || res.Stored != 0 || res.Repeated != 4 || res.Refused != nil {
			t.Fatalf("the same again: %+v %v", res, err)
		}
		if n := storetest.Count(t, st, "SELECT count() FROM samples"); n != 4 {
			t.Fatalf("%d rows after writing the samples three times, want 4", n)
		}
		if got := testutil.ToFloat64(m.Stored(ingest.Scrape, "")); got != 3 {
			t.Errorf("stored counter of the scrape %v, want 3", got)
		}
	})
}

// Samples are evidence (SPEC §9): a stored sample is never replaced, by a
// push, a scrape, an import or a writer that raced past the check; each
// keeps who sent it.
func TestStoredSamplesStay(t *testing.T) {
	dir := storetest.WriteFiles(t, map[string]string{"inventory.csv": inventory})
	storetest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		storetest.ImportDir(t, st, dir)
		m := ingest.NewMetrics(prometheus.NewRegistry())
		in := ingest.New(st, m, nil)
		in.Now = func() time.Time { return t0.Add(time.Hour) }
		pusher := ingest.Origin{Source: ingest.RemoteWrite, Provider: "nhn", Name: "nhn-push"}
		first := sample("GPU-N1", t0, 80)
		res, err := in.Write(ctx, pusher, []gpumeter.Sample{first})
		if err != nil || res.Stored != 1 {
			t.Fatalf("first push: %+v %v", res, err)
		}
		stays := func(when string) {
			t.Helper()
			got, err := store.Samples(ctx, st, "GPU-N1", t0, t0.Add(time.Second))
			if err != nil || len(got) != 1 || *got[0].GPUUtil != 80 || got[0].Origin != "remote_write:nhn-push" {
				t.Fatalf("%s: stored %+v, %v; want the first push's 80 from remote_write:nhn-push", when, got, err)
			}
		}
		stays("pushed")
		// A push or a scrape of another value for that second is refused as
		// a conflict, in the second's hour; a sample twice in one write with
		// two values keeps the first.
		res, err = in.Write(ctx, pusher, []gpumeter.Sample{sample("GPU-N1", t0, 0), sample("GPU-N1", t0.Add(time.Second), 5),
			sample("GPU-N1", t0.Add(time.Second), 6), sample("GPU-N1", t0.Add(time.Second), 5)})
		if err != nil || res.Stored != 1 || res.Repeated != 1 || res.Refused[gpumeter.RefusedConflict] != 2 {
			t.Fatalf("conflicting push: %+v %v", res, err)
		}
		res, err = in.Write(ctx, ingest.Origin{Source: ingest.Scrape}, []gpumeter.Sample{{GPUUUID: "GPU-N1", TS: t0, Hostname: "h", Origin: "http://n1:9400/metrics"}})
		if err != nil || res.Stored != 0 || res.Refused[gpumeter.RefusedConflict] != 1 {
			t.Fatalf("conflicting scrape: %+v %v", res, err)
		}
		stays("after the conflicts")
		for _, c := range []struct {
			provider string
			want     uint64
		}{{"nhn", 2}, {"", 3}} { // "": all providers, the scrape's included
			got, err := store.Rejections(ctx, st, t0.Unix(), t0.Add(time.Hour).Unix(), c.provider)
			if err != nil || got[gpumeter.RefusedConflict] != c.want {
				t.Fatalf("conflicts recorded for %q: %v %v, want %d", c.provider, got, err, c.want)
			}
		}
		if got := testutil.ToFloat64(m.Refused(ingest.RemoteWrite, "nhn", gpumeter.RefusedConflict)); got != 2 {
			t.Errorf("conflict counter %v, want 2", got)
		}
		// An import fills in what is missing and replaces nothing.
		batch, err := store.NewBatchID(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		w := in.Import(batch)
		b := store.NewSampleBatch(2)
		b.Add(&store.SampleRow{TS: t0, GPU: "GPU-N1", Host: "h", Float: [4]float64{1}, Has: 1})
		b.Add(&store.SampleRow{TS: t0.Add(time.Minute), GPU: "GPU-N1", Host: "h", Float: [4]float64{2}, Has: 1})
		if err := w.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(ctx, store.Import{Kind: "samples", File: "s.csv", SHA256: "x", Rows: 2}); err != nil {
			t.Fatal(err)
		}
		stays("after an import")
		got, err := store.Samples(ctx, st, "GPU-N1", t0.Add(time.Minute), t0.Add(time.Hour))
		if err != nil || len(got) != 1 || *got[0].GPUUtil != 2 || got[0].Origin != store.ImportOrigin(batch) {
			t.Fatalf("imported sample: %+v %v", got, err)
		}
		// Another process's write that raced past the check stores a row,
		// which neither readers nor merges take over the first.
		late := sample("GPU-N1", t0, 0)
		late.Origin = "remote_write:other-replica"
		if err := store.InsertSamples(ctx, st, []gpumeter.Sample{late}, store.FirstWins(uint64(time.Now().UnixNano()))); err != nil {
			t.Fatal(err)
		}
		stays("after a raced write")
		if err := st.Exec(ctx, "OPTIMIZE TABLE samples FINAL"); err != nil {
			t.Fatal(err)
		}
		stays("after the merge")
	})
}

// An import's samples are seen by no reader until its commit, which marks
// the hours they change in the same row.
func TestImportWriter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		m := ingest.NewMetrics(prometheus.NewRegistry())
		in := ingest.New(st, m, nil)
		batch, err := store.NewBatchID(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		w := in.Import(batch)
		b := store.NewSampleBatch(3)
		for i, at := range []time.Time{t0.Add(time.Hour), t0, t0.Add(30 * time.Minute)} {
			b.Add(&store.SampleRow{TS: at, GPU: "GPU-N1", Host: "h", Float: [4]float64{float64(i)}, Has: 1})
		}
		if err := w.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
		seen := func() int {
			got, err := store.Samples(ctx, st, "GPU-N1", t0, t0.Add(2*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			return len(got)
		}
		if n := seen(); n != 0 || w.Written() != 3 {
			t.Fatalf("before the commit: %d samples seen, %d written", n, w.Written())
		}
		before := uint64(time.Now().UnixNano())
		if err := w.Commit(ctx, store.Import{Kind: "samples", File: "s.csv", SHA256: "x", Rows: 3}); err != nil {
			t.Fatal(err)
		}
		if n := seen(); n != 3 {
			t.Fatalf("after the commit: %d samples seen, want 3", n)
		}
		dirty, err := store.DirtySince(ctx, st, before, uint64(time.Now().UnixNano()))
		if err != nil {
			t.Fatal(err)
		}
		if want := [2]int64{t0.Add(-ingest.MaxGap).Unix(), t0.Add(time.Hour + ingest.MaxGap + time.Second).Unix()}; !slices.Contains(dirty, want) {
			t.Fatalf("dirty ranges %v, want %v", dirty, want)
		}
		if got := testutil.ToFloat64(m.Stored(ingest.Import, "")); got != 3 {
			t.Errorf("stored counter %v, want 3", got)
		}
	})
}
