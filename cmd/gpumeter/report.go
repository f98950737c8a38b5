package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/nipa-gpu/gpumeter/ledger"
	"github.com/nipa-gpu/gpumeter/publish"
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
			iss, err := publish.Publish(cmd.Context(), e.st, e.cfg, publish.Request{
				Scope: ledger.Scope{Month: month, Provider: provider, Now: time.Now()}, Version: gpumeterVersion(), Log: e.log})
			if err != nil {
				return err
			}
			write := iss.WriteJSON
			if format == "xlsx" {
				write = func(w io.Writer) error { return iss.WriteWorkbook(w, lang) }
			}
			if out == "-" {
				return write(cmd.OutOrStdout())
			}
			return publish.WriteFile(out, write)
		},
	}
	cmd.Flags().StringVar(&month, "month", "", "month, YYYY-MM, in the configured time zone")
	cmd.Flags().StringVar(&provider, "provider", "", "only this provider's figures")
	cmd.Flags().StringVar(&lang, "lang", "ko", "workbook language: ko or en")
	cmd.Flags().StringVar(&format, "format", "json", "xlsx or json")
	cmd.Flags().StringVar(&out, "out", "", "output file, or - for stdout")
	return cmd
}
