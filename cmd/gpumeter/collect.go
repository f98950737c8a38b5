package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/nipa-gpu/gpumeter/collector"
	"github.com/nipa-gpu/gpumeter/config"
)

func newCollectCmd(g *globals) *cobra.Command {
	var once, print, useNVML bool
	var targets []string
	cmd := &cobra.Command{
		Use:   "collect [--once] [--target URL]... [--print] [--nvml]",
		Short: "Scrape dcgm-exporter endpoints (and NVML) into the store",
		Long: `Scrapes every target each collector.scrape_interval and writes the samples in
batches; while the store is unreachable they wait in an on-disk spool and are
replayed in order. Self-metrics are served at http://<collector.listen>/metrics.

With --once, one round is scraped; with --print, the samples are printed as
JSON lines (SPEC §3.4 names) instead of stored, and a failing target exits 1.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if print && !once {
				return usageError{errors.New("collect: --print needs --once")}
			}
			if print {
				cfg, err := config.Load(g.configPath)
				if err != nil {
					return err
				}
				err = collector.Print(cmd.Context(), cfg.Collector, targets, useNVML, cmd.OutOrStdout())
				if errors.Is(err, collector.ErrNoTargets) {
					return usageError{fmt.Errorf("collect --once --print: %w", err)}
				}
				return err
			}
			e, err := g.setupMigrated(cmd.Context())
			if err != nil {
				return err
			}
			defer e.close()
			if len(targets) > 0 {
				e.cfg.Collector.Targets, e.cfg.Collector.TargetsFile = targets, ""
			}
			if useNVML {
				e.cfg.Collector.NVML = true
			}
			return collector.Run(cmd.Context(), e.cfg.Collector, e.st, e.log, once, nil)
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "scrape one round and stop")
	cmd.Flags().StringArrayVar(&targets, "target", nil, "dcgm-exporter URL (repeatable; replaces the configured targets)")
	cmd.Flags().BoolVar(&print, "print", false, "with --once: print samples as JSON lines instead of storing them")
	cmd.Flags().BoolVar(&useNVML, "nvml", false, "also read this node's GPUs through NVML")
	return cmd
}
