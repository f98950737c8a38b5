package store

import (
	"context"
	"fmt"
	"time"
)

// Inserter is the part of a store that notes dirty ranges.
type Inserter interface {
	Insert(ctx context.Context, table string, columns []string, rows [][]any) error
}

// NoteDirty records that the rollups of [from, to) are out of date, for the
// next aggregation; a zero to is open (a change of inventory or allocations
// with no end). Call it after the data that made them so is written, so that
// an aggregation which sees the note also sees the data.
func NoteDirty(ctx context.Context, st Inserter, from, to time.Time, reason string) error {
	from, to = dirtyRange(from, to)
	if !from.Before(to) {
		return nil
	}
	row := []any{from, to, uint64(time.Now().UnixNano()), reason}
	if err := st.Insert(ctx, "dirty_ranges", []string{"from_ts", "to_ts", "noted_at", "reason"}, [][]any{row}); err != nil {
		return fmt.Errorf("note dirty range: %w", err)
	}
	return nil
}

// lastDateTime is the last second a DateTime column holds.
var lastDateTime = time.Unix(1<<32-1, 0).UTC()

// dirtyRange is [from, to) as DateTime holds it: whole seconds, clamped to
// what the column holds, a zero to open.
func dirtyRange(from, to time.Time) (time.Time, time.Time) {
	first := time.Unix(0, 0).UTC()
	if to.IsZero() || to.After(lastDateTime) {
		to = lastDateTime
	}
	if from.Before(first) {
		from = first
	}
	return from.UTC().Truncate(time.Second), to.UTC().Truncate(time.Second)
}
