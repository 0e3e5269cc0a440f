package account

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// Passwords are prepared with the PRECIS OpaqueString profile (RFC 8265 section 4.2): spaces
// other than U+0020 become U+0020, the text is normalised to NFC, and code points that cannot
// be typed reliably (controls, default-ignorable code points such as zero-width spaces,
// unassigned code points) are refused. The prepared form is what is hashed, so "é" typed as
// one code point or as "e" and a combining accent is the same password.
//
// Hashes made before this preparation were made of the NFKC form of the password, which can
// differ from the prepared one for compatibility characters (full-width letters, ligatures,
// superscripts). Login verifies that older form too when it differs (see loginForms), so users
// keep their passwords. A stored hash does not say which form it was made of, so the older
// form is tried for every account, and a hash is never moved from one form to the other (that
// would lock out whoever types the other spelling).

// Errors of preparePassword.
var (
	errNotUTF8 = gatehouse.Errorf(gatehouse.EBADREQUEST, "password: must be valid UTF-8 text")
	// U+FFFD is what decoders put in place of bytes that are not UTF-8 (encoding/json does it
	// for a lone surrogate escape such as \ud800): accepting it would make different inputs
	// one password.
	errReplacementChar = gatehouse.Errorf(gatehouse.EBADREQUEST,
		"password: must not contain U+FFFD, the replacement character, which stands for text that was not valid UTF-8")
	errDisallowedRune = gatehouse.Errorf(gatehouse.EBADREQUEST,
		"password: must not contain invisible or control characters (such as zero-width spaces, tabs or line breaks) or unassigned code points: they cannot be typed reliably")
)

// preparePassword checks that p is valid UTF-8 and returns its PRECIS OpaqueString form.
func preparePassword(p string) (string, error) {
	if !utf8.ValidString(p) {
		return "", errNotUTF8
	}
	if strings.ContainsRune(p, utf8.RuneError) {
		return "", errReplacementChar
	}
	prepared, err := precis.OpaqueString.String(p)
	if err != nil {
		if p == "" {
			return "", nil // empty: the length rule answers
		}
		return "", errDisallowedRune
	}
	return prepared, nil
}

// loginForms returns the forms of a typed password to verify against a stored hash, in order:
// the prepared form of current hashes, then the NFKC form of hashes made before passwords were
// prepared, when it differs. A password that cannot be prepared (it holds a character no new
// password may hold, or is not UTF-8) has only the older form.
func loginForms(p string) []string {
	old := norm.NFKC.String(p)
	prepared, err := precis.OpaqueString.String(p)
	switch {
	case err != nil || !utf8.ValidString(p):
		return []string{old}
	case prepared == old:
		return []string{prepared}
	}
	return []string{prepared, old}
}

// The rules below follow NIST SP 800-63B-4 section 3.1.1.2: a new password is compared with
// what attackers try first (the blocklist, repetitive and sequential strings, context-specific
// words), never held to composition rules.

// minContextWord is the shortest context word (username, service name) looked for inside a
// password: shorter ones match inside too many unrelated words to mean anything.
const minContextWord = 3

// DefaultContextWords are the context words of Policy.ContextWords when it is nil.
var DefaultContextWords = []string{"gatehouse"}

// checkContext refuses a prepared password that is the username, or that is shorter than the
// minimum once the username and then the policy's context words are taken out of it: those
// words are the first an attacker adds to a guess, so they do not count toward the length. It
// returns the lowercased rest, on which the remaining rules run.
func (s *Service) checkContext(prepared, username string) ([]rune, error) {
	if username != "" && strings.EqualFold(prepared, username) {
		return nil, gatehouse.Errorf(gatehouse.EBADREQUEST, "password: must not be the username")
	}
	rest := lowerRunes(prepared)
	if username != "" {
		rest = withoutWord(rest, username)
		if len(rest) < s.minLen {
			return nil, gatehouse.Errorf(gatehouse.EBADREQUEST,
				"password: must have at least %d characters besides the username", s.minLen)
		}
	}
	for _, w := range s.contextWords {
		rest = withoutWord(rest, w)
	}
	if len(rest) < s.minLen {
		return nil, gatehouse.Errorf(gatehouse.EBADREQUEST,
			"password: must have at least %d characters besides the name of this service (%s)", s.minLen, strings.Join(s.contextWords, ", "))
	}
	return rest, nil
}

// lowerRunes returns the characters of s as the rules compare them: lowercase, and full-width
// forms as their ordinary ones (one character for one, so positions stay put).
func lowerRunes(s string) []rune {
	r := []rune(s)
	for i, c := range r {
		if n := width.LookupRune(c).Narrow(); n != 0 && width.LookupRune(c).Kind() == width.EastAsianFullwidth {
			c = n
		}
		r[i] = unicode.ToLower(c)
	}
	return r
}

// withoutWord returns p (lowercased runes) without any occurrence of word, matched regardless
// of case and of the usual letter-for-digit-or-symbol substitutions (p4ssw0rd, @lice, 5am).
// Words shorter than minContextWord are left in.
func withoutWord(p []rune, word string) []rune {
	w := lowerRunes(word)
	if len(w) < minContextWord || len(w) > len(p) {
		return p
	}
	for i := range w {
		w[i] = lookalike(w[i])
	}
	out := make([]rune, 0, len(p))
	for i := 0; i < len(p); {
		if i+len(w) <= len(p) && matchesAt(p[i:], w) {
			i += len(w)
			continue
		}
		out = append(out, p[i])
		i++
	}
	return out
}

func matchesAt(p, w []rune) bool {
	for j, c := range w {
		if lookalike(p[j]) != c {
			return false
		}
	}
	return true
}

// lookalike maps a lowercase character to the letter it usually stands in for.
func lookalike(c rune) rune {
	switch c {
	case '4', '@':
		return 'a'
	case '8':
		return 'b'
	case '3':
		return 'e'
	case '9':
		return 'g'
	case '1', '!', '|', 'l':
		return 'i'
	case '0':
		return 'o'
	case '5', '$':
		return 's'
	case '7', '+':
		return 't'
	}
	return c
}

var (
	errPattern = gatehouse.Errorf(gatehouse.EBADREQUEST,
		"password: is made of repeated or consecutive characters (such as aaaa, abcd, 4321 or qwerty), which attackers try first")
	errRepeatedPart = gatehouse.Errorf(gatehouse.EBADREQUEST,
		"password: is the same part repeated (such as passwordpassword): the repetition adds almost nothing")
)

// checkPatterns refuses a password (lowercased runes) made of long runs of one character or of
// consecutive characters, or made of one part repeated, also once spaces and punctuation are
// left out ("abc def ghi jkl", "password password").
func checkPatterns(p []rune) error {
	bare := withoutSeparators(p)
	if patterned(p) || len(bare) >= MinMinPasswordLength && patterned(bare) {
		return errPattern
	}
	if repeatsPart(bare) {
		return errRepeatedPart
	}
	return nil
}

// patterned reports whether p splits into runs of one repeated character or of consecutive
// characters (in the alphabet, the digits or a keyboard row, either way) that average four or
// more characters: "aaaaaaaaaaaaaaa", "abcdefghijklmno", "aaaaabbbbbccccc", "qwertyuiopasdfg".
func patterned(p []rune) bool {
	runs := 0
	for i := 0; i < len(p); {
		runs++
		if i+1 == len(p) {
			break
		}
		step, ok := stepBetween(p[i], p[i+1])
		if !ok {
			i++
			continue
		}
		j := i + 1
		for j+1 < len(p) {
			if s, ok := stepBetween(p[j], p[j+1]); !ok || s != step {
				break
			}
			j++
		}
		i = j + 1
	}
	return runs*4 <= len(p)
}

// sequences are the orders in which characters are "consecutive": the alphabet, the digits
// (with 0 after 9, as on a keyboard) and the rows of common keyboard layouts.
var sequences = []string{
	"abcdefghijklmnopqrstuvwxyz", "01234567890",
	"qwertyuiop", "asdfghjkl", "zxcvbnm", "azertyuiop", "qsdfghjklm", "wxcvbn", "qwertzuiop", "yxcvbnm",
	"!@#$%^&*()",
}

// next maps each character to those that follow it in one of the sequences.
var next = func() map[rune][]rune {
	m := map[rune][]rune{}
	for _, s := range sequences {
		r := []rune(s)
		for i := 0; i+1 < len(r); i++ {
			m[r[i]] = append(m[r[i]], r[i+1])
		}
	}
	return m
}()

// stepBetween returns 0 when b repeats a, +1 when b follows a in a sequence, -1 when a follows b.
func stepBetween(a, b rune) (int, bool) {
	switch {
	case a == b:
		return 0, true
	case follows(a, b):
		return 1, true
	case follows(b, a):
		return -1, true
	}
	return 0, false
}

func follows(a, b rune) bool {
	for _, c := range next[a] {
		if c == b {
			return true
		}
	}
	return false
}

// withoutSeparators drops spaces and punctuation, so that "password password" and
// "password-password" are seen as the repetition they are.
func withoutSeparators(p []rune) []rune {
	out := make([]rune, 0, len(p))
	for _, c := range p {
		if !unicode.IsSpace(c) && !unicode.IsPunct(c) {
			out = append(out, c)
		}
	}
	return out
}

// repeatsPart reports whether p is a shorter part written at least twice over (the last time
// possibly cut short): its smallest period is at most half its length.
func repeatsPart(p []rune) bool {
	n := len(p)
	if n < 2 {
		return false
	}
	// The prefix function: fail[i] is the length of the longest proper prefix of p[:i+1]
	// that is also its suffix; the smallest period is n - fail[n-1].
	fail := make([]int, n)
	for i := 1; i < n; i++ {
		k := fail[i-1]
		for k > 0 && p[i] != p[k] {
			k = fail[k-1]
		}
		if p[i] == p[k] {
			k++
		}
		fail[i] = k
	}
	return 2*(n-fail[n-1]) <= n
}
