// Command gpumeter meters the public GPU program: it collects DCGM metrics,
// accounts every GPU-second and writes the reports (see README.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit statuses (SPEC §7).
const (
	exitOK    = 0
	exitError = 1 // an error the user can fix
	exitUsage = 2 // bad usage
)

// usageError is a command line that cannot be run as written.
type usageError struct{ error }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	return runWith(ctx, args, os.Stdout, os.Stderr)
}

// runWith runs the CLI with stdout and stderr of the caller's choosing.
func runWith(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "gpumeter:", err)
	var ue usageError
	// cobra reports an unknown verb as a plain error.
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") {
		return exitUsage
	}
	return exitError
}
