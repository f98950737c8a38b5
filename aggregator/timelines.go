package aggregator

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/store"
)

// Span is [From, To) in Unix seconds; To is gpumeter.Forever when open.
type Span struct{ From, To int64 }

// InvSpan is an inventory row of one GPU: capacity under a share.
type InvSpan struct {
	Span
	Share    gpumeter.Share
	Provider string
	Model    string
	Node     string
}

// HoldSpan is the GPU held by one project.
type HoldSpan struct {
	Span
	Project string
	Kind    gpumeter.ProjectKind
}

// Timelines are the reference data as per-GPU timelines, each sorted by
// time and without overlaps: the inventory rows and the holds (a node
// allocation holds each GPU while the inventory places it on that node).
type Timelines struct {
	Inv   map[string][]InvSpan
	Holds map[string][]HoldSpan
	// Namespaces of the registered projects, sorted, and whose each is.
	Namespaces       []string
	NamespaceProject []string
}

// NewTimelines arranges the reference data by GPU.
func NewTimelines(ref *store.Reference) *Timelines {
	tl := &Timelines{Inv: map[string][]InvSpan{}, Holds: map[string][]HoldSpan{}}
	byNode := map[string][]gpumeter.InventoryRow{}
	for _, r := range ref.Inventory {
		tl.Inv[r.GPUUUID] = append(tl.Inv[r.GPUUUID], InvSpan{Span: Span{r.ValidFrom.Unix(), end(r.ValidTo)},
			Share: r.Share, Provider: r.Provider, Model: r.Model, Node: r.Node})
		byNode[r.Node] = append(byNode[r.Node], r)
	}
	kinds := map[string]gpumeter.ProjectKind{}
	owner := map[string]string{}
	for _, p := range ref.Projects {
		kinds[p.ID] = p.Kind
		if p.Namespace != "" {
			owner[p.Namespace] = p.ID
		}
	}
	tl.Namespaces = slices.Sorted(maps.Keys(owner))
	for _, ns := range tl.Namespaces {
		tl.NamespaceProject = append(tl.NamespaceProject, owner[ns])
	}
	for _, al := range ref.Allocations {
		s := Span{al.Start.Unix(), end(al.End)}
		kind := kinds[al.ProjectID]
		if al.GPUUUID != "" {
			tl.Holds[al.GPUUUID] = append(tl.Holds[al.GPUUUID], HoldSpan{s, al.ProjectID, kind})
			continue
		}
		for _, r := range byNode[al.Node] {
			f, t := max(s.From, r.ValidFrom.Unix()), min(s.To, end(r.ValidTo))
			if f < t {
				tl.Holds[r.GPUUUID] = append(tl.Holds[r.GPUUUID], HoldSpan{Span{f, t}, al.ProjectID, kind})
			}
		}
	}
	for _, list := range tl.Inv {
		slices.SortFunc(list, func(a, b InvSpan) int { return cmp.Compare(a.From, b.From) })
	}
	for _, list := range tl.Holds {
		slices.SortFunc(list, func(a, b HoldSpan) int { return cmp.Compare(a.From, b.From) })
	}
	return tl
}

// GPUsWithCapacity lists, sorted, the GPUs with an inventory row in [from, to).
func (tl *Timelines) GPUsWithCapacity(from, to int64) []string {
	var out []string
	for g, rows := range tl.Inv {
		for _, r := range rows {
			if r.From < to && r.To > from {
				out = append(out, g)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

func end(t *time.Time) int64 {
	if t == nil {
		return gpumeter.Forever
	}
	return t.Unix()
}

// Place is where a GPU was under a share during [from, to): the last of its
// inventory rows of that share overlapping the range.
func (tl *Timelines) Place(gpu string, share gpumeter.Share, from, to int64) (InvSpan, bool) {
	rows := tl.Inv[gpu]
	for i := len(rows) - 1; i >= 0; i-- {
		if r := rows[i]; r.Share == share && r.From < to && r.To > from {
			return r, true
		}
	}
	return InvSpan{}, false
}
