package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// resolved runs "gatehouse serve args..." up to the point where the server would start, and
// returns its flags as configured (flag, environment, file, secrets' files).
func resolved(t *testing.T, args ...string) (*pflag.FlagSet, error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRootCmd(strings.NewReader(""), &out, &errb)
	serve, _, err := root.Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	var fs *pflag.FlagSet
	serve.RunE = func(cmd *cobra.Command, _ []string) error { fs = cmd.Flags(); return nil }
	root.SetArgs(append([]string{"serve"}, args...))
	if err := root.ExecuteContext(context.Background()); err != nil {
		return nil, err
	}
	return fs, nil
}

// writeFile writes text to name in a new temporary directory and returns its path.
func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func wantFlags(t *testing.T, fs *pflag.FlagSet, want map[string]string) {
	t.Helper()
	for name, v := range want {
		if got := fs.Lookup(name).Value.String(); got != v {
			t.Errorf("--%s = %q, want %q", name, got, v)
		}
	}
}

func TestConfigFilePrecedence(t *testing.T) {
	path := writeFile(t, "gatehouse.yaml", `
addr: 127.0.0.1:7000
session-store: redis
access-ttl: 1m
refresh-ttl: 48h
allow-registration: true
password-context-words: [acme, "widgets, inc"]
redis-prefix: "tenant{a}:"
`)
	t.Setenv("GATEHOUSE_SESSION_STORE", "memory")
	t.Setenv("GATEHOUSE_ACCESS_TTL", "2m")
	fs, err := resolved(t, "--config", path, "--access-ttl", "3m")
	if err != nil {
		t.Fatal(err)
	}
	wantFlags(t, fs, map[string]string{
		"access-ttl":             "3m0s",           // flag beats environment and file
		"session-store":          "memory",         // environment beats file
		"addr":                   "127.0.0.1:7000", // file beats default
		"refresh-ttl":            "48h0m0s",
		"allow-registration":     "true",
		"password-context-words": `[acme,"widgets, inc"]`,
		"redis-prefix":           "tenant{a}:",
		"cookie-name":            "gatehouse_session", // default
	})

	t.Setenv("GATEHOUSE_CONFIG", path) // the file named by the environment
	fs, err = resolved(t)
	if err != nil {
		t.Fatal(err)
	}
	wantFlags(t, fs, map[string]string{"addr": "127.0.0.1:7000", "access-ttl": "2m0s", "session-store": "memory"})
}

func TestConfigFileErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"addr: 127.0.0.1:8080\nacess-ttl: 5m\n", []string{"gatehouse.yaml:2:", `unknown key "acess-ttl"`, `did you mean "access-ttl"?`}},
		{"\n\nsesion_store: redis\n", []string{"gatehouse.yaml:3:", `did you mean "session-store"?`}},
		{"--addr: x\n", []string{"gatehouse.yaml:1:", `did you mean "addr"?`}},
		{"completely-unrelated-thing: 1\n", []string{"gatehouse.yaml:1:", "gatehouse help serve"}},
		{"addr: a\naccess-ttl: soon\n", []string{"gatehouse.yaml:2:", "access-ttl", `"soon" is not a valid duration`}},
		{"allow-registration: maybe\n", []string{"gatehouse.yaml:1:", "allow-registration", "boolean"}},
		{"min-password-length: 12.5\n", []string{"gatehouse.yaml:1:", "whole number"}},
		{"argon2-parallelism: 300\n", []string{"gatehouse.yaml:1:", "whole number"}},
		{"addr:\n  host: x\n", []string{"gatehouse.yaml:1:", "not a mapping"}},
		{"addr: [a, b]\n", []string{"gatehouse.yaml:1:", "not a list"}},
		{"addr: a\n\naddr: b\n", []string{"gatehouse.yaml:3:", "set twice (first at line 1)"}},
		{"addr:\n", []string{"gatehouse.yaml:1:", "has no value"}},
		{"- addr\n", []string{"gatehouse.yaml:1:", "must be a mapping"}},
		{"addr: a\n  b: c\n", []string{"gatehouse.yaml: line 2:"}},
		{"config: other.yaml\n", []string{"gatehouse.yaml:1:", "cannot name another"}},
		{"addr: a\n---\naddr: b\n", []string{"gatehouse.yaml:2:", "second YAML document"}},
	} {
		path := writeFile(t, "gatehouse.yaml", tc.text)
		_, err := resolved(t, "--config", path)
		if err == nil {
			t.Errorf("%q: loaded", tc.text)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", tc.text, err, w)
			}
		}
	}
	if _, err := resolved(t, "--config", filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing file loaded")
	}
}

func TestConfigFileSharedByEveryCommand(t *testing.T) {
	// A key of another command (keys rewrap) is no error for serve, nor is an empty file.
	path := writeFile(t, "gatehouse.yaml", "addr: 127.0.0.1:7001\nnew-key-encryption-key-file: /run/secrets/next\n")
	fs, err := resolved(t, "--config", path)
	if err != nil {
		t.Fatal(err)
	}
	wantFlags(t, fs, map[string]string{"addr": "127.0.0.1:7001"})
	for _, text := range []string{"", "# only comments\n", "---\n"} {
		if _, err := resolved(t, "--config", writeFile(t, "gatehouse.yaml", text)); err != nil {
			t.Errorf("%q: %v", text, err)
		}
	}
}

func TestSecretFileTwins(t *testing.T) {
	hmac := writeFile(t, "hmac", "a-secret-of-at-least-thirty-two-bytes!!\n")
	intro := writeFile(t, "intro", "introspection-secret-32-bytes-long-at-least\r\n")
	pg := writeFile(t, "pg", "postgres://gatehouse:p%40ss@db/gatehouse")
	kek := writeFile(t, "kek", "kek-text\n")
	conf := writeFile(t, "gatehouse.yaml", "postgres-url-file: "+pg+"\n")
	t.Setenv("GATEHOUSE_INTROSPECTION_SECRET_FILE", intro)
	fs, err := resolved(t, "--config", conf, "--hmac-secret-file", hmac, "--key-encryption-key-file", kek)
	if err != nil {
		t.Fatal(err)
	}
	wantFlags(t, fs, map[string]string{
		"hmac-secret":          "a-secret-of-at-least-thirty-two-bytes!!",
		"introspection-secret": "introspection-secret-32-bytes-long-at-least",
		"postgres-url":         "postgres://gatehouse:p%40ss@db/gatehouse",
		"key-encryption-key":   "kek-text",
		"redis-url":            "redis://127.0.0.1:6379/0", // no twin set: the default
	})

	// The stronger source wins, and the weaker one's file is not even read.
	t.Setenv("GATEHOUSE_HMAC_SECRET_FILE", filepath.Join(t.TempDir(), "absent"))
	fs, err = resolved(t, "--hmac-secret", "from-the-command-line-and-long-enough")
	if err != nil {
		t.Fatal(err)
	}
	wantFlags(t, fs, map[string]string{"hmac-secret": "from-the-command-line-and-long-enough", "hmac-secret-file": ""})
	os.Unsetenv("GATEHOUSE_HMAC_SECRET_FILE")
	// What reads the key-encryption key sees one source, not both.
	t.Setenv("GATEHOUSE_KEY_ENCRYPTION_KEY", "kek-from-the-environment")
	fs, err = resolved(t, "--key-encryption-key-file", kek)
	if err != nil {
		t.Fatal(err)
	}
	wantFlags(t, fs, map[string]string{"key-encryption-key": "kek-text", "key-encryption-key-file": ""})
	os.Unsetenv("GATEHOUSE_KEY_ENCRYPTION_KEY")

	for name, args := range map[string][]string{
		"both on the command line": {"--hmac-secret", "x", "--hmac-secret-file", hmac},
		"missing file":             {"--redis-url-file", filepath.Join(t.TempDir(), "absent")},
		"empty file":               {"--redis-url-file", writeFile(t, "empty", "\n")},
	} {
		if _, err := resolved(t, args...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestExampleConfigFile checks deploy/gatehouse.yaml: it is what the flags generate, it loads,
// it has a key for every flag of serve, and with every key uncommented it still loads.
func TestExampleConfigFile(t *testing.T) {
	want, _, err := run(t, "", "docs", "config-file")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../deploy/gatehouse.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatal("deploy/gatehouse.yaml is out of date with the flags: run go generate ./cmd/gatehouse")
	}
	if _, err := resolved(t, "--config", "../../deploy/gatehouse.yaml"); err != nil {
		t.Fatalf("the example does not load: %v", err)
	}
	keyLine := regexp.MustCompile(`^# ([a-z0-9-]+): (.*)$`)
	var uncommented strings.Builder
	keys := map[string]bool{}
	lines := strings.Split(string(got), "\n")
	for i, line := range lines {
		// Each key is the last line of its block, under its description.
		if m := keyLine.FindStringSubmatch(line); m != nil && i+1 < len(lines) && lines[i+1] == "" {
			keys[m[1]] = true
			uncommented.WriteString(m[1] + ": " + m[2] + "\n")
		}
	}
	newServeCmd().Flags().VisitAll(func(f *pflag.Flag) {
		if !keys[f.Name] {
			t.Errorf("deploy/gatehouse.yaml has no key for --%s", f.Name)
		}
	})
	fs, err := resolved(t, "--config", writeFile(t, "all.yaml", uncommented.String()))
	if err != nil {
		t.Fatalf("the example with every key uncommented: %v", err)
	}
	wantFlags(t, fs, map[string]string{"addr": "127.0.0.1:8080", "password-context-words": "[gatehouse]", "redis-prefix": "gatehouse:"})
}

// TestServeFromConfigFile runs the real command line, "gatehouse serve --config", with the
// HS256 secret in a file named by the configuration file: the server listens where the file
// says, and its tokens verify with the secret from the secret's file.
func TestServeFromConfigFile(t *testing.T) {
	secret := "a-secret-kept-in-a-file-of-its-own-32+"
	conf := writeFile(t, "gatehouse.yaml", fmt.Sprintf(`
addr: 127.0.0.1:0
data: %q
log-format: json
signing-alg: HS256
hmac-secret-file: %q
argon2-memory: 64
argon2-time: 1
`, t.TempDir(), writeFile(t, "hmac", secret+"\n")))
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	logs := &syncWriter{w: &bytes.Buffer{}}
	root := newRootCmd(strings.NewReader(""), io.Discard, logs)
	root.SetArgs([]string{"serve", "--config", conf})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	addr := ""
	for deadline := time.Now().Add(20 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		logs.mu.Lock()
		if m := regexp.MustCompile(`"msg":"gatehouse listening","addr":"([^"]+)"`).FindStringSubmatch(logs.w.(*bytes.Buffer).String()); m != nil {
			addr = m[1]
		}
		logs.mu.Unlock()
		select {
		case err := <-done:
			done <- err // for the clean-up, which waits for it
			t.Fatalf("serve: %v", err)
		default:
		}
	}
	if addr == "" {
		t.Fatal("the server did not start")
	}
	resp, err := http.Post("http://"+addr+"/api/login", "application/json", strings.NewReader(`{"username":"admin","password":"the first admin password"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
		t.Fatalf("login: %d %v", resp.StatusCode, err)
	}
	if _, err := jwt.Parse(body.AccessToken, func(*jwt.Token) (any, error) { return []byte(secret), nil },
		jwt.WithValidMethods([]string{"HS256"})); err != nil {
		t.Fatalf("the token does not verify with the secret of the file: %v", err)
	}
}
