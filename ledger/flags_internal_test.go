package ledger

import (
	"fmt"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter"
)

// The median of an even number of waits is the mean of the middle two.
func TestReallocationMedian(t *testing.T) {
	flagged := time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)
	var flags []gpumeter.TrackedFlag
	acks := map[string][]gpumeter.Ack{}
	for i, wait := range []int{4, 1, 10, 2} {
		id := fmt.Sprint("f", i)
		flags = append(flags, gpumeter.TrackedFlag{IdleFlag: gpumeter.IdleFlag{FlagID: id, Provider: "nhn", Since: "2026-10-01T00:00:00Z"},
			FlaggedAt: flagged, SeenAt: time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC)})
		acks[id] = []gpumeter.Ack{{FlagID: id, Action: gpumeter.FlagReallocated, At: flagged.Add(time.Duration(wait) * time.Hour)},
			{FlagID: id, Action: gpumeter.FlagDeclined, At: flagged.Add(50 * time.Hour)}}
	}
	r := reallocation(flags, acks, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Unix())["nhn"]
	// waits 1, 2, 4, 10 h from the first acknowledgement: median (2 + 4) / 2 = 3 h;
	// the latest acknowledgement (declined) is each flag's status.
	if r.MedianSecondsToAck != 3*3600 || r.Declined != 4 || r.Reallocated != 0 || r.Flags != 4 || r.FlaggedIdle != 4*48*3600 {
		t.Fatalf("%+v", r)
	}
}
