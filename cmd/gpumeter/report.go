package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/reports"
	"github.com/nipa-gpu/gpumeter/store"
)

func newReportCmd(g *globals) *cobra.Command {
	var month, provider, lang, format, out string
	cmd := &cobra.Command{
		Use:   "report --month YYYY-MM [--provider ID] [--lang ko|en] --format xlsx|json --out FILE|-",
		Short: "Write the monthly report",
		Long: `Computes the month from the store (rollups are brought up to date first, so
late samples are in) and writes it. The JSON is SPEC §6's machine contract.
A month still running is reported up to the last whole hour.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if month == "" || out == "" {
				return usageError{errors.New("report: --month and --out are required")}
			}
			if lang != "ko" && lang != "en" {
				return usageError{fmt.Errorf("report: --lang %q: want ko or en", lang)}
			}
			switch format {
			case "json", "xlsx":
			default:
				return usageError{fmt.Errorf("report: --format %q: want xlsx or json", format)}
			}
			e, err := g.setupMigrated(cmd.Context())
			if err != nil {
				return err
			}
			defer e.close()
			if provider != "" {
				if _, ok := e.cfg.Providers[provider]; !ok {
					return fmt.Errorf("report: provider %q is not configured", provider)
				}
			}
			rep, detail, err := reports.BuildDetail(cmd.Context(), e.st, e.cfg, reports.Options{Month: month, Provider: provider, Now: time.Now()})
			if err != nil {
				return err
			}
			previous, changes, err := reports.Issue(cmd.Context(), e.st, rep, provider)
			if err != nil {
				return err
			}
			if !previous.IsZero() {
				e.log.Info("re-issue", zap.String("month", month), zap.Time("previous_issue", previous), zap.Int("figures_changed", len(changes)))
				for _, c := range changes {
					e.log.Info("changed since the previous issue", zap.String("figure", c.Path), zap.String("was", c.Was), zap.String("now", c.Now))
				}
			}
			if format == "xlsx" {
				opts := reports.WorkbookOptions{Lang: lang, Version: gpumeterVersion(), Config: configText(e.cfg, provider), Provider: provider,
					Changes: changes, Previous: previous, Limits: e.cfg.Providers}
				return writeOut(cmd.OutOrStdout(), out, func(w io.Writer) error { return reports.WriteWorkbook(w, rep, detail, opts) })
			}
			return writeOut(cmd.OutOrStdout(), out, func(w io.Writer) error { return encodeJSON(w, rep) })
		},
	}
	cmd.Flags().StringVar(&month, "month", "", "month, YYYY-MM, in the configured time zone")
	cmd.Flags().StringVar(&provider, "provider", "", "only this provider's figures")
	cmd.Flags().StringVar(&lang, "lang", "ko", "workbook language: ko or en")
	cmd.Flags().StringVar(&format, "format", "json", "xlsx or json")
	cmd.Flags().StringVar(&out, "out", "", "output file, or - for stdout")
	return cmd
}

// writeOut writes to stdout for "-", else to a file that appears whole or
// not at all.
func writeOut(stdout io.Writer, path string, write func(io.Writer) error) error {
	if path == "-" {
		return write(stdout)
	}
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

// configText is the configuration as the workbook records it: secrets
// hidden, and in a provider's workbook no other provider's limits.
func configText(cfg config.Config, provider string) string {
	cfg.Store = store.Redact(cfg.Store)
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

func encodeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
