package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envPrefix starts every environment variable gatehouse reads.
const envPrefix = "GATEHOUSE_"

// otherVariables are the GATEHOUSE_ variables that no flag reads, with what reads them.
var otherVariables = map[string]string{
	"GATEHOUSE_ADMIN_PASSWORD":    `password of the first admin, created by "serve" on first start with no users (default: a random one, printed once)`,
	"GATEHOUSE_CADDY":             "Caddy binary of the forward-auth tests (go test ./cmd/gatehouse; default: built by scripts/build-caddy.sh)",
	"GATEHOUSE_OAUTH2_PROXY":      "oauth2-proxy binary of the OpenID Connect end-to-end test (go test ./cmd/gatehouse; default: the one scripts/build-oauth2-proxy.sh built)",
	"GATEHOUSE_CHROMIUM":          "chromium binary of the browser tests (internal/browsertest; default /usr/bin/chromium)",
	"GATEHOUSE_REVOCATION_TRIALS": "revoke-then-use trials of the cluster revocation test (go test ./cmd/gatehouse)",
	"GATEHOUSE_SCREENSHOT_DIR":    "where the browser tests save their screenshots",
}

// envName returns the environment variable that sets flag name.
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
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

// knownEnv maps every GATEHOUSE_ variable that some command reads to its flag ("" for the
// otherVariables).
func knownEnv(root *cobra.Command) map[string]string {
	known := map[string]string{}
	for name := range otherVariables {
		known[name] = ""
	}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" {
				known[envName(f.Name)] = "--" + f.Name
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return known
}

// checkEnv refuses a GATEHOUSE_ variable that nothing reads (a misspelt setting would otherwise
// be ignored in silence), naming the closest one. A variable of another command's flag is
// accepted: one environment may serve every command.
func checkEnv(root *cobra.Command, environ []string) error {
	known := knownEnv(root)
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if _, ok := known[name]; strings.HasPrefix(name, envPrefix) && !ok {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	name := unknown[0]
	msg := fmt.Sprintf("the environment variable %s is set, but no gatehouse setting has that name", name)
	if best := closestEnv(name, known); best != "" {
		msg += "; did you mean " + best
		if flag := known[best]; flag != "" {
			msg += " (" + flag + ")"
		}
		msg += "?"
	} else {
		msg += ` ("gatehouse help serve" lists the flags; GATEHOUSE_<FLAG> sets one)`
	}
	if len(unknown) > 1 {
		msg += fmt.Sprintf(" (%d more unknown: %s)", len(unknown)-1, strings.Join(unknown[1:], ", "))
	}
	return fmt.Errorf("%s", msg)
}

// closestEnv returns the known variable nearest to name in edit distance, or "" when none is
// near enough to be a likely misspelling.
func closestEnv(name string, known map[string]string) string {
	best, bestD := "", 1<<30
	for k := range known {
		d := editDistance(strings.TrimPrefix(name, envPrefix), strings.TrimPrefix(k, envPrefix))
		if d < bestD || d == bestD && k < best {
			best, bestD = k, d
		}
	}
	if bestD > max(2, len(strings.TrimPrefix(name, envPrefix))/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
