package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nipa-gpu/gpumeter"
)

// sampleColumns are the samples table's columns in the order of sampleRow.
var sampleColumns = []string{
	"gpu_uuid", "ts", "hostname", "gpu_util", "gr_engine_active", "sm_active",
	"fb_used_mib", "fb_free_mib", "power_w", "energy_mj", "namespace", "pod", "version", "batch_id", "origin",
}

// FirstWins is the version of samples written at a time (or under an import
// batch id, which is one): the earlier, the higher, so that of two rows of a
// (gpu_uuid, ts) the first written is the one read and kept by merges.
// Migration 0014 explains the rest.
func FirstWins(at uint64) uint64 { return 1<<63 - 1 - min(at, 1<<63-1) }

// InsertSamples writes collected samples, each with its Origin, in one
// insert; they are read at once. version is FirstWins of the write's time.
func InsertSamples(ctx context.Context, st Inserter, samples []gpumeter.Sample, version uint64) error {
	const batch uint64 = 0 // collected: read at once
	rows := make([][]any, len(samples))
	for i, s := range samples {
		rows[i] = []any{
			s.GPUUUID, s.TS.UTC(), s.Hostname,
			f32(s.GPUUtil), f32(s.GrEngineActive), f32(s.SMActive),
			u32(s.FBUsedMiB), u32(s.FBFreeMiB), f32(s.PowerW), s.EnergyMJ,
			s.Namespace, s.Pod, version, batch, s.Origin,
		}
	}
	return st.Insert(ctx, "samples", sampleColumns, rows)
}

// visibleSamples keeps the samples a reader may see: collected ones (batch 0)
// and those of committed imports. It is a PREWHERE, which the engine applies
// before FINAL dedups (GLOBAL so that a cluster's shards get the set), so a
// sample of an uncommitted import neither shows nor hides a committed one.
// Schema migration 0007 explains the rest of the design.
const visibleSamples = "PREWHERE batch_id = 0 OR batch_id GLOBAL IN (SELECT batch_id FROM imports WHERE kind = 'samples')"

func f32(p *float64) *float32 {
	if p == nil {
		return nil
	}
	v := float32(*p)
	return &v
}

func u32(p *uint64) *uint32 {
	if p == nil {
		return nil
	}
	v := uint32(*p)
	return &v
}

// Samples reads the stored samples of one GPU in [from, to), deduplicated,
// in time order, each with its origin.
func Samples(ctx context.Context, st Store, gpu string, from, to time.Time) ([]gpumeter.Sample, error) {
	var out []gpumeter.Sample
	err := StoredSamples(ctx, st, []string{gpu}, from, to, func(s gpumeter.Sample) error {
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read samples of %s: %w", gpu, err)
	}
	return out, nil
}

// StoredSamples reads the stored samples of some GPUs in [from, to) as
// readers see them (deduplicated, committed), in GPU and time order.
func StoredSamples(ctx context.Context, st Store, gpus []string, from, to time.Time, fn func(gpumeter.Sample) error) error {
	if len(gpus) == 0 {
		return nil
	}
	q := fmt.Sprintf(`SELECT gpu_uuid, ts, hostname, gpu_util, gr_engine_active, sm_active, fb_used_mib, fb_free_mib,
    power_w, energy_mj, namespace, pod, origin
FROM samples FINAL `+visibleSamples+` WHERE gpu_uuid IN (%s) AND ts >= toDateTime(%d) AND ts < toDateTime(%d) ORDER BY gpu_uuid, ts`,
		quoteList(gpus), max(from.Unix(), 0), min(to.Unix(), 1<<32-1))
	return st.Stream(ctx, q, func(scan func(...any) error) error {
		var s gpumeter.Sample
		var util, gr, sm, power *float32
		var fbUsed, fbFree *uint32
		if err := scan(&s.GPUUUID, &s.TS, &s.Hostname, &util, &gr, &sm, &fbUsed, &fbFree, &power, &s.EnergyMJ, &s.Namespace, &s.Pod, &s.Origin); err != nil {
			return err
		}
		s.TS = s.TS.UTC()
		s.GPUUtil, s.GrEngineActive, s.SMActive, s.PowerW = f64(util), f64(gr), f64(sm), f64(power)
		s.FBUsedMiB, s.FBFreeMiB = u64(fbUsed), u64(fbFree)
		return fn(s)
	})
}

// f64 widens a stored Float32 to the decimal it was written as (0.91, not
// 0.9100000262).
func f64(p *float32) *float64 {
	if p == nil {
		return nil
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(*p), 'g', -1, 32), 64)
	return &v
}

func u64(p *uint32) *uint64 {
	if p == nil {
		return nil
	}
	v := uint64(*p)
	return &v
}

// Activity is how a sample's activity is judged (SPEC §5): by which metric,
// against which threshold.
type Activity struct {
	Metric       gpumeter.Metric
	ThresholdPct float64
}

// Sample states as SampleStates gives them.
const (
	StateMissing int8 = -1 // the activity metric is missing: no_data
	StateIdle    int8 = 0
	StateActive  int8 = 1
)

// stateExpr is the SQL for a sample's state. Ratios are scaled ×100; the
// metric is rounded to 1/1000 before the comparison so that Float32 storage
// (0.05 is 0.0500000007) decides nothing.
func (a Activity) stateExpr() string {
	thr := strconv.FormatFloat(a.ThresholdPct, 'g', -1, 64)
	one := func(col, scale string) string {
		return fmt.Sprintf("toInt8(multiIf(isNull(%s), -1, round(toFloat64(%s) * %s, 3) >= %s, 1, 0))", col, col, scale, thr)
	}
	switch a.Metric {
	case gpumeter.MetricGPUUtil:
		return one("gpu_util", "1")
	case gpumeter.MetricGrEngineActive:
		return one("gr_engine_active", "100")
	case gpumeter.MetricSMActive:
		return one("sm_active", "100")
	}
	return fmt.Sprintf(`toInt8(multiIf(isNull(gpu_util) AND isNull(gr_engine_active), -1,
round(greatest(ifNull(toFloat64(gpu_util), -1), ifNull(toFloat64(gr_engine_active) * 100, -1)), 3) >= %s, 1, 0))`, thr)
}

// NoEnergy is a SamplePoint's energy for a sample without the counter.
const NoEnergy = -1

// SamplePoint is one sample reduced to what accounting needs.
type SamplePoint struct {
	GPU    int   // place in the GPUs asked for
	T      int64 // unix seconds
	State  int8  // State*
	Energy int64 // millijoules, NoEnergy when missing
	// Namespace: 0 none; i > 0 the i-th of the namespaces asked about;
	// -i the i-th of the other namespaces seen (SampleStates returns them).
	Namespace int32
}

// SampleStates reads the samples of some GPUs in [from, to), deduplicated by
// (gpu_uuid, ts), in GPU and time order, reduced to SamplePoints: state,
// energy counter and namespace, as its place among namespaces or among the
// others seen, which it returns with how many samples it read.
func SampleStates(ctx context.Context, st Store, gpus []string, from, to int64, a Activity, namespaces []string, fn func(SamplePoint)) (int, []string, error) {
	// GPUs come back as their 1-based place in the list: a number per row
	// instead of a string; so do the namespaces asked about, and only the
	// others as strings.
	list := quoteList(gpus)
	places := make([]string, len(gpus))
	for i := range gpus {
		places[i] = strconv.Itoa(i + 1)
	}
	// transform looks a value up in a hash table the engine builds once:
	// an array search per row (indexOf) costs several times the read.
	nsExpr := "toUInt32(0)"
	if len(namespaces) > 0 {
		ids := make([]string, len(namespaces))
		for i := range namespaces {
			ids[i] = strconv.Itoa(i + 1)
		}
		nsExpr = fmt.Sprintf("transform(toString(namespace), [%s], [%s], toUInt32(0))", quoteList(namespaces), strings.Join(ids, ","))
	}
	q := fmt.Sprintf(`SELECT transform(toString(gpu_uuid), [%s], [%s], toUInt32(0)), toUInt32(ts), %s,
    if(isNull(energy_mj), toInt64(-1), toInt64(assumeNotNull(energy_mj))),
    %s AS ns, if(ns = 0, toString(namespace), '')
FROM samples FINAL
`+visibleSamples+`
WHERE gpu_uuid IN (%s) AND ts >= toDateTime(%d) AND ts < toDateTime(%d)
ORDER BY gpu_uuid, ts`, list, strings.Join(places, ","), a.stateExpr(), nsExpr, list, max(from, 0), to)
	n := 0
	var others []string
	other := map[string]int32{}
	// Destinations made once: tens of millions of rows pass through here.
	var i, t, ns uint32
	var s int8
	var e int64
	var name string
	dest := []any{&i, &t, &s, &e, &ns, &name}
	err := st.Stream(ctx, q, func(scan func(...any) error) error {
		if err := scan(dest...); err != nil {
			return err
		}
		if i == 0 || int(i) > len(gpus) {
			return fmt.Errorf("GPU place %d out of range", i)
		}
		p := SamplePoint{GPU: int(i - 1), T: int64(t), State: s, Energy: e, Namespace: int32(ns)}
		if ns == 0 && name != "" {
			id, ok := other[name]
			if !ok {
				others = append(others, name)
				id = -int32(len(others))
				other[name] = id
			}
			p.Namespace = id
		}
		fn(p)
		n++
		return nil
	})
	if err != nil {
		return n, nil, fmt.Errorf("read samples: %w", err)
	}
	return n, others, nil
}

// EnergyReading is a GPU's energy counter at a time.
type EnergyReading struct {
	T  int64 // unix seconds
	MJ int64
}

// LastEnergy reads, per GPU, the latest sample with an energy counter in
// [from, to).
func LastEnergy(ctx context.Context, st Store, gpus []string, from, to int64) (map[string]EnergyReading, error) {
	out := map[string]EnergyReading{}
	if len(gpus) == 0 {
		return out, nil
	}
	q := fmt.Sprintf(`SELECT gpu_uuid, toUInt32(max(ts)), toInt64(assumeNotNull(argMax(energy_mj, ts))) FROM samples FINAL `+visibleSamples+`
WHERE gpu_uuid IN (%s) AND ts >= toDateTime(%d) AND ts < toDateTime(%d) AND isNotNull(energy_mj)
GROUP BY gpu_uuid`, quoteList(gpus), max(from, 0), to)
	err := st.Stream(ctx, q, func(scan func(...any) error) error {
		var g string
		var t uint32
		var e int64
		if err := scan(&g, &t, &e); err != nil {
			return err
		}
		out[g] = EnergyReading{int64(t), e}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read energy: %w", err)
	}
	return out, nil
}

// FirstSampleTime is the time of the earliest stored sample, 0 for none.
func FirstSampleTime(ctx context.Context, st Store) (int64, error) {
	var first int64
	err := st.Stream(ctx, "SELECT toUInt32(min(ts)), count() FROM samples "+visibleSamples, func(scan func(...any) error) error {
		var t uint32
		var n uint64
		if err := scan(&t, &n); err != nil {
			return err
		}
		if n > 0 {
			first = int64(t)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read samples: %w", err)
	}
	return first, nil
}
