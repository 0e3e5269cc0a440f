package refresh

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// The reuse grace hands a replayed refresh token the very pair its rotation produced, so that
// pair must survive the rotation, in a store that may keep only hashes of refresh tokens. The
// Refresher therefore seals the pair under a key that only a holder of the OLD refresh token
// can derive (HKDF-SHA256 of its secret, which the server never stores), and the store keeps
// the sealed blob with the old token's hash until the family's next rotation. Reading the
// store without the old secret yields neither token; holding the old secret without the store
// yields nothing either; the store hands the blob out only within the grace.

// sealVersion is the first byte of a sealed pair, naming this format.
const sealVersion = 1

// sealInfo is the HKDF "info" of the sealing key, binding it to this use.
const sealInfo = "gatehouse refresh-reuse-grace v1"

// sealedPair is what a sealed blob holds: the new refresh token, the access token and its
// expiry (Unix nanoseconds), all a replay needs to answer exactly as the rotation did.
type sealedPair struct {
	Refresh   string `json:"r"`
	Access    string `json:"a"`
	ExpiresAt int64  `json:"e"`
}

var errSealedPair = errors.New("refresh: the sealed result of the refresh token's rotation does not open")

// sealAEAD returns AES-256-GCM (random 96-bit nonces, prepended) under the key derived from
// the refresh token secret.
func sealAEAD(secret string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, sealInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// sealAD is the additional data of a sealed pair: the format and the family it belongs to.
func sealAD(familyID string) []byte { return append([]byte{sealVersion}, familyID...) }

// sealRotation encrypts rot's pair under the key derived from the old secret, bound to rot's family.
func sealRotation(oldSecret string, rot Rotation) ([]byte, error) {
	aead, err := sealAEAD(oldSecret)
	if err != nil {
		return nil, fmt.Errorf("refresh: seal refresh rotation: %w", err)
	}
	plain, err := json.Marshal(sealedPair{Refresh: rot.RefreshToken, Access: rot.AccessToken, ExpiresAt: rot.ExpiresAt.UnixNano()})
	if err != nil {
		return nil, fmt.Errorf("refresh: seal refresh rotation: %w", err)
	}
	return aead.Seal([]byte{sealVersion}, nil, plain, sealAD(rot.Family.ID)), nil
}

// openRotation decrypts the pair that a rotation of oldSecret in family f sealed, for a replay.
func openRotation(oldSecret string, f *gatehouse.RefreshFamily, sealed []byte) (Rotation, error) {
	aead, err := sealAEAD(oldSecret)
	if err != nil {
		return Rotation{}, fmt.Errorf("refresh: open refresh rotation: %w", err)
	}
	if len(sealed) < 1 || sealed[0] != sealVersion {
		return Rotation{}, errSealedPair
	}
	plain, err := aead.Open(nil, nil, sealed[1:], sealAD(f.ID))
	if err != nil {
		return Rotation{}, errSealedPair
	}
	var p sealedPair
	if err := json.Unmarshal(plain, &p); err != nil || !gatehouse.ValidSecret(p.Refresh) || p.Access == "" {
		return Rotation{}, errSealedPair
	}
	return Rotation{
		Issued:       Issued{AccessToken: p.Access, ExpiresAt: time.Unix(0, p.ExpiresAt)},
		RefreshToken: p.Refresh, Family: f, Replay: true,
	}, nil
}
