package collector

import (
	"math"
	"slices"
	"sort"
	"time"

	"github.com/nipa-gpu/gpumeter"
)

// Limits bound what one scrape or one push may carry.
type Limits struct {
	// MaxLabelBytes is the longest identity label value (UUID, host name,
	// namespace, pod, MIG instance) taken; a series with a longer one is
	// refused and counted.
	MaxLabelBytes int
	// MaxSeries is the most series one scrape may hold, of any metric; a
	// scrape with more fails whole.
	MaxSeries int
}

// DefaultLimits: an 8-GPU node with MIG and time-slicing serves a few
// thousand series, and no id real exporters send is near 256 bytes.
var DefaultLimits = Limits{MaxLabelBytes: 256, MaxSeries: 50000}

// ReasonLabelTooLong is a series refused for an identity label longer than
// Limits.MaxLabelBytes.
const ReasonLabelTooLong = "label_too_long"

// ReasonLabelNotText is a series refused for an identity label that is not
// text: invalid UTF-8 or a control character, which a samples file may not
// hold either.
const ReasonLabelNotText = "label_not_text"

// gpuSet gathers dcgm-exporter series, scraped or pushed, into one sample per
// GPU per second (SPEC §4, §9): blank sentinels and out-of-range values
// become missing values, counted in stats; several pods on one GPU
// (time-slicing) carry copies of the same device value, which are taken
// once; MIG instances make a GPU busy when any instance is, their memory adds
// up, and power and energy, repeated per instance, are taken once.
type gpuSet struct {
	limits Limits
	gpus   map[gpuKey]*gpuAcc
	stats  ParseStats
	seen   bool // a DCGM series, valid or not
}

type gpuKey struct {
	uuid string
	ts   int64 // unix seconds
}

// gpuAcc gathers one GPU's series of one second.
type gpuAcc struct {
	hostname string
	// values per field per MIG instance ("" for the whole GPU): time-sliced
	// copies of one device value land on the same key and are taken once.
	values [nFields]map[string]float64
	// (namespace, pod) pairs seen on the GPU's series.
	pods map[[2]string]bool
}

func newGPUSet(limits Limits) *gpuSet {
	return &gpuSet{limits: limits, gpus: map[gpuKey]*gpuAcc{}}
}

// add takes one series' value of field f at second ts; label reads its labels.
func (s *gpuSet) add(f field, label func(string) string, v float64, ts int64) {
	s.seen = true
	s.stats.Series++
	uuid := first(label, "UUID", "uuid")
	if uuid == "" {
		s.stats.invalid(fieldNames[f], ReasonNoUUID)
		return
	}
	host, ns, pod, instance := first(label, "Hostname", "hostname"), first(label, "namespace", "pod_namespace"),
		first(label, "pod", "pod_name"), label("GPU_I_ID")
	if max := s.limits.MaxLabelBytes; max > 0 && (len(uuid) > max || len(host) > max || len(ns) > max || len(pod) > max || len(instance) > max) {
		s.stats.invalid(fieldNames[f], ReasonLabelTooLong)
		return
	}
	for _, l := range [...]string{uuid, host, ns, pod, instance} {
		if gpumeter.TextFault(l) != "" {
			s.stats.invalid(fieldNames[f], ReasonLabelNotText)
			return
		}
	}
	k := gpuKey{uuid, ts}
	g := s.gpus[k]
	if g == nil {
		g = &gpuAcc{pods: map[[2]string]bool{}}
		s.gpus[k] = g
	}
	if g.hostname == "" {
		g.hostname = host
	}
	if ns != "" || pod != "" {
		g.pods[[2]string{ns, pod}] = true
	}
	switch {
	case isBlank(v):
		s.stats.invalid(fieldNames[f], ReasonBlank)
		return
	case v < 0 || v > fieldMax[f]:
		s.stats.invalid(fieldNames[f], ReasonOutOfRange)
		return
	}
	if g.values[f] == nil {
		g.values[f] = map[string]float64{}
	}
	if prev, dup := g.values[f][instance]; dup {
		s.stats.Copies++
		v = math.Max(prev, v)
	}
	g.values[f][instance] = v
}

// samples are the GPUs' samples in (GPU, time) order; ErrNoDCGM when no
// DCGM series came at all.
func (s *gpuSet) samples() ([]gpumeter.Sample, ParseStats, error) {
	if !s.seen {
		return nil, s.stats, ErrNoDCGM
	}
	out := make([]gpumeter.Sample, 0, len(s.gpus))
	for k, g := range s.gpus {
		out = append(out, g.sample(k))
	}
	slices.SortFunc(out, func(a, b gpumeter.Sample) int {
		if a.GPUUUID != b.GPUUUID {
			if a.GPUUUID < b.GPUUUID {
				return -1
			}
			return 1
		}
		return a.TS.Compare(b.TS)
	})
	return out, s.stats, nil
}

func (g *gpuAcc) sample(k gpuKey) gpumeter.Sample {
	s := gpumeter.Sample{TS: time.Unix(k.ts, 0).UTC(), GPUUUID: k.uuid, Hostname: g.hostname}
	s.GPUUtil = combine(g.values[fGPUUtil], math.Max)
	s.GrEngineActive = combine(g.values[fGrEngineActive], math.Max)
	s.SMActive = combine(g.values[fSMActive], math.Max)
	s.PowerW = combine(g.values[fPower], math.Max)
	s.FBUsedMiB = toUint(combine(g.values[fFBUsed], sum))
	s.FBFreeMiB = toUint(combine(g.values[fFBFree], sum))
	s.EnergyMJ = toUint(combine(g.values[fEnergy], math.Max))
	if len(g.pods) > 0 {
		// Time-slicing shares a GPU among pods; the sample names the first
		// in order, so the choice is the same on every scrape.
		pods := make([][2]string, 0, len(g.pods))
		for p := range g.pods {
			pods = append(pods, p)
		}
		sort.Slice(pods, func(i, j int) bool {
			return pods[i][0] < pods[j][0] || pods[i][0] == pods[j][0] && pods[i][1] < pods[j][1]
		})
		s.Namespace, s.Pod = pods[0][0], pods[0][1]
	}
	return s
}

func sum(a, b float64) float64 { return a + b }

// combine folds the per-instance values of one field; nil when none is valid.
func combine(values map[string]float64, fold func(a, b float64) float64) *float64 {
	if len(values) == 0 {
		return nil
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys) // a fixed order keeps float sums identical run to run
	acc := values[keys[0]]
	for _, k := range keys[1:] {
		acc = fold(acc, values[k])
	}
	return &acc
}

func toUint(p *float64) *uint64 {
	if p == nil {
		return nil
	}
	v := uint64(math.Round(*p))
	return &v
}

func first(label func(string) string, names ...string) string {
	for _, n := range names {
		if v := label(n); v != "" {
			return v
		}
	}
	return ""
}
