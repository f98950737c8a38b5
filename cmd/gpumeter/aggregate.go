package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/aggregator"
)

func newAggregateCmd(g *globals) *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "aggregate [--from TIME --to TIME]",
		Short: "Bring the hourly accounting rollups up to date (incremental, idempotent)",
		Long: `Without flags: aggregates the whole hours since the last run and every range
marked out of date since (late samples, changed inventory or allocations).
With --from/--to (RFC 3339): recomputes exactly those hours as well.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var need [][2]time.Time
			if from != "" || to != "" {
				f, err1 := time.Parse(time.RFC3339, from)
				t, err2 := time.Parse(time.RFC3339, to)
				if err1 != nil || err2 != nil || !f.Before(t) {
					return usageError{fmt.Errorf("aggregate: --from and --to must be RFC 3339 times, from before to")}
				}
				need = append(need, [2]time.Time{f, t})
			}
			e, err := g.setupMigrated(cmd.Context())
			if err != nil {
				return err
			}
			defer e.close()
			agg := aggregator.New(e.st, e.cfg, e.log)
			start := time.Now()
			st, err := agg.Recalculate(cmd.Context(), time.Now(), need...)
			if err != nil {
				return err
			}
			e.log.Info("aggregated", zap.Int("hours", st.Hours), zap.Int("gpus", st.GPUs), zap.Int("samples", st.Samples),
				zap.Int("rows", st.Rows), zap.Duration("took", time.Since(start)))
			fmt.Fprintf(cmd.OutOrStdout(), "aggregated %d hours of %d GPUs: %d samples read, %d rollup rows written\n",
				st.Hours, st.GPUs, st.Samples, st.Rows)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "start of a range to recompute (RFC 3339)")
	cmd.Flags().StringVar(&to, "to", "", "end of a range to recompute (RFC 3339)")
	return cmd
}
