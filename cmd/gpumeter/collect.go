package main

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nipa-gpu/gpumeter/collector"
	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/redact"
)

func newCollectCmd(g *globals) *cobra.Command {
	var once, print, useNVML bool
	var targets []string
	var remoteWrite, tokenFile, shard string
	cmd := &cobra.Command{
		Use:   "collect [--once] [--target URL]... [--print] [--nvml] [--remote-write URL --token-file F] [--shard I/N]",
		Short: "Scrape dcgm-exporter endpoints (and NVML) into the store, or push them to a central gpumeter",
		Long: `Scrapes every target each collector.scrape_interval and writes the samples in
batches; while the store is unreachable (also when it is at start) they wait
in an on-disk spool and are replayed in order once it answers. Self-metrics
are served at http://<collector.listen>/metrics.

With --remote-write URL --token-file F (or collector.remote_write), samples
are pushed to a central gpumeter's /api/v1/write with the ingest token in F,
through the same spool: network errors and 5xx are retried, a 4xx is logged
and dropped. With --shard I/N this collector scrapes the targets whose URL
hashes to I modulo N, so that N collectors share the targets.

With --once, one round is scraped; with --print, the samples are printed as
JSON lines (SPEC §3.4 names) instead of stored, and a failing target exits 1.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if print && !once {
				return usageError{errors.New("collect: --print needs --once")}
			}
			var sh collector.Shard
			if shard != "" {
				var err error
				if sh, err = collector.ParseShard(shard); err != nil {
					return usageError{fmt.Errorf("collect --shard: %w", err)}
				}
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
			e, err := g.load()
			if err != nil {
				return err
			}
			defer e.close()
			cc := &e.cfg.Collector
			if len(targets) > 0 {
				cc.Targets, cc.TargetsFile = targets, ""
			}
			if useNVML {
				cc.NVML = true
			}
			if remoteWrite != "" || tokenFile != "" {
				cc.RemoteWrite = config.RemoteWrite{URL: remoteWrite, TokenFile: tokenFile}
				if remoteWrite == "" || tokenFile == "" {
					return usageError{errors.New("collect: --remote-write and --token-file go together")}
				}
				if err := config.SecureURL(remoteWrite); err != nil {
					return usageError{fmt.Errorf("collect --remote-write %s: %w", redact.Secrets(remoteWrite), err)}
				}
			}
			opts := collector.Options{Providers: slices.Sorted(maps.Keys(e.cfg.Providers)), Shard: sh, Once: once}
			if rw := cc.RemoteWrite; rw.URL != "" {
				token, err := os.ReadFile(rw.TokenFile)
				if err != nil {
					return fmt.Errorf("token file: %w", err)
				}
				opts.Sink = &collector.RemoteWrite{URL: rw.URL, Token: strings.TrimSpace(string(token))}
			} else {
				sink := &collector.StoreSink{Open: e.openMigrated}
				defer sink.Close()
				opts.Sink = sink
			}
			return collector.Run(cmd.Context(), *cc, opts, e.log)
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "scrape one round and stop")
	cmd.Flags().StringArrayVar(&targets, "target", nil, "dcgm-exporter URL (repeatable; replaces the configured targets)")
	cmd.Flags().BoolVar(&print, "print", false, "with --once: print samples as JSON lines instead of storing them")
	cmd.Flags().BoolVar(&useNVML, "nvml", false, "also read this node's GPUs through NVML")
	cmd.Flags().StringVar(&remoteWrite, "remote-write", "", "push to this remote-write URL (a central gpumeter's /api/v1/write) instead of the store")
	cmd.Flags().StringVar(&tokenFile, "token-file", "", "with --remote-write: the file holding the ingest token")
	cmd.Flags().StringVar(&shard, "shard", "", "scrape only this collector's part I/N of the targets (0 <= I < N)")
	return cmd
}
