package gatehouse

import (
	"fmt"
	"slices"
	"strings"
)

// Limits of a user's groups.
const (
	MaxGroups          = 64 // groups per user
	MaxGroupNameLength = 64 // characters of [a-z0-9._-]
)

// Sentinel errors of group lists. The errors returned carry a message naming the offending
// group and match these with errors.Is.
var (
	ErrGroupName     = &Error{EBADREQUEST, "groups: a group name is 1 to 64 characters of a-z, 0-9, '.', '_' and '-'"}
	ErrTooManyGroups = &Error{EBADREQUEST, fmt.Sprintf("groups: at most %d per user", MaxGroups)}
)

// ValidGroupName reports whether s is a group name: 1 to 64 characters of a-z, 0-9, '.', '_'
// and '-'. Names are lower case so that "Finance" and "finance" cannot be two groups.
func ValidGroupName(s string) bool {
	if s == "" || len(s) > MaxGroupNameLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// NormalizeGroups checks every name and returns the groups sorted, without duplicates, and
// never nil (an empty list for none). It returns an error matching ErrGroupName, naming the
// first invalid name, or ErrTooManyGroups when more than MaxGroups distinct names remain.
func NormalizeGroups(groups []string) ([]string, error) {
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		if !ValidGroupName(g) {
			return nil, detailed(ErrGroupName, "groups: %q is not a group name (1 to %d characters of a-z, 0-9, '.', '_' and '-')", clip(g), MaxGroupNameLength)
		}
		out = append(out, g)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > MaxGroups {
		return nil, detailed(ErrTooManyGroups, "groups: %d given, at most %d per user", len(out), MaxGroups)
	}
	return out, nil
}

// HasGroup reports whether the normalised list groups holds g.
func HasGroup(groups []string, g string) bool {
	_, found := slices.BinarySearch(groups, g)
	return found
}

// JoinGroups and SplitGroups are how stores keep a normalised group list in one text column:
// names cannot hold a comma.
func JoinGroups(groups []string) string { return strings.Join(groups, ",") }

// SplitGroups is the inverse of JoinGroups; "" is no groups (an empty, non-nil list).
func SplitGroups(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// clip shortens a value quoted back in an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// detailedError is an *Error with a specific message that errors.Is also matches against
// the sentinel it details.
type detailedError struct {
	err      *Error
	sentinel *Error
}

func (d *detailedError) Error() string   { return d.err.Error() }
func (d *detailedError) Unwrap() []error { return []error{d.err, d.sentinel} }

func detailed(sentinel *Error, format string, args ...any) error {
	return &detailedError{err: Errorf(sentinel.Code, format, args...), sentinel: sentinel}
}

// CheckGroups returns nil if groups is a normalised list (valid names, sorted, no duplicates,
// at most MaxGroups; nil is the empty list), else an error matching ErrGroupName or
// ErrTooManyGroups. Stores call it before writing.
func CheckGroups(groups []string) error {
	n, err := NormalizeGroups(groups)
	if err != nil {
		return err
	}
	if !slices.Equal(n, groups) {
		return detailed(ErrGroupName, "groups: the list must be sorted and without duplicates (NormalizeGroups)")
	}
	return nil
}
