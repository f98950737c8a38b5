package collector

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Any bytes as an exporter's answer: the parser never panics, and what it
// gives are samples as SPEC §3.4 has them: a GPU, one sample per GPU, values
// in range (blank sentinels and impossible readings are missing, not data).
func FuzzParseDCGM(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/collector/*/metrics.prom")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("DCGM_FI_DEV_GPU_UTIL{gpu=\"0\",UUID=\"GPU-1\"} 9223372036854775794\n"))
	ts := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		samples, _, err := ParseDCGM(bytes.NewReader(data), ts, DefaultLimits)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, s := range samples {
			if s.GPUUUID == "" || seen[s.GPUUUID] || !s.TS.Equal(ts) {
				t.Fatalf("sample %+v (seen before: %v)", s, seen[s.GPUUUID])
			}
			seen[s.GPUUUID] = true
			for _, r := range []struct {
				v        *float64
				min, max float64
			}{{s.GPUUtil, 0, 100}, {s.GrEngineActive, 0, 1}, {s.SMActive, 0, 1}} {
				if r.v != nil && (*r.v < r.min || *r.v > r.max || *r.v != *r.v) {
					t.Fatalf("%s: value %v outside %v–%v", s.GPUUUID, *r.v, r.min, r.max)
				}
			}
			if s.PowerW != nil && (*s.PowerW < 0 || *s.PowerW != *s.PowerW) {
				t.Fatalf("%s: power %v", s.GPUUUID, *s.PowerW)
			}
		}
	})
}
