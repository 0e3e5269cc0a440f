package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
)

// The sub-commands of "gatehouse user" besides add (useradmin.go wires them).

const storesHelp = `
It runs on the stores serve is configured with (the same --config file, flags and GATEHOUSE_
variables). On a SQLite data directory it refuses while a server runs there (stop it first);
on the cluster configuration (--user-store postgres --session-store redis) it runs beside the
instances, and returns once every running instance rejects what it revoked.`

func newUserListCmd() *cobra.Command {
	var q string
	var limit int
	var asJSON bool
	return userAdminCmd("list [--query TEXT]", "List users",
		"List users, oldest first: id, username, role, state, e-mail and groups. --query keeps those whose username, name or e-mail contains TEXT (without regard to case).\n"+storesHelp,
		cobra.NoArgs, false, func(fs *pflag.FlagSet) {
			fs.StringVar(&q, "query", "", "only users whose username, name or e-mail contains this")
			fs.IntVar(&limit, "limit", 0, "at most this many users (0: all)")
			fs.BoolVar(&asJSON, "json", false, "print JSON, one user per line")
		}, func(cmd *cobra.Command, ua *userAdmin, _ []string) error {
			users, err := ua.listAll(cmd, q, limit)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				for _, u := range users {
					if err := enc.Encode(u); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSERNAME\tROLE\tSTATE\tEMAIL\tGROUPS")
			for _, u := range users {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Username, u.Role, state(u), emailText(u), strings.Join(u.Groups, ","))
			}
			return tw.Flush()
		})
}

// listAll pages through the users (a search with q) up to limit (0: all).
func (ua *userAdmin) listAll(cmd *cobra.Command, q string, limit int) ([]*gatehouse.User, error) {
	var all []*gatehouse.User
	after := ""
	for {
		page, err := ua.uses.SearchUsers(cmd.Context(), q, after, 500)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if limit > 0 && len(all) >= limit {
			return all[:limit], nil
		}
		if len(page) < 500 {
			return all, nil
		}
		after = page[len(page)-1].ID
	}
}

func state(u *gatehouse.User) string {
	if u.Disabled {
		return "disabled"
	}
	return "enabled"
}

func emailText(u *gatehouse.User) string {
	switch {
	case u.Email == "":
		return "-"
	case u.EmailVerified:
		return u.Email
	}
	return u.Email + " (unverified)"
}

func newUserShowCmd() *cobra.Command {
	return userAdminCmd("show USER", "Show one user (by username or id) as JSON",
		"Show one user, named by username or id, as JSON (never the password hash).\n"+storesHelp,
		cobra.ExactArgs(1), false, nil, func(cmd *cobra.Command, ua *userAdmin, args []string) error {
			u, err := ua.find(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(u)
		})
}

func newUserPasswdCmd() *cobra.Command {
	var src passwordSource
	return userAdminCmd("passwd USER [--password-stdin | --password-file FILE | --generate-password]", "Set a user's password and sign them out everywhere",
		`Set the password of a user (by username or id), checked against the password policy, and sign
the user out of every session and token, as an admin's password reset through the API does.
The password is prompted for twice on the terminal, or read from the first line of standard
input (--password-stdin) or of a file (--password-file), or generated and printed once
(--generate-password); it is never taken from the command line.
`+storesHelp, cobra.ExactArgs(1), true, src.flags, func(cmd *cobra.Command, ua *userAdmin, args []string) error {
			u, err := ua.find(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			pw, generated, err := src.read(cmd.InOrStdin(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if err := ua.change(cmd, u, authn.UserChange{Password: &pw}, "password set; every session and token of the user is revoked"); err != nil {
				return err
			}
			if generated {
				fmt.Fprintf(cmd.OutOrStdout(), "password (shown only this once): %s\n", pw)
			}
			return nil
		})
}

func newUserDisableCmd() *cobra.Command {
	return newUserFlagCmd("disable", "Disable a user and sign them out everywhere", true)
}

func newUserEnableCmd() *cobra.Command {
	return newUserFlagCmd("enable", "Enable a disabled user", false)
}

func newUserFlagCmd(name, short string, disabled bool) *cobra.Command {
	var force bool
	done := "enabled"
	if disabled {
		done = "disabled; every session and token of the user is revoked"
	}
	return userAdminCmd(name+" USER", short, short+" (by username or id), as PATCH /api/admin/users/{id} with {\"disabled\": "+fmt.Sprint(disabled)+"} does.\n"+storesHelp,
		cobra.ExactArgs(1), true, forceFlag(&force, disabled), func(cmd *cobra.Command, ua *userAdmin, args []string) error {
			u, err := ua.find(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if disabled && !force {
				if err := ua.keepsAnAdmin(cmd, u); err != nil {
					return err
				}
			}
			return ua.change(cmd, u, authn.UserChange{Disabled: &disabled}, done)
		})
}

// forceFlag adds --force to a command that could leave no enabled admin.
func forceFlag(force *bool, risky bool) func(*pflag.FlagSet) {
	return func(fs *pflag.FlagSet) {
		if risky {
			fs.BoolVar(force, "force", false, "go on even if this leaves no enabled admin")
		}
	}
}

func newUserDeleteCmd() *cobra.Command {
	var force bool
	return userAdminCmd("delete USER [--force]", "Delete a user after signing them out everywhere",
		"Delete a user (by username or id): every session, token and refresh family of the user is revoked first, then the account goes, as DELETE /api/admin/users/{id} does. Deleting cannot be undone; disable keeps the account.\n"+storesHelp,
		cobra.ExactArgs(1), true, forceFlag(&force, true), func(cmd *cobra.Command, ua *userAdmin, args []string) error {
			u, err := ua.find(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if !force {
				if err := ua.keepsAnAdmin(cmd, u); err != nil {
					return err
				}
			}
			if err := ua.uses.DeleteUser(cmd.Context(), "", u.ID, cliClient); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "user %q (%s) deleted; every session and token of the user is revoked\n", u.Username, u.ID)
			return nil
		})
}

func newUserSetRoleCmd() *cobra.Command {
	var force bool
	return userAdminCmd("set-role USER user|admin", "Change a user's role and sign them out everywhere",
		"Change the role of a user (by username or id); a change signs the user out of every session and token, as the admin API does.\n"+storesHelp,
		cobra.ExactArgs(2), true, forceFlag(&force, true), func(cmd *cobra.Command, ua *userAdmin, args []string) error {
			u, err := ua.find(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			role := gatehouse.Role(args[1])
			if role != gatehouse.RoleAdmin && !force {
				if err := ua.keepsAnAdmin(cmd, u); err != nil {
					return err
				}
			}
			return ua.change(cmd, u, authn.UserChange{Role: &role}, "role "+string(role))
		})
}

func newUserGroupsCmd() *cobra.Command {
	var set, add, remove []string
	var clear bool
	return userAdminCmd("groups USER [--set G1,G2 | --add G | --remove G | --clear]", "Show or change a user's groups",
		"Show the groups of a user (by username or id), or change them: --set replaces them, --add and --remove change some, --clear removes all. A change signs the user out of every session and token (tokens carry the groups), as the admin API does. Names: a-z, 0-9, '.', '_' and '-', at most 64 per user.\n"+storesHelp,
		cobra.ExactArgs(1), true, func(fs *pflag.FlagSet) {
			fs.StringSliceVar(&set, "set", nil, "replace the groups with these (comma-separated)")
			fs.StringSliceVar(&add, "add", nil, "add these groups")
			fs.StringSliceVar(&remove, "remove", nil, "remove these groups")
			fs.BoolVar(&clear, "clear", false, "remove every group")
		}, func(cmd *cobra.Command, ua *userAdmin, args []string) error {
			u, err := ua.find(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			groups, changed, err := newGroups(u.Groups, set, add, remove, clear)
			if err != nil || !changed {
				if err == nil {
					fmt.Fprintln(cmd.OutOrStdout(), strings.Join(u.Groups, ","))
				}
				return err
			}
			return ua.change(cmd, u, authn.UserChange{Groups: &groups}, "groups set")
		})
}

// newGroups applies the flags of "user groups" to the current groups; changed is false when
// no flag asks for a change (the command then shows the groups).
func newGroups(cur, set, add, remove []string, clear bool) (groups []string, changed bool, err error) {
	if (set != nil || clear) && (add != nil || remove != nil) || set != nil && clear {
		return nil, false, fmt.Errorf("--set and --clear replace the groups: use them alone")
	}
	switch {
	case clear:
		return []string{}, true, nil
	case set != nil:
		return set, true, nil
	case add == nil && remove == nil:
		return nil, false, nil
	}
	groups = slices.Clone(cur)
	groups = append(groups, add...)
	groups = slices.DeleteFunc(groups, func(g string) bool { return slices.Contains(remove, g) })
	return groups, true, nil
}

// change applies ch to u through the use case of the admin API and says what it did.
func (ua *userAdmin) change(cmd *cobra.Command, u *gatehouse.User, ch authn.UserChange, done string) error {
	_, nu, err := ua.uses.UpdateUser(cmd.Context(), "", u.ID, ch, cliClient)
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("user %q (%s): %s", nu.Username, nu.ID, done)
	if ch.Groups != nil {
		msg += ": " + strings.Join(nu.Groups, ",")
	}
	fmt.Fprintln(cmd.OutOrStdout(), msg)
	return nil
}

// keepsAnAdmin refuses a change that would leave no enabled admin when u is one: the way back
// in would then be this command only.
func (ua *userAdmin) keepsAnAdmin(cmd *cobra.Command, u *gatehouse.User) error {
	if u.Role != gatehouse.RoleAdmin || u.Disabled {
		return nil
	}
	users, err := ua.listAll(cmd, "", 0)
	if err != nil {
		return err
	}
	for _, o := range users {
		if o.ID != u.ID && o.Role == gatehouse.RoleAdmin && !o.Disabled {
			return nil
		}
	}
	return fmt.Errorf("%q is the last enabled admin; add --force to go on anyway", u.Username)
}
