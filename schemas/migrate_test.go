package schemas_test

import (
	"context"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/ingest"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/schemas"
	"github.com/nipa-gpu/gpumeter/store"
)

func TestMain(m *testing.M) { storetest.Main(m) }

func TestMigrateIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		all, err := schemas.All()
		if err != nil {
			t.Fatal(err)
		}
		applied, err := schemas.AppliedMigrations(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != len(all) {
			t.Fatalf("applied %d migrations, have %d", len(applied), len(all))
		}
		again, err := schemas.Migrate(ctx, st, schemas.Options{SamplesTTLDays: 400})
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 0 {
			t.Fatalf("second migrate applied %v, want nothing", again)
		}
		for _, table := range []string{"imports", "inventory", "projects", "allocations", "samples",
			"inventory_current", "projects_current", "allocations_current"} {
			storetest.Count(t, st, "SELECT count() FROM "+table)
		}
	})
}

// A store made before imports were all or nothing keeps its samples through
// migration 0007, all of them seen, and imports work on it as on a new one;
// migration 0013 lists their GPUs.
func TestSamplesSurviveTheMoveToBatches(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st, err := store.Open(ctx, b.DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := schemas.Migrate(ctx, st, schemas.Options{SamplesTTLDays: 400, UpTo: 6}); err != nil {
				t.Fatal(err)
			}
			at := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
			var rows [][]any
			for i := 0; i < 100; i++ {
				rows = append(rows, []any{"GPU-1", at.Add(time.Duration(i) * 15 * time.Second), "h", float32(i % 100), uint64(7)})
			}
			if err := st.Insert(ctx, "samples", []string{"gpu_uuid", "ts", "hostname", "gpu_util", "version"}, rows); err != nil {
				t.Fatal(err)
			}
			done, err := schemas.Migrate(ctx, st, schemas.Options{SamplesTTLDays: 400})
			if err != nil || len(done) == 0 || done[0] != 7 {
				t.Fatalf("migrated %v, %v", done, err)
			}
			got, err := store.Samples(ctx, st, "GPU-1", at, at.Add(time.Hour))
			if err != nil || len(got) != 100 || *got[99].GPUUtil != 99 {
				t.Fatalf("after migration: %d samples, %v", len(got), err)
			}
			if n := storetest.Count(t, st, "SELECT count() FROM samples WHERE batch_id = 0"); n != 100 {
				t.Fatalf("%d samples of batch 0, want 100", n)
			}
			// Migration 0013 lists the GPUs of the samples already stored
			// (GPU-1 is in no inventory), and the view those inserted since.
			later := gpumeter.Sample{TS: at.Add(time.Hour), GPUUUID: "GPU-2"}
			if _, err := ingest.New(st, nil, nil).Write(ctx, ingest.Origin{Source: ingest.Scrape}, []gpumeter.Sample{later}); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct{ hours, want int }{{1, 1}, {2, 2}} {
				n, err := store.UnregisteredGPUs(ctx, st, at.Unix(), at.Add(time.Duration(c.hours)*time.Hour).Unix())
				if err != nil || n != c.want {
					t.Fatalf("%d unregistered GPUs in %d h, want %d: %v", n, c.hours, c.want, err)
				}
			}
		})
	}
}

// Migration 0014 keeps every sample as readers saw it, the rewritten ones
// included, marked as stored before origins were kept; afterwards the
// first stored sample of a second stays, whatever is written later.
func TestSamplesKeepTheirValuesThroughOrigins(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			st, err := store.Open(ctx, b.DSN(t))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if _, err := schemas.Migrate(ctx, st, schemas.Options{SamplesTTLDays: 400, UpTo: 13}); err != nil {
				t.Fatal(err)
			}
			at := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
			// Before 0014 the highest version won: util 2 is what was read.
			rows := [][]any{{"GPU-1", at, "h", float32(1), uint64(5), uint64(0)}, {"GPU-1", at, "h", float32(2), uint64(9), uint64(0)},
				{"GPU-1", at.Add(time.Minute), "h", float32(3), uint64(7), uint64(0)}}
			if err := st.Insert(ctx, "samples", []string{"gpu_uuid", "ts", "hostname", "gpu_util", "version", "batch_id"}, rows); err != nil {
				t.Fatal(err)
			}
			if _, err := schemas.Migrate(ctx, st, schemas.Options{SamplesTTLDays: 400}); err != nil {
				t.Fatal(err)
			}
			check := func(when string) {
				t.Helper()
				got, err := store.Samples(ctx, st, "GPU-1", at, at.Add(time.Hour))
				if err != nil || len(got) != 2 || *got[0].GPUUtil != 2 || *got[1].GPUUtil != 3 || got[0].Origin != "unrecorded" {
					t.Fatalf("%s: %+v %v", when, got, err)
				}
			}
			check("after migration")
			// A write raced past ingest's check, as another replica's might.
			later := []any{"GPU-1", at, "h", float32(4), store.FirstWins(uint64(time.Now().UnixNano())), uint64(0), "remote_write:x"}
			if err := st.Insert(ctx, "samples", []string{"gpu_uuid", "ts", "hostname", "gpu_util", "version", "batch_id", "origin"}, [][]any{later}); err != nil {
				t.Fatal(err)
			}
			check("after a later write")
			// The view of 0013 follows the new table.
			if _, err := ingest.New(st, nil, nil).Write(ctx, ingest.Origin{Source: ingest.Scrape}, []gpumeter.Sample{{TS: at.Add(time.Hour), GPUUUID: "GPU-2"}}); err != nil {
				t.Fatal(err)
			}
			if n, err := store.UnregisteredGPUs(ctx, st, at.Unix(), at.Add(2*time.Hour).Unix()); err != nil || n != 2 {
				t.Fatalf("%d unregistered GPUs, want 2: %v", n, err)
			}
		})
	}
}
