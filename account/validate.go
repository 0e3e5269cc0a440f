package account

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse"
)

// Limits of the fields of an account (see "Users and roles" in the API contract).
const (
	MaxUsernameLength     = 64   // characters of [a-zA-Z0-9._@-]
	MaxPasswordBytes      = 1024 // bytes of the raw password, checked before anything else
	DefaultMinPassword    = 15   // characters, as NIST SP 800-63B-4 asks for single-factor use
	MinMinPasswordLength  = 8    // Policy.MinPasswordLength is never below this
	MaxEmailBytes         = 254
	MaxNameLength         = 200 // characters
	generatedPasswordSize = 24  // random bytes of a generated password: 32 base64url characters
)

// Policy is the password policy. Besides what it configures, a new password must be valid
// UTF-8 that the PRECIS OpaqueString profile accepts (no invisible or control characters), must
// not be made of repeated or consecutive characters nor be one part repeated, and must reach
// the minimum length without the username and the context words (see ValidatePassword).
type Policy struct {
	// MinPasswordLength is the minimum number of characters (Unicode code points of the
	// prepared password) of a new password. Zero or less means DefaultMinPassword (15);
	// values from 1 to 7 are raised to 8, and values over MaxPasswordBytes are lowered to it,
	// since no longer password could be accepted.
	MinPasswordLength int
	// Blocklist, if set, rejects new passwords that it contains (common and breached
	// passwords, such as blocklist.Common()). It receives the prepared password, and also
	// what is left of it without the username and the context words.
	Blocklist Blocklist
	// ContextWords are words that do not count toward a new password's length, matched
	// regardless of case and of letter-for-digit substitutions: the name of the service and of
	// the organisation that runs it. Nil means DefaultContextWords ("gatehouse"); an empty
	// slice means none. The username is always one. Words shorter than 3 characters are
	// ignored.
	ContextWords []string
}

func (p Policy) contextWords() []string {
	if p.ContextWords == nil {
		return DefaultContextWords
	}
	var out []string
	for _, w := range p.ContextWords {
		if w = strings.TrimSpace(w); utf8.RuneCountInString(w) >= minContextWord {
			out = append(out, w)
		}
	}
	return out
}

// Blocklist reports whether a password is known to be common or breached.
type Blocklist interface {
	Contains(password string) bool
}

func (p Policy) minLength() int {
	switch {
	case p.MinPasswordLength <= 0:
		return DefaultMinPassword
	case p.MinPasswordLength < MinMinPasswordLength:
		return MinMinPasswordLength
	case p.MinPasswordLength > MaxPasswordBytes:
		return MaxPasswordBytes
	}
	return p.MinPasswordLength
}

// ValidateUsername returns a bad_request *gatehouse.Error unless u is 1 to 64 characters of
// [a-zA-Z0-9._@-].
func ValidateUsername(u string) error {
	if u == "" || len(u) > MaxUsernameLength {
		return gatehouse.Errorf(gatehouse.EBADREQUEST, "username: must be 1 to %d characters", MaxUsernameLength)
	}
	for i := 0; i < len(u); i++ {
		if !usernameByte(u[i]) {
			return gatehouse.Errorf(gatehouse.EBADREQUEST,
				"username: may contain only letters a-z and A-Z, digits, and . _ @ -")
		}
	}
	return nil
}

func usernameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == '@' || c == '-'
}

// ValidatePassword checks a new password of the user username ("" when it is not known) against
// the policy and returns its prepared form, the form to hash. The raw password may have at most
// MaxPasswordBytes (1024) bytes, checked before any other work. Then, in order:
//
//   - it must be valid UTF-8 without U+FFFD, and the PRECIS OpaqueString profile (RFC 8265)
//     must accept it: no control characters, no default-ignorable code points such as
//     zero-width spaces, no unassigned code points;
//   - its prepared form must have at least Policy.MinPasswordLength characters;
//   - it must not be the username, and must still have that many characters once the
//     username, then the context words (Policy.ContextWords), are taken out of it;
//   - neither the password nor what is left may be on the blocklist;
//   - what is left must not be made of runs of one repeated character or of consecutive
//     characters (aaaa, abcd, 4321, qwerty), nor be one part repeated (passwordpassword).
//
// Any other character is allowed, there are no composition rules, and nothing is ever
// truncated. Failures are bad_request *gatehouse.Errors whose message names the field and
// the rule.
func (s *Service) ValidatePassword(username, p string) (prepared string, err error) {
	if err := checkPasswordSize(p); err != nil {
		return "", err
	}
	if prepared, err = preparePassword(p); err != nil {
		return "", err
	}
	if utf8.RuneCountInString(prepared) < s.minLen {
		return "", gatehouse.Errorf(gatehouse.EBADREQUEST, "password: must be at least %d characters", s.minLen)
	}
	rest, err := s.checkContext(prepared, username)
	if err != nil {
		return "", err
	}
	if s.blocklist != nil && (s.blocklist.Contains(prepared) || s.blocklist.Contains(strings.TrimSpace(string(rest)))) {
		return "", errBlockedPassword
	}
	if err := checkPatterns(rest); err != nil {
		return "", err
	}
	return prepared, nil
}

var errBlockedPassword = gatehouse.Errorf(gatehouse.EBADREQUEST,
	"password: is on a list of common or breached passwords that attackers try first; choose another one (a few unrelated words make a good password)")

func checkPasswordSize(p string) error {
	if len(p) > MaxPasswordBytes {
		return gatehouse.Errorf(gatehouse.EBADREQUEST, "password: must be at most %d bytes", MaxPasswordBytes)
	}
	return nil
}

// ValidateEmail returns a bad_request *gatehouse.Error unless e is empty (the field is
// optional) or looks like an address: at most 254 bytes of valid UTF-8 without spaces or
// control characters, with a non-empty local part before the last "@" and a domain after it
// that has no empty label. It does not check that the address exists.
func ValidateEmail(e string) error {
	if e == "" {
		return nil
	}
	if len(e) > MaxEmailBytes {
		return gatehouse.Errorf(gatehouse.EBADREQUEST, "email: must be at most %d bytes", MaxEmailBytes)
	}
	if !utf8.ValidString(e) || strings.IndexFunc(e, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return gatehouse.Errorf(gatehouse.EBADREQUEST, "email: must not contain spaces or control characters")
	}
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || !validDomain(e[at+1:]) {
		return gatehouse.Errorf(gatehouse.EBADREQUEST, "email: must look like name@example.com")
	}
	return nil
}

func validDomain(d string) bool {
	for _, label := range strings.Split(d, ".") {
		if label == "" {
			return false
		}
	}
	return true
}

// ValidateName returns a bad_request *gatehouse.Error unless n (optional, may be empty) is
// valid UTF-8 of at most 200 characters without control characters.
func ValidateName(n string) error {
	if !utf8.ValidString(n) {
		return gatehouse.Errorf(gatehouse.EBADREQUEST, "name: must be valid UTF-8 text")
	}
	if utf8.RuneCountInString(n) > MaxNameLength {
		return gatehouse.Errorf(gatehouse.EBADREQUEST, "name: must be at most %d characters", MaxNameLength)
	}
	if strings.IndexFunc(n, unicode.IsControl) >= 0 {
		return gatehouse.Errorf(gatehouse.EBADREQUEST, "name: must not contain control characters")
	}
	return nil
}

// validateRole returns the role to store: RoleUser for "", else r if it is valid.
func validateRole(r gatehouse.Role) (gatehouse.Role, error) {
	if r == "" {
		return gatehouse.RoleUser, nil
	}
	if !r.Valid() {
		return "", gatehouse.Errorf(gatehouse.EBADREQUEST, "role: must be %q or %q", gatehouse.RoleUser, gatehouse.RoleAdmin)
	}
	return r, nil
}
