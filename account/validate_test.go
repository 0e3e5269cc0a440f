package account_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
)

// wantBadRequest fails unless err is a bad_request whose message starts with "field:".
func wantBadRequest(t *testing.T, what string, err error, field string) {
	t.Helper()
	if code := gatehouse.ErrorCode(err); code != gatehouse.EBADREQUEST {
		t.Errorf("%s: error %v has code %q, want bad_request", what, err, code)
		return
	}
	if msg := gatehouse.ErrorMessage(err); !strings.HasPrefix(msg, field+":") {
		t.Errorf("%s: message %q does not name the field %q", what, msg, field)
	}
}

func TestValidateUsername(t *testing.T) {
	valid := []string{"a", "Z", "7", strings.Repeat("a", 64), "user.name_x-y@host", "...", "@", "-_-"}
	for _, u := range valid {
		if err := account.ValidateUsername(u); err != nil {
			t.Errorf("ValidateUsername(%q) = %v, want nil", u, err)
		}
	}
	invalid := []string{"", strings.Repeat("a", 65), strings.Repeat("a", 10000), "a b", " a", "a\n",
		"zoë", "a/b", "a+b", "a:b", "a\x00b", "ａ", "a\u200bb", "a,b", "a'b", "a\"b", "a$b", "a%b"}
	for _, u := range invalid {
		wantBadRequest(t, "ValidateUsername("+u+")", account.ValidateUsername(u), "username")
	}
}

func TestValidatePasswordLength(t *testing.T) {
	s := newService(t, openStore(t), small, account.Policy{})
	cases := []struct {
		pw    string
		valid bool
		why   string
	}{
		{"", false, "empty"},
		{strings.Repeat("x", 14), false, "14 characters"},
		{strings.Repeat("x", 15), true, "15 characters"},
		{strings.Repeat("é", 14), false, "14 two-byte characters (28 bytes)"},
		{strings.Repeat("é", 15), true, "15 two-byte characters"},
		{strings.Repeat("🔑", 15), true, "15 emoji"},
		{strings.Repeat("e\u0301", 14), false, "28 code points that NFKC composes into 14"},
		{strings.Repeat("ﬁ", 8), true, "8 ligatures that NFKC expands into 16 characters"},
		{strings.Repeat("x", 1024), true, "1024 bytes"},
		{strings.Repeat("x", 1025), false, "1025 bytes"},
		{strings.Repeat("é", 512), true, "512 two-byte characters: 1024 bytes"},
		{strings.Repeat("é", 512) + "x", false, "1025 bytes in 513 characters"},
		{strings.Repeat("x", 20) + "\xff\xfe", false, "invalid UTF-8"},
		{"   tabs\tand spaces and \x00 NUL   ", true, "anything goes, untrimmed"},
	}
	for _, c := range cases {
		n, err := s.ValidatePassword(c.pw)
		if c.valid && err != nil {
			t.Errorf("%s: ValidatePassword = %v, want nil", c.why, err)
		}
		if !c.valid {
			wantBadRequest(t, c.why, err, "password")
			if n != "" {
				t.Errorf("%s: normalized %q returned with an error", c.why, n)
			}
		}
	}
}

func TestValidatePasswordMessagesAndNFKC(t *testing.T) {
	s := newService(t, openStore(t), small, account.Policy{})
	_, err := s.ValidatePassword("short")
	if msg := gatehouse.ErrorMessage(err); msg != "password: must be at least 15 characters" {
		t.Errorf("message %q", msg)
	}
	_, err = s.ValidatePassword(strings.Repeat("x", 1025))
	if msg := gatehouse.ErrorMessage(err); msg != "password: must be at most 1024 bytes" {
		t.Errorf("message %q", msg)
	}
	n, err := s.ValidatePassword("ｐａｓｓｗｏｒｄ ｆｕｌｌｗｉｄｔｈ")
	if err != nil || n != "password fullwidth" {
		t.Errorf("ValidatePassword(fullwidth) = %q, %v; want %q", n, err, "password fullwidth")
	}
	// NFKC may make a 1024-byte password longer; it is kept whole, never truncated.
	long := strings.Repeat("\ufdfa", 341) + "x" // 1024 bytes, 18 characters each after NFKC
	n, err = s.ValidatePassword(long)
	if err != nil || len(n) <= 1024 {
		t.Errorf("ValidatePassword(expanding 1024 bytes) = %d bytes, %v; want the whole expansion", len(n), err)
	}
}

// TestValidatePasswordHugeIsCheap checks that a 10 MB password is refused by its size alone.
func TestValidatePasswordHugeIsCheap(t *testing.T) {
	s := newService(t, openStore(t), small, account.Policy{})
	huge := strings.Repeat("\ufdfa", 10<<20/3)
	start := time.Now()
	for range 100 {
		if _, err := s.ValidatePassword(huge); gatehouse.ErrorCode(err) != gatehouse.EBADREQUEST {
			t.Fatalf("ValidatePassword(10 MB) = %v", err)
		}
	}
	// Normalising 10 MB that expands 6-fold 100 times would take seconds.
	if d := time.Since(start); d > time.Second {
		t.Fatalf("100 rejections of a 10 MB password took %v; the size check is not first", d)
	}
}

func TestPolicyMinimum(t *testing.T) {
	cases := []struct{ policy, tooShort, enough int }{
		{0, 14, 15},
		{-3, 14, 15},
		{1, 7, 8},
		{7, 7, 8},
		{8, 7, 8},
		{20, 19, 20},
		{5000, 1023, 1024},
	}
	for _, c := range cases {
		s := newService(t, openStore(t), small, account.Policy{MinPasswordLength: c.policy})
		if _, err := s.ValidatePassword(strings.Repeat("p", c.tooShort)); gatehouse.ErrorCode(err) != gatehouse.EBADREQUEST {
			t.Errorf("policy %d: %d characters accepted (%v)", c.policy, c.tooShort, err)
		}
		if _, err := s.ValidatePassword(strings.Repeat("p", c.enough)); err != nil {
			t.Errorf("policy %d: %d characters refused: %v", c.policy, c.enough, err)
		}
	}
}

func TestValidateEmail(t *testing.T) {
	at := "@example.com"
	valid := []string{"", "a@b.c", "user@localhost", "first.last+tag@example.co.uk", "zoë@例え.jp",
		"\"odd@local\"@example.com", strings.Repeat("a", 254-len(at)) + at}
	for _, e := range valid {
		if err := account.ValidateEmail(e); err != nil {
			t.Errorf("ValidateEmail(%q) = %v, want nil", e, err)
		}
	}
	invalid := []string{"a", "@example.com", "a@", "a@b..c", "a@.b", "a@b.", "a b@c.d", "a@b.c\n", "\ta@b.c",
		"a@b\x00.c", "a\xff@b.c", strings.Repeat("a", 255-len(at)) + at}
	for _, e := range invalid {
		wantBadRequest(t, "ValidateEmail("+e+")", account.ValidateEmail(e), "email")
	}
}

func TestValidateName(t *testing.T) {
	valid := []string{"", "Zoë Saldaña", "李小龍", strings.Repeat("ë", 200), "O'Brien-Smith, Jr.", "👩‍💻 dev"}
	for _, n := range valid {
		if err := account.ValidateName(n); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", n, err)
		}
	}
	invalid := []string{strings.Repeat("ë", 201), "a\nb", "tab\t", "del\x7f", "nul\x00", "c1\u0085", "bad\xff"}
	for _, n := range invalid {
		wantBadRequest(t, "ValidateName("+n+")", account.ValidateName(n), "name")
	}
}
