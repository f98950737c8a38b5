package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nipa-gpu/gpumeter/ledger"
	"github.com/nipa-gpu/gpumeter/publish"
	"github.com/nipa-gpu/gpumeter/reports"
)

// checkNames label the limit checks in the table.
var checkNames = map[ledger.CheckItem]string{
	ledger.CheckPrivateShareGPUs: "private share GPUs (inventory)",
	ledger.CheckPeakGPUs:         "peak GPUs on own projects",
	ledger.CheckBorrowed:         "borrowed GPU-hours this month",
	ledger.CheckLongestHold:      "longest borrow hold, hours",
	ledger.CheckLent:             "lent GPU-hours (public on private)",
	ledger.CheckPrivateUsed:      "private share used GPU-hours",
}

func newLimitsCmd(g *globals) *cobra.Command {
	var provider, month string
	cmd := &cobra.Command{
		Use:   "limits --provider ID --month YYYY-MM",
		Short: "Show a provider its usage against its limits, and its violations",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if provider == "" || month == "" {
				return usageError{errors.New("limits: --provider and --month are required")}
			}
			e, err := g.setupMigrated(cmd.Context())
			if err != nil {
				return err
			}
			defer e.close()
			if _, ok := e.cfg.Providers[provider]; !ok {
				return fmt.Errorf("limits: provider %q is not configured", provider)
			}
			l, err := publish.Ledger(cmd.Context(), e.st, e.cfg, ledger.Scope{Month: month, Provider: provider, Now: time.Now()}, e.log)
			if err != nil {
				return err
			}
			if len(l.Providers) == 0 {
				return fmt.Errorf("limits: provider %s has no GPUs in %s", provider, month)
			}
			p := l.Providers[0]
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s, %s (%s), to %s\n\n", provider, month, e.cfg.Timezone, l.To.In(e.cfg.Location()).Format("2006-01-02 15:04"))
			w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(w, "\tusage\tlimit\t\t")
			for _, c := range p.Checks {
				switch c.Status() {
				case ledger.StatusContext:
					fmt.Fprintf(w, "%s\t%.3f\t\t\t\n", checkNames[c.Item], c.Usage)
				case ledger.StatusNoCap:
					fmt.Fprintf(w, "%s\t%.3f\t%.3f\tno cap\t\n", checkNames[c.Item], c.Usage, 0.0)
				case ledger.StatusOver:
					fmt.Fprintf(w, "%s\t%.3f\t%.3f\tOVER\t\n", checkNames[c.Item], c.Usage, c.Limit)
				default:
					fmt.Fprintf(w, "%s\t%.3f\t%.3f\tok\t\n", checkNames[c.Item], c.Usage, c.Limit)
				}
			}
			if err := w.Flush(); err != nil {
				return err
			}
			violations := reports.JSON(l).Providers[0].Violations
			fmt.Fprintf(out, "\nviolations: %d\n", len(violations))
			if len(violations) == 0 {
				return nil
			}
			w = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "KIND\tGPU\tNODE\tFROM\tTO\tGPU-HOURS")
			for _, v := range violations {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%.3f\n", v.Kind, dash(v.GPUUUID), dash(v.Node), v.From, dash(v.To), v.GPUHours)
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&provider, "provider", "", "provider id")
	cmd.Flags().StringVar(&month, "month", "", "month, YYYY-MM")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
