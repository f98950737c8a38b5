// Package publish delivers what gpumeter produces. A month's report: the
// rollups brought up to date, the ledger built, the issue recorded (saying
// what changed since the last one), the JSON and the workbook written;
// `report`, `run` and `demo` all publish through it. And the idle flags, to
// stdout and the portal's webhook.
package publish

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/nipa-gpu/gpumeter"
	"github.com/nipa-gpu/gpumeter/aggregator"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/ledger"
	"github.com/nipa-gpu/gpumeter/redact"
	"github.com/nipa-gpu/gpumeter/reports"
	"github.com/nipa-gpu/gpumeter/store"
	"github.com/nipa-gpu/gpumeter/webhook"
)

// Request says which report to issue.
type Request struct {
	ledger.Scope
	Version string      // gpumeter's version, for the workbook
	Log     *zap.Logger // hears of re-issues and what changed; nil for none
}

// Issue is a report as issued.
type Issue struct {
	Ledger   *ledger.Ledger
	Report   *reports.Report
	Previous time.Time // the previous issue, zero for a first one
	Changes  []reports.Change
	config   string
	version  string
}

// Ledger brings the rollups of the scope's month up to date (as `aggregate`
// would), so that every sample stored is in, then builds its ledger.
func Ledger(ctx context.Context, st store.Store, cfg config.Config, sc ledger.Scope, log *zap.Logger) (*ledger.Ledger, error) {
	from, to, err := ledger.Period(sc.Month, cfg.Location(), sc.Now)
	if err != nil {
		return nil, err
	}
	agg := aggregator.New(st, cfg, log)
	if _, err := agg.Update(ctx, sc.Now, [2]time.Time{from, to}); err != nil {
		return nil, err
	}
	return ledger.Build(ctx, st, cfg, sc)
}

// Publish issues a report: the ledger of an up-to-date month (Ledger), its
// issue recorded with what changed since the previous one.
func Publish(ctx context.Context, st store.Store, cfg config.Config, r Request) (*Issue, error) {
	l, err := Ledger(ctx, st, cfg, r.Scope, r.Log)
	if err != nil {
		return nil, err
	}
	iss := &Issue{Ledger: l, Report: reports.JSON(l), config: ConfigText(cfg, r.Provider), version: r.Version}
	body, err := json.Marshal(iss.Report)
	if err != nil {
		return nil, err
	}
	prev, found, err := store.LastIssue(ctx, st, r.Month, r.Provider)
	if err != nil {
		return nil, err
	}
	if found {
		var old reports.Report
		if err := json.Unmarshal([]byte(prev.Body), &old); err != nil {
			return nil, fmt.Errorf("read previous issue: %w", err)
		}
		iss.Previous, iss.Changes = prev.IssuedAt, reports.Diff(&old, iss.Report)
	}
	err = store.RecordIssue(ctx, st, store.IssuedReport{Month: r.Month, Provider: r.Provider, IssuedAt: l.GeneratedAt,
		InputsSHA256: l.InputsSHA256, Body: string(body)})
	if err != nil {
		return nil, err
	}
	if found && r.Log != nil {
		r.Log.Info("re-issue", zap.String("month", r.Month), zap.String("provider", r.Provider),
			zap.Time("previous_issue", iss.Previous), zap.Int("figures_changed", len(iss.Changes)))
		for _, c := range iss.Changes {
			r.Log.Info("changed since the previous issue", zap.String("figure", c.Path), zap.String("was", c.Was), zap.String("now", c.Now))
		}
	}
	return iss, nil
}

// WriteJSON writes the report's JSON, indented.
func (iss *Issue) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(iss.Report)
}

// WriteWorkbook writes the report's workbook in lang (ko or en).
func (iss *Issue) WriteWorkbook(w io.Writer, lang string) error {
	return reports.WriteWorkbook(w, iss.Ledger, reports.WorkbookOptions{Lang: lang, Version: iss.version, Config: iss.config,
		Provider: iss.Ledger.Provider, Changes: iss.Changes, Previous: iss.Previous})
}

// Name is the report's file name without extension: nipa-YYYY-MM for the
// program-wide report, PROVIDER-YYYY-MM for a provider's.
func (iss *Issue) Name() string {
	if iss.Ledger.Provider == "" {
		return "nipa-" + iss.Ledger.Month
	}
	return iss.Ledger.Provider + "-" + iss.Ledger.Month
}

// WriteFiles writes DIR/NAME.xlsx and DIR/NAME.json and returns their paths.
func (iss *Issue) WriteFiles(dir, lang string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	base := filepath.Join(dir, iss.Name())
	if err := WriteFile(base+".xlsx", func(w io.Writer) error { return iss.WriteWorkbook(w, lang) }); err != nil {
		return nil, err
	}
	if err := WriteFile(base+".json", iss.WriteJSON); err != nil {
		return nil, err
	}
	return []string{base + ".xlsx", base + ".json"}, nil
}

// WriteFile writes a file that appears whole or not at all.
func WriteFile(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".gpumeter-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ConfigText is the configuration as a workbook records it: secrets hidden,
// no principals (names, roles and token hashes are nobody's business in a
// report), and in a provider's workbook no other provider's limits.
func ConfigText(cfg config.Config, provider string) string {
	cfg.Store = redact.Secrets(cfg.Store)
	cfg.Webhook.URL = redact.Secrets(cfg.Webhook.URL)
	cfg.Principals = nil
	if provider != "" {
		cfg.Providers = map[string]config.ProviderLimits{provider: cfg.Providers[provider]}
	}
	if cfg.Webhook.Secret != "" {
		cfg.Webhook.Secret = "xxxxx"
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return ""
	}
	return string(data)
}

// Idle brings the rollups of the look-back up to date and evaluates the idle
// flags at t, with the ids of the recorded flags they continue; it records
// nothing.
func Idle(ctx context.Context, st store.Store, cfg config.Config, t time.Time, log *zap.Logger) ([]gpumeter.IdleFlag, error) {
	if err := updateLookback(ctx, st, cfg, t, log); err != nil {
		return nil, err
	}
	flags, err := ledger.Idle(ctx, st, cfg, t)
	if err != nil {
		return nil, err
	}
	return ledger.Stable(ctx, st, flags, t)
}

// Track brings the rollups of the look-back up to date, evaluates the idle
// flags at t and records them (ledger.Track).
func Track(ctx context.Context, st store.Store, cfg config.Config, t time.Time, log *zap.Logger) ([]gpumeter.TrackedFlag, error) {
	if err := updateLookback(ctx, st, cfg, t, log); err != nil {
		return nil, err
	}
	return ledger.Track(ctx, st, cfg, t)
}

func updateLookback(ctx context.Context, st store.Store, cfg config.Config, t time.Time, log *zap.Logger) error {
	agg := aggregator.New(st, cfg, log)
	_, err := agg.Update(ctx, time.Now(), [2]time.Time{t.Add(-ledger.Lookback), t})
	return err
}

// SendIdle POSTs the flags the portal has not had yet to the configured
// webhook, and says how many it sent; without a webhook it sends nothing.
func SendIdle(ctx context.Context, st store.Store, cfg config.Config, flags []gpumeter.IdleFlag, log *zap.Logger) (int, error) {
	if cfg.Webhook.URL == "" {
		return 0, nil
	}
	hook := &webhook.Sender{URL: cfg.Webhook.URL, Secret: cfg.Webhook.Secret, Store: st, Log: log}
	return hook.Send(ctx, flags)
}
