package ledger

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/store"
)

// Resolve carries kept flags over to the flags found by an evaluation at
// `at` (SPEC §8.1): a found flag that continues a kept one (same GPU, kind
// and project, its since within the kept stretch [since, seen_at]) is that
// flag, with the kept id and since, even where the 35-day look-back has
// moved on. It returns every flag in its new state: those found, in their
// order, seen at `at` (new ones flagged at `at`), then the kept open ones
// not found again, closed at `at`.
func Resolve(kept []gpumeter.TrackedFlag, found []gpumeter.IdleFlag, at time.Time) []gpumeter.TrackedFlag {
	at = at.UTC()
	out := make([]gpumeter.TrackedFlag, 0, len(found)+len(kept))
	continued := map[string]bool{}
	for _, f := range found {
		t := gpumeter.TrackedFlag{IdleFlag: f, FlaggedAt: at, SeenAt: at}
		if k, ok := continues(kept, f); ok {
			t.FlagID, t.Since, t.FlaggedAt = k.FlagID, k.Since, k.FlaggedAt
			since, _ := time.Parse(time.RFC3339, k.Since)
			t.Hours = gpumeter.Hours(at.Unix() - since.Unix())
			continued[k.FlagID] = true
		}
		out = append(out, t)
	}
	for _, k := range kept {
		if k.Open() && !continued[k.FlagID] {
			k.ClosedAt = at
			out = append(out, k)
		}
	}
	return out
}

// continues finds the kept flag, the earliest if several, whose stretch the
// found flag's since falls in.
func continues(kept []gpumeter.TrackedFlag, f gpumeter.IdleFlag) (gpumeter.TrackedFlag, bool) {
	var best gpumeter.TrackedFlag
	ok := false
	for _, k := range kept {
		if k.GPUUUID != f.GPUUUID || k.Kind != f.Kind || k.ProjectID != f.ProjectID {
			continue
		}
		// RFC 3339 in UTC orders as text.
		if k.Since <= f.Since && f.Since <= k.SeenAt.Format(time.RFC3339) && (!ok || k.Since < best.Since) {
			best, ok = k, true
		}
	}
	return best, ok
}

// Track evaluates the idle flags at `at`, carries the kept open flags over
// (Resolve) and records the result. Evaluations go forward in time: one
// before the latest recorded is refused. The rollups must be up to date.
func Track(ctx context.Context, st store.Store, cfg config.Config, at time.Time) ([]gpumeter.TrackedFlag, error) {
	last, ok, err := store.LastIdleEvaluation(ctx, st)
	if err != nil {
		return nil, err
	}
	if ok && at.Before(last) {
		return nil, fmt.Errorf("track idle flags at %s: they were evaluated at %s already; evaluations go forward",
			at.UTC().Format(time.RFC3339), last.Format(time.RFC3339))
	}
	kept, err := store.TrackedFlags(ctx, st, store.FlagFilter{Open: true})
	if err != nil {
		return nil, err
	}
	found, err := Idle(ctx, st, cfg, at)
	if err != nil {
		return nil, err
	}
	flags := Resolve(kept, found, at)
	if err := store.RecordIdleEvaluation(ctx, st, at, flags); err != nil {
		return nil, err
	}
	return flags, nil
}

// Stable gives found flags the ids and since of the kept flags they
// continue, without recording anything: what a read-only evaluation (the
// `idle` command, a report) shows.
func Stable(ctx context.Context, st store.Store, found []gpumeter.IdleFlag, at time.Time) ([]gpumeter.IdleFlag, error) {
	if len(found) == 0 {
		return found, nil
	}
	kept, err := store.TrackedFlags(ctx, st, store.FlagFilter{})
	if err != nil {
		return nil, err
	}
	return stable(kept, found, at), nil
}

func stable(kept []gpumeter.TrackedFlag, found []gpumeter.IdleFlag, at time.Time) []gpumeter.IdleFlag {
	out := make([]gpumeter.IdleFlag, len(found))
	for i, t := range Resolve(kept, found, at)[:len(found)] {
		out[i] = t.IdleFlag
	}
	return out
}

// Reallocation is what became of a period's idle flags: those whose idle
// stretch [since, seen_at) overlaps the period.
type Reallocation struct {
	Flags              int
	FlaggedIdle        int64 // GPU-seconds of their stretches within the period
	Reallocated        int
	Declined           int
	Acknowledged       int
	MedianSecondsToAck float64 // from first flagged to first acknowledged, over the acknowledged
}

// reallocation sums tracked flags and their acknowledgements per provider.
func reallocation(flags []gpumeter.TrackedFlag, acks map[string][]gpumeter.Ack, from, to int64) map[string]*Reallocation {
	out := map[string]*Reallocation{}
	waits := map[string][]int64{}
	for _, f := range flags {
		since, err := time.Parse(time.RFC3339, f.Since)
		if err != nil {
			continue
		}
		lo, hi := max(since.Unix(), from), min(f.SeenAt.Unix(), to)
		if hi <= lo {
			continue
		}
		r := out[f.Provider]
		if r == nil {
			r = &Reallocation{}
			out[f.Provider] = r
		}
		r.Flags++
		r.FlaggedIdle += hi - lo
		a := acks[f.FlagID]
		if len(a) == 0 {
			continue
		}
		switch a[len(a)-1].Action {
		case gpumeter.FlagReallocated:
			r.Reallocated++
		case gpumeter.FlagDeclined:
			r.Declined++
		}
		r.Acknowledged++
		waits[f.Provider] = append(waits[f.Provider], max(a[0].At.Unix()-f.FlaggedAt.Unix(), 0))
	}
	for p, w := range waits {
		slices.Sort(w)
		n := len(w)
		out[p].MedianSecondsToAck = float64(w[n/2]+w[(n-1)/2]) / 2
	}
	return out
}
