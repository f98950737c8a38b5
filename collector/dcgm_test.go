package collector

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
	return ParseDCGM(bytes.NewReader(data), scrapeTime.Add(700*time.Millisecond), DefaultLimits)
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
		if samples, _, err := ParseDCGM(strings.NewReader(body), scrapeTime, DefaultLimits); err == nil || samples != nil {
			t.Errorf("%s: got %d samples, err %v", name, len(samples), err)
		}
	}
}

// dcgm-exporter's 1.x-compatibility counters (-o mode with
// etc/1.x-compatibility-metrics.csv) are read like the DCGM_FI_* names.
func TestParseCompat1x(t *testing.T) {
	samples, stats, err := parseFile(t, "compat-1x")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"ts":"2026-10-01T00:00:00Z","gpu_uuid":"GPU-1c2d3e4f-0000-1111-2222-333344445555","hostname":"","gpu_util":0,"gr_engine_active":0,"sm_active":0,"fb_used_mib":0,"fb_free_mib":143771,"power_w":71.5,"energy_mj":1200000000,"namespace":"","pod":""}
{"ts":"2026-10-01T00:00:00Z","gpu_uuid":"GPU-8f640a3c-7e9a-608d-02a3-f4372d72b323","hostname":"","gpu_util":97,"gr_engine_active":0.934,"sm_active":0.811,"fb_used_mib":103648,"fb_free_mib":40123,"power_w":612.737,"energy_mj":7824041,"namespace":"","pod":""}
`
	if got := jsonLines(t, samples); got != want {
		t.Errorf("samples:\n%s\nwant:\n%s", got, want)
	}
	if stats.Series != 2*7 {
		t.Errorf("series %d, want 14 (the clocks, temperatures and XIDs are not read)", stats.Series)
	}
}

// A label longer than the limit refuses its series; more series than the
// limit fail the scrape; the limits come from the collector's configuration.
func TestParseLimits(t *testing.T) {
	long := strings.Repeat("x", 257)
	body := `DCGM_FI_DEV_GPU_UTIL{UUID="GPU-a",Hostname="h"} 50
DCGM_FI_DEV_GPU_UTIL{UUID="GPU-` + long + `",Hostname="h"} 50
DCGM_FI_DEV_POWER_USAGE{UUID="GPU-a",Hostname="h",pod="` + long + `"} 300
`
	samples, stats, err := ParseDCGM(strings.NewReader(body), scrapeTime, DefaultLimits)
	if err != nil || len(samples) != 1 || samples[0].GPUUUID != "GPU-a" || samples[0].PowerW != nil {
		t.Fatalf("%+v %v", samples, err)
	}
	if !equalInvalid(stats.Invalid, map[string]map[string]int{"gpu_util": {ReasonLabelTooLong: 1}, "power_w": {ReasonLabelTooLong: 1}}) {
		t.Fatalf("invalid %v", stats.Invalid)
	}
	var many strings.Builder
	for i := range 11 {
		fmt.Fprintf(&many, "node_cpu_seconds_total{cpu=\"%d\"} 1\n", i)
	}
	many.WriteString(`DCGM_FI_DEV_GPU_UTIL{UUID="GPU-a"} 50` + "\n")
	_, _, err = ParseDCGM(strings.NewReader(many.String()), scrapeTime, Limits{MaxLabelBytes: 256, MaxSeries: 10})
	if Outcome(err) != "too_many_series" || !strings.Contains(err.Error(), "more than 10 series") {
		t.Fatalf("11 series with a limit of 10: %v", err)
	}
}

// A body over the limit fails the scrape as too large, whole.
func TestScrapeTooLarge(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		line := []byte(`DCGM_FI_DEV_GPU_UTIL{UUID="GPU-a"} 50` + "\n")
		for n := 0; n <= maxBody; n += len(line) {
			w.Write(line)
		}
	})
	samples, _, err := HTTPTarget{URL: url, Limits: DefaultLimits}.Scrape(context.Background(), scrapeTime)
	if Outcome(err) != "too_large" || !strings.Contains(err.Error(), "too large") || samples != nil {
		t.Fatalf("%d samples, %v", len(samples), err)
	}
}
