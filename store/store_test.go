package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/store"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// Both backends take the same Go values and give back the same samples.
func TestRoundTripIsTheSameOnBothBackends(t *testing.T) {
	results := map[string]string{}
	storetest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		ts := time.Date(2026, 10, 1, 9, 0, 0, 0, time.FixedZone("KST", 9*3600))
		util, power, gr := 87.5, 612.25, 0.91
		fb, energy := uint64(61234), uint64(1<<40)
		samples := []gpumeter.Sample{
			{TS: ts, GPUUUID: "GPU-1", Hostname: "노드-1", GPUUtil: &util, GrEngineActive: &gr, PowerW: &power,
				FBUsedMiB: &fb, EnergyMJ: &energy, Namespace: "ns\twith tab", Pod: "p\\q"},
			{TS: ts.Add(15 * time.Second), GPUUUID: "GPU-1"},
		}
		if err := store.InsertSamples(ctx, st, samples, 7); err != nil {
			t.Fatal(err)
		}
		got, err := store.Samples(ctx, st, "GPU-1", ts, ts.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		enc := json.NewEncoder(&b)
		for _, s := range got {
			enc.Encode(s)
		}
		want := `{"ts":"2026-10-01T00:00:00Z","gpu_uuid":"GPU-1","hostname":"노드-1","gpu_util":87.5,"gr_engine_active":0.91,"sm_active":null,"fb_used_mib":61234,"fb_free_mib":null,"power_w":612.25,"energy_mj":1099511627776,"namespace":"ns\twith tab","pod":"p\\q"}
{"ts":"2026-10-01T00:00:15Z","gpu_uuid":"GPU-1","hostname":"","gpu_util":null,"gr_engine_active":null,"sm_active":null,"fb_used_mib":null,"fb_free_mib":null,"power_w":null,"energy_mj":null,"namespace":"","pod":""}
`
		if b.String() != want {
			t.Errorf("samples:\n%s\nwant:\n%s", b.String(), want)
		}
		results[t.Name()] = b.String()
	})
	if len(results) == 2 && results["TestRoundTripIsTheSameOnBothBackends/chdb"] != results["TestRoundTripIsTheSameOnBothBackends/clickhouse"] {
		t.Fatalf("backends differ:\n%v", results)
	}
}

// The embedded engine always gets the full schema: codecs, TTL, LowCardinality.
func TestEmbeddedSchemaIsFull(t *testing.T) {
	st := storetest.Open(t, storetest.Backends()[0].DSN(t))
	var ddl string
	err := st.Stream(context.Background(), "SHOW CREATE TABLE samples", func(scan func(...any) error) error { return scan(&ddl) })
	if err != nil || ddl == "" {
		t.Fatal(err)
	}
	for _, want := range []string{"CODEC(DoubleDelta, ZSTD(1))", "LowCardinality(String)", "TTL ts + toIntervalDay(400)",
		"ReplacingMergeTree(version)", "PARTITION BY (toYYYYMM(ts), batch_id)", "ORDER BY (gpu_uuid, ts)"} {
		if !strings.Contains(ddl, want) {
			t.Errorf("samples lacks %q:\n%s", want, ddl)
		}
	}
}

func TestStreamTypedRows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st store.Store) {
		q := `SELECT toString(number) AS s, toUInt32(number * 1000) AS u, toInt8(number % 3 - 1) AS i,
toUInt64(number) * 1000000000000 AS big, toFloat64(number) / 4 AS f, toDateTime(1790812800 + number) AS t
FROM system.numbers LIMIT 5`
		var got []string
		err := st.Stream(context.Background(), q, func(scan func(...any) error) error {
			var s string
			var u uint32
			var i int8
			var big uint64
			var f float64
			var at time.Time
			if err := scan(&s, &u, &i, &big, &f, &at); err != nil {
				return err
			}
			got = append(got, fmt.Sprintf("%s %d %d %d %g %d", s, u, i, big, f, at.Unix()))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := "0 0 -1 0 0 1790812800|1 1000 0 1000000000000 0.25 1790812801|2 2000 1 2000000000000 0.5 1790812802|3 3000 -1 3000000000000 0.75 1790812803|4 4000 0 4000000000000 1 1790812804"
		if strings.Join(got, "|") != want {
			t.Fatalf("got  %s\nwant %s", strings.Join(got, "|"), want)
		}
	})
}
