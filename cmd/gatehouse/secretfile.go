package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Every secret flag has a file twin, --<flag>-file (GATEHOUSE_<FLAG>_FILE, or the key
// <flag>-file in the configuration file), that names a file holding the value: a Docker or
// Kubernetes secret mounted as a file, which keeps the value out of the process list, the
// environment and the configuration file.

// secretFlags are the flags whose value is a secret (or, for the URLs, may hold a password).
var secretFlags = []string{"hmac-secret", "introspection-secret", "introspection-token", "key-encryption-key", "postgres-url", "redis-url", "smtp-url"}

// fileTwin is the name of the flag naming the file that holds flag's value.
func fileTwin(flag string) string { return flag + "-file" }

// addFileTwins gives every secret flag of fs its file twin, unless it has one already.
func addFileTwins(fs *pflag.FlagSet) {
	for _, name := range secretFlags {
		if fs.Lookup(name) == nil || fs.Lookup(fileTwin(name)) != nil {
			continue
		}
		twin := fileTwin(name)
		fs.String(twin, "", fmt.Sprintf("a file holding --%s, such as a mounted Docker or Kubernetes secret (one ending newline is removed) (env %s)", name, envName(twin)))
	}
}

// addConfigFlags gives every command with flags (but the hidden ones) --config and file twins.
func addConfigFlags(root *cobra.Command) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		if c != root && c.Runnable() && c.Flags().HasFlags() {
			fs := c.Flags()
			addFileTwins(fs)
			fs.String(configFlag, "", "a YAML file of settings, keyed by the flags' names (deploy/gatehouse.yaml shows every key); flags and GATEHOUSE_ variables beat it (env "+envName(configFlag)+")")
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// readSecretFiles sets every secret flag whose file twin is set from that file. Where both are
// set, the one from the stronger source (command line, environment, file) wins; both from the
// same source is an error.
func readSecretFiles(fs *pflag.FlagSet, src sources) error {
	for _, name := range secretFlags {
		f, twin := fs.Lookup(name), fs.Lookup(fileTwin(name))
		if f == nil || twin == nil || twin.Value.String() == "" { // an empty path names no file
			continue
		}
		if f.Changed {
			switch {
			case src[name] == src[twin.Name]:
				return fmt.Errorf("give --%s once: --%s or --%s, not both (both in %s)", name, name, twin.Name, src[name])
			case src[name] > src[twin.Name]:
				_ = twin.Value.Set("") // the value itself wins; the file is not read
				continue
			}
		}
		path := twin.Value.String()
		value, err := readSecretFile(path)
		if err != nil {
			return fmt.Errorf("--%s: %w", twin.Name, err)
		}
		if err := f.Value.Set(value); err != nil {
			return fmt.Errorf("--%s %s: %w", twin.Name, path, err)
		}
		f.Changed = true
		_ = twin.Value.Set("") // read once, here: what uses the value sees one source
	}
	return nil
}

// readSecretFile returns the file's content without one ending newline ("\n" or "\r\n"), as
// "echo secret > file" or a Kubernetes secret leaves it.
func readSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return "", fmt.Errorf("%s is empty", path)
	}
	return string(b), nil
}
