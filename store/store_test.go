package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
	"github.com/nipa-gpu/gpumeter/store"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// Both backends take the same Go values and give back the same cells.
func TestRoundTripIsTheSameOnBothBackends(t *testing.T) {
	results := map[string]string{}
	storetest.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		ts := time.Date(2026, 10, 1, 9, 0, 0, 0, time.FixedZone("KST", 9*3600))
		util, power := 87.5, 612.25
		fb, energy := uint64(61234), uint64(1<<40)
		rows := [][]any{
			store.SampleRow(gpumeter.Sample{TS: ts, GPUUUID: "GPU-1", Hostname: "노드-1", GPUUtil: &util, PowerW: &power,
				FBUsedMiB: &fb, EnergyMJ: &energy, Namespace: "ns\twith tab", Pod: "p\\q"}, 7),
			store.SampleRow(gpumeter.Sample{TS: ts.Add(15 * time.Second), GPUUUID: "GPU-1"}, 7),
		}
		if err := st.Insert(ctx, "samples", store.SampleColumns, rows); err != nil {
			t.Fatal(err)
		}
		got, err := st.Query(ctx, "SELECT "+strings.Join(store.SampleColumns, ", ")+", toUnixTimestamp(ts) FROM samples FINAL ORDER BY ts")
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, row := range got.Data {
			for _, c := range row {
				if c.Valid {
					b.WriteString(c.String)
				} else {
					b.WriteString("NULL")
				}
				b.WriteString("|")
			}
			b.WriteString("\n")
		}
		want := "GPU-1|2026-10-01 00:00:00|노드-1|87.5|NULL|NULL|61234|NULL|612.25|1099511627776|ns\twith tab|p\\q|7|1790812800|\n" +
			"GPU-1|2026-10-01 00:00:15||NULL|NULL|NULL|NULL|NULL|NULL|NULL|||7|1790812815|\n"
		if b.String() != want {
			t.Errorf("cells:\n%s\nwant:\n%s", b.String(), want)
		}
		results[t.Name()] = b.String()
		// Scan into typed destinations.
		var uuid string
		var at time.Time
		var u, gr *float64
		got2, err := st.Query(ctx, "SELECT gpu_uuid, ts, gpu_util, gr_engine_active FROM samples FINAL ORDER BY ts LIMIT 1")
		if err != nil || !got2.Next() {
			t.Fatal(err)
		}
		if err := got2.Scan(&uuid, &at, &u, &gr); err != nil {
			t.Fatal(err)
		}
		if uuid != "GPU-1" || !at.Equal(ts) || u == nil || *u != 87.5 || gr != nil {
			t.Fatalf("scanned %s %s %v %v", uuid, at, u, gr)
		}
	})
	if len(results) == 2 && results["TestRoundTripIsTheSameOnBothBackends/chdb"] != results["TestRoundTripIsTheSameOnBothBackends/clickhouse"] {
		t.Fatalf("backends differ:\n%v", results)
	}
}

// The embedded engine always gets the full schema: codecs, TTL, LowCardinality.
func TestEmbeddedSchemaIsFull(t *testing.T) {
	st := storetest.Open(t, storetest.Backends()[0].DSN(t))
	rows, err := st.Query(context.Background(), "SHOW CREATE TABLE samples")
	if err != nil || !rows.Next() {
		t.Fatal(err)
	}
	var ddl string
	rows.Scan(&ddl)
	for _, want := range []string{"CODEC(DoubleDelta, ZSTD(1))", "LowCardinality(String)", "TTL ts + toIntervalDay(400)",
		"ReplacingMergeTree(version)", "PARTITION BY toYYYYMM(ts)", "ORDER BY (gpu_uuid, ts)"} {
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
