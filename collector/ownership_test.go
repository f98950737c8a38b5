package collector

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/ingest"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/schemas"
	"github.com/nipa-gpu/gpumeter/store"
)

// A target listed for nhn stores only nhn's GPUs: kakao's GPU and one in no
// inventory are refused, counted by reason and recorded for the report; a
// target listed for no one is not checked.
func TestScrapeOwnership(t *testing.T) {
	dir := storetest.WriteFiles(t, map[string]string{"inventory.csv": "gpu_uuid,provider,site,node,gpu_index,model,share,valid_from,valid_to\n" +
		"GPU-mix-0,nhn,s,kakao-b200-0007,0,B200,government,2026-01-01T00:00:00Z,\n" +
		"GPU-mix-1,nhn,s,kakao-b200-0007,1,B200,government,2026-01-01T00:00:00Z,\n" +
		"GPU-mix-2,kakao,s,kakao-b200-0007,2,B200,government,2026-01-01T00:00:00Z,\n"})
	good := payload(t, "mixed-node")
	storetest.Each(t, func(t *testing.T, st store.Store) {
		storetest.ImportDir(t, st, dir)
		owned := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write(good) })
		c, m := newCollector(t, storeSink(st), nil, t.TempDir())
		c.Targets = &Targets{Static: []string{owned}, Provider: "nhn"}
		if err := c.Once(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := storetest.Count(t, st, "SELECT count() FROM samples WHERE gpu_uuid IN ('GPU-mix-0','GPU-mix-1')"); n != 2 {
			t.Fatalf("nhn's GPUs: %d samples, want 2", n)
		}
		if n := storetest.Count(t, st, "SELECT count() FROM samples WHERE gpu_uuid IN ('GPU-mix-2','GPU-mix-3')"); n != 0 {
			t.Fatalf("kakao's and the unknown GPU: %d samples stored", n)
		}
		for reason, want := range map[string]float64{gpumeter.RefusedForeignGPU: 1, gpumeter.RefusedUnknownGPU: 1} {
			if got := testutil.ToFloat64(m.Ingest.Refused(ingest.Scrape, "nhn", reason)); got != want {
				t.Errorf("refused %s: %v, want %v", reason, got, want)
			}
		}
		got, err := store.Rejections(context.Background(), st, 0, time.Now().Add(time.Hour).Unix(), "nhn")
		if err != nil || got[gpumeter.RefusedForeignGPU] != 1 || got[gpumeter.RefusedUnknownGPU] != 1 {
			t.Fatalf("recorded rejections %v %v", got, err)
		}
		// Listed for no one: all four.
		c.Targets = &Targets{Static: []string{owned}}
		if err := c.Once(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := storetest.Count(t, st, "SELECT count() FROM samples WHERE gpu_uuid IN ('GPU-mix-2','GPU-mix-3')"); n != 2 {
			t.Fatalf("unchecked target: %d samples of the two other GPUs, want 2", n)
		}
	})
}

// A collector started while the store is down scrapes and spools; once the
// store answers it checks the schema, and every round lands once, within
// seconds.
func TestStartsWhileStoreDown(t *testing.T) {
	srv, err := storetest.NewServer()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Remove()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	good := payload(t, "mixed-node")
	target := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write(good) })
	sink := &StoreSink{Open: func(ctx context.Context) (store.Store, error) {
		st, err := store.Open(ctx, srv.DSN)
		if err != nil {
			return nil, err
		}
		if _, err := schemas.Migrate(ctx, st, schemas.Options{}); err != nil {
			st.Close()
			return nil, err
		}
		return st, nil
	}}
	defer sink.Close()
	c, m := newCollector(t, sink, []string{target}, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	time.Sleep(2500 * time.Millisecond)
	if spooled, _, _ := c.Writer.Spool.Stats(); spooled == 0 {
		t.Fatal("nothing spooled while the store was down at start")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	for {
		if b, _, _ := c.Writer.Spool.Stats(); b == 0 {
			break
		}
		if time.Since(back) > 10*time.Second {
			t.Fatal("the spool was not replayed within 10 s of the store's return")
		}
		time.Sleep(100 * time.Millisecond)
	}
	replayed := time.Since(back)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := storetest.Open(t, srv.DSN)
	rounds := int(testutil.ToFloat64(m.Scrapes.WithLabelValues(target, "ok")))
	final, raw := countSamples(t, st, "1")
	if final != 4*rounds || raw != final {
		t.Fatalf("%d samples (%d rows) stored, want %d (4 GPUs × %d rounds)", final, raw, 4*rounds, rounds)
	}
	t.Logf("spool replayed %.1f s after the store's return (server start included)", replayed.Seconds())
}
