package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nipa-gpu/gpumeter/aggregator"
	"github.com/nipa-gpu/gpumeter/reports"
)

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
			lim, ok := e.cfg.Providers[provider]
			if !ok {
				return fmt.Errorf("limits: provider %q is not configured", provider)
			}
			now := time.Now()
			rep, err := reports.Build(cmd.Context(), e.st, e.cfg, reports.Options{Month: month, Provider: provider, Now: now})
			if err != nil {
				return err
			}
			if len(rep.Providers) == 0 {
				return fmt.Errorf("limits: provider %s has no GPUs in %s", provider, month)
			}
			p := rep.Providers[0]
			holds, err := aggregator.BorrowHolds(cmd.Context(), e.st)
			if err != nil {
				return err
			}
			from, to, _ := reports.Period(month, e.cfg.Location(), now)
			var longest int64
			for _, h := range holds {
				if h.Provider == provider && h.From < to.Unix() && h.To > from.Unix() {
					longest = max(longest, min(h.To, to.Unix())-h.From)
				}
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s, %s (%s), to %s\n\n", provider, month, e.cfg.Timezone, to.In(e.cfg.Location()).Format("2006-01-02 15:04"))
			w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintln(w, "\tusage\tlimit\t\t")
			row := func(name string, usage, limit float64, unlimited bool) {
				status := "ok"
				switch {
				case unlimited:
					status, limit = "no cap", 0
				case usage > limit:
					status = "OVER"
				}
				fmt.Fprintf(w, "%s\t%.3f\t%.3f\t%s\t\n", name, usage, limit, status)
			}
			row("private share GPUs (inventory)", float64(p.GPUs.Private), float64(lim.PrivateShareGPUs), false)
			row("peak GPUs on own projects", p.PeakProviderGPUs, float64(lim.PrivateShareGPUs), false)
			row("borrowed GPU-hours this month", p.BorrowedGPUHours, lim.MonthlyBorrowGPUHours, lim.MonthlyBorrowGPUHours == 0)
			row("longest borrow hold, hours", reports.Hours(longest), lim.MaxBorrowHours, false)
			fmt.Fprintf(w, "lent GPU-hours (public on private)\t%.3f\t\t\t\n", p.LentGPUHours)
			fmt.Fprintf(w, "private share used GPU-hours\t%.3f\t\t\t\n", p.PrivateUsedGPUHours)
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(out, "\nviolations: %d\n", len(p.Violations))
			if len(p.Violations) == 0 {
				return nil
			}
			w = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "KIND\tGPU\tNODE\tFROM\tTO\tGPU-HOURS")
			for _, v := range p.Violations {
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
