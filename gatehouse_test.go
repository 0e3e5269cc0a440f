package gatehouse_test

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

func TestValidSecret(t *testing.T) {
	for i := 0; i < 200; i++ {
		s := gatehouse.NewSecret()
		if !gatehouse.ValidSecret(s) {
			t.Fatalf("NewSecret %q not valid", s)
		}
	}
	good := gatehouse.NewSecret()
	for _, bad := range []string{"", "a", good + "A", good[:42], strings.Repeat("!", 43), good[:42] + "B", good[:10] + "+" + good[11:]} {
		if gatehouse.ValidSecret(bad) {
			t.Errorf("ValidSecret(%q) = true", bad)
		}
	}
	// Agreement with the strict decoder on every last character.
	for c := 0; c < 256; c++ {
		s := good[:42] + string(rune(c))
		_, err := base64.RawURLEncoding.Strict().DecodeString(s)
		// The decoder skips '\r' and '\n' (then 42 characters may decode); a secret never has them.
		want := err == nil && c != '\r' && c != '\n'
		if got := gatehouse.ValidSecret(s); got != want {
			t.Errorf("last char %d: ValidSecret = %v, strict decode err = %v", c, got, err)
		}
	}
	if n := testing.AllocsPerRun(100, func() { gatehouse.ValidSecret(good) }); n != 0 {
		t.Fatalf("ValidSecret allocates %v times", n)
	}
}

func TestHashSecret(t *testing.T) {
	for _, s := range []string{"", "x", strings.Repeat("y", 64), strings.Repeat("z", 65), gatehouse.NewSecret()} {
		if gatehouse.HashSecret(s) != sha256.Sum256([]byte(s)) {
			t.Fatalf("HashSecret(%q) is not its SHA-256", s)
		}
	}
	secret := gatehouse.NewSecret()
	if a := testing.AllocsPerRun(100, func() { _ = gatehouse.HashSecret(secret) }); a != 0 {
		t.Fatalf("HashSecret allocates %v times", a)
	}
}

func TestNewID(t *testing.T) {
	now := testkit.Start()
	a, b := gatehouse.NewID(now), gatehouse.NewID(now.Add(time.Millisecond))
	if a == b || !(a < b) || !gatehouse.ValidID(a) || !gatehouse.ValidID(b) {
		t.Fatalf("ids %q %q", a, b)
	}
	for _, bad := range []string{"", "x", strings.Repeat("I", 26), strings.Repeat("0", 25), "../../../../../../etc/pass"} {
		if gatehouse.ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

// TestIDTime: the time NewID stamps is read back to the millisecond; garbage has none.
func TestIDTime(t *testing.T) {
	now := testkit.Start().Add(1234567 * time.Microsecond)
	got, ok := gatehouse.IDTime(gatehouse.NewID(now))
	if !ok || !got.Equal(now.Truncate(time.Millisecond)) {
		t.Fatalf("IDTime = %v %v, want %v", got, ok, now.Truncate(time.Millisecond))
	}
	for _, bad := range []string{"", "x", strings.Repeat("I", 26), "../../../../../../etc/passw"} {
		if _, ok := gatehouse.IDTime(bad); ok {
			t.Errorf("IDTime(%q) ok", bad)
		}
	}
}

func TestRoles(t *testing.T) {
	admin, user := gatehouse.RoleAdmin, gatehouse.RoleUser
	if !admin.Allows(user) || !admin.Allows(admin) || !user.Allows(user) || user.Allows(admin) {
		t.Fatal("role order wrong")
	}
	if gatehouse.Role("root").Allows(user) || user.Allows("") || gatehouse.Role("").Valid() {
		t.Fatal("unknown roles allowed")
	}
}

func TestNotBeforeStamps(t *testing.T) {
	base := testkit.Start()
	at := func(us int) time.Time { return base.Add(time.Duration(us) * time.Microsecond) }
	// A credential issued before the revocation, even in the same millisecond, is revoked.
	issued := gatehouse.IssueStamp(at(100), time.Time{})
	nb := gatehouse.NextNotBefore(at(300), time.Time{})
	if !gatehouse.IssuedBefore(issued, nb) {
		t.Fatal("credential issued before the revocation survives it")
	}
	// One issued after it, in the same millisecond, is stamped nb and lives.
	after := gatehouse.IssueStamp(at(500), nb)
	if gatehouse.IssuedBefore(after, nb) || !after.Equal(nb) {
		t.Fatalf("credential issued after the revocation stamped %v (nb %v)", after, nb)
	}
	// A second revocation in the same millisecond revokes that one too.
	nb2 := gatehouse.NextNotBefore(at(700), nb)
	if !gatehouse.IssuedBefore(after, nb2) || !nb2.After(nb) {
		t.Fatalf("second revocation %v does not revoke a credential stamped %v", nb2, after)
	}
	if gatehouse.IssuedBefore(base, time.Time{}) {
		t.Fatal("zero not-before revokes")
	}
}

func TestErrors(t *testing.T) {
	err := gatehouse.Unavailable("sqlite: find", errString("disk on fire"))
	if gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE || strings.Contains(gatehouse.ErrorMessage(err), "fire") {
		t.Fatalf("code %q message %q", gatehouse.ErrorCode(err), gatehouse.ErrorMessage(err))
	}
	if gatehouse.ErrorCode(errString("x")) != gatehouse.EINTERNAL || gatehouse.ErrorMessage(errString("x")) != "internal error" {
		t.Fatal("plain errors are not internal")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestSessionHandle(t *testing.T) {
	h := gatehouse.HashSecret(gatehouse.NewSecret())
	handle := gatehouse.SessionHandle(h)
	if !gatehouse.ValidID(handle) {
		t.Fatalf("SessionHandle %q is not a valid id", handle)
	}
	b, ok := gatehouse.IDBytes(handle)
	if !ok || string(b[:]) != string(h[:16]) {
		t.Fatalf("IDBytes(%q) = %x, %v; want the first 16 bytes of the hash", handle, b, ok)
	}
	id := gatehouse.NewID(time.Now())
	if _, ok := gatehouse.IDBytes(id); !ok {
		t.Fatalf("IDBytes(NewID %q) = false", id)
	}
	// The last character carries 3 bits: a spelling with other low bits set is not canonical.
	last := strings.IndexByte("0123456789abcdefghjkmnpqrstvwxyz", handle[25])
	alias := handle[:25] + string("0123456789abcdefghjkmnpqrstvwxyz"[last|1])
	for _, bad := range []string{"", "u1", handle[:25], handle + "0", strings.ToUpper(handle), alias} {
		if bad == handle {
			continue
		}
		if _, ok := gatehouse.IDBytes(bad); ok {
			t.Errorf("IDBytes(%q) = true", bad)
		}
	}
}
