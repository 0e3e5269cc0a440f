// Command gatehouse is the gatehouse authentication server and its administration commands.
// Every flag can also be set with an environment variable GATEHOUSE_<FLAG> (upper case, "-" as
// "_") or a key of the configuration file (--config); a flag given on the command line beats the
// environment, which beats the file.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
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
"_"), for example GATEHOUSE_SESSION_STORE=memory, and as a key of the YAML file named by
--config (GATEHOUSE_CONFIG), for example "session-store: memory". A flag on the command line
beats the environment, which beats the file. Every secret flag has a file twin, such as
--hmac-secret-file, for secrets mounted as files.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return configure(cmd, os.Environ(), os.LookupEnv)
		},
	}
	root.Version = readBuildInfo().String()
	root.SetVersionTemplate("gatehouse {{.Version}}\n")
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServeCmd(), newUserCmd(), newKeysCmd(), newTokenCmd(), newIssuerCmd(), newClientCmd(), newVersionCmd(), newDocsCmd())
	root.AddCommand(newHealthcheckCmd(), newBackupCmd(), newRestoreCmd(), newMigrateCmd())
	addConfigFlags(root)
	return root
}
