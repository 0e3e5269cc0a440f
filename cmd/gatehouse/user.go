package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
)

func newUserCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Manage users in the configured user store"}
	cmd.AddCommand(newUserAddCmd(), newUserListCmd(), newUserShowCmd(), newUserPasswdCmd(), newUserDisableCmd(),
		newUserEnableCmd(), newUserDeleteCmd(), newUserSetRoleCmd(), newUserGroupsCmd())
	return cmd
}

func newUserAddCmd() *cobra.Command {
	cfg := &config{}
	var in account.NewUser
	var role string
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "add --username U [--role admin] [--password-stdin]",
		Short: "Create a user",
		Long: `Create a user in the configured user store (same --data and --user-store flags as serve).
With --password-stdin the password is read from the first line of standard input; without it a
random password is generated and printed once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cfg.validateStore(); err != nil {
				return err
			}
			in.Role = gatehouse.Role(role)
			pw, generated, err := readPassword(cmd.InOrStdin(), fromStdin)
			if err != nil {
				return err
			}
			in.Password = pw
			return addUser(cmd, cfg, in, generated)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&in.Username, "username", "", "the new user's name (required)")
	fs.StringVar(&role, "role", "user", "user or admin")
	fs.StringVar(&in.Name, "name", "", "display name")
	fs.StringVar(&in.Email, "email", "", "e-mail address")
	fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input")
	cfg.storeFlags(fs)
	documentEnv(fs)
	_ = cmd.MarkFlagRequired("username")
	return cmd
}

func addUser(cmd *cobra.Command, cfg *config, in account.NewUser, generated bool) error {
	log, err := cfg.logger(cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	a, err := openStores(cmd.Context(), cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	u, err := a.accounts.Create(cmd.Context(), in)
	if err != nil {
		return errors.New(gatehouse.ErrorMessage(err))
	}
	fmt.Fprintf(cmd.OutOrStdout(), "created user %q (id %s, role %s)\n", u.Username, u.ID, u.Role)
	recordAudit(cmd.Context(), log, a.auditSink(), gatehouse.AuditEvent{Action: gatehouse.AuditUserCreated,
		Outcome: gatehouse.AuditSuccess, UserID: u.ID, Detail: "gatehouse user add, role " + string(u.Role)})
	if generated {
		fmt.Fprintf(cmd.OutOrStdout(), "password (shown only this once): %s\n", in.Password)
	}
	return nil
}

// readPassword reads one line from r, or generates a password when fromStdin is false.
func readPassword(r io.Reader, fromStdin bool) (pw string, generated bool, err error) {
	if !fromStdin {
		return gatehouse.NewSecret()[:24], true, nil
	}
	line, err := bufio.NewReaderSize(r, 4096).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", false, fmt.Errorf("reading the password: %w", err)
	}
	pw = strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", false, errors.New("no password on standard input")
	}
	return pw, false, nil
}
