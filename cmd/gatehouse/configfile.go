package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// The configuration file (--config, GATEHOUSE_CONFIG): a YAML mapping whose keys are the flags'
// names, such as "access-ttl: 15m". A flag on the command line beats the environment, which
// beats the file, which beats the default. A key that no command knows is an error naming the
// closest one and its line, as is a value of the wrong type; a key of another command's flag is
// accepted, so that one file serves every command.

// configFlag is the flag naming the configuration file.
const configFlag = "config"

// source is where a flag's value came from, in increasing precedence.
type source int

const (
	fromDefault source = iota
	fromFile
	fromEnv
	fromFlag
)

func (s source) String() string {
	return [...]string{"the default", "the configuration file", "the environment", "the command line"}[s]
}

// sources records where each set flag's value came from.
type sources map[string]source

// mark records s for every flag set since the last mark.
func (src sources) mark(fs *pflag.FlagSet, s source) {
	fs.VisitAll(func(f *pflag.Flag) {
		if _, ok := src[f.Name]; f.Changed && !ok {
			src[f.Name] = s
		}
	})
}

// configure sets the flags of cmd that its command line did not set, from the environment,
// then from the configuration file, then reads the secrets' files (secretfile.go).
func configure(cmd *cobra.Command, environ []string, lookup func(string) (string, bool)) error {
	if err := checkEnv(cmd.Root(), environ); err != nil {
		return err
	}
	fs := cmd.Flags()
	src := sources{}
	src.mark(fs, fromFlag)
	if err := applyEnv(fs, lookup); err != nil {
		return err
	}
	src.mark(fs, fromEnv)
	if f := fs.Lookup(configFlag); f != nil && f.Value.String() != "" {
		if err := loadConfigFile(fs, f.Value.String(), knownKeys(cmd.Root())); err != nil {
			return err
		}
		src.mark(fs, fromFile)
	}
	return readSecretFiles(fs, src)
}

// knownKeys are the keys a configuration file may hold: every flag of every command.
func knownKeys(root *cobra.Command) map[string]bool {
	known := map[string]bool{}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" && f.Name != configFlag {
				known[f.Name] = true
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return known
}

// loadConfigFile sets every flag of fs not set yet from the file at path.
func loadConfigFile(fs *pflag.FlagSet, path string, known map[string]bool) error {
	text, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--config: %w", err)
	}
	settings, err := parseConfig(text, known)
	if err != nil {
		return fmt.Errorf("%s:%w", path, err)
	}
	for _, s := range settings {
		f := fs.Lookup(s.key)
		if f == nil || f.Changed { // another command's key, or set by a flag or the environment
			continue
		}
		if err := s.apply(f); err != nil {
			return fmt.Errorf("%s:%d: %s: %w", path, s.line, s.key, err)
		}
	}
	return nil
}

// setting is one key of the configuration file.
type setting struct {
	key   string
	line  int
	value *yaml.Node
}

// lineError is an error at a line of the configuration file.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("%d: %s", e.line, e.msg) }

// parseConfig reads the file's mapping, refusing what is not a mapping of known keys.
func parseConfig(text []byte, known map[string]bool) ([]setting, error) {
	dec := yaml.NewDecoder(bytes.NewReader(text))
	var doc yaml.Node
	if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
		return nil, nil // an empty file, or comments only
	} else if err != nil {
		return nil, fmt.Errorf(" %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, &lineError{more.Line, "a second YAML document; the file holds one mapping of settings"}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	m := doc.Content[0]
	if m.Kind == yaml.ScalarNode && m.Tag == "!!null" {
		return nil, nil
	}
	if m.Kind != yaml.MappingNode {
		return nil, &lineError{m.Line, "the file must be a mapping of settings, such as \"addr: 127.0.0.1:8080\""}
	}
	var out []setting
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, &lineError{k.Line, "a key must be a flag's name"}
		}
		key := k.Value
		if !known[key] {
			return nil, &lineError{k.Line, unknownKey(key, known)}
		}
		if first, ok := seen[key]; ok {
			return nil, &lineError{k.Line, fmt.Sprintf("%s is set twice (first at line %d)", key, first)}
		}
		seen[key] = k.Line
		out = append(out, setting{key: key, line: k.Line, value: v})
	}
	return out, nil
}

// unknownKey says that key is no setting, naming the closest one.
func unknownKey(key string, known map[string]bool) string {
	if key == configFlag {
		return "a configuration file cannot name another (config)"
	}
	msg := fmt.Sprintf("unknown key %q", key)
	names := make([]string, 0, len(known))
	for k := range known {
		names = append(names, k)
	}
	sort.Strings(names)
	best, bestD := "", 1<<30
	for _, k := range names {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" && bestD <= max(2, len(key)/3) {
		return msg + fmt.Sprintf("; did you mean %q?", best)
	}
	return msg + ` (the keys are the flags' names, without "--": "gatehouse help serve" lists them)`
}

// apply sets f from the setting's value: a scalar, or for a list flag a YAML list too.
func (s setting) apply(f *pflag.Flag) error {
	v := s.value
	if v.Kind == yaml.AliasNode {
		v = v.Alias
	}
	switch {
	case v.Kind == yaml.SequenceNode:
		return setList(f, v)
	case v.Kind != yaml.ScalarNode:
		return fmt.Errorf("want a single %s, not a mapping", typeName(f))
	case v.Tag == "!!null":
		return errors.New(`has no value: remove the line to keep the default, or write "" for an empty one`)
	}
	if err := f.Value.Set(v.Value); err != nil {
		return fmt.Errorf("%q is not a valid %s", v.Value, typeName(f))
	}
	f.Changed = true
	return nil
}

// setList sets a list flag from a YAML list of scalars.
func setList(f *pflag.Flag, v *yaml.Node) error {
	sv, ok := f.Value.(pflag.SliceValue)
	if !ok {
		return fmt.Errorf("want a single %s, not a list", typeName(f))
	}
	items := make([]string, 0, len(v.Content))
	for _, it := range v.Content {
		if it.Kind != yaml.ScalarNode {
			return fmt.Errorf("list item at line %d: want a single value", it.Line)
		}
		items = append(items, it.Value)
	}
	if err := sv.Replace(items); err != nil {
		return err
	}
	f.Changed = true
	return nil
}

// typeName names the kind of value a flag takes, as a user reads it.
func typeName(f *pflag.Flag) string {
	switch t := f.Value.Type(); t {
	case "duration":
		return "duration (such as 90s, 15m or 720h)"
	case "bool":
		return "boolean (true or false)"
	case "int", "uint8", "uint32", "int64", "uint":
		return "whole number"
	case "stringSlice":
		return "list"
	default:
		return t
	}
}
