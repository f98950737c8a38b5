package ingest

import (
	"reflect"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter"
)

// SPEC §9: "A sample of a GPU that is not in the token's provider's
// inventory at that time is rejected and counted (by provider and reason:
// foreign_gpu, unknown_gpu)". Inventory rows are [valid_from, valid_to).
func TestOwnersFilter(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 10, 1, h, 0, 0, 0, time.UTC) }
	o := &Owners{spans: map[string][]span{
		// GPU-A moves from nhn to kakao at 10:00; GPU-B is nhn's until 12:00.
		"GPU-A": {{at(0).Unix(), at(10).Unix(), "nhn"}, {at(10).Unix(), gpumeter.Forever, "kakao"}},
		"GPU-B": {{at(0).Unix(), at(12).Unix(), "nhn"}},
	}}
	sample := func(gpu string, t time.Time) gpumeter.Sample { return gpumeter.Sample{GPUUUID: gpu, TS: t} }
	in := []gpumeter.Sample{
		sample("GPU-A", at(0)),                      // nhn's from its first second
		sample("GPU-A", at(10).Add(-time.Second)),   // nhn's to its last
		sample("GPU-A", at(10)),                     // kakao's from 10:00
		sample("GPU-B", at(11).Add(59*time.Minute)), // nhn's
		sample("GPU-B", at(12)),                     // nobody's: the row has ended
		sample("GPU-C", at(12).Add(30*time.Minute)), // in no inventory
		sample("GPU-A", at(0).Add(-time.Second)),    // before any row
	}
	kept, refused := o.filter("nhn", in)
	if want := []gpumeter.Sample{in[0], in[1], in[3]}; !reflect.DeepEqual(kept, want) {
		t.Fatalf("kept %v, want %v", kept, want)
	}
	want := tally{
		{at(10).Unix(), gpumeter.RefusedForeignGPU, 1},
		{at(12).Unix(), gpumeter.RefusedUnknownGPU, 2},
		{at(0).Add(-time.Hour).Unix(), gpumeter.RefusedUnknownGPU, 1},
	}
	if !reflect.DeepEqual(refused, want) {
		t.Fatalf("refused %+v, want %+v (by hour and reason)", refused, want)
	}
	if kept, refused := o.filter("kakao", in[2:3]); len(kept) != 1 || refused != nil {
		t.Fatalf("kakao's own sample: kept %v, refused %v", kept, refused)
	}
}

// A time the store cannot hold is refused from every source; only a push is
// held to server.max_push_age and five minutes ahead, counted in its own
// hour (a bad timestamp in the hour it arrived).
func TestTimely(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 30, 0, 0, time.UTC)
	in := &Ingester{MaxPushAge: time.Hour, Now: func() time.Time { return now }}
	old, ahead, pre1970 := now.Add(-2*time.Hour), now.Add(6*time.Minute), time.Unix(-1, 0)
	samples := []gpumeter.Sample{{TS: now}, {TS: old}, {TS: ahead}, {TS: pre1970}, {TS: now.Add(-59 * time.Minute)}}
	kept, refused := in.timely(Origin{Source: RemoteWrite}, samples)
	if len(kept) != 2 || !kept[0].TS.Equal(now) || !kept[1].TS.Equal(samples[4].TS) {
		t.Fatalf("pushed: kept %v", kept)
	}
	hour := func(t time.Time) int64 { return t.Truncate(time.Hour).Unix() }
	want := tally{{hour(old), gpumeter.RefusedTooOld, 1}, {hour(ahead), gpumeter.RefusedTooNew, 1}, {hour(now), gpumeter.RefusedBadTimestamp, 1}}
	if !reflect.DeepEqual(refused, want) {
		t.Fatalf("pushed: refused %+v, want %+v", refused, want)
	}
	kept, refused = in.timely(Origin{Source: Scrape}, samples)
	if len(kept) != 4 || !reflect.DeepEqual(refused, tally{{hour(now), gpumeter.RefusedBadTimestamp, 1}}) {
		t.Fatalf("scraped: kept %d, refused %+v", len(kept), refused)
	}
}
