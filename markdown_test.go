package gatehouse_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// TestMarkdownLinks: every relative link in the repository's Markdown files leads to a file
// inside the repository, and a link with a #fragment to a heading that exists there.
func TestMarkdownLinks(t *testing.T) {
	files := markdownFiles(t)
	if len(files) < 10 {
		t.Fatalf("found only %d Markdown files: the walk looks wrong", len(files))
	}
	anchors := map[string]map[string]bool{} // file -> its heading anchors
	checked := 0
	for _, file := range files {
		for _, l := range markdownLinks(t, file) {
			if err := checkLink(file, l.target, anchors); err != "" {
				t.Errorf("%s:%d: link %q: %s", file, l.line, l.target, err)
			}
			checked++
		}
	}
	if checked < 50 {
		t.Fatalf("checked only %d links: the parser looks wrong", checked)
	}
}

type mdLink struct {
	target string
	line   int
}

// markdownFiles lists the *.md files of the repository (hidden directories left out).
func markdownFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".md") {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var (
	inlineLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	refLink    = regexp.MustCompile(`^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$`)
	codeSpan   = regexp.MustCompile("`[^`]*`")
)

// markdownLinks returns the link targets of file, outside fenced code blocks and code spans.
func markdownLinks(t *testing.T, file string) []mdLink {
	t.Helper()
	var out []mdLink
	for i, line := range proseLines(t, file) {
		if line == "" {
			continue
		}
		if m := refLink.FindStringSubmatch(line); m != nil {
			out = append(out, mdLink{m[1], i + 1})
			continue
		}
		for _, m := range inlineLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(line, ""), -1) {
			out = append(out, mdLink{m[1], i + 1})
		}
	}
	return out
}

// proseLines returns file's lines with those inside fenced code blocks blanked.
func proseLines(t *testing.T, file string) []string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	fence := ""
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		switch {
		case fence == "" && (strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~")):
			fence = trimmed[:3]
			lines[i] = ""
		case fence != "":
			if strings.HasPrefix(trimmed, fence) {
				fence = ""
			}
			lines[i] = ""
		}
	}
	return lines
}

// checkLink returns why target, written in file, does not resolve ("" when it does).
func checkLink(file, target string, anchors map[string]map[string]bool) string {
	if i := strings.Index(target, ":"); i > 0 && !strings.ContainsAny(target[:i], "/#.") {
		return "" // a URL with a scheme (https:, mailto:): not checked here
	}
	path, frag, _ := strings.Cut(target, "#")
	dest := file
	if path != "" {
		dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
		if rel, err := filepath.Rel(".", dest); err != nil || strings.HasPrefix(rel, "..") {
			return "leads outside the repository"
		}
		if _, err := os.Stat(dest); err != nil {
			return "no such file " + filepath.ToSlash(dest)
		}
	}
	if frag == "" || !strings.HasSuffix(dest, ".md") {
		return ""
	}
	if anchors[dest] == nil {
		anchors[dest] = headingAnchors(dest)
	}
	if !anchors[dest][frag] {
		return "no heading #" + frag + " in " + filepath.ToSlash(dest)
	}
	return ""
}

var heading = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)

// headingAnchors returns the anchors GitHub makes of file's headings: lower case, punctuation
// dropped, spaces as hyphens, and -1, -2... for repeats.
func headingAnchors(file string) map[string]bool {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	seen := map[string]int{}
	fence := false
	for _, line := range strings.Split(string(raw), "\n") {
		if t := strings.TrimSpace(line); strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fence = !fence
			continue
		}
		m := heading.FindStringSubmatch(line)
		if fence || m == nil {
			continue
		}
		a := anchor(m[1])
		if n := seen[a]; n > 0 {
			out[a+"-"+strconv.Itoa(n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

func anchor(text string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '_', r == '-':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// TestMarkdownLinkChecker: the checker refuses what it must (a missing file, a missing heading,
// a path out of the repository) and accepts GitHub's anchors.
func TestMarkdownLinkChecker(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.md"), []byte("# The Go SDK: package `verify`\n## Same\n## Same\n```\n# not a heading\n```\n"), 0o644)
	t.Chdir(dir)
	anchors := map[string]map[string]bool{}
	for target, ok := range map[string]bool{
		"a.md": true, "a.md#the-go-sdk-package-verify": true, "#same": true, "#same-1": true, "https://example.com/x": true,
		"b.md": false, "a.md#same-2": false, "#not-a-heading": false, "../outside.md": false,
	} {
		if got := checkLink("a.md", target, anchors) == ""; got != ok {
			t.Errorf("%q: resolves %v, want %v", target, got, ok)
		}
	}
}
