package gatehouse

import (
	"context"
	"time"
)

// Second factors: what a user proves besides the password (or instead of it, with a passkey).
// The kinds, as the API names them in "methods".
const (
	FactorTOTP         = "totp"          // a time-based one-time password (RFC 6238)
	FactorWebAuthn     = "webauthn"      // a WebAuthn credential: a security key or a passkey
	FactorRecoveryCode = "recovery_code" // one of the user's single-use recovery codes
)

// Authentication method references (RFC 8176) that gatehouse records with a session and puts
// in the "amr" claim of access tokens.
const (
	AMRPassword = "pwd"  // a password
	AMROTP      = "otp"  // a one-time password: a TOTP code or a recovery code
	AMRHardware = "hwk"  // proof of possession of a hardware-secured key (a WebAuthn credential)
	AMRSoftware = "swk"  // proof of possession of a software-secured key (a synced passkey)
	AMRUser     = "user" // the authenticator verified the user (a PIN or a biometric)
	AMRMFA      = "mfa"  // more than one factor was used
)

// TOTPFactor is a user's TOTP authenticator. A user has at most one; it counts as a factor only
// once Confirmed, that is once the user proved with a first valid code that the authenticator
// holds the secret.
type TOTPFactor struct {
	// ID names this enrolment: starting another replaces a pending one, and a confirmation
	// names the enrolment it checked the code against.
	ID     string
	UserID string
	// Sealed is the shared secret, encrypted by the caller (the mfa package) under a server
	// key. Stores keep it as they are given it and never look inside.
	Sealed    []byte
	Confirmed bool
	CreatedAt time.Time
	// ConfirmedAt is the zero time while the enrolment is pending.
	ConfirmedAt time.Time
	// LastStep is the TOTP time step (Unix time / period) of the last code accepted, 0 if
	// none: a code of that step or an earlier one is refused, so that a code is used once.
	LastStep int64
}

// TOTPStore keeps users' TOTP factors. Every method that accepts a code is a compare-and-set
// in the store, so that two instances sharing it never both accept the same code.
type TOTPStore interface {
	// PutPendingTOTP stores f (Confirmed false) as the user's pending enrolment, replacing a
	// pending one. It returns ErrConflict when the user has a confirmed TOTP factor.
	PutPendingTOTP(ctx context.Context, f *TOTPFactor) error
	// TOTP returns the user's TOTP factor, confirmed or pending; found=false if none.
	TOTP(ctx context.Context, userID string) (f *TOTPFactor, found bool, err error)
	// ConfirmTOTP confirms the pending enrolment id of the user, recording step as its last
	// accepted step and at as ConfirmedAt. ok=false (and nothing changes) when that
	// enrolment is no longer pending: confirmed already, replaced, or removed.
	ConfirmTOTP(ctx context.Context, userID, id string, step int64, at time.Time) (ok bool, err error)
	// UseTOTPStep records step as the last accepted step of the user's confirmed factor id
	// if it is later than the recorded one. ok=false (and nothing changes) otherwise: the
	// code was used already (a replay), or the factor is gone. Of concurrent calls with one
	// step exactly one gets ok=true.
	UseTOTPStep(ctx context.Context, userID, id string, step int64) (ok bool, err error)
	// DeleteTOTP removes the user's TOTP factor, confirmed or pending; found=false if none.
	DeleteTOTP(ctx context.Context, userID string) (found bool, err error)
}

// RecoveryCodeStore keeps the hashes of users' single-use recovery codes.
type RecoveryCodeStore interface {
	// ReplaceRecoveryCodes makes hashes the user's recovery codes, voiding every earlier one,
	// in one step. An empty hashes removes them all.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []Hash) error
	// UseRecoveryCode removes the user's recovery code whose hash is h and reports whether it
	// was there. Of concurrent calls with one code exactly one gets ok=true.
	UseRecoveryCode(ctx context.Context, userID string, h Hash) (ok bool, err error)
	// CountRecoveryCodes returns how many unused recovery codes the user has.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)
}

// WebAuthnCredential is a public-key credential a user registered: a security key, or a
// passkey on a phone or a computer. Nothing in it is secret: the private key never leaves the
// authenticator.
type WebAuthnCredential struct {
	// ID is the credential id the authenticator chose (at most 1023 bytes); unique among all
	// users.
	ID     []byte
	UserID string
	// Name is what the user calls it ("work laptop").
	Name string
	// PublicKey is the credential's public key, COSE-encoded.
	PublicKey []byte
	// AttestationType is the attestation format the authenticator used ("none", "packed").
	AttestationType string
	// Transports are the hints the browser reported ("usb", "internal", "hybrid", ...).
	Transports []string
	// AAGUID identifies the authenticator's model (16 bytes; zeros when it is not told).
	AAGUID []byte
	// SignCount is the authenticator's signature counter at the last use; 0 for
	// authenticators without one.
	SignCount uint32
	// Discoverable is true for a passkey: a credential the authenticator can offer without
	// being told its id, which allows sign-in without a username.
	Discoverable bool
	// UserVerified is whether the user was verified (PIN, biometric) at registration.
	UserVerified bool
	// BackupEligible and BackupState are the authenticator's flags: the credential may be, and
	// is, synced to other devices (a synced passkey, "swk", rather than a device-bound key).
	BackupEligible bool
	BackupState    bool
	CreatedAt      time.Time
	// LastUsedAt is the zero time until the first use.
	LastUsedAt time.Time
}

// WebAuthnUse is what one successful assertion changes in a credential.
type WebAuthnUse struct {
	SignCount   uint32
	BackupState bool
	At          time.Time
}

// WebAuthnStore keeps users' WebAuthn credentials.
type WebAuthnStore interface {
	// CreateWebAuthnCredential stores c; ErrConflict when its id is registered already (to
	// any user).
	CreateWebAuthnCredential(ctx context.Context, c *WebAuthnCredential) error
	// WebAuthnCredentials returns the user's credentials, oldest first.
	WebAuthnCredentials(ctx context.Context, userID string) ([]*WebAuthnCredential, error)
	// WebAuthnCredentialByID returns the credential with that id, whoever owns it (for a
	// sign-in with a passkey, which names no user); found=false if none.
	WebAuthnCredentialByID(ctx context.Context, id []byte) (c *WebAuthnCredential, found bool, err error)
	// RecordWebAuthnUse records a successful assertion with the user's credential id;
	// found=false if there is none.
	RecordWebAuthnUse(ctx context.Context, userID string, id []byte, use WebAuthnUse) (found bool, err error)
	// RenameWebAuthnCredential renames the user's credential id; found=false if none.
	RenameWebAuthnCredential(ctx context.Context, userID string, id []byte, name string) (found bool, err error)
	// DeleteWebAuthnCredential removes the user's credential id; found=false if none.
	DeleteWebAuthnCredential(ctx context.Context, userID string, id []byte) (found bool, err error)
}

// FactorStore keeps every kind of second factor, and can remove all of a user's at once (an
// administrator's reset, a deleted account).
type FactorStore interface {
	TOTPStore
	RecoveryCodeStore
	WebAuthnStore
	// DeleteUserFactors removes the user's TOTP factor (pending or not), recovery codes and
	// WebAuthn credentials in one step.
	DeleteUserFactors(ctx context.Context, userID string) error
}

// Challenge is the server's side of a step that spans two requests: a sign-in waiting for its
// second factor, or a WebAuthn ceremony waiting for the authenticator's answer. The client
// holds a secret token; the store keeps only its hash.
type Challenge struct {
	// Hash is the SHA-256 of the token the client holds.
	Hash Hash
	// Purpose says which step the challenge belongs to; a token is accepted only by that step.
	Purpose string
	// UserID is the user the step is for ("" for a sign-in with a passkey, which names no user
	// before the authenticator answers).
	UserID string
	// Mode is the sign-in mode the first step asked for (a session or tokens), so that the
	// second step cannot change it.
	Mode string
	// AMR are the methods (RFC 8176) the user already passed.
	AMR []string
	// Data is opaque state of the step (a WebAuthn ceremony's challenge); stores never look
	// inside.
	Data      []byte
	ExpiresAt time.Time
}

// ChallengeStore keeps challenges until they are taken or expire. Expired challenges are never
// returned.
type ChallengeStore interface {
	// PutChallenge stores c; ErrConflict if its hash exists.
	PutChallenge(ctx context.Context, c *Challenge) error
	// FindChallenge returns the challenge whose token hashes to h, unless it expired before
	// now; found=false otherwise. It changes nothing.
	FindChallenge(ctx context.Context, h Hash, now time.Time) (c *Challenge, found bool, err error)
	// TakeChallenge removes and returns the challenge whose token hashes to h, unless it
	// expired before now; found=false otherwise. Of concurrent calls with one hash exactly
	// one gets found=true.
	TakeChallenge(ctx context.Context, h Hash, now time.Time) (c *Challenge, found bool, err error)
}
