package ingest

import (
	"context"
	"sync"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/store"
)

// Owners decides whose GPU a sample is (SPEC §9): a provider's pushes and
// the targets listed for it may store samples of its own inventory's GPUs
// only. It is the inventory, as whose GPU was where when, read from the store
// and read again when older than MaxAge, or on a refusal when older than
// ten seconds, so that a GPU just imported is taken at once.
type Owners struct {
	Store  store.Store
	MaxAge time.Duration // default a minute

	mu     sync.Mutex
	spans  map[string][]span
	loaded time.Time
}

type span struct {
	from, to int64 // [from, to) unix seconds; to gpumeter.Forever for open
	provider string
}

// Filter keeps the samples of GPUs that are provider's at their time and
// counts the others by hour and reason.
func (o *Owners) Filter(ctx context.Context, provider string, samples []gpumeter.Sample) (kept []gpumeter.Sample, refused tally, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	maxAge := o.MaxAge
	if maxAge == 0 {
		maxAge = time.Minute
	}
	if o.spans == nil || time.Since(o.loaded) > maxAge {
		if err := o.load(ctx); err != nil {
			return nil, nil, err
		}
	}
	kept, refused = o.filter(provider, samples)
	if len(refused) > 0 && time.Since(o.loaded) > 10*time.Second {
		if err := o.load(ctx); err != nil {
			return nil, nil, err
		}
		kept, refused = o.filter(provider, samples)
	}
	return kept, refused, nil
}

func (o *Owners) filter(provider string, samples []gpumeter.Sample) ([]gpumeter.Sample, tally) {
	kept := samples[:0:0]
	var refused tally
	for _, s := range samples {
		switch owner := o.owner(s.GPUUUID, s.TS.Unix()); owner {
		case provider:
			kept = append(kept, s)
		case "":
			refused.add(s.TS, gpumeter.RefusedUnknownGPU)
		default:
			refused.add(s.TS, gpumeter.RefusedForeignGPU)
		}
	}
	return kept, refused
}

// owner is the provider whose inventory holds gpu at t; "" for none.
func (o *Owners) owner(gpu string, t int64) string {
	for _, sp := range o.spans[gpu] {
		if sp.from <= t && t < sp.to {
			return sp.provider
		}
	}
	return ""
}

func (o *Owners) load(ctx context.Context) error {
	rows, err := store.Inventory(ctx, o.Store)
	if err != nil {
		return err
	}
	spans := make(map[string][]span, len(rows))
	for _, r := range rows {
		to := gpumeter.Forever
		if r.ValidTo != nil {
			to = r.ValidTo.Unix()
		}
		spans[r.GPUUUID] = append(spans[r.GPUUUID], span{r.ValidFrom.Unix(), to, r.Provider})
	}
	o.spans, o.loaded = spans, time.Now()
	return nil
}
