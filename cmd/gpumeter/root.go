package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/redact"
	"github.com/nipa-gpu/gpumeter/schemas"
	"github.com/nipa-gpu/gpumeter/store"
	_ "github.com/nipa-gpu/gpumeter/store/chdb"       // chdb:// backend
	_ "github.com/nipa-gpu/gpumeter/store/clickhouse" // clickhouse:// backend
)

// globals are the flags every command takes.
type globals struct {
	configPath string
	storeDSN   string
	logFormat  string
	logLevel   string
	cpuProfile string
}

func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "gpumeter",
		Short:         "Metering and chargeback for the public GPU program",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&g.configPath, "config", "", "configuration file (YAML); defaults apply without one")
	pf.StringVar(&g.storeDSN, "store", "", "store DSN, overriding the config file: chdb://PATH or clickhouse://user:pass@host:9000/db")
	pf.StringVar(&g.logFormat, "log-format", "console", "log format on stderr: console or json")
	pf.StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	pf.StringVar(&g.cpuProfile, "cpuprofile", "", "write a CPU profile here (for performance work)")
	pf.MarkHidden("cpuprofile")
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		if g.cpuProfile == "" {
			return nil
		}
		f, err := os.Create(g.cpuProfile)
		if err != nil {
			return err
		}
		return pprof.StartCPUProfile(f)
	}
	root.PersistentPostRun = func(*cobra.Command, []string) { pprof.StopCPUProfile() }
	root.AddCommand(newMigrateCmd(g), newImportCmd(g), newCollectCmd(g), newSimulateCmd(g),
		newAggregateCmd(g), newSamplesCmd(g), newReportCmd(g), newIdleCmd(g), newLimitsCmd(g), newTokenCmd(), newRunCmd(g), newDemoCmd(g))
	return root
}

// exactArgs is cobra.ExactArgs reporting bad usage.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{fmt.Errorf("%s: %w (usage: %s)", cmd.CommandPath(), err, cmd.UseLine())}
		}
		return nil
	}
}

// env is what a command runs with: validated config, logger, open store.
type env struct {
	cfg config.Config
	log *zap.Logger
	st  store.Store
}

func (g *globals) setup(ctx context.Context) (*env, error) {
	e, err := g.load()
	if err != nil {
		return nil, err
	}
	if e.st, err = e.open(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// load reads and validates the configuration and makes the logger; it
// opens no store.
func (g *globals) load() (*env, error) {
	log, err := newLogger(g.logFormat, g.logLevel)
	if err != nil {
		return nil, err
	}
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return nil, err
	}
	if g.storeDSN != "" {
		cfg.Store = g.storeDSN
	}
	if err := cfg.Validate(); err != nil {
		where := "configuration"
		if g.configPath != "" {
			where = g.configPath
		}
		return nil, fmt.Errorf("%s:\n%w", where, err)
	}
	return &env{cfg: cfg, log: log}, nil
}

func (e *env) open(ctx context.Context) (store.Store, error) {
	st, err := store.Open(ctx, e.cfg.Store)
	if err != nil {
		return nil, err
	}
	e.log.Debug("store open", zap.String("store", redact.Secrets(e.cfg.Store)),
		zap.String("backend", st.Dialect().Backend), zap.Stringer("version", st.Dialect().Version))
	return st, nil
}

// openMigrated opens the store and brings its schema up to date.
func (e *env) openMigrated(ctx context.Context) (store.Store, error) {
	st, err := e.open(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := schemas.Migrate(ctx, st, e.schemaOptions()); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// setupMigrated opens the store and brings its schema up to date, so that no
// command runs against a schema older than its code.
func (g *globals) setupMigrated(ctx context.Context) (*env, error) {
	e, err := g.load()
	if err != nil {
		return nil, err
	}
	if e.st, err = e.openMigrated(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *env) schemaOptions() schemas.Options {
	return schemas.Options{SamplesTTLDays: e.cfg.Retention.SamplesDays}
}

func (e *env) close() {
	if e.st != nil {
		e.st.Close()
	}
	_ = e.log.Sync()
}

func newLogger(format, level string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.Set(level); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", level)}
	}
	var cfg zap.Config
	switch strings.ToLower(format) {
	case "console":
		cfg = zap.NewDevelopmentConfig()
		cfg.DisableStacktrace = true
		cfg.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice == 0 {
			cfg.EncoderConfig.EncodeLevel = zapcore.CapitalLevelEncoder
		}
	case "json":
		cfg = zap.NewProductionConfig()
	default:
		return nil, usageError{fmt.Errorf("--log-format %q: want console or json", format)}
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.OutputPaths = []string{"stderr"}
	cfg.ErrorOutputPaths = []string{"stderr"}
	return cfg.Build()
}
