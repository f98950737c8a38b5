package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/schemas"
)

func newMigrateCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or update the ClickHouse schema (idempotent)",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := g.setup(cmd.Context())
			if err != nil {
				return err
			}
			defer e.close()
			applied, err := schemas.Migrate(cmd.Context(), e.st, e.schemaOptions())
			if err != nil {
				return err
			}
			d := e.st.Dialect()
			e.log.Info("schema up to date", zap.Ints("applied", applied), zap.String("backend", d.Backend),
				zap.Stringer("clickhouse", d.Version), zap.String("cluster", d.Cluster))
			all, _ := schemas.All()
			fmt.Fprintf(cmd.OutOrStdout(), "schema at version %d (%d applied now)\n", all[len(all)-1].Version, len(applied))
			return nil
		},
	}
}
