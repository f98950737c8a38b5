// Package sim simulates the program's fleet (SPEC §1): nodes of 8 GPUs at the
// three providers, projects and allocations, and per-GPU metrics with daily
// cycles, idle stretches, outages, MIG, time-slicing and DCGM's blank
// sentinels. Everything follows from the seed, so a run can be repeated.
package sim

import (
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/nipa-gpu/gpumeter"
)

// ProviderSpec is one row of SPEC §1.
type ProviderSpec struct {
	ID, Model, Site, Style string
	GPUs, Government       int
}

// Providers are the program's three providers. Style is how their exporters
// label series: older releases (Hostname), newer (hostname), or -o mode.
var Providers = []ProviderSpec{
	{ID: "naver", Model: "H200", Site: "chuncheon", Style: StyleOld, GPUs: 3056, Government: 2296},
	{ID: "kakao", Model: "B200", Site: "ansan", Style: StyleNew, GPUs: 2424, Government: 2040},
	{ID: "nhn", Model: "B200", Site: "gwangju", Style: StyleOMode, GPUs: 7656, Government: 6120},
}

// Exporter label styles.
const (
	StyleOld   = "old"
	StyleNew   = "new"
	StyleOMode = "o-mode"
)

// GPUsPerNode is the node size of the whole fleet.
const GPUsPerNode = 8

// Fleet is a simulated fleet over one period.
type Fleet struct {
	Seed        int64
	From, To    time.Time
	Nodes       []*Node
	Projects    []gpumeter.Project
	Allocations []gpumeter.Allocation
	projects    map[string]*projectTraits
}

// Node is one server of 8 GPUs.
type Node struct {
	Name     string
	Provider ProviderSpec
	Share    gpumeter.Share
	MIG      bool // GPUs split into two MIG instances
	GPUs     []*GPU
}

// GPU is one simulated GPU with what holds it over time.
type GPU struct {
	UUID  string
	Index int
	Node  *Node
	holds []hold
	// TimeSliced GPUs show two pods, each with a copy of the device values.
	TimeSliced bool
	basePowerW float64
}

type hold struct {
	from, to time.Time
	project  *gpumeter.Project
}

type projectTraits struct {
	level float64 // typical activity 0–1
	idle  bool    // holds GPUs and barely uses them: a reclaim candidate
}

// New builds the fleet for [from, to) at a scale (1 = SPEC §1's 13,136 GPUs).
func New(seed int64, scale float64, from, to time.Time) *Fleet {
	f := &Fleet{Seed: seed, From: from, To: to, projects: map[string]*projectTraits{}}
	for _, p := range Providers {
		nodes := max(2, int(math.Round(float64(p.GPUs)*scale/GPUsPerNode)))
		gov := int(math.Round(float64(nodes) * float64(p.Government) / float64(p.GPUs)))
		gov = min(max(gov, 1), nodes-1)
		for i := 0; i < nodes; i++ {
			n := &Node{Name: fmt.Sprintf("%s-%s-%04d", p.ID, lower(p.Model), i+1), Provider: p, Share: gpumeter.SharePrivate}
			if i < gov {
				n.Share = gpumeter.ShareGovernment
			}
			n.MIG = i%20 == 7 // one node in twenty is split into MIG instances
			for g := 0; g < GPUsPerNode; g++ {
				gpu := &GPU{Index: g, Node: n, UUID: f.uuid(n.Name, g)}
				gpu.TimeSliced = !n.MIG && f.rand("ts", gpu.UUID) < 0.03
				gpu.basePowerW = 90 + 30*f.rand("idlepower", gpu.UUID)
				n.GPUs = append(n.GPUs, gpu)
			}
			f.Nodes = append(f.Nodes, n)
		}
		f.addProjects(p, nodes)
	}
	f.allocate()
	return f
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// rand is a deterministic number in [0,1) for a purpose and a key.
func (f *Fleet) rand(parts ...any) float64 {
	h := fnv.New64a()
	fmt.Fprint(h, f.Seed)
	for _, p := range parts {
		fmt.Fprint(h, "|", p)
	}
	// FNV's high bits hardly change when only the last characters of the
	// key do (a day number): mix them (splitmix64's finaliser).
	x := h.Sum64()
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / float64(1<<53)
}

func (f *Fleet) uuid(node string, idx int) string {
	h := fnv.New128a()
	fmt.Fprintf(h, "%d|%s|%d", f.Seed, node, idx)
	b := h.Sum(nil)
	return fmt.Sprintf("GPU-%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (f *Fleet) addProjects(p ProviderSpec, nodes int) {
	kinds := []struct {
		prefix, name string
	}{{"univ", "대학 연구"}, {"startup", "스타트업"}, {"public", "공공 과제"}}
	publics := max(3, nodes/12)
	for i := 0; i < publics; i++ {
		k := kinds[i%len(kinds)]
		id := fmt.Sprintf("%s-%s-%03d", p.ID, k.prefix, i+1)
		f.Projects = append(f.Projects, gpumeter.Project{ID: id, Name: fmt.Sprintf("%s %d (%s)", k.name, i+1, p.ID),
			Kind: gpumeter.ProjectPublic, Provider: p.ID, Namespace: id})
		f.projects[id] = &projectTraits{level: 0.45 + 0.5*f.rand("level", id), idle: f.rand("idleproj", id) < 0.15}
	}
	for i, name := range []string{"자체 학습", "자체 추론"} {
		id := fmt.Sprintf("%s-own-%d", p.ID, i+1)
		f.Projects = append(f.Projects, gpumeter.Project{ID: id, Name: p.ID + " " + name,
			Kind: gpumeter.ProjectProvider, Provider: p.ID, Namespace: id})
		f.projects[id] = &projectTraits{level: 0.7 + 0.25*f.rand("level", id)}
	}
}

// allocate gives nodes to projects: most government nodes to public projects
// in stretches of days, some left unallocated (idle capacity), a few borrowed
// by the provider; private nodes to the provider's own projects, a few lent.
func (f *Fleet) allocate() {
	byProvider := map[string][]*gpumeter.Project{}
	for i := range f.Projects {
		p := &f.Projects[i]
		byProvider[p.Provider+"/"+string(p.Kind)] = append(byProvider[p.Provider+"/"+string(p.Kind)], p)
	}
	day := 24 * time.Hour
	seq := 0
	seen := map[string]int{} // nodes of each provider and share so far
	for _, n := range f.Nodes {
		public := byProvider[n.Provider.ID+"/public"]
		own := byProvider[n.Provider.ID+"/provider"]
		nth := seen[n.Provider.ID+string(n.Share)]
		seen[n.Provider.ID+string(n.Share)]++
		t := f.From
		for step := 0; t.Before(f.To); step++ {
			r := f.rand("alloc", n.Name, step)
			// Every provider borrows and lends at least once, whatever the scale.
			switch {
			case n.Share == gpumeter.ShareGovernment && nth == 1 && step == 0:
				r = 0.75
			case n.Share == gpumeter.SharePrivate && nth == 0 && step == 1:
				r = 0.9
			}
			length := time.Duration(3+int(f.rand("len", n.Name, step)*12)) * day
			end := t.Add(length)
			var proj *gpumeter.Project
			switch {
			case n.Share == gpumeter.ShareGovernment && r < 0.70:
				proj = public[int(f.rand("pick", n.Name, step)*float64(len(public)))]
			case n.Share == gpumeter.ShareGovernment && r < 0.80:
				proj = own[0] // borrowing idle government capacity
				length = time.Duration(2+int(f.rand("borrowlen", n.Name, step)*4)) * day
				end = t.Add(length)
			case n.Share == gpumeter.SharePrivate && r < 0.85:
				proj = own[int(f.rand("pick", n.Name, step)*float64(len(own)))]
			case n.Share == gpumeter.SharePrivate && r < 0.92:
				proj = public[int(f.rand("pick", n.Name, step)*float64(len(public)))] // lent
			}
			if end.After(f.To) {
				end = f.To
			}
			if proj != nil {
				seq++
				a := gpumeter.Allocation{ID: fmt.Sprintf("sim-%06d", seq), ProjectID: proj.ID, Node: n.Name, Start: t}
				if end.Before(f.To) {
					e := end
					a.End = &e
				}
				f.Allocations = append(f.Allocations, a)
				for _, g := range n.GPUs {
					g.holds = append(g.holds, hold{from: t, to: end, project: proj})
				}
			}
			t = end
		}
	}
}

// Holder returns the project holding a GPU at t, and whether its pod labels
// are still shown: they linger after an allocation ends, 20 minutes mostly,
// 45 for one allocation in eight (past a 30-minute grace).
func (g *GPU) Holder(t time.Time) (p *gpumeter.Project, labels *gpumeter.Project) {
	for _, h := range g.holds {
		if !t.Before(h.from) && t.Before(h.to) {
			return h.project, h.project
		}
		linger := 20 * time.Minute
		if h.from.Unix()%8 == 0 {
			linger = 45 * time.Minute
		}
		if !t.Before(h.to) && t.Before(h.to.Add(linger)) {
			labels = h.project
		}
	}
	return nil, labels
}

// namespaceAt is the namespace a GPU's pods show at t: its labels' project's
// (see Holder), with the misuse the attribution audit looks for: now and
// then for a few night hours a provider runs its own project's pods on a
// government GPU a public project holds, and some pods run in namespaces no
// project registered.
func (f *Fleet) namespaceAt(g *GPU, t time.Time, holder, labels *gpumeter.Project) (*gpumeter.Project, string) {
	hourKST := (t.Unix() + 9*3600) % 86400 / 3600
	day := (t.Unix() + 9*3600) / 86400
	if g.Node.Share == gpumeter.ShareGovernment && holder != nil && holder.Kind == gpumeter.ProjectPublic &&
		hourKST >= 2 && hourKST < 5 && f.rand("misuse", g.Node.Name, day) < 0.03 {
		for i := range f.Projects {
			if p := &f.Projects[i]; p.Provider == g.Node.Provider.ID && p.Kind == gpumeter.ProjectProvider {
				return p, p.Namespace
			}
		}
	}
	if f.rand("stranger", g.UUID, t.Unix()/3600) < 0.004 {
		return nil, fmt.Sprintf("ci-runner-%d", int(f.rand("runner", g.UUID, t.Unix()/3600)*100))
	}
	if labels == nil {
		return nil, ""
	}
	return labels, labels.Namespace
}

// Down reports whether a node's exporter is out at t: about one hour-long
// outage a node per ten days.
func (f *Fleet) Down(n *Node, t time.Time) bool {
	hour := t.Unix() / 3600
	return f.rand("outage", n.Name, hour) < 1.0/240
}

// Fails reports whether one scrape of a node answers HTTP 500 (a reload).
func (f *Fleet) Fails(n *Node, t time.Time) bool {
	return f.rand("500", n.Name, t.Unix()/15) < 0.002
}

// Sample is a GPU's reading at t: a daily cycle around its project's level,
// idle when unallocated (with rare use without an allocation), blank values
// now and then.
func (f *Fleet) Sample(g *GPU, t time.Time) gpumeter.Sample {
	t = t.Truncate(time.Second)
	holder, labels := g.Holder(t)
	s := gpumeter.Sample{TS: t.UTC(), GPUUUID: g.UUID, Hostname: g.Node.Name}
	activity := 0.0
	if holder != nil {
		tr := f.projects[holder.ID]
		hourKST := float64((t.Unix()+9*3600)%86400) / 3600
		cycle := 0.75 + 0.25*math.Sin(2*math.Pi*(hourKST-9)/24)
		activity = tr.level * cycle
		if tr.idle {
			activity = 0.02 * f.rand("idlenoise", g.UUID, t.Unix()/60)
		}
		// Jobs end and restart: an idle quarter-hour now and then.
		if f.rand("gap", g.UUID, t.Unix()/900) < 0.08 {
			activity = 0
		}
	} else if f.rand("unalloc", g.UUID, t.Unix()/3600) < 0.01 {
		activity = 0.6 // used without an allocation
	}
	noise := 0.06 * (f.rand("noise", g.UUID, t.Unix()) - 0.5)
	activity = math.Min(1, math.Max(0, activity+noise*boolf(activity > 0)))
	util := math.Round(100 * math.Min(1, activity*1.1))
	gr := math.Round(1000*activity) / 1000
	sm := math.Round(1000*activity*0.85) / 1000
	total := uint64(141312)
	if g.Node.Provider.Model == "B200" {
		total = 183359
	}
	used := uint64(0)
	if holder != nil {
		used = uint64(float64(total) * (0.3 + 0.6*f.rand("mem", g.UUID, holder.ID)))
	}
	free := total - used
	power := math.Round((g.basePowerW+600*activity)*1000) / 1000
	s.GPUUtil, s.GrEngineActive, s.SMActive = &util, &gr, &sm
	s.FBUsedMiB, s.FBFreeMiB, s.PowerW = &used, &free, &power
	energy := f.energy(g, t)
	s.EnergyMJ = &energy
	if p, ns := f.namespaceAt(g, t, holder, labels); ns != "" {
		s.Namespace, s.Pod = ns, fmt.Sprintf("%s-worker-%d", ns, g.Index/4)
		if p != nil {
			s.Pod = fmt.Sprintf("%s-worker-%d", p.ID, g.Index/4)
		}
	}
	if f.rand("noenergy", g.UUID, t.Unix()) < 0.002 {
		s.EnergyMJ = nil // a reading without the counter: skipped, not a break
	}
	if f.rand("blank", g.UUID, t.Unix()) < 0.001 {
		s.GrEngineActive = nil // sent as a blank sentinel
	}
	return s
}

// energy is the GPU's energy counter in mJ, restarting from zero when the
// driver reloads (about once a week per node).
func (f *Fleet) energy(g *GPU, t time.Time) uint64 {
	week := t.Unix() / (7 * 86400)
	reload := week*7*86400 + int64(f.rand("reload", g.Node.Name, week)*7*86400)
	if t.Unix() < reload {
		reload -= 7 * 86400
	}
	return uint64(float64(t.Unix()-reload) * (g.basePowerW + 250) * 1000)
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// EachSample calls fn for every sample the fleet's exporters would have
// given at step intervals in [from, to), node by node, skipping outages.
func (f *Fleet) EachSample(from, to time.Time, step time.Duration, fn func(gpumeter.Sample) error) error {
	for _, n := range f.Nodes {
		for t := from; t.Before(to); t = t.Add(step) {
			if f.Down(n, t) {
				continue
			}
			for _, g := range n.GPUs {
				if err := fn(f.Sample(g, t)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
