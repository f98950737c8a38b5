package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nipa-gpu/gpumeter"
)

// sampleColumns are the samples table's columns in the order of sampleRow.
var sampleColumns = []string{
	"gpu_uuid", "ts", "hostname", "gpu_util", "gr_engine_active", "sm_active",
	"fb_used_mib", "fb_free_mib", "power_w", "energy_mj", "namespace", "pod", "version", "batch_id",
}

// InsertSamples writes collected samples in one insert; they are read at
// once. version orders rewrites of the same (gpu_uuid, ts): the highest wins
// when duplicates are merged, so writing a batch again is harmless.
func InsertSamples(ctx context.Context, st Inserter, samples []gpumeter.Sample, version uint64) error {
	return insertSamples(ctx, st, samples, version, 0)
}

// InsertImportedSamples writes samples of an import under its batch id (also
// their version, so a later import wins). No reader sees them until the
// import is committed (CommitImport): see visibleSamples.
func InsertImportedSamples(ctx context.Context, st Inserter, samples []gpumeter.Sample, batch uint64) error {
	return insertSamples(ctx, st, samples, batch, batch)
}

func insertSamples(ctx context.Context, st Inserter, samples []gpumeter.Sample, version, batch uint64) error {
	rows := make([][]any, len(samples))
	for i, s := range samples {
		rows[i] = []any{
			s.GPUUUID, s.TS.UTC(), s.Hostname,
			f32(s.GPUUtil), f32(s.GrEngineActive), f32(s.SMActive),
			u32(s.FBUsedMiB), u32(s.FBFreeMiB), f32(s.PowerW), s.EnergyMJ,
			s.Namespace, s.Pod, version, batch,
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
// in time order.
func Samples(ctx context.Context, st Store, gpu string, from, to time.Time) ([]gpumeter.Sample, error) {
	q := fmt.Sprintf(`SELECT gpu_uuid, ts, hostname, gpu_util, gr_engine_active, sm_active, fb_used_mib, fb_free_mib,
    power_w, energy_mj, namespace, pod
FROM samples FINAL `+visibleSamples+` WHERE gpu_uuid = %s AND ts >= toDateTime(%d) AND ts < toDateTime(%d) ORDER BY ts`,
		quote(gpu), max(from.Unix(), 0), to.Unix())
	var out []gpumeter.Sample
	err := st.Stream(ctx, q, func(scan func(...any) error) error {
		var s gpumeter.Sample
		var util, gr, sm, power *float32
		var fbUsed, fbFree *uint32
		if err := scan(&s.GPUUUID, &s.TS, &s.Hostname, &util, &gr, &sm, &fbUsed, &fbFree, &power, &s.EnergyMJ, &s.Namespace, &s.Pod); err != nil {
			return err
		}
		s.TS = s.TS.UTC()
		s.GPUUtil, s.GrEngineActive, s.SMActive, s.PowerW = f64(util), f64(gr), f64(sm), f64(power)
		s.FBUsedMiB, s.FBFreeMiB = u64(fbUsed), u64(fbFree)
		out = append(out, s)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read samples of %s: %w", gpu, err)
	}
	return out, nil
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
