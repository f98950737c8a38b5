package collector

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Without a driver, NVML is one clear line, and asking again touches NVML no
// more (a call after a failed Init would kill this test process). With a
// driver (a GPU node), every GPU gives a sample with a UUID and utilization.
func TestNVML(t *testing.T) {
	n, err := OpenNVML()
	if err != nil {
		if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "NVML unavailable: ") {
			t.Fatalf("got %q", err)
		}
		_, again := OpenNVML()
		if again != err {
			t.Fatalf("second open: %v", again)
		}
		t.Logf("no GPU here: %v", err)
		return
	}
	for round := 0; round < 2; round++ {
		samples, _, err := n.Scrape(context.Background(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(samples) == 0 {
			t.Fatal("NVML initialised but found no GPU")
		}
		for _, s := range samples {
			if !strings.HasPrefix(s.GPUUUID, "GPU-") || s.GPUUtil == nil || s.FBUsedMiB == nil || s.PowerW == nil {
				t.Fatalf("sample %+v", s)
			}
			t.Logf("round %d: %s util %v gr %v sm %v fb %v/%v MiB power %v W energy %v mJ", round, s.GPUUUID,
				*s.GPUUtil, deref(s.GrEngineActive), deref(s.SMActive), *s.FBUsedMiB, deref(s.FBFreeMiB), *s.PowerW, deref(s.EnergyMJ))
		}
		time.Sleep(time.Second)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return "-"
	}
	return *p
}
