package aggregator

import (
	"context"
	"sort"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/store"
)

// Hold is one government GPU held by its provider's own projects without a
// break: back-to-back allocations, even of different projects, are one hold.
type Hold struct {
	GPU, Node, Provider string
	From, To            int64 // To is forever for a hold that has not ended
}

// BorrowHolds lists the holds of government GPUs by their providers' own
// projects, in GPU and time order.
func BorrowHolds(ctx context.Context, st store.Store) ([]Hold, error) {
	ref, err := loadReference(ctx, st)
	if err != nil {
		return nil, err
	}
	gpus := make([]string, 0, len(ref.inv))
	for g := range ref.inv {
		gpus = append(gpus, g)
	}
	sort.Strings(gpus)
	var out []Hold
	for _, g := range gpus {
		var pieces []Hold
		for _, h := range ref.holds[g] {
			if h.kind != gpumeter.ProjectProvider {
				continue
			}
			for _, r := range ref.inv[g] {
				if r.share != gpumeter.ShareGovernment {
					continue
				}
				if f, t := max(h.from, r.from), min(h.to, r.to); f < t {
					pieces = append(pieces, Hold{GPU: g, Node: r.node, Provider: r.provider, From: f, To: t})
				}
			}
		}
		sort.Slice(pieces, func(i, j int) bool { return pieces[i].From < pieces[j].From })
		for _, p := range pieces {
			if n := len(out); n > 0 && out[n-1].GPU == g && out[n-1].To >= p.From {
				out[n-1].To = max(out[n-1].To, p.To)
				continue
			}
			out = append(out, p)
		}
	}
	return out, nil
}

// Forever is the end of a hold or span that has not ended.
const Forever = forever
