package collector

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/NVIDIA/go-nvml/pkg/nvml"

	"github.com/nipa-gpu/gpumeter"
)

var (
	nvmlOnce    sync.Once
	nvmlInitErr error
)

// initNVML calls nvml.Init once per process. After a failed Init no other
// NVML function may be called (one kills the process), so a failure is kept
// and returned to every later caller without touching NVML again.
func initNVML() error {
	nvmlOnce.Do(func() {
		if ret := nvml.Init(); ret != nvml.SUCCESS {
			nvmlInitErr = fmt.Errorf("NVML unavailable: %s", nvmlReason(ret))
		}
	})
	return nvmlInitErr
}

// nvmlReason explains an Init failure without nvml.ErrorString, which is
// itself an NVML call.
func nvmlReason(ret nvml.Return) string {
	switch ret {
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return "libnvidia-ml.so.1 not found (no NVIDIA driver on this node)"
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return "the NVIDIA driver is not loaded"
	case nvml.ERROR_NO_PERMISSION:
		return "no permission to open the GPUs"
	case nvml.ERROR_FUNCTION_NOT_FOUND:
		return "the NVIDIA driver is too old for this NVML"
	}
	return fmt.Sprintf("nvmlInit returned %d", int(ret))
}

// NVML reads this node's GPUs in-process: utilization, GPM activity (Hopper
// and newer), memory, power and energy.
type NVML struct {
	hostname string
	devices  []nvmlDevice
	mu       sync.Mutex
}

type nvmlDevice struct {
	dev  nvml.Device
	uuid string
	// GPM: two samples, the previous scrape's and this one's.
	gpm        bool
	prev, cur  nvml.GpmSample
	havePrevGM bool
}

// OpenNVML initialises NVML and finds the GPUs. Without a driver it returns
// one clear error, and nothing else of NVML is ever called.
func OpenNVML() (*NVML, error) {
	if err := initNVML(); err != nil {
		return nil, err
	}
	count, ret := nvml.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("NVML: count GPUs: %s", nvml.ErrorString(ret))
	}
	host, _ := os.Hostname()
	n := &NVML{hostname: host}
	for i := 0; i < count; i++ {
		dev, ret := nvml.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("NVML: GPU %d: %s", i, nvml.ErrorString(ret))
		}
		uuid, ret := dev.GetUUID()
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("NVML: GPU %d UUID: %s", i, nvml.ErrorString(ret))
		}
		d := nvmlDevice{dev: dev, uuid: uuid}
		if support, ret := dev.GpmQueryDeviceSupport(); ret == nvml.SUCCESS && support.IsSupportedDevice != 0 {
			prev, r1 := nvml.GpmSampleAlloc()
			cur, r2 := nvml.GpmSampleAlloc()
			d.gpm, d.prev, d.cur = r1 == nvml.SUCCESS && r2 == nvml.SUCCESS, prev, cur
		}
		n.devices = append(n.devices, d)
	}
	return n, nil
}

func (n *NVML) Name() string { return "nvml" }

// Scrape reads every GPU once. A reading a GPU does not support is a missing
// value, counted under not_supported.
func (n *NVML) Scrape(_ context.Context, ts time.Time) ([]gpumeter.Sample, ParseStats, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var stats ParseStats
	out := make([]gpumeter.Sample, 0, len(n.devices))
	for i := range n.devices {
		d := &n.devices[i]
		s := gpumeter.Sample{TS: ts.Truncate(time.Second).UTC(), GPUUUID: d.uuid, Hostname: n.hostname}
		miss := func(f field, ret nvml.Return) {
			if ret != nvml.SUCCESS {
				stats.invalid(fieldNames[f], "not_supported")
			}
		}
		stats.Series++
		if u, ret := d.dev.GetUtilizationRates(); ret == nvml.SUCCESS {
			s.GPUUtil = ptr(float64(u.Gpu))
		} else {
			miss(fGPUUtil, ret)
		}
		if m, ret := d.dev.GetMemoryInfo(); ret == nvml.SUCCESS {
			s.FBUsedMiB, s.FBFreeMiB = ptr(m.Used>>20), ptr(m.Free>>20)
		} else {
			miss(fFBUsed, ret)
		}
		if mw, ret := d.dev.GetPowerUsage(); ret == nvml.SUCCESS {
			s.PowerW = ptr(float64(mw) / 1000)
		} else {
			miss(fPower, ret)
		}
		if mj, ret := d.dev.GetTotalEnergyConsumption(); ret == nvml.SUCCESS {
			s.EnergyMJ = ptr(mj)
		} else {
			miss(fEnergy, ret)
		}
		if d.gpm {
			d.readGPM(&s, &stats)
		}
		out = append(out, s)
	}
	return out, stats, nil
}

// readGPM takes a GPM sample and, from the second scrape on, the graphics
// engine and SM activity between the two, as ratios like DCGM's.
func (d *nvmlDevice) readGPM(s *gpumeter.Sample, stats *ParseStats) {
	if ret := nvml.GpmSampleGet(d.dev, d.cur); ret != nvml.SUCCESS {
		stats.invalid(fieldNames[fGrEngineActive], "not_supported")
		return
	}
	if d.havePrevGM {
		req := &nvml.GpmMetricsGetType{Version: nvml.GPM_METRICS_GET_VERSION, NumMetrics: 2, Sample1: d.prev, Sample2: d.cur}
		req.Metrics[0].MetricId = uint32(nvml.GPM_METRIC_GRAPHICS_UTIL)
		req.Metrics[1].MetricId = uint32(nvml.GPM_METRIC_SM_UTIL)
		if ret := nvml.GpmMetricsGet(req); ret == nvml.SUCCESS {
			if req.Metrics[0].NvmlReturn == uint32(nvml.SUCCESS) {
				s.GrEngineActive = ptr(req.Metrics[0].Value / 100)
			}
			if req.Metrics[1].NvmlReturn == uint32(nvml.SUCCESS) {
				s.SMActive = ptr(req.Metrics[1].Value / 100)
			}
		}
	}
	d.prev, d.cur = d.cur, d.prev
	d.havePrevGM = true
}

func ptr[T any](v T) *T { return &v }
