package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/nipa-gpu/gpumeter/config"
	"github.com/nipa-gpu/gpumeter/server"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Tokens of the service's principals"}
	var name, role, provider string
	newCmd := &cobra.Command{
		Use:   "new --name N --role nipa|provider|portal|ingest [--provider P]",
		Short: "Print a fresh token (stdout) and the principal line to configure (stderr)",
		Long: `Makes a token of 32 random bytes and prints it on stdout, once: it is not
stored anywhere. The principal to paste under principals: in the configuration
goes to stderr; it holds only the token's SHA-256.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p := config.Principal{Name: name, Role: role, Provider: provider}
			switch {
			case name == "":
				return usageError{errors.New("token new: --name is required")}
			case role != config.RoleNIPA && role != config.RoleProvider && role != config.RolePortal && role != config.RoleIngest:
				return usageError{fmt.Errorf("token new: --role %q: want nipa, provider, portal or ingest", role)}
			case (role == config.RoleProvider || role == config.RoleIngest) != (provider != ""):
				return usageError{fmt.Errorf("token new: --provider goes with roles provider and ingest, and only with them")}
			}
			token, sha := server.NewToken()
			p.TokenSHA256 = sha
			line, err := yaml.Marshal([]config.Principal{p})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), token)
			fmt.Fprintf(cmd.ErrOrStderr(), "principals:\n%s", indent(string(line)))
			return nil
		},
	}
	newCmd.Flags().StringVar(&name, "name", "", "the principal's name, as logs show it")
	newCmd.Flags().StringVar(&role, "role", "", "nipa, provider, portal or ingest")
	newCmd.Flags().StringVar(&provider, "provider", "", "the provider of a provider or ingest principal")
	cmd.AddCommand(newCmd)
	return cmd
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}
