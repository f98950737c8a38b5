package schemas_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/schemas"
	"github.com/nipa-gpu/gpumeter/store"
)

func renderAll(t *testing.T, d store.Dialect) string {
	t.Helper()
	all, err := schemas.All()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range all {
		stmts, err := schemas.Render(m.Source, d, schemas.Options{SamplesTTLDays: 400})
		if err != nil {
			t.Fatalf("%s: %v", m.File(), err)
		}
		out = append(out, stmts...)
	}
	return strings.Join(out, ";\n")
}

func TestRenderCurrentEngineGetsFullSchema(t *testing.T) {
	sql := renderAll(t, store.Dialect{Version: store.Version{Major: 26, Minor: 7}, Database: "default"})
	for _, want := range []string{
		"ts               DateTime CODEC(DoubleDelta, ZSTD(1))",
		"gpu_uuid         LowCardinality(String)",
		"TTL ts + toIntervalDay(400)",
		"ENGINE = ReplacingMergeTree(version)",
		"PARTITION BY toYYYYMM(ts)",
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("missing %q", want)
		}
	}
	for _, not := range []string{"ON CLUSTER", "Replicated", "Distributed", "GLOBAL IN"} {
		if strings.Contains(sql, not) {
			t.Errorf("single-node schema has %q", not)
		}
	}
}

func TestRenderOldServerDropsOnlyWhatItLacks(t *testing.T) {
	sql := renderAll(t, store.Dialect{Version: store.Version{Major: 18, Minor: 16}, Database: "default"})
	for _, not := range []string{"CODEC", "TTL", "LowCardinality"} {
		if strings.Contains(sql, not) {
			t.Errorf("18.16 schema has %q", not)
		}
	}
	for _, want := range []string{"ENGINE = ReplacingMergeTree(version)", "PARTITION BY toYYYYMM(ts)", "ORDER BY (gpu_uuid, ts)"} {
		if !strings.Contains(sql, want) {
			t.Errorf("missing %q", want)
		}
	}
}

func TestRenderCluster(t *testing.T) {
	sql := renderAll(t, store.Dialect{Version: store.Version{Major: 24, Minor: 8}, Database: "metering", Cluster: "gpu"})
	for _, want := range []string{
		"CREATE TABLE IF NOT EXISTS metering.samples_local ON CLUSTER gpu (",
		"ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/metering/samples', '{replica}', version)",
		"CREATE TABLE IF NOT EXISTS metering.samples ON CLUSTER gpu AS metering.samples_local\nENGINE = Distributed(gpu, metering, samples_local, cityHash64(gpu_uuid))",
		"ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/metering/inventory', '{replica}')",
		"CREATE VIEW IF NOT EXISTS metering.inventory_current ON CLUSTER gpu AS",
		"FROM metering.inventory\nWHERE (gpu_uuid, batch_id) GLOBAL IN (",
		"(SELECT batch_id FROM metering.imports WHERE kind = 'inventory')",
		"TTL ts + toIntervalDay(400)",
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("missing %q in\n%s", want, sql)
		}
	}
}

func TestRetentionChangeTakesEffect(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		if !st.Dialect().TTL() {
			t.Skipf("ClickHouse %s has no TTL; the schema renders without it", st.Dialect().Version)
		}
		engineFull := func() string {
			var s string
			err := st.Stream(ctx, "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'samples'",
				func(scan func(...any) error) error { return scan(&s) })
			if err != nil || s == "" {
				t.Fatal(err)
			}
			return s
		}
		if e := engineFull(); !strings.Contains(e, "toIntervalDay(400)") {
			t.Fatalf("engine %s", e)
		}
		if _, err := schemas.Migrate(ctx, st, schemas.Options{SamplesTTLDays: 30}); err != nil {
			t.Fatal(err)
		}
		if e := engineFull(); !strings.Contains(e, "toIntervalDay(30)") {
			t.Fatalf("after retention change: %s", e)
		}
	})
}
