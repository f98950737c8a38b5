package sim

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter/collector"
	"github.com/nipa-gpu/gpumeter/imports"
	"github.com/nipa-gpu/gpumeter/internal/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var kst = time.FixedZone("KST", 9*3600)
var month = time.Date(2026, 10, 1, 0, 0, 0, 0, kst)

func TestFullScaleIsTheProgramsFleet(t *testing.T) {
	f := New(1, 1, month, month.AddDate(0, 1, 0))
	gpus := map[string]map[string]int{}
	for _, n := range f.Nodes {
		if gpus[n.Provider.ID] == nil {
			gpus[n.Provider.ID] = map[string]int{}
		}
		gpus[n.Provider.ID][string(n.Share)] += len(n.GPUs)
	}
	if len(f.Nodes) != 1642 {
		t.Fatalf("%d nodes, want 1,642", len(f.Nodes))
	}
	for _, p := range Providers {
		got := gpus[p.ID]["government"] + gpus[p.ID]["private"]
		if got != p.GPUs || abs(gpus[p.ID]["government"]-p.Government) > GPUsPerNode {
			t.Errorf("%s: %v, want %d GPUs, %d government", p.ID, gpus[p.ID], p.GPUs, p.Government)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestDeterministic(t *testing.T) {
	a, b := New(7, 0.01, month, month.AddDate(0, 1, 0)), New(7, 0.01, month, month.AddDate(0, 1, 0))
	at := month.Add(36 * time.Hour)
	for i := range a.Nodes {
		var x, y bytes.Buffer
		a.WriteExposition(&x, a.Nodes[i], at)
		b.WriteExposition(&y, b.Nodes[i], at)
		if x.String() != y.String() {
			t.Fatalf("node %s differs between runs of one seed", a.Nodes[i].Name)
		}
	}
	if c := New(8, 0.01, month, month.AddDate(0, 1, 0)); c.Nodes[0].GPUs[0].UUID == a.Nodes[0].GPUs[0].UUID {
		t.Fatal("another seed gives the same fleet")
	}
}

// What the simulator serves parses back into the samples it simulated.
func TestExpositionParsesBack(t *testing.T) {
	f := New(3, 0.05, month, month.AddDate(0, 1, 0))
	at := month.Add(50*time.Hour + 15*time.Second)
	var sawMIG, sawSliced, sawOMode bool
	for _, n := range f.Nodes {
		var buf bytes.Buffer
		if err := f.WriteExposition(&buf, n, at); err != nil {
			t.Fatal(err)
		}
		got, _, err := collector.ParseDCGM(&buf, at, collector.DefaultLimits)
		if err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
		if len(got) != GPUsPerNode {
			t.Fatalf("%s: %d samples", n.Name, len(got))
		}
		sawMIG = sawMIG || n.MIG
		sawOMode = sawOMode || n.Provider.Style == StyleOMode
		for _, s := range got {
			var g *GPU
			for _, x := range n.GPUs {
				if x.UUID == s.GPUUUID {
					g = x
				}
			}
			want := f.Sample(g, at)
			sawSliced = sawSliced || g.TimeSliced && want.Namespace != ""
			if s.Hostname != n.Name || s.Namespace != want.Namespace || *s.PowerW != *want.PowerW || (s.EnergyMJ == nil) != (want.EnergyMJ == nil) ||
				s.EnergyMJ != nil && *s.EnergyMJ != *want.EnergyMJ {
				t.Fatalf("%s: got %+v, want %+v", g.UUID, s, want)
			}
			if n.MIG {
				if s.GPUUtil != nil {
					t.Fatalf("MIG GPU %s reports GPU_UTIL", g.UUID)
				}
			} else if *s.GPUUtil != *want.GPUUtil {
				t.Fatalf("%s util %v, want %v", g.UUID, *s.GPUUtil, *want.GPUUtil)
			}
			if (want.GrEngineActive == nil) != (s.GrEngineActive == nil) ||
				want.GrEngineActive != nil && abs(int(1e6**s.GrEngineActive)-int(1e6**want.GrEngineActive)) > 1 {
				t.Fatalf("%s gr %v, want %v", g.UUID, s.GrEngineActive, want.GrEngineActive)
			}
		}
	}
	if !sawMIG || !sawOMode || !sawSliced {
		t.Fatalf("fleet lacks MIG %v, o-mode %v or time-slicing %v", sawMIG, sawOMode, sawSliced)
	}
}

// The inputs the simulator writes pass import validation as they are.
func TestInputsImport(t *testing.T) {
	f := New(5, 0.02, month, month.AddDate(0, 1, 0))
	dir := t.TempDir()
	if err := f.WriteInputs(dir, "http://127.0.0.1:9400"); err != nil {
		t.Fatal(err)
	}
	st := storetest.Open(t, storetest.Backends()[0].DSN(t))
	im := &imports.Importer{Store: st}
	for _, kind := range []string{"inventory", "projects", "allocations"} {
		if _, err := im.Import(context.Background(), kind, filepath.Join(dir, kind+".csv")); err != nil {
			t.Fatal(err)
		}
	}
	targets, _ := os.ReadFile(filepath.Join(dir, "targets.txt"))
	if n := bytes.Count(targets, []byte("\n")); n != len(f.Nodes) {
		t.Fatalf("%d targets for %d nodes", n, len(f.Nodes))
	}
}

func TestHandler(t *testing.T) {
	f := New(1, 0.01, month, month.AddDate(0, 1, 0))
	at := month.Add(10 * time.Hour)
	srv := httptest.NewServer(f.Handler(func() time.Time { return at }))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/nodes/" + f.Nodes[0].Name + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	samples, _, err := collector.ParseDCGM(resp.Body, at, collector.DefaultLimits)
	resp.Body.Close()
	if err != nil || len(samples) != GPUsPerNode {
		t.Fatalf("%d samples, %v", len(samples), err)
	}
	if resp, _ := http.Get(srv.URL + "/nodes/nope/metrics"); resp.StatusCode != 404 {
		t.Fatalf("unknown node: %d", resp.StatusCode)
	}
}
