package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nipa-gpu/gpumeter/imports"
)

func newImportCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import inventory|projects|allocations|samples FILE",
		Short: "Validate an input file whole, then store it (SPEC §3)",
		Long: `Validates every line of FILE before writing anything: a file with any bad
line is rejected with each bad line's number and reason, and nothing of it is
stored. Re-importing the same file is a no-op; a later file of the same kind
replaces the earlier rows of the same keys (GPU, project, allocation, or
gpu_uuid+ts for samples).`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("import: say what to import (usage: %s)", cmd.UseLine())}
			}
			return usageError{fmt.Errorf("import: unknown kind %q (usage: %s)", args[0], cmd.UseLine())}
		},
		RunE: func(*cobra.Command, []string) error { return nil },
	}
	batchRows := imports.DefaultBatchRows
	cmd.PersistentFlags().IntVar(&batchRows, "batch-rows", batchRows, "samples per insert (memory is bounded by one batch)")
	for _, kind := range imports.Kinds {
		cmd.AddCommand(&cobra.Command{
			Use:   kind + " FILE",
			Short: "Import a " + kind + " CSV file",
			Args:  exactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				e, err := g.setupMigrated(cmd.Context())
				if err != nil {
					return err
				}
				defer e.close()
				im := &imports.Importer{Store: e.st, Log: e.log, BatchRows: batchRows}
				res, err := im.Import(cmd.Context(), kind, args[0])
				if err != nil {
					return err
				}
				switch {
				case res.Empty:
					fmt.Fprintf(cmd.OutOrStdout(), "%s %s: holds no rows, nothing imported\n", kind, res.File)
				case res.Unchanged:
					fmt.Fprintf(cmd.OutOrStdout(), "%s %s: unchanged (already imported)\n", kind, res.File)
				default:
					fmt.Fprintf(cmd.OutOrStdout(), "%s %s: %d rows imported (batch %d, sha256 %s)\n", kind, res.File, res.Rows, res.BatchID, res.SHA256[:12])
				}
				return nil
			},
		})
	}
	return cmd
}
