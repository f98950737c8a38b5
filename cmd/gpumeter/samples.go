package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/nipa-gpu/gpumeter/store"
)

func newSamplesCmd(g *globals) *cobra.Command {
	var gpu, from, to string
	cmd := &cobra.Command{
		Use:   "samples --gpu UUID --from TIME --to TIME",
		Short: "Print the stored samples of one GPU in [from, to) as JSON lines",
		Long: `Prints the samples stored for one GPU from --from up to (not including) --to,
one JSON line each with SPEC §3.4's field names, deduplicated as the accounting
reads them: a (gpu_uuid, ts) once, an import's samples only once it committed.
"origin" says who sent each: scrape:<target>, remote_write:<ingest principal>,
import:<batch id> (see the imports table), demo, or unrecorded (stored before
origins were kept).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if gpu == "" || from == "" || to == "" {
				return usageError{errors.New("samples: --gpu, --from and --to are required")}
			}
			f, err1 := time.Parse(time.RFC3339, from)
			t, err2 := time.Parse(time.RFC3339, to)
			if err1 != nil || err2 != nil || !f.Before(t) {
				return usageError{fmt.Errorf("samples: --from and --to must be RFC 3339 times, from before to")}
			}
			e, err := g.setupMigrated(cmd.Context())
			if err != nil {
				return err
			}
			defer e.close()
			samples, err := store.Samples(cmd.Context(), e.st, gpu, f, t)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			for i := range samples {
				if err := enc.Encode(&samples[i]); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&gpu, "gpu", "", "GPU UUID")
	cmd.Flags().StringVar(&from, "from", "", "start, RFC 3339 (included)")
	cmd.Flags().StringVar(&to, "to", "", "end, RFC 3339 (not included)")
	return cmd
}
