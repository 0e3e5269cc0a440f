package gatehouse

// AuthMethods records how a user signed in, as a small set of methods: it is kept with every
// session, refresh-token family and access token, and rendered as the RFC 8176 "amr" list and
// an "acr" assurance level. The zero value means "not recorded" (a credential made before
// gatehouse kept it).
type AuthMethods uint8

// The methods, one bit each.
const (
	// MethodPassword: the account's password ("pwd").
	MethodPassword AuthMethods = 1 << iota
	// MethodOTP: a one-time code, from an authenticator app (TOTP) or a recovery code ("otp").
	MethodOTP
	// MethodHardwareKey: a WebAuthn credential bound to one device ("hwk").
	MethodHardwareKey
	// MethodSoftwareKey: a WebAuthn credential that may be synced between devices, such as
	// most passkeys ("swk").
	MethodSoftwareKey
	// MethodUserVerified: the authenticator verified the user itself (a PIN or a biometric)
	// when a WebAuthn credential was used ("user").
	MethodUserVerified

	methodsKnown = 1<<iota - 1
)

// The assurance levels written as "acr": one factor, or two or more distinct factors.
const (
	ACRSingleFactor = "aal1"
	ACRMultiFactor  = "aal2"
)

// amrNames are the RFC 8176 values of the methods that have one, in rendering order.
var amrNames = [...]struct {
	m    AuthMethods
	name string
}{
	{MethodPassword, AMRPassword},
	{MethodOTP, AMROTP},
	{MethodHardwareKey, AMRHardware},
	{MethodSoftwareKey, AMRSoftware},
	{MethodUserVerified, AMRUser},
}

// Valid reports whether m holds only known methods.
func (m AuthMethods) Valid() bool { return m&^methodsKnown == 0 }

// Factors returns how many distinct authentication factors m holds: the password (something
// known), a one-time code or a WebAuthn credential (something held: at most one counts, as
// both prove the same possession class), and a user verification by the authenticator
// (something known or something the user is).
func (m AuthMethods) Factors() int {
	n := 0
	if m&MethodPassword != 0 {
		n++
	}
	if m&(MethodOTP|MethodHardwareKey|MethodSoftwareKey) != 0 {
		n++
	}
	if m&MethodUserVerified != 0 && m&(MethodHardwareKey|MethodSoftwareKey) != 0 {
		n++
	}
	return n
}

// MultiFactor reports whether m holds two or more distinct factors.
func (m AuthMethods) MultiFactor() bool { return m.Factors() >= 2 }

// AMR returns the RFC 8176 "amr" list of m: "pwd", "otp", "hwk", "swk", "user" in that order,
// then "mfa" when m is multi-factor. It returns nil for the zero value.
func (m AuthMethods) AMR() []string {
	if m == 0 {
		return nil
	}
	out := make([]string, 0, 4)
	for _, n := range amrNames {
		if m&n.m != 0 {
			out = append(out, n.name)
		}
	}
	if m.MultiFactor() {
		out = append(out, AMRMFA)
	}
	return out
}

// ACR returns the assurance level of m: ACRMultiFactor ("aal2") for two or more factors,
// ACRSingleFactor ("aal1") for one, and "" when nothing is recorded.
func (m AuthMethods) ACR() string {
	switch {
	case m == 0:
		return ""
	case m.MultiFactor():
		return ACRMultiFactor
	}
	return ACRSingleFactor
}

// ParseAMR is the inverse of AMR. "mfa" follows from the other values, except in a list that
// names a WebAuthn credential and makes only one factor without it (a passkey sign-in that
// says "mfa" but not "user"): the authenticator's user verification is then the second
// factor, and MethodUserVerified is added. Values gatehouse does not write are ignored.
func ParseAMR(amr []string) AuthMethods {
	var m AuthMethods
	mfa := false
	for _, v := range amr {
		for _, n := range amrNames {
			if v == n.name {
				m |= n.m
			}
		}
		mfa = mfa || v == AMRMFA
	}
	if mfa && m&(MethodHardwareKey|MethodSoftwareKey) != 0 && m.Factors() < 2 {
		m |= MethodUserVerified
	}
	return m
}
