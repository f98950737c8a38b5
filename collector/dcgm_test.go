package collector

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nipa-gpu/gpumeter"
)

var scrapeTime = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

func parseFile(t *testing.T, name string) ([]gpumeter.Sample, ParseStats, error) {
	t.Helper()
	data, err := os.ReadFile("../testdata/collector/" + name + "/metrics.prom")
	if err != nil {
		t.Fatal(err)
	}
	return ParseDCGM(bytes.NewReader(data), scrapeTime.Add(700*time.Millisecond))
}

func jsonLines(t *testing.T, samples []gpumeter.Sample) string {
	var b strings.Builder
	for _, s := range samples {
		line, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// MIG, time-slicing and sentinels on one node: one correct sample per GPU.
func TestParseMixedNode(t *testing.T) {
	samples, stats, err := parseFile(t, "mixed-node")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ts":"2026-10-01T00:00:00Z","gpu_uuid":"GPU-mix-0","hostname":"kakao-b200-0007","gpu_util":88,"gr_engine_active":0.91,"sm_active":0.77,"fb_used_mib":61234,"fb_free_mib":80000,"power_w":612.5,"energy_mj":123456789,"namespace":"p-2026-0117","pod":"llm-0"}
{"ts":"2026-10-01T00:00:00Z","gpu_uuid":"GPU-mix-1","hostname":"kakao-b200-0007","gpu_util":40,"gr_engine_active":0.42,"sm_active":0.3,"fb_used_mib":30000,"fb_free_mib":111234,"power_w":300.25,"energy_mj":222,"namespace":"team-a","pod":"pod-a"}
{"ts":"2026-10-01T00:00:00Z","gpu_uuid":"GPU-mix-2","hostname":"kakao-b200-0007","gpu_util":null,"gr_engine_active":0.35,"sm_active":0.25,"fb_used_mib":15000,"fb_free_mib":65000,"power_w":250.5,"energy_mj":999,"namespace":"mig-ns","pod":"mig-pod"}
{"ts":"2026-10-01T00:00:00Z","gpu_uuid":"GPU-mix-3","hostname":"kakao-b200-0007","gpu_util":null,"gr_engine_active":null,"sm_active":0,"fb_used_mib":null,"fb_free_mib":140000,"power_w":75,"energy_mj":5555,"namespace":"","pod":""}
`
	if got := jsonLines(t, samples); got != want {
		t.Errorf("samples:\n%s\nwant:\n%s", got, want)
	}
	wantInvalid := map[string]map[string]int{
		"gpu_util":         {ReasonOutOfRange: 1},
		"gr_engine_active": {ReasonBlank: 1},
		"fb_used_mib":      {ReasonBlank: 1},
	}
	if !equalInvalid(stats.Invalid, wantInvalid) {
		t.Errorf("invalid %v, want %v", stats.Invalid, wantInvalid)
	}
	// GPU-mix-1's seven metrics each come twice, once per pod.
	if stats.Copies != 7 {
		t.Errorf("copies %d, want 7", stats.Copies)
	}
}

func equalInvalid(a, b map[string]map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, m := range a {
		if len(m) != len(b[k]) {
			return false
		}
		for r, n := range m {
			if b[k][r] != n {
				return false
			}
		}
	}
	return true
}

func TestParseOMode(t *testing.T) {
	samples, _, err := parseFile(t, "o-mode")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ts":"2026-10-01T00:00:00Z","gpu_uuid":"GPU-o-0","hostname":"naver-h200-0001","gpu_util":12,"gr_engine_active":0.1,"sm_active":0.05,"fb_used_mib":100,"fb_free_mib":200,"power_w":90,"energy_mj":1000,"namespace":"p-9","pod":"job-1"}
{"ts":"2026-10-01T00:00:00Z","gpu_uuid":"GPU-o-1","hostname":"naver-h200-0001","gpu_util":12,"gr_engine_active":0.1,"sm_active":0.05,"fb_used_mib":100,"fb_free_mib":200,"power_w":90,"energy_mj":1000,"namespace":"","pod":""}
`
	if got := jsonLines(t, samples); got != want {
		t.Errorf("samples:\n%s\nwant:\n%s", got, want)
	}
}

func TestParseFixture(t *testing.T) {
	samples, stats, err := parseFile(t, "h200-k8s")
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 8 {
		t.Fatalf("%d samples, want 8", len(samples))
	}
	s := samples[0]
	if s.GPUUUID != "GPU-5f0c2d7e-9b41-4e2a-a7c3-000000000000" || s.Hostname != "nv-h200-0042" || *s.GPUUtil != 88 ||
		s.Namespace != "p-2026-0117" || s.Pod != "llm-pretrain-7b-worker-0" || s.SMActive != nil {
		t.Fatalf("first sample %+v", s)
	}
	if samples[7].Namespace != "" || samples[7].Pod != "" {
		t.Fatalf("GPU 7 holds no pod: %+v", samples[7])
	}
	if stats.Series != 8*6 { // six of the read metrics are in the fixture
		t.Fatalf("series %d", stats.Series)
	}
}

func TestParseRejectsWholeScrape(t *testing.T) {
	for name, body := range map[string]string{
		"empty":   "  \n",
		"garbage": "<html>502</html>\n{not prometheus\n",
		"no dcgm": "# TYPE node_load1 gauge\nnode_load1 0.5\n",
	} {
		if samples, _, err := ParseDCGM(strings.NewReader(body), scrapeTime); err == nil || samples != nil {
			t.Errorf("%s: got %d samples, err %v", name, len(samples), err)
		}
	}
}

func TestEnergyDeltaTreatsDecreaseAsReset(t *testing.T) {
	if d := gpumeter.EnergyDelta(1000, 1500); d != 500 {
		t.Fatal(d)
	}
	if d := gpumeter.EnergyDelta(987654321, 1200); d != 1200 {
		t.Fatal(d)
	}
}
