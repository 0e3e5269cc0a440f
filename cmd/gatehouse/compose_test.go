package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v4"
)

// composeFile is the part of compose.yaml the test reads.
type composeFile struct {
	Services map[string]struct {
		Image       string
		Command     []string
		Environment map[string]string
		DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
		Volumes     []string
	}
}

// TestComposeMirrorsLocalCluster checks compose.yaml against deploy/local-cluster.sh, the
// cluster the end-to-end tests run (compose itself cannot run on these machines): the same
// services, every serve flag of the script set to the same value, an environment that serve
// accepts, and nginx routing as deploy/nginx.conf does.
func TestComposeMirrorsLocalCluster(t *testing.T) {
	raw, err := os.ReadFile("../../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for _, name := range []string{"gatehouse-1", "gatehouse-2", "gatehouse-3", "nginx", "redis", "postgres"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("compose.yaml has no service %s", name)
		}
	}
	if cmd := c.Services["redis"].Command; !slices.Contains(cmd, "noeviction") {
		t.Errorf("redis runs %v: it must not evict keys", cmd)
	}
	env := c.Services["gatehouse-1"].Environment
	for _, name := range []string{"gatehouse-2", "gatehouse-3"} {
		if !mapsEqual(c.Services[name].Environment, env) || c.Services[name].DependsOn["gatehouse-1"].Condition != "service_healthy" {
			t.Errorf("%s is not configured like gatehouse-1, or starts before it is healthy", name)
		}
	}
	for flag, want := range localClusterServeFlags(t) {
		if flag == "addr" || flag == "data" {
			continue // per instance; the image sets the data directory
		}
		got, ok := env[envName(flag)]
		if !ok {
			t.Errorf("deploy/local-cluster.sh sets --%s, compose.yaml does not (%s)", flag, envName(flag))
		} else if want != "" && got != want {
			t.Errorf("--%s: compose.yaml %q, deploy/local-cluster.sh %q", flag, got, want)
		}
	}
	checkServeAccepts(t, env)
	checkComposeNginx(t)
}

// localClusterServeFlags returns the flags deploy/local-cluster.sh gives serve, with their
// values where they are literal or the script's defaults ("" where they vary).
func localClusterServeFlags(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/local-cluster.sh")
	if err != nil {
		t.Fatal(err)
	}
	script := string(raw)
	start := strings.Index(script, `"$binary" serve`)
	end := strings.Index(script[max(start, 0):], ">\"$dir/instance-$i.log\"")
	if start < 0 || end < 0 {
		t.Fatal("deploy/local-cluster.sh: no serve command found")
	}
	defaults := map[string]string{}
	for _, m := range regexp.MustCompile(`(\w+)=("[^"]*"|[^\s"]+)`).FindAllStringSubmatch(script[:start], -1) {
		if _, seen := defaults[m[1]]; !seen { // the first assignment is the default
			defaults[m[1]] = strings.Trim(m[2], `"`)
		}
	}
	flags := map[string]string{}
	words := strings.Fields(strings.ReplaceAll(script[start:start+end], "\\\n", " "))
	for i, w := range words {
		if !strings.HasPrefix(w, "--") || i+1 >= len(words) {
			continue
		}
		v := strings.Trim(words[i+1], `"`)
		if strings.HasPrefix(v, "$") {
			v = defaults[strings.TrimPrefix(v, "$")] // "" for a path built from variables
		}
		if strings.Contains(v, "127.0.0.1") {
			v = "" // a service's address: a host name on the compose network instead
		}
		flags[strings.TrimPrefix(w, "--")] = v
	}
	if len(flags) < 8 {
		t.Fatalf("deploy/local-cluster.sh: read only %v", flags)
	}
	return flags
}

// checkServeAccepts sets serve's flags from env, as the container does, and validates them.
func checkServeAccepts(t *testing.T, env map[string]string) {
	t.Helper()
	cfg := &config{}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg.serveFlags(fs)
	vars := map[string]string{}
	for k, v := range env {
		if !strings.HasPrefix(k, "GATEHOUSE_") || k == "GATEHOUSE_ADMIN_PASSWORD" {
			continue
		}
		if fs.Lookup(strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(k, "GATEHOUSE_"), "_", "-"))) == nil {
			t.Errorf("compose.yaml sets %s, which is no flag of serve", k)
		}
		vars[k] = regexp.MustCompile(`\$\{(\w+)[^}]*\}`).ReplaceAllString(v, "secret")
	}
	if err := applyEnv(fs, func(k string) (string, bool) { v, ok := vars[k]; return v, ok }); err != nil {
		t.Fatalf("compose.yaml environment: %v", err)
	}
	if err := cfg.validateServe(); err != nil {
		t.Fatalf("serve refuses the environment of compose.yaml: %v", err)
	}
}

// checkComposeNginx compares the proxying of deploy/compose/nginx.conf with deploy/nginx.conf
// and checks that every instance is upstream.
func checkComposeNginx(t *testing.T) {
	t.Helper()
	compose, err := os.ReadFile("../../deploy/compose/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	local, err := os.ReadFile("../../deploy/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	block := func(s string) string {
		i := strings.Index(s, "location / {")
		if i < 0 {
			return ""
		}
		return s[i:]
	}
	if b := block(string(compose)); b == "" || b != block(string(local)) {
		t.Error("deploy/compose/nginx.conf proxies otherwise than deploy/nginx.conf (the location block differs)")
	}
	for _, name := range []string{"gatehouse-1", "gatehouse-2", "gatehouse-3"} {
		if !strings.Contains(string(compose), "server "+name+":8080 max_fails=1 fail_timeout=2s;") {
			t.Errorf("deploy/compose/nginx.conf: %s is not upstream as in deploy/local-cluster.sh", name)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
