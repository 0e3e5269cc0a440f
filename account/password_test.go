package account_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
)

// TestPasswordPolicyRefusesWhatAttackersTryFirst: repetitive and sequential strings, one part
// repeated, the username or the service's name doing the work, invisible characters and text
// that is not UTF-8 are refused (NIST SP 800-63B-4 section 3.1.1.2, RFC 8265), each with a
// message that says which rule failed.
func TestPasswordPolicyRefusesWhatAttackersTryFirst(t *testing.T) {
	s := newService(t, openStore(t), small, account.Policy{ContextWords: []string{"gatehouse", "Acme Corp"}})
	for _, c := range []struct{ user, pw, rule string }{
		{"", "aaaaaaaaaaaaaaa", "repeated or consecutive"},
		{"", "               ", "repeated or consecutive"},
		{"", "abcdefghijklmnop", "repeated or consecutive"},
		{"", "zyxwvutsrqponmlk", "repeated or consecutive"},
		{"", "123456789012345", "repeated or consecutive"},
		{"", "qwertyuiopasdfgh", "repeated or consecutive"},
		{"", "aaaaabbbbbccccc", "repeated or consecutive"},
		{"", "ＡＡＡＡＡＡＡＡＡＡＡＡＡＡＡ", "repeated or consecutive"},
		{"", "abcd1234qwer5678", "repeated or consecutive"},
		{"", "abc def ghi jkl mno", "repeated or consecutive"},
		{"", "1234 5678 9012 3456", "repeated or consecutive"},
		{"", "passwordpassword", "same part repeated"},
		{"", "PasswordPASSWORD", "same part repeated"},
		{"", "password password", "same part repeated"},
		{"", "correct-horse correct-horse", "same part repeated"},
		{"", "abcabcabcabcabcab", "same part repeated"},
		{"alice.liddell@example", "ALICE.LIDDELL@example", "must not be the username"},
		{"alice", "alice2024!alice2024!", "besides the username"},
		{"alice", "My name is @l1ce ok", "besides the username"},
		{"bob.smith", "BOB.SMITH is the best", "besides the username"},
		{"", "gatehouse password", "besides the name of this service"},
		{"", "g4teh0use-p4ssw0rd", "besides the name of this service"},
		{"", "acme corp rocks 2024", "besides the name of this service"},
		{"alice", "alice aaaaaaaaaaaaaaa", "repeated or consecutive"},
		{"", strings.Repeat("\u200b", 15), "invisible or control"},
		{"", "correct horse\u200bbattery", "invisible or control"},
		{"", "correct horse\tbattery staple", "invisible or control"},
		{"", "correct horse battery staple\n", "invisible or control"},
		{"", "correct horse \xff\xfe battery staple", "valid UTF-8"},
		{"", "correct horse \ufffd battery staple", "U+FFFD"},
	} {
		_, err := s.ValidatePassword(c.user, c.pw)
		wantBadRequest(t, c.pw, err, "password")
		if msg := gatehouse.ErrorMessage(err); !strings.Contains(msg, c.rule) {
			t.Errorf("ValidatePassword(%q, %q): message %q does not name the rule %q", c.user, c.pw, msg, c.rule)
		}
	}
	// The same rules apply to new accounts and to password changes.
	_, err := s.Create(context.Background(), account.NewUser{Username: "mallory", Password: "passwordpassword"})
	wantBadRequest(t, "Create", err, "password")
	_, err = s.HashPassword(context.Background(), "mallory", "mallory is my name")
	wantBadRequest(t, "HashPassword", err, "password")
}

// TestPasswordPolicyAcceptsGoodPasswords: passphrases, random strings and any script pass; a
// context word inside a password is fine when the rest is long enough on its own.
func TestPasswordPolicyAcceptsGoodPasswords(t *testing.T) {
	s := newService(t, openStore(t), small, account.Policy{})
	for _, c := range []struct{ user, pw string }{
		{"", "correct horse battery staple"},
		{"", "Tr0ub4dor&3 was never enough"},
		{"", "kX9_v2QmZrP-4tLw8sYb"},
		{"", "Grüße aus München, 2024"},
		{"", "日本語のパスワードです十五文字"},
		{"", "🔑🎲🍀🚲🌵🎻🐙🧩🪁🦉🥐🛶🧭🪴🫖"},
		{"", "!#%&*,.;?@[]_{}/"}, // punctuation only: nothing left once separators are out
		{"admin", "the first admin password"},
		{"alice", "alice loves long walks on the beach"},
		{"al", "always all along the way"}, // a two-letter username is not looked for
		{"", "my gatehouse is a lighthouse on a hill"},
	} {
		if _, err := s.ValidatePassword(c.user, c.pw); err != nil {
			t.Errorf("ValidatePassword(%q, %q) = %v, want nil", c.user, c.pw, err)
		}
	}
	// An empty ContextWords means no service name is looked for.
	none := newService(t, openStore(t), small, account.Policy{ContextWords: []string{}})
	if _, err := none.ValidatePassword("", "gatehouse password"); err != nil {
		t.Errorf("no context words: %v", err)
	}
}

// TestGeneratedAdminPasswordPassesThePolicy: the password Bootstrap draws is always accepted.
func TestGeneratedAdminPasswordPassesThePolicy(t *testing.T) {
	for range 20 {
		s := newService(t, openStore(t), small, account.Policy{MinPasswordLength: 40})
		created, generated, err := s.Bootstrap(context.Background(), "")
		if err != nil || !created || len(generated) < 40 {
			t.Fatalf("Bootstrap = %v, %q, %v", created, generated, err)
		}
	}
}
