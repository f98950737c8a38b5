package collector

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/ownership"
	"github.com/nipa-gpu/gpumeter/store"
)

// Owned is a sample with the provider its target is listed for ("" none):
// what the writer batches and the spool keeps, so that ownership is checked
// where the inventory can be read, also after an outage.
type Owned struct {
	gpumeter.Sample
	Owner string `json:"owner,omitempty"`
}

// Sink takes the writer's batches and says how many samples it stored: the
// store (StoreSink), or a central gpumeter (RemoteWrite).
type Sink interface {
	Write(ctx context.Context, batch []Owned) (stored int, err error)
}

// Refused is a batch a sink will never take: retrying cannot help.
type Refused struct{ Err error }

func (r *Refused) Error() string { return "refused: " + r.Err.Error() }
func (r *Refused) Unwrap() error { return r.Err }

// StoreSink writes batches into a store that it opens at first use: a
// collector starts, scrapes and spools while the store is down, and checks
// the schema (Open) once the store answers. Samples of a target listed for a
// provider are stored only for GPUs of that provider's inventory (SPEC §9);
// the others are counted by reason, here and in the store.
type StoreSink struct {
	Open    func(ctx context.Context) (store.Store, error)
	Metrics *Metrics
	Log     *zap.Logger

	mu     sync.Mutex
	st     store.Store
	owners *ownership.Owners
}

func (s *StoreSink) store(ctx context.Context) (store.Store, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st == nil {
		st, err := s.Open(ctx)
		if err != nil {
			return nil, err
		}
		s.st, s.owners = st, &ownership.Owners{Store: st}
		s.Log.Info("store answers: writing samples")
	}
	return s.st, nil
}

// Close closes the store if it was opened.
func (s *StoreSink) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st != nil {
		s.st.Close()
		s.st = nil
	}
}

func (s *StoreSink) Write(ctx context.Context, batch []Owned) (int, error) {
	st, err := s.store(ctx)
	if err != nil {
		return 0, err
	}
	byOwner := map[string][]gpumeter.Sample{}
	for _, o := range batch {
		byOwner[o.Owner] = append(byOwner[o.Owner], o.Sample)
	}
	kept := byOwner[""]
	var refused []store.Rejection
	for owner, samples := range byOwner {
		if owner == "" {
			continue
		}
		ok, reasons, err := s.owners.Filter(ctx, owner, samples)
		if err != nil {
			return 0, fmt.Errorf("check ownership: %w", err)
		}
		kept = append(kept, ok...)
		for reason, n := range reasons {
			refused = append(refused, store.Rejection{Hour: samples[0].TS, Provider: owner, Source: "scrape", Reason: reason, Samples: uint64(n)})
		}
	}
	if err := WriteSamples(ctx, st, kept); err != nil {
		return 0, err
	}
	if err := store.RecordRejections(ctx, st, refused); err != nil {
		return 0, err
	}
	for _, r := range refused {
		s.Metrics.Refused.WithLabelValues(r.Provider, r.Reason).Add(float64(r.Samples))
		s.Log.Warn("samples of GPUs not in the target's provider's inventory refused",
			zap.String("provider", r.Provider), zap.String("reason", r.Reason), zap.Uint64("samples", r.Samples))
	}
	return len(kept), nil
}

// WriteSamples stores collected samples and marks their hours for
// recomputation. Should the note fail, the caller retries the whole batch:
// writing it again is harmless (one row per GPU and second), and its hours
// must not be left out of the accounting.
func WriteSamples(ctx context.Context, st store.Inserter, samples []gpumeter.Sample) error {
	if len(samples) == 0 {
		return nil
	}
	if err := store.InsertSamples(ctx, st, samples, uint64(time.Now().UnixNano())); err != nil {
		return err
	}
	return store.NoteSamples(ctx, st, samples)
}
