package blocklist

import (
	_ "embed"
	"strings"
	"sync"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

//go:embed common-passwords.txt
var commonPasswords string

// List is a set of passwords compared without regard to case or Unicode compatibility forms.
// It is safe for concurrent use.
type List struct {
	set map[string]struct{}
}

// New returns a List of the given passwords.
func New(passwords []string) *List {
	l := &List{set: make(map[string]struct{}, len(passwords))}
	for _, p := range passwords {
		if p = Canonical(p); p != "" {
			l.set[p] = struct{}{}
		}
	}
	return l
}

var common = sync.OnceValue(func() *List {
	return New(strings.Split(strings.TrimSpace(commonPasswords), "\n"))
})

// Common returns the embedded list of 30,000 common and breached passwords (see the package
// documentation for its source and licence). It is parsed on first use (about 3 MB).
func Common() *List { return common() }

// Contains reports whether password is on the list: "Password", "PASSWORD" and the full-width
// "ｐａｓｓｗｏｒｄ" all match "password". Only the whole password is compared: a listed word
// inside a longer passphrase is not a match.
func (l *List) Contains(password string) bool {
	_, ok := l.set[Canonical(password)]
	return ok
}

// Len returns the number of distinct passwords on the list.
func (l *List) Len() int { return len(l.set) }

// Canonical is the form passwords are compared in: NFKC-normalised, then case-folded.
func Canonical(p string) string {
	return cases.Fold().String(norm.NFKC.String(p))
}
