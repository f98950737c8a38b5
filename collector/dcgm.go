// Package collector scrapes per-GPU metrics (dcgm-exporter endpoints, or NVML
// in-process) and writes them to the store in batches, spooling to disk while
// the store is unreachable (SPEC §4).
package collector

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nipa-gpu/gpumeter"
)

// field is one of the sample's metric fields.
type field int

const (
	fGPUUtil field = iota
	fGrEngineActive
	fSMActive
	fFBUsed
	fFBFree
	fPower
	fEnergy
	nFields
)

var fieldNames = [nFields]string{"gpu_util", "gr_engine_active", "sm_active", "fb_used_mib", "fb_free_mib", "power_w", "energy_mj"}

// dcgmFields maps exporter metric names, upper-case (default) or lower-case
// (`-o` mode), to sample fields.
var dcgmFields = map[string]field{}

func init() {
	for name, f := range map[string]field{
		"DCGM_FI_DEV_GPU_UTIL":                 fGPUUtil,
		"DCGM_FI_PROF_GR_ENGINE_ACTIVE":        fGrEngineActive,
		"DCGM_FI_PROF_SM_ACTIVE":               fSMActive,
		"DCGM_FI_DEV_FB_USED":                  fFBUsed,
		"DCGM_FI_DEV_FB_FREE":                  fFBFree,
		"DCGM_FI_DEV_POWER_USAGE":              fPower,
		"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION": fEnergy,
	} {
		dcgmFields[name] = f
		dcgmFields[strings.ToLower(name)] = f
	}
}

// limits of a valid value per field (GPU memory below 16 TiB, power below
// 100 kW); anything above is garbage such as 4294967295.
var fieldMax = [nFields]float64{100, 1, 1, 1 << 24, 1 << 24, 1e5, 1 << 62}

// isBlank recognises DCGM's blank sentinels: DCGM_INT32_BLANK (0x7ffffff0)
// and its neighbours, DCGM_FP64_BLANK (2^47) and its neighbours, and the
// int64 blanks near 2^63, which print as 9223372036854775794 and similar.
func isBlank(v float64) bool {
	return math.IsNaN(v) || math.IsInf(v, 0) ||
		v >= 0x7ffffff0 && v <= 0x7fffffff ||
		v >= 1<<47 && v <= 1<<47+16 ||
		v >= 0x7ffffffffffffff0
}

// Invalid reasons counted in self-metrics.
const (
	ReasonBlank      = "blank_sentinel"
	ReasonOutOfRange = "out_of_range"
	ReasonNoUUID     = "no_uuid"
)

// ParseStats counts what one scrape held beside the samples.
type ParseStats struct {
	Series  int                       // series of the metrics read
	Invalid map[string]map[string]int // field -> reason -> count
	Copies  int                       // time-sliced copies of one device value, taken once
}

func (s *ParseStats) invalid(f, reason string) {
	if s.Invalid == nil {
		s.Invalid = map[string]map[string]int{}
	}
	if s.Invalid[f] == nil {
		s.Invalid[f] = map[string]int{}
	}
	s.Invalid[f][reason]++
}

// ErrNoDCGM is a body that parsed but held none of the DCGM metrics: most likely
// the wrong URL, so the target is down, not merely idle.
var ErrNoDCGM = errors.New("no DCGM metrics in the response")

var errEmpty = errors.New("empty response")

// gpuAcc gathers one GPU's series.
type gpuAcc struct {
	uuid, hostname string
	// values per field per MIG instance ("" for the whole GPU): time-sliced
	// copies of one device value land on the same key and are taken once.
	values [nFields]map[string]float64
	// (namespace, pod) pairs seen on the GPU's series.
	pods map[[2]string]bool
}

// ParseDCGM reads one dcgm-exporter scrape and returns one sample per GPU,
// stamped ts. Blank sentinels and out-of-range values become missing values,
// counted in stats; several pods on one GPU (time-slicing) carry copies of
// the same device value, which are taken once; MIG instances make a GPU
// busy when any instance is, their memory adds up, and power and energy,
// repeated per instance, are taken once.
func ParseDCGM(r io.Reader, ts time.Time) ([]gpumeter.Sample, ParseStats, error) {
	var stats ParseStats
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, stats, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, stats, errEmpty
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, stats, fmt.Errorf("parse: %w", err)
	}
	gpus := map[string]*gpuAcc{}
	seen := false
	for name, fam := range families {
		f, ok := dcgmFields[name]
		if !ok {
			continue
		}
		seen = true
		for _, m := range fam.GetMetric() {
			stats.Series++
			labels := labelMap(m)
			uuid := first(labels, "UUID", "uuid")
			if uuid == "" {
				stats.invalid(fieldNames[f], ReasonNoUUID)
				continue
			}
			g := gpus[uuid]
			if g == nil {
				g = &gpuAcc{uuid: uuid, pods: map[[2]string]bool{}}
				gpus[uuid] = g
			}
			if g.hostname == "" {
				g.hostname = first(labels, "Hostname", "hostname")
			}
			ns, pod := first(labels, "namespace", "pod_namespace"), first(labels, "pod", "pod_name")
			if ns != "" || pod != "" {
				g.pods[[2]string{ns, pod}] = true
			}
			v, ok := value(m)
			if !ok {
				continue
			}
			switch {
			case isBlank(v):
				stats.invalid(fieldNames[f], ReasonBlank)
				continue
			case v < 0 || v > fieldMax[f]:
				stats.invalid(fieldNames[f], ReasonOutOfRange)
				continue
			}
			if g.values[f] == nil {
				g.values[f] = map[string]float64{}
			}
			instance := labels["GPU_I_ID"]
			if prev, dup := g.values[f][instance]; dup {
				stats.Copies++
				v = math.Max(prev, v)
			}
			g.values[f][instance] = v
		}
	}
	if !seen {
		return nil, stats, ErrNoDCGM
	}
	out := make([]gpumeter.Sample, 0, len(gpus))
	for _, g := range gpus {
		out = append(out, g.sample(ts))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GPUUUID < out[j].GPUUUID })
	return out, stats, nil
}

func (g *gpuAcc) sample(ts time.Time) gpumeter.Sample {
	s := gpumeter.Sample{TS: ts.Truncate(time.Second).UTC(), GPUUUID: g.uuid, Hostname: g.hostname}
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

func labelMap(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func first(labels map[string]string, names ...string) string {
	for _, n := range names {
		if v := labels[n]; v != "" {
			return v
		}
	}
	return ""
}

func value(m *dto.Metric) (float64, bool) {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}
