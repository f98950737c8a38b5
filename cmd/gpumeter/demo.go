package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/demo"
)

func newDemoCmd(g *globals) *cobra.Command {
	var scale float64
	var seed int64
	var month, outDir, provider string
	var step time.Duration
	cmd := &cobra.Command{
		Use:   "demo [--scale F] [--month YYYY-MM] [--out DIR]",
		Short: "Simulate a month of the fleet, aggregate it and write the workbooks",
		Long: `Simulates a month of the SPEC §1 fleet at --scale (1 = all 13,136 GPUs), imports its
inventory, projects, allocations and samples into a fresh embedded store in
DIR/demo-store, aggregates, and writes NIPA's workbook DIR/nipa-YYYY-MM.xlsx,
one provider's workbook and the JSON report, then prints a summary.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("log-level") {
				g.logLevel = "warn" // the demo shows its own progress
			}
			if scale <= 0 || scale > 1 {
				return usageError{fmt.Errorf("demo: --scale %g must be in (0, 1]", scale)}
			}
			if step < time.Second {
				return usageError{fmt.Errorf("demo: --step %s must be at least 1s", step)}
			}
			cfg, err := config.Load(g.configPath)
			if err != nil {
				return err
			}
			cfg.Store = g.storeDSN
			log, err := newLogger(g.logFormat, g.logLevel)
			if err != nil {
				return err
			}
			return demo.Run(cmd.Context(), cfg, demo.Options{Month: month, Scale: scale, Seed: seed, Step: step, Out: outDir,
				Provider: provider, Configured: g.configPath != "", Version: gpumeterVersion()}, log, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().Float64Var(&scale, "scale", 0.02, "fraction of the SPEC §1 fleet (1 = 13,136 GPUs)")
	cmd.Flags().Int64Var(&seed, "seed", 1, "simulation seed")
	cmd.Flags().StringVar(&month, "month", "", "month to simulate, YYYY-MM (default: last month)")
	cmd.Flags().StringVar(&outDir, "out", "out", "where the workbooks, report and demo store go")
	cmd.Flags().StringVar(&provider, "provider", "nhn", "the provider whose own workbook is written too")
	cmd.Flags().DurationVar(&step, "step", time.Minute, "sample interval of the simulated exporters")
	return cmd
}
