package main

import (
	"fmt"
	"net"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/sim"
)

func newSimulateCmd(g *globals) *cobra.Command {
	var scale float64
	var listen, month, inputs, at string
	var seed int64
	cmd := &cobra.Command{
		Use:   "simulate [--scale F] [--listen ADDR] [--seed N] [--month YYYY-MM] [--at TIME] [--write-inputs DIR]",
		Short: "Serve dcgm-exporter endpoints for a simulated fleet",
		Long: `Serves http://ADDR/nodes/NODE/metrics for every node of the SPEC §1 fleet
scaled by --scale (8 GPUs a node), as that node's dcgm-exporter would now:
daily cycles, idle stretches, namespaces and pods of the projects holding the
GPUs, MIG on some nodes, time-slicing, blank sentinels, occasional HTTP 500s
and outages. --write-inputs writes the matching inventory, projects,
allocations and targets files (each URL with its node's provider), so a
collector and the imports agree. --at freezes the fleet at one moment, so
that every scrape of a node gives the same answer.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if scale <= 0 || scale > 4 {
				return usageError{fmt.Errorf("simulate: --scale %g must be in (0, 4]", scale)}
			}
			cfg, err := config.Load(g.configPath)
			if err != nil {
				return err
			}
			log, err := newLogger(g.logFormat, g.logLevel)
			if err != nil {
				return err
			}
			from, err := monthStart(month, cfg.Location())
			if err != nil {
				return err
			}
			fleet := sim.New(seed, scale, from, from.AddDate(0, 1, 0))
			var now func() time.Time
			if at != "" {
				frozen, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return usageError{fmt.Errorf("simulate: --at %q: want an RFC 3339 time", at)}
				}
				now = func() time.Time { return frozen }
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("simulate: listen %s: %w", listen, err)
			}
			base := "http://" + ln.Addr().String()
			if inputs != "" {
				if err := fleet.WriteInputs(inputs, base); err != nil {
					return fmt.Errorf("simulate: %w", err)
				}
			}
			gpus := len(fleet.Nodes) * sim.GPUsPerNode
			fmt.Fprintf(cmd.OutOrStdout(), "serving %d nodes (%d GPUs) at %s/nodes/NODE/metrics\n", len(fleet.Nodes), gpus, base)
			if inputs != "" {
				fmt.Fprintf(cmd.OutOrStdout(), "inputs and targets.txt in %s\n", inputs)
			}
			log.Info("simulating", zap.Int("nodes", len(fleet.Nodes)), zap.Int("gpus", gpus), zap.Int64("seed", seed), zap.Time("month", from))
			return fleet.Serve(cmd.Context(), ln, now)
		},
	}
	cmd.Flags().Float64Var(&scale, "scale", 0.01, "fraction of the SPEC §1 fleet (1 = 13,136 GPUs on 1,642 nodes)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9400", "address to serve on")
	cmd.Flags().Int64Var(&seed, "seed", 1, "seed: the same seed gives the same fleet and metrics")
	cmd.Flags().StringVar(&month, "month", "", "month the allocations span, YYYY-MM (default: this month)")
	cmd.Flags().StringVar(&at, "at", "", "serve every scrape as the fleet is at this RFC 3339 time (default: the time of the scrape)")
	cmd.Flags().StringVar(&inputs, "write-inputs", "", "write inventory.csv, projects.csv, allocations.csv and targets.txt here")
	return cmd
}

// monthStart parses YYYY-MM in loc; empty means the current month.
func monthStart(month string, loc *time.Location) (time.Time, error) {
	if month == "" {
		now := time.Now().In(loc)
		return time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, loc), nil
	}
	t, err := time.ParseInLocation("2006-01", month, loc)
	if err != nil {
		return t, usageError{fmt.Errorf("--month %q: want YYYY-MM", month)}
	}
	return t, nil
}
