package account_test

import (
	"math/rand/v2"
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

// varied returns n characters of lowercase letters and spaces, drawn from a seeded generator:
// long enough that no pattern rule refuses them.
func varied(n int) string {
	rng := rand.New(rand.NewPCG(uint64(n), 42))
	const letters = "abcdefghijklmnopqrstuvwxyz "
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[rng.IntN(len(letters))]
	}
	return string(b)
}

func TestValidatePasswordLength(t *testing.T) {
	s := newService(t, openStore(t), small, account.Policy{})
	cases := []struct {
		pw    string
		valid bool
		why   string
	}{
		{"", false, "empty"},
		{varied(14), false, "14 characters"},
		{varied(15), true, "15 characters"},
		{"éàüöçñøåæœßðþ ī", true, "15 characters of which 13 take two bytes"},
		{"éàüöçñøåæœßðþī", false, "14 two-byte characters (28 bytes)"},
		{"🔑🎲🍀🚲🌵🎻🐙🧩🪁🦉🥐🛶🧭🪴🫖", true, "15 emoji"},
		{strings.Repeat("aé", 7), false, "21 code points that NFC composes into 14"},
		{varied(1024), true, "1024 bytes"},
		{varied(1025), false, "1025 bytes"},
		{varied(20) + "\xff\xfe", false, "invalid UTF-8"},
		{"   spaces around and inside   ", true, "spaces count, untrimmed"},
		{varied(20) + "\t", false, "a tab"},
		{varied(20) + "\x00", false, "NUL"},
	}
	for _, c := range cases {
		n, err := s.ValidatePassword("", c.pw)
		if c.valid && err != nil {
			t.Errorf("%s: ValidatePassword = %v, want nil", c.why, err)
		}
		if !c.valid {
			wantBadRequest(t, c.why, err, "password")
			if n != "" {
				t.Errorf("%s: prepared %q returned with an error", c.why, n)
			}
		}
	}
}

func TestValidatePasswordMessagesAndPreparation(t *testing.T) {
	s := newService(t, openStore(t), small, account.Policy{})
	_, err := s.ValidatePassword("", "short")
	if msg := gatehouse.ErrorMessage(err); msg != "password: must be at least 15 characters" {
		t.Errorf("message %q", msg)
	}
	_, err = s.ValidatePassword("", strings.Repeat("x", 1025))
	if msg := gatehouse.ErrorMessage(err); msg != "password: must be at most 1024 bytes" {
		t.Errorf("message %q", msg)
	}
	// PRECIS OpaqueString: non-ASCII spaces become U+0020 and the text is NFC; compatibility
	// characters (full-width letters) are kept as typed, unlike NFKC.
	n, err := s.ValidatePassword("", "ｐａｓｓｗｏｒｄ\u00a0ｆｕｌｌｗｉｄｔｈ")
	if err != nil || n != "ｐａｓｓｗｏｒｄ ｆｕｌｌｗｉｄｔｈ" {
		t.Errorf("ValidatePassword(fullwidth, no-break space) = %q, %v", n, err)
	}
	n, err = s.ValidatePassword("", "cafe\u0301 au lait, s'il vous plai\u0302t")
	if err != nil || n != "café au lait, s'il vous plaît" {
		t.Errorf("ValidatePassword(decomposed) = %q, %v; want the NFC form", n, err)
	}
}

// TestValidatePasswordHugeIsCheap checks that a 10 MB password is refused by its size alone.
func TestValidatePasswordHugeIsCheap(t *testing.T) {
	s := newService(t, openStore(t), small, account.Policy{})
	huge := strings.Repeat("\ufdfa", 10<<20/3)
	start := time.Now()
	for range 100 {
		if _, err := s.ValidatePassword("", huge); gatehouse.ErrorCode(err) != gatehouse.EBADREQUEST {
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
		if _, err := s.ValidatePassword("", varied(c.tooShort)); gatehouse.ErrorCode(err) != gatehouse.EBADREQUEST {
			t.Errorf("policy %d: %d characters accepted (%v)", c.policy, c.tooShort, err)
		}
		if _, err := s.ValidatePassword("", varied(c.enough)); err != nil {
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
