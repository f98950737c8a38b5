package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nipa-gpu/gpumeter"
)

// FlagFilter picks tracked idle flags.
type FlagFilter struct {
	ID       string // one flag; "" any
	Provider string // "" any
	Open     bool   // only flags still open
	Closed   bool   // only closed flags
	// Only flags whose idle stretch [since, seen_at) overlaps [From, To); To 0: any.
	From, To int64
}

func (f FlagFilter) conditions() string {
	conds := []string{"1"}
	if f.ID != "" {
		conds = append(conds, "flag_id = "+quote(f.ID))
	}
	if f.Provider != "" {
		conds = append(conds, "provider = "+quote(f.Provider))
	}
	if f.Open {
		conds = append(conds, "closed_at = toDateTime(0)")
	}
	if f.Closed {
		conds = append(conds, "closed_at != toDateTime(0)")
	}
	if f.To != 0 {
		conds = append(conds, fmt.Sprintf("since < toDateTime(%d) AND seen_at > toDateTime(%d)", f.To, max(f.From, 0)))
	}
	return strings.Join(conds, " AND ")
}

var flagColumns = []string{"flag_id", "kind", "provider", "node", "gpu_uuid", "project_id", "since", "flagged_at", "seen_at",
	"closed_at", "active_pct", "coverage_pct", "version"}

// TrackedFlags reads the idle flags the service keeps, in the state of their
// latest evaluation, ordered by provider, GPU and since.
func TrackedFlags(ctx context.Context, st Store, f FlagFilter) ([]gpumeter.TrackedFlag, error) {
	q := `SELECT flag_id, kind, provider, node, gpu_uuid, project_id, toUInt32(since), toUInt32(flagged_at), toUInt32(seen_at),
toUInt32(closed_at), active_pct, coverage_pct FROM idle_flags FINAL WHERE ` + f.conditions() + ` ORDER BY provider, gpu_uuid, since`
	var out []gpumeter.TrackedFlag
	err := st.Stream(ctx, q, func(scan func(...any) error) error {
		var t gpumeter.TrackedFlag
		var kind string
		var since, flagged, seen, closed uint32
		if err := scan(&t.FlagID, &kind, &t.Provider, &t.Node, &t.GPUUUID, &t.ProjectID, &since, &flagged, &seen, &closed,
			&t.ActivePct, &t.CoveragePct); err != nil {
			return err
		}
		t.Kind = gpumeter.FlagKind(kind)
		t.Recommendation = t.Kind.Recommendation()
		t.Since = time.Unix(int64(since), 0).UTC().Format(time.RFC3339)
		t.Hours = gpumeter.Hours(int64(seen) - int64(since))
		t.FlaggedAt, t.SeenAt = time.Unix(int64(flagged), 0).UTC(), time.Unix(int64(seen), 0).UTC()
		if closed != 0 {
			t.ClosedAt = time.Unix(int64(closed), 0).UTC()
		}
		out = append(out, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read idle_flags: %w", err)
	}
	return out, nil
}

// LastIdleEvaluation is when the idle flags were last evaluated and
// recorded; false if never.
func LastIdleEvaluation(ctx context.Context, st Store) (time.Time, bool, error) {
	var at uint32
	var n uint64
	err := st.Stream(ctx, "SELECT toUInt32(max(evaluated_at)), count() FROM idle_evaluations", func(scan func(...any) error) error {
		return scan(&at, &n)
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read idle_evaluations: %w", err)
	}
	return time.Unix(int64(at), 0).UTC(), n > 0, nil
}

// RecordIdleEvaluation records an evaluation at `at`: the flags it found or
// closed, each in its new state, then the evaluation itself. Repeating an
// evaluation of the same time writes the same rows again, which FINAL
// reads once.
func RecordIdleEvaluation(ctx context.Context, st Store, at time.Time, flags []gpumeter.TrackedFlag) error {
	version := uint64(at.UnixNano())
	rows := make([][]any, len(flags))
	closed := 0
	for i, f := range flags {
		since, err := time.Parse(time.RFC3339, f.Since)
		if err != nil {
			return fmt.Errorf("record idle flag %s: since %q: %w", f.FlagID, f.Since, err)
		}
		closedAt := time.Unix(0, 0).UTC()
		if !f.Open() {
			closedAt = f.ClosedAt.UTC()
			closed++
		}
		rows[i] = []any{f.FlagID, string(f.Kind), f.Provider, f.Node, f.GPUUUID, f.ProjectID, since.UTC(), f.FlaggedAt.UTC(),
			f.SeenAt.UTC(), closedAt, f.ActivePct, f.CoveragePct, version}
	}
	if err := st.Insert(ctx, "idle_flags", flagColumns, rows); err != nil {
		return fmt.Errorf("record idle flags: %w", err)
	}
	row := []any{at.UTC(), uint32(len(flags) - closed), uint32(closed)}
	if err := st.Insert(ctx, "idle_evaluations", []string{"evaluated_at", "flags", "closed"}, [][]any{row}); err != nil {
		return fmt.Errorf("record idle evaluation: %w", err)
	}
	return nil
}

// Acks reads the acknowledgements of the flags ids (nil: of every flag),
// each flag's oldest first.
func Acks(ctx context.Context, st Store, ids []string) (map[string][]gpumeter.Ack, error) {
	out := map[string][]gpumeter.Ack{}
	if ids != nil && len(ids) == 0 {
		return out, nil
	}
	q := "SELECT flag_id, action, allocation_id, note, principal, toUInt32(acked_at) FROM idle_acks"
	if ids != nil {
		q += " WHERE flag_id IN (" + quoteList(ids) + ")"
	}
	q += " ORDER BY flag_id, seq"
	err := st.Stream(ctx, q, func(scan func(...any) error) error {
		var a gpumeter.Ack
		var action string
		var at uint32
		if err := scan(&a.FlagID, &action, &a.AllocationID, &a.Note, &a.Principal, &at); err != nil {
			return err
		}
		a.Action, a.At = gpumeter.FlagStatus(action), time.Unix(int64(at), 0).UTC()
		out[a.FlagID] = append(out[a.FlagID], a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read idle_acks: %w", err)
	}
	return out, nil
}

// RecordAck records an acknowledgement.
func RecordAck(ctx context.Context, st Store, a gpumeter.Ack) error {
	row := []any{a.FlagID, string(a.Action), a.AllocationID, a.Note, a.Principal, a.At.UTC(), uint64(a.At.UnixNano())}
	if err := st.Insert(ctx, "idle_acks", []string{"flag_id", "action", "allocation_id", "note", "principal", "acked_at", "seq"}, [][]any{row}); err != nil {
		return fmt.Errorf("record acknowledgement of %s: %w", a.FlagID, err)
	}
	return nil
}
