// Package webauthntest is a software WebAuthn authenticator and client for tests: it answers
// the options a relying party sends (as JSON, the way a browser receives them) with the JSON a
// browser's navigator.credentials.create or .get returns, with real ES256 keys and signatures
// and "none" attestation. Tests change its origin, counter or flags to play an attacker.
//
// Browser tests use Chrome's own virtual authenticator instead; this one makes the ceremonies
// testable without a browser.
package webauthntest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Authenticator flags (WebAuthn §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

// Credential is a key the authenticator made.
type Credential struct {
	ID         []byte
	RPID       string
	UserHandle []byte
	Key        *ecdsa.PrivateKey
	// SignCount is the counter the next assertion reports (after adding one).
	SignCount uint32
}

// Authenticator is a software authenticator together with the browser around it.
type Authenticator struct {
	// Origin is the origin the "browser" reports in the client data.
	Origin string
	// UserVerified sets the UV flag (a PIN or biometric was checked). Default true.
	UserVerified bool
	// BackupEligible sets the BE and BS flags (a synced passkey).
	BackupEligible bool
	// Discoverable makes credentials discoverable (resident), reported by credProps.
	Discoverable bool
	// RPIDOverride, when set, replaces the relying party id the authenticator signs for.
	RPIDOverride string
	// Counter makes the authenticator keep a signature counter (otherwise it reports 0).
	Counter bool
	Creds   []*Credential
}

// New returns an authenticator for origin that verifies users, keeps a counter and makes
// discoverable credentials.
func New(origin string) *Authenticator {
	return &Authenticator{Origin: origin, UserVerified: true, Discoverable: true, Counter: true}
}

var b64 = base64.RawURLEncoding

// bytesField decodes a base64url JSON string (padded or not).
type bytesField []byte

func (b *bytesField) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding} {
		if v, err := enc.DecodeString(s); err == nil {
			*b = v
			return nil
		}
	}
	return fmt.Errorf("webauthntest: %q is not base64url", s)
}

type creationOptions struct {
	PublicKey struct {
		Challenge bytesField `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID bytesField `json:"id"`
		} `json:"user"`
		Exclude []struct {
			ID bytesField `json:"id"`
		} `json:"excludeCredentials"`
	} `json:"publicKey"`
}

type requestOptions struct {
	PublicKey struct {
		Challenge bytesField `json:"challenge"`
		RPID      string     `json:"rpId"`
		Allow     []struct {
			ID bytesField `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

// Create answers navigator.credentials.create(options), options being the JSON the relying
// party sent, and keeps the new credential.
func (a *Authenticator) Create(options []byte) ([]byte, error) {
	var o creationOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("webauthntest: creation options: %w", err)
	}
	rpID := o.PublicKey.RP.ID
	for _, ex := range o.PublicKey.Exclude {
		if a.find(rpID, ex.ID) != nil {
			return nil, errors.New("webauthntest: InvalidStateError: the authenticator holds an excluded credential")
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	c := &Credential{ID: make([]byte, 32), RPID: rpID, UserHandle: o.PublicKey.User.ID, Key: key}
	_, _ = rand.Read(c.ID)
	a.Creds = append(a.Creds, c)
	clientData := a.clientData("webauthn.create", o.PublicKey.Challenge)
	authData, err := a.authData(c, flagAT, attestedData(c))
	if err != nil {
		return nil, err
	}
	attObj, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(c.ID), "rawId": b64.EncodeToString(c.ID), "type": "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(clientData),
			"attestationObject": b64.EncodeToString(attObj), "transports": []string{"internal"}},
		"clientExtensionResults": map[string]any{"credProps": map[string]any{"rk": a.Discoverable}},
	})
}

// Get answers navigator.credentials.get(options) with a credential the options allow (any of
// the relying party's when they name none, as for a passkey).
func (a *Authenticator) Get(options []byte) ([]byte, error) {
	var o requestOptions
	if err := json.Unmarshal(options, &o); err != nil {
		return nil, fmt.Errorf("webauthntest: request options: %w", err)
	}
	c := a.pick(o.PublicKey.RPID, o.PublicKey.Allow)
	if c == nil {
		return nil, errors.New("webauthntest: NotAllowedError: no credential for this request")
	}
	return a.Assert(c, o.PublicKey.Challenge)
}

func (a *Authenticator) pick(rpID string, allow []struct {
	ID bytesField `json:"id"`
}) *Credential {
	if len(allow) == 0 {
		for _, c := range a.Creds {
			if c.RPID == rpID {
				return c
			}
		}
		return nil
	}
	for _, al := range allow {
		if c := a.find(rpID, al.ID); c != nil {
			return c
		}
	}
	return nil
}

func (a *Authenticator) find(rpID string, id []byte) *Credential {
	for _, c := range a.Creds {
		if c.RPID == rpID && string(c.ID) == string(id) {
			return c
		}
	}
	return nil
}

// Assert signs an assertion of challenge with c, as a browser returns it.
func (a *Authenticator) Assert(c *Credential, challenge []byte) ([]byte, error) {
	if a.Counter {
		c.SignCount++
	}
	clientData := a.clientData("webauthn.get", challenge)
	authData, err := a.authData(c, 0, nil)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256(append(append([]byte(nil), authData...), sha256Of(clientData)...))
	sig, err := ecdsa.SignASN1(rand.Reader, c.Key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(c.ID), "rawId": b64.EncodeToString(c.ID), "type": "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{"clientDataJSON": b64.EncodeToString(clientData),
			"authenticatorData": b64.EncodeToString(authData), "signature": b64.EncodeToString(sig),
			"userHandle": b64.EncodeToString(c.UserHandle)},
		"clientExtensionResults": map[string]any{},
	})
}

func sha256Of(b []byte) []byte { h := sha256.Sum256(b); return h[:] }

func (a *Authenticator) clientData(typ string, challenge []byte) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": b64.EncodeToString(challenge),
		"origin": a.Origin, "crossOrigin": false})
	return b
}

// authData is the authenticator data: the relying party id's hash, flags, counter and extra.
func (a *Authenticator) authData(c *Credential, flags byte, extra []byte) ([]byte, error) {
	rpID := c.RPID
	if a.RPIDOverride != "" {
		rpID = a.RPIDOverride
	}
	flags |= flagUP
	if a.UserVerified {
		flags |= flagUV
	}
	if a.BackupEligible {
		flags |= flagBE | flagBS
	}
	out := append(sha256Of([]byte(rpID)), flags)
	out = binary.BigEndian.AppendUint32(out, c.SignCount)
	return append(out, extra...), nil
}

// attestedData is the attested credential data: AAGUID, the id and the COSE public key.
func attestedData(c *Credential) []byte {
	out := make([]byte, 16) // a zero AAGUID, as "none" attestation reports
	out = binary.BigEndian.AppendUint16(out, uint16(len(c.ID)))
	out = append(out, c.ID...)
	x, y := make([]byte, 32), make([]byte, 32)
	pub, _ := c.Key.PublicKey.ECDH()
	raw := pub.Bytes() // 0x04 || X || Y
	copy(x, raw[1:33])
	copy(y, raw[33:65])
	key, _ := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: x, -3: y})
	return append(out, key...)
}
