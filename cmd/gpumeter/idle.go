package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/nipa-gpu/gpumeter/publish"
)

func newIdleCmd(g *globals) *cobra.Command {
	var at, format string
	cmd := &cobra.Command{
		Use:   "idle [--at TIME] [--format json]",
		Short: "Print idle government capacity as JSON lines (and POST it to the portal)",
		Long: `Evaluates the idle flags of SPEC §5 at TIME (default now) and prints one JSON
line a flag. With webhook.url configured, flags the portal has not had yet are
POSTed, signed with HMAC-SHA256 of the body in the X-Gpumeter-Signature header.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "json" {
				return usageError{fmt.Errorf("idle: --format %q: want json", format)}
			}
			t := time.Now()
			if at != "" {
				var err error
				if t, err = time.Parse(time.RFC3339, at); err != nil {
					return usageError{fmt.Errorf("idle: --at %q: want an RFC 3339 time", at)}
				}
			}
			e, err := g.setupMigrated(cmd.Context())
			if err != nil {
				return err
			}
			defer e.close()
			flags, err := publish.Idle(cmd.Context(), e.st, e.cfg, t, e.log)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			for _, f := range flags {
				if err := enc.Encode(f); err != nil {
					return err
				}
			}
			if e.cfg.Webhook.URL == "" {
				return nil
			}
			n, err := publish.SendIdle(cmd.Context(), e.st, e.cfg, flags, e.log)
			if err != nil {
				return err
			}
			e.log.Info("idle flags sent to the portal", zap.Int("new", n), zap.Int("flags", len(flags)))
			return nil
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "evaluate at this RFC 3339 time (default now)")
	cmd.Flags().StringVar(&format, "format", "json", "output format: json (JSON lines)")
	return cmd
}
