// Package config reads gpumeter's YAML configuration (SPEC §3.5). Every field
// has a default, so an empty file, or none, is a working configuration.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/redact"
)

// Config is the whole configuration file.
type Config struct {
	Timezone    string                    `yaml:"timezone"`
	Store       string                    `yaml:"store"`
	Activity    Activity                  `yaml:"activity"`
	Idle        Idle                      `yaml:"idle"`
	Providers   map[string]ProviderLimits `yaml:"providers"`
	Tariffs     []Tariff                  `yaml:"tariffs"`
	Attribution Attribution               `yaml:"attribution"`
	// EnergyTariffs, optional, add energy charges beside the GPU-hour ones.
	EnergyTariffs []EnergyTariff `yaml:"energy_tariffs,omitempty"`
	Webhook       Webhook        `yaml:"webhook"`
	Retention     Retention      `yaml:"retention"`
	Collector     Collector      `yaml:"collector"`
	Schedule      Schedule       `yaml:"schedule"`
	Server        Server         `yaml:"server"`
	Principals    []Principal    `yaml:"principals,omitempty"`
}

// Server is the HTTP service of `gpumeter run` (SPEC §8).
type Server struct {
	Listen  string `yaml:"listen"` // "" turns it off; not loopback only with TLS
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// MaxWriteBytes bounds a remote-write request, decompressed (413 above).
	MaxWriteBytes int `yaml:"max_write_bytes"`
	// MaxPushAge is how old a pushed sample may be (what a Prometheus WAL
	// replays); older ones are refused as too_old. Only NIPA's imports
	// backfill history.
	MaxPushAge Duration `yaml:"max_push_age"`
}

// Roles a principal may have (SPEC §8).
const (
	RoleNIPA     = "nipa"     // reads everything
	RoleProvider = "provider" // reads its own provider's data
	RolePortal   = "portal"   // reads idle flags, acknowledges them
	RoleIngest   = "ingest"   // writes its own provider's samples
)

// Principal is who may call the service: its token is kept only as the
// lower-case hex SHA-256 of the token string.
type Principal struct {
	Name        string `yaml:"name"`
	Role        string `yaml:"role"`
	Provider    string `yaml:"provider,omitempty"`
	TokenSHA256 string `yaml:"token_sha256"`
}

// Schedule is what `gpumeter run` does when, as cron expressions in the
// configured time zone ("" turns a job off).
type Schedule struct {
	Aggregate     string `yaml:"aggregate"`
	IdleScan      string `yaml:"idle_scan"`
	MonthlyReport string `yaml:"monthly_report"` // reports the previous month
	ReportDir     string `yaml:"report_dir"`
}

// Collector configures `gpumeter collect` (SPEC §4).
type Collector struct {
	ScrapeInterval Duration `yaml:"scrape_interval"`
	// ScrapeTimeout 0 (the default) is 10s, or scrape_interval if shorter.
	ScrapeTimeout Duration `yaml:"scrape_timeout"`
	Concurrency   int      `yaml:"concurrency"` // scrapes in flight at once
	Targets       []string `yaml:"targets"`     // dcgm-exporter URLs
	// Provider owns the targets of this configuration (SPEC §9): only its
	// inventory's GPUs are stored from them; "" checks nothing.
	Provider string `yaml:"provider"`
	// TargetsFile lists one URL a line, optionally followed by the provider
	// that owns it (# comments); it is re-read when it changes.
	TargetsFile string `yaml:"targets_file"`
	// MaxSeriesPerScrape fails a scrape that holds more series than this.
	MaxSeriesPerScrape int `yaml:"max_series_per_scrape"`
	// RemoteWrite, when set, pushes samples to a central gpumeter instead of
	// writing a store (agent mode, SPEC §9).
	RemoteWrite   RemoteWrite `yaml:"remote_write"`
	NVML          bool        `yaml:"nvml"` // also read this node's GPUs in-process
	BatchRows     int         `yaml:"batch_rows"`
	FlushInterval Duration    `yaml:"flush_interval"`
	SpoolDir      string      `yaml:"spool_dir"`
	SpoolMaxBytes int64       `yaml:"spool_max_bytes"`
	Listen        string      `yaml:"listen"` // self-metrics (/metrics); empty: off
}

// RemoteWrite is where an agent pushes: a URL and the file holding its
// ingest token.
type RemoteWrite struct {
	URL       string `yaml:"url"`
	TokenFile string `yaml:"token_file"`
}

// Timeout is the scrape timeout in effect: the one set, else 10s or the
// scrape interval if that is shorter.
func (c Collector) Timeout() time.Duration {
	if c.ScrapeTimeout.Duration > 0 {
		return c.ScrapeTimeout.Duration
	}
	return min(10*time.Second, c.ScrapeInterval.Duration)
}

// Activity decides when a covered second is active.
type Activity struct {
	Metric       gpumeter.Metric `yaml:"metric"`
	ThresholdPct float64         `yaml:"threshold_pct"`
	MaxSampleGap Duration        `yaml:"max_sample_gap"`
}

// Idle holds the thresholds of the idle flags (SPEC §5).
type Idle struct {
	UnallocatedHours      float64 `yaml:"unallocated_hours"`
	AllocatedHours        float64 `yaml:"allocated_hours"`
	AllocatedMaxActivePct float64 `yaml:"allocated_max_active_pct"`
	MinCoveragePct        float64 `yaml:"min_coverage_pct"`
}

// ProviderLimits are one provider's limits on its private share and borrowing.
type ProviderLimits struct {
	PrivateShareGPUs      int     `yaml:"private_share_gpus"`
	MonthlyBorrowGPUHours float64 `yaml:"monthly_borrow_gpu_hours"`
	MaxBorrowHours        float64 `yaml:"max_borrow_hours"`
}

// Tariff prices one class of GPU-hours on one model.
type Tariff struct {
	Class         gpumeter.Class    `yaml:"class"`
	Model         string            `yaml:"model"`
	KRWPerGPUHour float64           `yaml:"krw_per_gpu_hour"`
	BilledTo      gpumeter.BilledTo `yaml:"billed_to"`
}

// Attribution sets the attribution audit (SPEC §5).
type Attribution struct {
	// Grace: a project's labels are still its own this long after its
	// allocation ends (pods' labels linger).
	Grace Duration `yaml:"grace"`
	// MinMismatchMinutes: shorter runs of foreign or unknown namespaces are
	// counted, not listed.
	MinMismatchMinutes int `yaml:"min_mismatch_minutes"`
}

// EnergyTariff prices the energy of one model's GPUs (SPEC §5 "Energy").
type EnergyTariff struct {
	Model     string            `yaml:"model"`
	KRWPerKWh float64           `yaml:"krw_per_kwh"`
	BilledTo  gpumeter.BilledTo `yaml:"billed_to"`
}

// Webhook is where idle flags are POSTed.
type Webhook struct {
	URL    string `yaml:"url"`
	Secret string `yaml:"secret"`
}

// Retention says how long raw samples are kept. Monthly reports are recomputed
// from the store, so the default keeps a little over a year: a month can be
// re-issued until the same month of the next year has been reported.
type Retention struct {
	SamplesDays int `yaml:"samples_days"`
}

// Duration is a time.Duration written as "60s", "15m" in YAML.
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration such as 60s", n.Line, s)
	}
	d.Duration = v
	return nil
}

func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Default returns the configuration with every default of SPEC §3.5; the
// provider limits are those of the program's three providers (SPEC §1).
func Default() Config {
	return Config{
		Timezone: "Asia/Seoul",
		Store:    "chdb://./data",
		Activity: Activity{Metric: gpumeter.MetricAuto, ThresholdPct: 5, MaxSampleGap: Duration{60 * time.Second}},
		Idle:     Idle{UnallocatedHours: 24, AllocatedHours: 72, AllocatedMaxActivePct: 10, MinCoveragePct: 90},
		Providers: map[string]ProviderLimits{
			"naver": {PrivateShareGPUs: 760, MaxBorrowHours: 720},
			"kakao": {PrivateShareGPUs: 384, MaxBorrowHours: 720},
			"nhn":   {PrivateShareGPUs: 1536, MaxBorrowHours: 720},
		},
		Retention:   Retention{SamplesDays: 400},
		Attribution: Attribution{Grace: Duration{30 * time.Minute}, MinMismatchMinutes: 10},
		Collector: Collector{
			ScrapeInterval:     Duration{15 * time.Second},
			Concurrency:        64,
			MaxSeriesPerScrape: 50000,
			BatchRows:          20000,
			FlushInterval:      Duration{5 * time.Second},
			SpoolDir:           "./spool",
			SpoolMaxBytes:      1 << 30,
			Listen:             "127.0.0.1:9108",
		},
		Schedule: Schedule{
			Aggregate:     "5 * * * *",
			IdleScan:      "15 9 * * *",
			MonthlyReport: "0 6 3 * *", // the 3rd, so that late data is in
			ReportDir:     "./out",
		},
		Server: Server{Listen: "127.0.0.1:8080", MaxWriteBytes: 16 << 20, MaxPushAge: Duration{2 * time.Hour}},
	}
}

// Load reads path over the defaults; an empty path gives the defaults. Unknown
// fields are errors, so a misspelt key never silently falls back to a default.
func Load(path string) (Config, error) {
	cfg := Default()
	if path == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if cfg, err = Parse(data); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse reads a configuration file's bytes over the defaults.
func Parse(data []byte) (Config, error) {
	cfg := Default()
	err := cfg.decode(data)
	return cfg, err
}

func (c *Config) decode(data []byte) error {
	// A providers section replaces the default providers rather than merging
	// into them: the file lists the providers the deployment has.
	var probe struct {
		Providers map[string]ProviderLimits `yaml:"providers"`
	}
	if err := yaml.Unmarshal(data, &probe); err == nil && probe.Providers != nil {
		c.Providers = nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

var (
	providerID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	sha256Hex  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// SecureURL says why a URL gpumeter sends to (the portal's webhook, a
// remote-write endpoint) may not be used, or nil: https, except to a
// loopback host (SPEC §8.4).
func SecureURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("must be an https:// URL")
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && IsLoopback(u.Hostname()):
		return nil
	}
	return errors.New("must be https:// (http only to a loopback host)")
}

// IsLoopback says whether a host name or address is this machine only.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Validate reports every problem of the configuration, one line each, naming
// the field, its value and why it is wrong.
func (c Config) Validate() error {
	var errs []string
	bad := func(field string, value any, why string) {
		errs = append(errs, fmt.Sprintf("%s: %v: %s", field, value, why))
	}
	if _, err := time.LoadLocation(c.Timezone); err != nil || c.Timezone == "" {
		bad("timezone", quote(c.Timezone), "not an IANA time zone such as Asia/Seoul")
	}
	if !strings.HasPrefix(c.Store, "chdb://") && !strings.HasPrefix(c.Store, "clickhouse://") {
		bad("store", quote(redact.Secrets(c.Store)), "must start with chdb:// or clickhouse://")
	}
	if !c.Activity.Metric.Valid() {
		bad("activity.metric", quote(string(c.Activity.Metric)), "must be auto, gpu_util, gr_engine_active or sm_active")
	}
	pct := func(field string, v float64) {
		if v < 0 || v > 100 {
			bad(field, v, "must be between 0 and 100")
		}
	}
	pct("activity.threshold_pct", c.Activity.ThresholdPct)
	if c.Activity.MaxSampleGap.Duration < time.Second {
		bad("activity.max_sample_gap", c.Activity.MaxSampleGap, "must be at least 1s")
	} else if c.Activity.MaxSampleGap.Duration > time.Hour {
		bad("activity.max_sample_gap", c.Activity.MaxSampleGap, "must be at most 1h")
	} else if c.Activity.MaxSampleGap.Duration%time.Second != 0 {
		bad("activity.max_sample_gap", c.Activity.MaxSampleGap, "must be whole seconds")
	}
	if c.Idle.UnallocatedHours <= 0 {
		bad("idle.unallocated_hours", c.Idle.UnallocatedHours, "must be positive")
	}
	if c.Idle.AllocatedHours <= 0 {
		bad("idle.allocated_hours", c.Idle.AllocatedHours, "must be positive")
	}
	pct("idle.allocated_max_active_pct", c.Idle.AllocatedMaxActivePct)
	pct("idle.min_coverage_pct", c.Idle.MinCoveragePct)
	for _, id := range slices.Sorted(maps.Keys(c.Providers)) {
		p := c.Providers[id]
		field := "providers." + id
		if !providerID.MatchString(id) {
			bad(field, quote(id), "provider ids are lower-case letters, digits, _ and -")
		}
		if p.PrivateShareGPUs < 0 {
			bad(field+".private_share_gpus", p.PrivateShareGPUs, "must not be negative")
		}
		if p.MonthlyBorrowGPUHours < 0 {
			bad(field+".monthly_borrow_gpu_hours", p.MonthlyBorrowGPUHours, "must not be negative (0 = no cap)")
		}
		if p.MaxBorrowHours <= 0 {
			bad(field+".max_borrow_hours", p.MaxBorrowHours, "must be positive")
		}
	}
	// priced checks what a tariff prices, at what rate, and who pays it.
	priced := func(field, model, rateKey string, rate float64, to gpumeter.BilledTo) {
		if model == "" {
			bad(field+".model", `""`, "must name a GPU model such as H200")
		}
		if rate < 0 {
			bad(field+"."+rateKey, rate, "must not be negative")
		}
		if !to.Valid() {
			bad(field+".billed_to", quote(string(to)), "must be provider, government or project")
		}
	}
	seen := map[[2]string]int{}
	for i, t := range c.Tariffs {
		field := fmt.Sprintf("tariffs[%d]", i)
		if !slices.Contains(gpumeter.TariffClasses, t.Class) {
			names := make([]string, len(gpumeter.TariffClasses))
			for i, c := range gpumeter.TariffClasses {
				names[i] = string(c)
			}
			bad(field+".class", quote(string(t.Class)), "must be one of "+strings.Join(names, ", "))
		}
		priced(field, t.Model, "krw_per_gpu_hour", t.KRWPerGPUHour, t.BilledTo)
		key := [2]string{string(t.Class), t.Model}
		if j, dup := seen[key]; dup {
			bad(field, string(t.Class)+"/"+t.Model, fmt.Sprintf("same class and model as tariffs[%d]", j))
		}
		seen[key] = i
	}
	if c.Attribution.Grace.Duration < 0 || c.Attribution.Grace.Duration%time.Second != 0 {
		bad("attribution.grace", c.Attribution.Grace, "must be whole seconds, not negative")
	}
	if c.Attribution.MinMismatchMinutes < 1 {
		bad("attribution.min_mismatch_minutes", c.Attribution.MinMismatchMinutes, "must be at least 1")
	}
	energyModels := map[string]int{}
	for i, t := range c.EnergyTariffs {
		field := fmt.Sprintf("energy_tariffs[%d]", i)
		priced(field, t.Model, "krw_per_kwh", t.KRWPerKWh, t.BilledTo)
		if j, dup := energyModels[t.Model]; dup {
			bad(field, t.Model, fmt.Sprintf("same model as energy_tariffs[%d]", j))
		}
		energyModels[t.Model] = i
	}
	if c.Webhook.URL != "" {
		if err := SecureURL(c.Webhook.URL); err != nil {
			bad("webhook.url", quote(redact.Secrets(c.Webhook.URL)), err.Error())
		}
	}
	if c.Webhook.URL != "" && c.Webhook.Secret == "" {
		bad("webhook.secret", `""`, "required with webhook.url: the portal checks the signature")
	}
	if c.Retention.SamplesDays < 0 {
		bad("retention.samples_days", c.Retention.SamplesDays, "must not be negative (0 = keep forever)")
	}
	col := c.Collector
	if col.ScrapeInterval.Duration < time.Second || col.ScrapeInterval.Duration%time.Second != 0 {
		bad("collector.scrape_interval", col.ScrapeInterval, "must be whole seconds, at least 1s")
	}
	if col.ScrapeTimeout.Duration < 0 || col.ScrapeTimeout.Duration > col.ScrapeInterval.Duration {
		bad("collector.scrape_timeout", col.ScrapeTimeout, "must be at most scrape_interval (0: 10s or scrape_interval if shorter)")
	}
	if rw := col.RemoteWrite; rw.URL != "" {
		if err := SecureURL(rw.URL); err != nil {
			bad("collector.remote_write.url", quote(redact.Secrets(rw.URL)), err.Error())
		}
		if rw.TokenFile == "" {
			bad("collector.remote_write.token_file", `""`, "required with collector.remote_write.url: the file holding the ingest token")
		}
	}
	if c.Server.MaxPushAge.Duration < time.Minute {
		bad("server.max_push_age", c.Server.MaxPushAge.Duration, "must be at least 1m")
	}
	if c.Server.MaxWriteBytes < 1<<10 {
		bad("server.max_write_bytes", c.Server.MaxWriteBytes, "must be at least 1024")
	}
	if col.MaxSeriesPerScrape < 1 {
		bad("collector.max_series_per_scrape", col.MaxSeriesPerScrape, "must be at least 1")
	}
	if _, ok := c.Providers[col.Provider]; col.Provider != "" && !ok {
		bad("collector.provider", quote(col.Provider), "must be a configured provider")
	}
	if col.Concurrency < 1 {
		bad("collector.concurrency", col.Concurrency, "must be at least 1")
	}
	for i, u := range col.Targets {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			bad(fmt.Sprintf("collector.targets[%d]", i), quote(u), "must be an http:// or https:// URL")
		}
	}
	if col.BatchRows < 1 {
		bad("collector.batch_rows", col.BatchRows, "must be at least 1")
	}
	if col.FlushInterval.Duration <= 0 {
		bad("collector.flush_interval", col.FlushInterval, "must be positive")
	}
	if col.SpoolDir == "" {
		bad("collector.spool_dir", `""`, "required: samples wait there while the store is down")
	}
	if col.SpoolMaxBytes < 1<<20 {
		bad("collector.spool_max_bytes", col.SpoolMaxBytes, "must be at least 1 MiB")
	}
	parser := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	for _, job := range [][2]string{{"schedule.aggregate", c.Schedule.Aggregate},
		{"schedule.idle_scan", c.Schedule.IdleScan}, {"schedule.monthly_report", c.Schedule.MonthlyReport}} {
		field, spec := job[0], job[1]
		if spec == "" {
			continue
		}
		if _, err := parser.Parse(spec); err != nil {
			bad(field, quote(spec), "not a cron expression (minute hour day month weekday): "+err.Error())
		}
	}
	if c.Schedule.MonthlyReport != "" && c.Schedule.ReportDir == "" {
		bad("schedule.report_dir", `""`, "required with schedule.monthly_report")
	}
	if c.Server.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
			bad("server.listen", quote(c.Server.Listen), "not host:port")
		}
	}
	if (c.Server.TLSCert == "") != (c.Server.TLSKey == "") {
		bad("server.tls_cert", quote(c.Server.TLSCert), "tls_cert and tls_key go together")
	}
	names, hashes := map[string]bool{}, map[string]string{}
	for i, p := range c.Principals {
		field := fmt.Sprintf("principals[%d]", i)
		if p.Name == "" || names[p.Name] {
			bad(field+".name", quote(p.Name), "must be a name no other principal has")
		}
		names[p.Name] = true
		switch p.Role {
		case RoleProvider, RoleIngest:
			if _, ok := c.Providers[p.Provider]; !ok {
				bad(field+".provider", quote(p.Provider), "must be a configured provider for role "+p.Role)
			}
		case RoleNIPA, RolePortal:
			if p.Provider != "" {
				bad(field+".provider", quote(p.Provider), "only provider and ingest principals have one")
			}
		default:
			bad(field+".role", quote(p.Role), "must be nipa, provider, portal or ingest")
		}
		if !sha256Hex.MatchString(p.TokenSHA256) {
			// The value may be a token pasted by mistake: it is not shown.
			bad(field+".token_sha256", "(hidden)", "must be 64 lower-case hex digits: the SHA-256 of the token, never the token")
		} else if other, dup := hashes[p.TokenSHA256]; dup {
			bad(field+".token_sha256", "(hidden)", "the same token as principal "+other)
		}
		hashes[p.TokenSHA256] = p.Name
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "\n"))
}

// Location is the time zone that months and days of reports are local to.
func (c Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

func quote(s string) string { return fmt.Sprintf("%q", s) }
