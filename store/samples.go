package store

import "github.com/nipa-gpu/gpumeter"

// SampleColumns are the samples table's columns in the order of SampleRow.
var SampleColumns = []string{
	"gpu_uuid", "ts", "hostname", "gpu_util", "gr_engine_active", "sm_active",
	"fb_used_mib", "fb_free_mib", "power_w", "energy_mj", "namespace", "pod", "version",
}

// SampleRow is one sample as Insert takes it. version orders rewrites of the
// same (gpu_uuid, ts): the highest wins when duplicates are merged.
func SampleRow(s gpumeter.Sample, version uint64) []any {
	return []any{
		s.GPUUUID, s.TS.UTC(), s.Hostname,
		f32(s.GPUUtil), f32(s.GrEngineActive), f32(s.SMActive),
		u32(s.FBUsedMiB), u32(s.FBFreeMiB), f32(s.PowerW), s.EnergyMJ,
		s.Namespace, s.Pod, version,
	}
}

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
