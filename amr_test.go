package gatehouse_test

import (
	"slices"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

func TestAuthMethods(t *testing.T) {
	for _, c := range []struct {
		m   gatehouse.AuthMethods
		amr []string
		acr string
	}{
		{0, nil, ""},
		{gatehouse.MethodPassword, []string{"pwd"}, "aal1"},
		{gatehouse.MethodOTP, []string{"otp"}, "aal1"},
		{gatehouse.MethodPassword | gatehouse.MethodOTP, []string{"pwd", "otp", "mfa"}, "aal2"},
		{gatehouse.MethodPassword | gatehouse.MethodHardwareKey, []string{"pwd", "hwk", "mfa"}, "aal2"},
		{gatehouse.MethodSoftwareKey | gatehouse.MethodUserVerified, []string{"swk", "user", "mfa"}, "aal2"},
		{gatehouse.MethodHardwareKey, []string{"hwk"}, "aal1"},
		// A code and a key prove the same kind of factor: one, not two.
		{gatehouse.MethodOTP | gatehouse.MethodHardwareKey, []string{"otp", "hwk"}, "aal1"},
		// A user verification without a key is nothing the server can count.
		{gatehouse.MethodPassword | gatehouse.MethodUserVerified, []string{"pwd", "user"}, "aal1"},
	} {
		if got := c.m.AMR(); !slices.Equal(got, c.amr) || c.m.ACR() != c.acr {
			t.Errorf("%#x: AMR %q ACR %q, want %q %q", uint8(c.m), got, c.m.ACR(), c.amr, c.acr)
		}
		if got := gatehouse.ParseAMR(c.m.AMR()); got != c.m {
			t.Errorf("ParseAMR(%q) = %#x, want %#x", c.amr, uint8(got), uint8(c.m))
		}
	}
	// What the second-factor service reports for a passkey sign-in: the user verification is
	// what makes it two factors.
	if got := gatehouse.ParseAMR([]string{"swk", "mfa"}); got != gatehouse.MethodSoftwareKey|gatehouse.MethodUserVerified {
		t.Errorf("passkey sign-in parsed as %#x", uint8(got))
	}
	if got := gatehouse.ParseAMR([]string{"pwd", "face", "mfa", "kba"}); got != gatehouse.MethodPassword {
		t.Errorf("unknown values parsed as %#x", uint8(got))
	}
	if gatehouse.AuthMethods(0x20).Valid() || !(gatehouse.MethodPassword | gatehouse.MethodUserVerified).Valid() {
		t.Error("Valid is wrong")
	}
}
