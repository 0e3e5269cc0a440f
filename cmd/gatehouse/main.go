// Command gatehouse is the gatehouse authentication server and its administration commands.
// Every flag can also be set with an environment variable GATEHOUSE_<FLAG> (upper case, "-" as
// "_"); a flag given on the command line beats the environment.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd(os.Stdin, os.Stdout, os.Stderr).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "gatehouse:", err)
		os.Exit(1)
	}
}

// newRootCmd builds the command tree; tests call it with their own streams.
func newRootCmd(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "gatehouse",
		Short: "An authentication server: cookie sessions, JWT access tokens, or both",
		Long: `gatehouse answers "which user sent this request?" both ways: a stateful session
cookie looked up in a store, or a stateless signed JWT any service can verify, plus the
hybrid (short access token, rotating refresh token, revocation).

Every flag can also be set as an environment variable GATEHOUSE_<FLAG> (upper case, "-" as
"_"), for example GATEHOUSE_SESSION_STORE=memory. A flag on the command line beats the
environment.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return applyEnv(cmd.Flags(), os.LookupEnv)
		},
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServeCmd(), newUserCmd(), newKeysCmd(), newTokenCmd(), newBenchCmd())
	root.AddCommand(newHealthcheckCmd(), newBackupCmd(), newRestoreCmd(), newMigrateCmd())
	root.AddCommand(newDemoCmd()) // web pages and the shop demo (demo.go)
	return root
}

// envName returns the environment variable that sets flag name.
func envName(name string) string {
	return "GATEHOUSE_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// applyEnv sets every flag not given on the command line from its GATEHOUSE_ variable.
func applyEnv(fs *pflag.FlagSet, lookup func(string) (string, bool)) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" {
			return
		}
		if v, ok := lookup(envName(f.Name)); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", envName(f.Name), v, serr)
			}
		}
	})
	return err
}

// documentEnv appends the environment variable to every flag's usage, so that
// "gatehouse help <command>" shows both.
func documentEnv(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		f.Usage += " (env " + envName(f.Name) + ")"
	})
}
