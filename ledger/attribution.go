package ledger

import (
	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/store"
)

// runs are the listed mismatch runs of a period, per provider, with what
// the violation check needs of each.
type runs struct {
	byProvider map[string][]Mismatch
	violation  map[string][]Violation
}

// mismatchRuns joins the hourly stretches of foreign or unknown namespaces
// into runs (consecutive on one GPU, one holder, one namespace, one kind)
// and keeps those of at least min seconds. A listed run on a government GPU
// whose namespace is a provider project's while a public project or nobody
// held the GPU is also the violation attribution_mismatch.
func mismatchRuns(fragments []store.Mismatch, projects []gpumeter.Project, min int64) runs {
	owner := map[string]gpumeter.Project{}
	kinds := map[string]gpumeter.ProjectKind{}
	for _, p := range projects {
		if p.Namespace != "" {
			owner[p.Namespace] = p
		}
		kinds[p.ID] = p.Kind
	}
	out := runs{byProvider: map[string][]Mismatch{}, violation: map[string][]Violation{}}
	type open struct {
		m        store.Mismatch
		provider string
	}
	var cur *open
	flush := func() {
		if cur == nil || cur.m.To-cur.m.From < min {
			return
		}
		m := cur.m
		seen := ""
		if m.Kind == "foreign" {
			seen = owner[m.Namespace].ID
		}
		out.byProvider[cur.provider] = append(out.byProvider[cur.provider], Mismatch{GPU: m.GPU, Node: m.Node, Share: m.Share,
			Holder: m.Project, Namespace: m.Namespace, SeenProject: seen, From: m.From, To: m.To})
		holderPublicOrNone := m.Project == "" || kinds[m.Project] == gpumeter.ProjectPublic
		if m.Share == gpumeter.ShareGovernment && seen != "" && owner[m.Namespace].Kind == gpumeter.ProjectProvider && holderPublicOrNone {
			out.violation[cur.provider] = append(out.violation[cur.provider], Violation{Kind: gpumeter.AttributionMismatch,
				GPU: m.GPU, Node: m.Node, From: m.From, To: m.To, Seconds: m.To - m.From})
		}
	}
	for _, f := range fragments {
		if cur != nil && cur.m.GPU == f.GPU && cur.m.To == f.From && cur.m.Project == f.Project && cur.m.Namespace == f.Namespace &&
			cur.m.Kind == f.Kind && cur.m.Share == f.Share {
			cur.m.To = f.To
			continue
		}
		flush()
		cur = &open{m: f, provider: f.Provider}
	}
	flush()
	return out
}

func (r runs) of(provider string) []Mismatch {
	if list := r.byProvider[provider]; list != nil {
		return list
	}
	return []Mismatch{}
}

func (r runs) violations(provider string) []Violation { return r.violation[provider] }
