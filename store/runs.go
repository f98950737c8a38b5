package store

import (
	"context"
	"fmt"
	"time"
)

// AggregateRun is the state one aggregation leaves: rollups are complete for
// [From, Until), dirty ranges noted up to DirtyUntil are taken into account,
// and Params are the accounting parameters they were made with.
type AggregateRun struct {
	From, Until int64
	DirtyUntil  uint64
	Params      string
}

// LastAggregateRun reads the latest aggregation's state; false if none ran.
func LastAggregateRun(ctx context.Context, st Store) (AggregateRun, bool, error) {
	var r AggregateRun
	found := false
	err := st.Stream(ctx, `SELECT toUInt32(aggregated_from), toUInt32(aggregated_until), dirty_until, params
FROM aggregate_runs ORDER BY run_id DESC LIMIT 1`, func(scan func(...any) error) error {
		var f, u uint32
		if err := scan(&f, &u, &r.DirtyUntil, &r.Params); err != nil {
			return err
		}
		r.From, r.Until, found = int64(f), int64(u), true
		return nil
	})
	if err != nil {
		return r, false, fmt.Errorf("read aggregate_runs: %w", err)
	}
	return r, found, nil
}

// RecordAggregateRun records an aggregation's state.
func RecordAggregateRun(ctx context.Context, st Store, r AggregateRun) error {
	row := []any{uint64(time.Now().UnixNano()), time.Unix(r.From, 0).UTC(), time.Unix(r.Until, 0).UTC(), r.DirtyUntil, r.Params, time.Now().UTC()}
	if err := st.Insert(ctx, "aggregate_runs", []string{"run_id", "aggregated_from", "aggregated_until", "dirty_until", "params", "finished_at"}, [][]any{row}); err != nil {
		return fmt.Errorf("record aggregation: %w", err)
	}
	return nil
}

// DirtySince lists the ranges noted dirty in (after, upto] of noting time:
// by the collector (dirty_ranges) and by committed imports.
func DirtySince(ctx context.Context, st Store, after, upto uint64) ([][2]int64, error) {
	var out [][2]int64
	q := fmt.Sprintf(`SELECT toUInt32(from_ts), toUInt32(to_ts) FROM dirty_ranges WHERE noted_at > %d AND noted_at <= %d
UNION ALL
SELECT toUInt32(dirty_from), toUInt32(dirty_to) FROM imports WHERE noted_at > %d AND noted_at <= %d AND dirty_to > dirty_from`,
		after, upto, after, upto)
	err := st.Stream(ctx, q, func(scan func(...any) error) error {
		var f, t uint32
		if err := scan(&f, &t); err != nil {
			return err
		}
		out = append(out, [2]int64{int64(f), int64(t)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read dirty_ranges: %w", err)
	}
	return out, nil
}

// IssuedReport is one issue of a month's report, as recorded.
type IssuedReport struct {
	Month, Provider string // provider "" for the program-wide report
	IssuedAt        time.Time
	InputsSHA256    string
	Body            string // the JSON
}

// LastIssue reads the latest issue of a month's report; found is false for none.
func LastIssue(ctx context.Context, st Store, month, provider string) (rep IssuedReport, found bool, err error) {
	q := fmt.Sprintf(`SELECT issued_at, inputs_sha256, body FROM report_issues WHERE month = %s AND provider = %s ORDER BY issued_at DESC LIMIT 1`,
		quote(month), quote(provider))
	err = st.Stream(ctx, q, func(scan func(...any) error) error {
		found = true
		return scan(&rep.IssuedAt, &rep.InputsSHA256, &rep.Body)
	})
	if err != nil {
		return rep, false, fmt.Errorf("read previous issue: %w", err)
	}
	rep.Month, rep.Provider = month, provider
	return rep, found, nil
}

// RecordIssue records an issue of a report.
func RecordIssue(ctx context.Context, st Store, rep IssuedReport) error {
	row := []any{rep.Month, rep.Provider, rep.IssuedAt.UTC(), rep.InputsSHA256, rep.Body}
	if err := st.Insert(ctx, "report_issues", []string{"month", "provider", "issued_at", "inputs_sha256", "body"}, [][]any{row}); err != nil {
		return fmt.Errorf("record issue: %w", err)
	}
	return nil
}

// SentFlags lists the idle flags the portal's webhook has accepted.
func SentFlags(ctx context.Context, st Store) (map[string]bool, error) {
	out := map[string]bool{}
	err := st.Stream(ctx, "SELECT DISTINCT flag_id FROM webhook_sent", func(scan func(...any) error) error {
		var id string
		if err := scan(&id); err != nil {
			return err
		}
		out[id] = true
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read sent flags: %w", err)
	}
	return out, nil
}

// RecordSentFlags records flags the portal has accepted.
func RecordSentFlags(ctx context.Context, st Store, ids []string, at time.Time) error {
	rows := make([][]any, len(ids))
	for i, id := range ids {
		rows[i] = []any{id, at.UTC()}
	}
	return st.Insert(ctx, "webhook_sent", []string{"flag_id", "sent_at"}, rows)
}
