package blocklist_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/blocklist"
)

func TestCommonList(t *testing.T) {
	l := blocklist.Common()
	if l.Len() < 10_000 {
		t.Fatalf("the embedded list has %d entries, want at least 10,000", l.Len())
	}
	for _, p := range []string{
		"123456", "password", "qwerty", "letmein", "trustno1", "iloveyou",
		"PASSWORD", "Password", "ｐａｓｓｗｏｒｄ", "LetMeIn", "1qaz2wsx3edc4rfv", "qwerty123456789",
	} {
		if !l.Contains(p) {
			t.Errorf("%q not blocked", p)
		}
	}
	for _, p := range []string{
		"correct horse battery staple", "password but longer than that", "", " password", "passwordX",
		"Tr0ub4dor&3 is not on it either",
	} {
		if l.Contains(p) {
			t.Errorf("%q blocked", p)
		}
	}
	if blocklist.Common() != l {
		t.Fatal("Common parses the list again")
	}
}

func TestNew(t *testing.T) {
	l := blocklist.New([]string{"Straße Straße Straße", "", "ﬁnancial"})
	if l.Len() != 2 {
		t.Fatalf("Len = %d", l.Len())
	}
	// Case folding (ß folds to ss) and NFKC (the ligature ﬁ is f + i).
	for _, p := range []string{"STRASSE STRASSE STRASSE", "straße straße straße", "financial", "FINANCIAL"} {
		if !l.Contains(p) {
			t.Errorf("%q not matched", p)
		}
	}
	if l.Contains(strings.Repeat("x", 10)) {
		t.Fatal("false positive")
	}
}
