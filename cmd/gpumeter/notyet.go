package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// Verbs of SPEC §7 that later work delivers. They exist so the CLI contract is
// visible, and refuse to run rather than pretend.
var notYet = []struct{ use, short string }{
	{"demo", "Simulate a month, aggregate and report"},
}

func newNotYetCmd(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:                use,
		Short:              short + " (not implemented yet)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{fmt.Errorf("%s: not implemented yet", use)}
		},
	}
}
