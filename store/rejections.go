package store

import (
	"context"
	"fmt"
	"time"
)

// Rejection counts samples refused by ownership in one hour.
type Rejection struct {
	Hour             time.Time
	Provider, Source string
	Reason           string
	Samples          uint64
}

// RecordRejections adds refusal counts.
func RecordRejections(ctx context.Context, st Inserter, rs []Rejection) error {
	if len(rs) == 0 {
		return nil
	}
	rows := make([][]any, len(rs))
	for i, r := range rs {
		rows[i] = []any{r.Hour.UTC().Truncate(time.Hour), r.Provider, r.Source, r.Reason, r.Samples}
	}
	if err := st.Insert(ctx, "rejected_samples", []string{"hour", "provider", "source", "reason", "samples"}, rows); err != nil {
		return fmt.Errorf("record rejected samples: %w", err)
	}
	return nil
}

// Rejections sums the refused samples of [from, to) by reason, for one
// provider or ("") all.
func Rejections(ctx context.Context, st Store, from, to int64, provider string) (map[string]uint64, error) {
	q := fmt.Sprintf("SELECT reason, sum(samples) FROM rejected_samples WHERE hour >= toDateTime(%d) AND hour < toDateTime(%d)", max(from, 0), to)
	if provider != "" {
		q += " AND provider = " + quote(provider)
	}
	q += " GROUP BY reason ORDER BY reason"
	out := map[string]uint64{}
	err := st.Stream(ctx, q, func(scan func(...any) error) error {
		var reason string
		var n uint64
		if err := scan(&reason, &n); err != nil {
			return err
		}
		out[reason] = n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read rejected_samples: %w", err)
	}
	return out, nil
}
