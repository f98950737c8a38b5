package schemas_test

import (
	"context"
	"testing"

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
