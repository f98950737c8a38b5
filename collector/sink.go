package collector

import (
	"context"
	"maps"
	"slices"
	"sync"

	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/ingest"
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
// the schema (Open) once the store answers. The samples go in through
// ingest, as the target's owner's (SPEC §9): a target listed for a provider
// stores only GPUs of that provider's inventory.
type StoreSink struct {
	Open   func(ctx context.Context) (store.Store, error)
	Ingest *ingest.Metrics
	Log    *zap.Logger

	mu sync.Mutex
	st store.Store
	in *ingest.Ingester
}

func (s *StoreSink) ingester(ctx context.Context) (*ingest.Ingester, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.in == nil {
		st, err := s.Open(ctx)
		if err != nil {
			return nil, err
		}
		s.st, s.in = st, ingest.New(st, s.Ingest, s.Log)
		s.Log.Info("store answers: writing samples")
	}
	return s.in, nil
}

// Close closes the store if it was opened.
func (s *StoreSink) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st != nil {
		s.st.Close()
		s.st, s.in = nil, nil
	}
}

// Write hands the batch to ingest, owner by owner. Should one fail, the
// writer retries the whole batch, which is harmless (see ingest.Write).
func (s *StoreSink) Write(ctx context.Context, batch []Owned) (int, error) {
	in, err := s.ingester(ctx)
	if err != nil {
		return 0, err
	}
	byOwner := map[string][]gpumeter.Sample{}
	for _, o := range batch {
		byOwner[o.Owner] = append(byOwner[o.Owner], o.Sample)
	}
	stored := 0
	for _, owner := range slices.Sorted(maps.Keys(byOwner)) {
		res, err := in.Write(ctx, ingest.Origin{Source: ingest.Scrape, Provider: owner}, byOwner[owner])
		if err != nil {
			return 0, err
		}
		stored += res.Stored
	}
	return stored, nil
}
