package refresh

import (
	"bytes"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// TestSealedRotationOpensOnlyWithTheOldSecret: the sealed pair opens with the old refresh
// secret and the family it was sealed for, and with nothing else.
func TestSealedRotationOpensOnlyWithTheOldSecret(t *testing.T) {
	old, other := gatehouse.NewSecret(), gatehouse.NewSecret()
	f := &gatehouse.RefreshFamily{ID: gatehouse.NewID(time.Now())}
	rot := Rotation{
		Issued:       Issued{AccessToken: "header.claims.signature", ExpiresAt: time.Unix(1900000000, 123456789)}, // a value, not a clock
		RefreshToken: gatehouse.NewSecret(), Family: f,
	}
	sealed, err := sealRotation(old, rot)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(rot.RefreshToken)) || bytes.Contains(sealed, []byte(rot.AccessToken)) {
		t.Fatal("the sealed blob holds a token in clear")
	}
	again, _ := sealRotation(old, rot)
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of one pair are equal: the nonce is not random")
	}
	got, err := openRotation(old, f, sealed)
	if err != nil || !got.Replay || got.RefreshToken != rot.RefreshToken || got.AccessToken != rot.AccessToken ||
		!got.ExpiresAt.Equal(rot.ExpiresAt) || got.Family != f {
		t.Fatalf("openRotation = %+v, %v", got, err)
	}
	otherFamily := &gatehouse.RefreshFamily{ID: gatehouse.NewID(time.Now())}
	for name, try := range map[string]func() (Rotation, error){
		"another secret":  func() (Rotation, error) { return openRotation(other, f, sealed) },
		"another family":  func() (Rotation, error) { return openRotation(old, otherFamily, sealed) },
		"another version": func() (Rotation, error) { return openRotation(old, f, append([]byte{2}, sealed[1:]...)) },
		"truncated":       func() (Rotation, error) { return openRotation(old, f, sealed[:len(sealed)-1]) },
		"empty":           func() (Rotation, error) { return openRotation(old, f, []byte{}) },
	} {
		if got, err := try(); err == nil || got.RefreshToken != "" {
			t.Errorf("%s: %+v, %v; want an error", name, got, err)
		}
	}
}
