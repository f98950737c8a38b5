package config

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultsAreValid(t *testing.T) {
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Timezone != "Asia/Seoul" || cfg.Store != "chdb://./data" || cfg.Activity.Metric != "auto" ||
		cfg.Activity.ThresholdPct != 5 || cfg.Activity.MaxSampleGap.Duration != time.Minute ||
		cfg.Idle != (Idle{UnallocatedHours: 24, AllocatedHours: 72, AllocatedMaxActivePct: 10, MinCoveragePct: 90}) {
		t.Fatalf("defaults differ from SPEC §3.5: %+v", cfg)
	}
	if got := cfg.Providers["naver"].PrivateShareGPUs + cfg.Providers["kakao"].PrivateShareGPUs + cfg.Providers["nhn"].PrivateShareGPUs; got != 760+384+1536 {
		t.Fatalf("private shares %d", got)
	}
}

func TestSpecExampleLoads(t *testing.T) {
	cfg, err := Load("../testdata/config/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(cfg.Providers) != 1 || cfg.Providers["nhn"].MaxBorrowHours != 720 {
		t.Fatalf("providers %+v: the file's list replaces the defaults", cfg.Providers)
	}
	if len(cfg.Tariffs) != 1 || cfg.Tariffs[0].Class != "provider_borrowed" || cfg.Tariffs[0].BilledTo != "provider" {
		t.Fatalf("tariffs %+v", cfg.Tariffs)
	}
	if cfg.Server.Listen != "127.0.0.1:8080" || len(cfg.Principals) != 4 || cfg.Principals[1] != (Principal{Name: "nhn-ops", Role: RoleProvider,
		Provider: "nhn", TokenSHA256: "32fdbb4ca72fda2b646436c88c39ab0e010e69e22427f2884521aa51889ce7ae"}) {
		t.Fatalf("server %+v, principals %+v", cfg.Server, cfg.Principals)
	}
}

func TestValidateReportsEveryProblemOnALine(t *testing.T) {
	cfg, err := Load("../testdata/config/bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	if err == nil {
		t.Fatal("bad config validated")
	}
	want := []string{
		`timezone: "Mars/Olympus": not an IANA time zone`,
		`store: "postgres://x": must start with chdb:// or clickhouse://`,
		`activity.metric: "tensor_active": must be auto, gpu_util, gr_engine_active or sm_active`,
		`activity.threshold_pct: 150: must be between 0 and 100`,
		`activity.max_sample_gap: 1.5s: must be whole seconds`,
		`idle.unallocated_hours: 0: must be positive`,
		`idle.min_coverage_pct: -1: must be between 0 and 100`,
		`providers.NHN: "NHN": provider ids are lower-case`,
		`providers.NHN.private_share_gpus: -1: must not be negative`,
		`providers.NHN.max_borrow_hours: 0: must be positive`,
		`tariffs[0].class: "idle": must be one of`,
		`tariffs[0].model: "": must name a GPU model`,
		`tariffs[0].krw_per_gpu_hour: -5: must not be negative`,
		`tariffs[0].billed_to: "nobody": must be provider, government or project`,
		`webhook.url: "http://hook:xxxxx@portal.example/idle?token=xxxxx": must be https:// (http only to a loopback host)`,
		`webhook.secret: "": required with webhook.url`,
		`retention.samples_days: -1: must not be negative`,
		`schedule.aggregate: "every hour": not a cron expression`,
		`schedule.report_dir: "": required with schedule.monthly_report`,
		`server.listen: "nohost": not host:port`,
		`server.tls_cert: "/etc/gpumeter/cert.pem": tls_cert and tls_key go together`,
		`principals[0].role: "admin": must be nipa, provider, portal or ingest`,
		`principals[1].name: "ops": must be a name no other principal has`,
		`principals[1].provider: "sk": must be a configured provider for role provider`,
		`principals[1].token_sha256: (hidden): the same token as principal ops`,
		`principals[2].token_sha256: (hidden): must be 64 lower-case hex digits`,
	}
	for _, secret := range []string{"pa55word", "t0ken", "my-secret-token"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("validation shows the secret %q:\n%v", secret, err)
		}
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Errorf("%d lines, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if i >= len(lines) || !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d: want prefix %q\n%v", i, w, err)
		}
	}
}

func TestUnknownFieldIsAnError(t *testing.T) {
	var c Config = Default()
	err := c.decode([]byte("activity:\n  treshold_pct: 5\n"))
	if err == nil || !strings.Contains(err.Error(), "field treshold_pct not found") {
		t.Fatalf("got %v", err)
	}
	if err := c.decode([]byte("activity:\n  max_sample_gap: soon\n")); err == nil || !strings.Contains(err.Error(), `"soon" is not a duration`) {
		t.Fatalf("got %v", err)
	}
}

// The example configurations in deploy/ are valid as they stand.
func TestDeployExampleIsValid(t *testing.T) {
	for _, f := range []string{"gpumeter.yaml", "gpumeter-agent.yaml"} {
		cfg, err := Load("../deploy/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

// A default scrape timeout follows a shorter scrape interval; one set longer
// than the interval is an error; an agent's remote-write URL must be https
// (or loopback) and come with its token file.
func TestScrapeTimeoutAndRemoteWrite(t *testing.T) {
	cfg, err := Parse([]byte("collector:\n  scrape_interval: 5s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil || cfg.Collector.Timeout() != 5*time.Second {
		t.Fatalf("5s interval, default timeout: %v, timeout %v", err, cfg.Collector.Timeout())
	}
	if Default().Collector.Timeout() != 10*time.Second {
		t.Fatalf("default timeout %v", Default().Collector.Timeout())
	}
	for body, want := range map[string]string{
		"collector:\n  scrape_interval: 5s\n  scrape_timeout: 6s\n":                     "collector.scrape_timeout: 6s: must be at most scrape_interval",
		"collector:\n  remote_write: {url: \"http://central.example/api/v1/write\"}\n":  "collector.remote_write.url",
		"collector:\n  remote_write: {url: \"https://central.example/api/v1/write\"}\n": "collector.remote_write.token_file",
		"collector:\n  provider: sk\n":                                                  `collector.provider: "sk": must be a configured provider`,
	} {
		cfg, err := Parse([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}
