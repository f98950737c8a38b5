package sim

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nipa-gpu/gpumeter"
)

type family struct {
	name, typ, help string
	value           func(s gpumeter.Sample, instance int) (string, bool)
}

// instance shares of a MIG GPU's activity and memory (two 3g instances).
var migShare = [2]float64{1, 0.5}

var families = []family{
	{"DCGM_FI_DEV_GPU_UTIL", "gauge", "GPU utilization (in %).", func(s gpumeter.Sample, inst int) (string, bool) {
		return fint(s.GPUUtil), inst < 0 // absent on MIG
	}},
	{"DCGM_FI_DEV_FB_FREE", "gauge", "Framebuffer memory free (in MiB).", func(s gpumeter.Sample, inst int) (string, bool) {
		return strconv.FormatUint(split(*s.FBFreeMiB, inst), 10), true
	}},
	{"DCGM_FI_DEV_FB_USED", "gauge", "Framebuffer memory used (in MiB).", func(s gpumeter.Sample, inst int) (string, bool) {
		return strconv.FormatUint(split(*s.FBUsedMiB, inst), 10), true
	}},
	{"DCGM_FI_DEV_POWER_USAGE", "gauge", "Power draw (in W).", func(s gpumeter.Sample, _ int) (string, bool) {
		return fmt.Sprintf("%.6f", *s.PowerW), true
	}},
	{"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "counter", "Total energy consumption since boot (in mJ).", func(s gpumeter.Sample, _ int) (string, bool) {
		if s.EnergyMJ == nil {
			return "9223372036854775794", true // DCGM_INT64_BLANK
		}
		return strconv.FormatUint(*s.EnergyMJ, 10), true
	}},
	{"DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gauge", "Ratio of time the graphics engine is active.", func(s gpumeter.Sample, inst int) (string, bool) {
		if s.GrEngineActive == nil {
			return "140737488355328.000000", true // DCGM_FP64_BLANK
		}
		return fmt.Sprintf("%.6f", *s.GrEngineActive*share(inst)), true
	}},
	{"DCGM_FI_PROF_SM_ACTIVE", "gauge", "The ratio of cycles an SM has at least 1 warp assigned.", func(s gpumeter.Sample, inst int) (string, bool) {
		return fmt.Sprintf("%.6f", *s.SMActive*share(inst)), true
	}},
	{"DCGM_FI_DEV_GPU_TEMP", "gauge", "GPU temperature (in C).", func(s gpumeter.Sample, _ int) (string, bool) {
		return strconv.Itoa(30 + int(*s.PowerW/20)), true
	}},
}

func share(inst int) float64 {
	if inst < 0 {
		return 1
	}
	return migShare[inst]
}

func split(v uint64, inst int) uint64 {
	if inst < 0 {
		return v
	}
	return v / 2
}

func fint(p *float64) string { return strconv.FormatFloat(*p, 'f', 0, 64) }

// WriteExposition writes one scrape of a node at t in dcgm-exporter's text
// format, labelled the way the provider's exporter release does.
func (f *Fleet) WriteExposition(w io.Writer, n *Node, t time.Time) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	samples := make([]gpumeter.Sample, len(n.GPUs))
	for i, g := range n.GPUs {
		samples[i] = f.Sample(g, t)
	}
	for _, fam := range families {
		name := fam.name
		if n.Provider.Style == StyleOMode {
			name = strings.ToLower(name)
		}
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", name, fam.help, name, fam.typ)
		for i, g := range n.GPUs {
			instances := []int{-1}
			if n.MIG {
				instances = []int{0, 1}
			}
			for _, inst := range instances {
				v, ok := fam.value(samples[i], inst)
				if !ok {
					continue
				}
				for _, pod := range podLabels(samples[i], g) {
					fmt.Fprintf(bw, "%s{%s} %s\n", name, labels(n, g, inst, pod), v)
				}
			}
		}
	}
	return bw.Flush()
}

// podLabels are the Kubernetes label sets a GPU's series carry: none, one,
// or, time-sliced, one per pod (each with a copy of the device value).
func podLabels(s gpumeter.Sample, g *GPU) [][2]string {
	if s.Namespace == "" {
		return [][2]string{{}}
	}
	if g.TimeSliced {
		return [][2]string{{s.Namespace, s.Pod}, {s.Namespace, s.Pod + "-b"}}
	}
	return [][2]string{{s.Namespace, s.Pod}}
}

func labels(n *Node, g *GPU, inst int, pod [2]string) string {
	model := "NVIDIA " + n.Provider.Model
	var b strings.Builder
	switch n.Provider.Style {
	case StyleOMode:
		fmt.Fprintf(&b, `gpu="%d",uuid="%s",device="nvidia%d",modelName="%s",hostname="%s"`, g.Index, g.UUID, g.Index, model, n.Name)
	case StyleNew:
		fmt.Fprintf(&b, `gpu="%d",UUID="%s",pci_bus_id="00000000:%02X:00.0",device="nvidia%d",modelName="%s",hostname="%s"`,
			g.Index, g.UUID, 0x18+g.Index*0x10, g.Index, model, n.Name)
	default:
		fmt.Fprintf(&b, `gpu="%d",UUID="%s",pci_bus_id="00000000:%02X:00.0",device="nvidia%d",modelName="%s",Hostname="%s"`,
			g.Index, g.UUID, 0x18+g.Index*0x10, g.Index, model, n.Name)
	}
	if inst >= 0 {
		fmt.Fprintf(&b, `,GPU_I_PROFILE="3g.90gb",GPU_I_ID="%d"`, inst+1)
	}
	if pod[0] != "" {
		if n.Provider.Style == StyleOMode {
			fmt.Fprintf(&b, `,container_name="main",pod_name="%s",pod_namespace="%s"`, pod[1], pod[0])
		} else {
			fmt.Fprintf(&b, `,container="main",namespace="%s",pod="%s"`, pod[0], pod[1])
		}
	}
	return b.String()
}
