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
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

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

// dcgmFields maps exporter metric names to sample fields: dcgm-exporter's
// DCGM_FI_* names, their lower-case forms (`-o` mode), and the names of its
// 1.x-compatibility counters (etc/1.x-compatibility-metrics.csv).
var dcgmFields = map[string]field{
	"dcgm_gpu_utilization":          fGPUUtil,
	"dcgm_fi_prof_gr_engine_active": fGrEngineActive,
	"dcgm_fi_prof_sm_active":        fSMActive,
	"dcgm_fb_used":                  fFBUsed,
	"dcgm_fb_free":                  fFBFree,
	"dcgm_power_usage":              fPower,
	"dcgm_total_energy_consumption": fEnergy,
}

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

// ParseDCGM reads one dcgm-exporter scrape with the Prometheus scraper's own
// lexer (model/textparse) and returns one sample per GPU, stamped ts. The
// rules are gpuSet's; a scrape of more series than limits allow fails whole.
func ParseDCGM(r io.Reader, ts time.Time, limits Limits) ([]gpumeter.Sample, ParseStats, error) {
	set := newGPUSet(limits)
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, set.stats, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, set.stats, errEmpty
	}
	p := textparse.NewPromParser(body, labels.NewSymbolTable(), false)
	var lbls labels.Labels
	second := ts.Unix()
	for series := 0; ; {
		entry, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, set.stats, fmt.Errorf("parse: %w", err)
		}
		if entry != textparse.EntrySeries {
			continue
		}
		if series++; limits.MaxSeries > 0 && series > limits.MaxSeries {
			return nil, set.stats, &ScrapeError{Outcome: "too_many_series",
				Err: fmt.Errorf("more than %d series in one scrape: too many", limits.MaxSeries)}
		}
		raw, _, v := p.Series()
		name, quoted := metricName(raw)
		if quoted {
			p.Labels(&lbls)
			name = []byte(lbls.Get(labels.MetricName))
		}
		f, ok := dcgmFields[string(name)]
		if !ok {
			continue
		}
		if !quoted {
			p.Labels(&lbls)
		}
		set.add(f, lbls.Get, v, second)
	}
	return set.samples()
}

// metricName is the name at the head of a series' text; quoted says the
// name is inside the braces (UTF-8 names), to be read from the labels.
func metricName(series []byte) (name []byte, quoted bool) {
	if i := bytes.IndexByte(series, '{'); i >= 0 {
		return series[:i], i == 0
	}
	return series, false
}
