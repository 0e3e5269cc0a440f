package token

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

func sealedFile(t *testing.T, path string, kek []byte) KeyStorage {
	t.Helper()
	st, err := SealedStorage(FileStorage(path), kek)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func mustKEK(t *testing.T) []byte {
	t.Helper()
	kek, err := ParseKEK([]byte(NewKEK()))
	if err != nil {
		t.Fatal(err)
	}
	return kek
}

// TestSealedStorage keeps keys encrypted at rest: the stored bytes show no key, a set opened
// again with the same key-encryption key has the same keys and signs alike, and rotation and
// retirement go through the seal.
func TestSealedStorage(t *testing.T) {
	clock := newTestClock()
	path := filepath.Join(t.TempDir(), "sealed")
	kek := mustKEK(t)
	ks, err := OpenKeySet(sealedFile(t, path, kek), KeyOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	if !bytes.HasPrefix(raw, sealMagic) || bytes.Contains(raw, []byte(ks.SigningKID())) || bytes.Contains(raw, []byte(`"key"`)) {
		t.Fatalf("the stored document is not sealed: %q", raw)
	}
	if _, err := ks.Rotate(); err != nil {
		t.Fatal(err)
	}
	again, err := OpenKeySet(sealedFile(t, path, kek), KeyOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.KIDs(), ks.KIDs()) || len(ks.KIDs()) != 2 {
		t.Fatalf("kids %v, then %v", ks.KIDs(), again.KIDs())
	}
	svc := mustService(t, ks, clock, nil)
	tok, _, err := svc.Issue(testPrincipal, "", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mustService(t, again, clock, nil).Verify(tok); err != nil {
		t.Fatalf("a token of the first set does not verify with the reopened one: %v", err)
	}
	clock.Advance(time.Hour)
	if ch, err := again.Maintain(KeyPolicy{RetireAfter: time.Minute}); err != nil || len(ch.Retired) != 1 {
		t.Fatalf("Maintain: %+v %v", ch, err)
	}
	if changed, err := ks.Reload(); err != nil || !changed || len(ks.KIDs()) != 1 {
		t.Fatalf("Reload after a retirement through the seal: %v %v %v", changed, err, ks.KIDs())
	}
}

// TestSealedStorageRefusesAWrongKEK: a wrong key-encryption key, or an altered document, is
// an error naming the problem, and nothing is stored over the existing keys.
func TestSealedStorageRefusesAWrongKEK(t *testing.T) {
	clock := newTestClock()
	path := filepath.Join(t.TempDir(), "sealed")
	kek := mustKEK(t)
	if _, err := OpenKeySet(sealedFile(t, path, kek), KeyOptions{Now: clock.Now}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	wrong := sealedFile(t, path, mustKEK(t))
	for _, f := range []func() error{
		func() error { _, err := OpenKeySet(wrong, KeyOptions{Now: clock.Now}); return err },
		func() error { _, err := RotateKeys(wrong, KeyOptions{Now: clock.Now}); return err },
		func() error { _, _, err := ReadKeys(wrong); return err },
	} {
		if err := f(); !errors.Is(err, ErrWrongKEK) {
			t.Fatalf("wrong key-encryption key: %v", err)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("the stored keys changed")
	}
	altered := bytes.Clone(before)
	altered[len(altered)-1] ^= 1
	if err := os.WriteFile(path, altered, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadKeys(sealedFile(t, path, kek)); !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("altered document: %v", err)
	}
	// A plain key file is not a sealed one.
	plain := filepath.Join(t.TempDir(), "keys.json")
	if _, err := LoadKeySet(plain, KeyOptions{Now: clock.Now}); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeySet(sealedFile(t, plain, mustKEK(t)), KeyOptions{Now: clock.Now}); err == nil || !strings.Contains(err.Error(), "another format") {
		t.Fatalf("a plain key file opened as sealed: %v", err)
	}
	if _, err := SealedStorage(FileStorage(plain), make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte key-encryption key was accepted")
	}
}

// TestCopyKeys copies a key file into an empty storage, does nothing when the same keys are
// there already, and refuses a storage with other keys.
func TestCopyKeys(t *testing.T) {
	clock := newTestClock()
	src := mustKeySet(t, AlgEdDSA, clock)
	doc, kids, err := ReadKeys(src.Storage())
	if err != nil || !slices.Equal(kids, src.KIDs()) {
		t.Fatalf("ReadKeys: %v %v", kids, err)
	}
	dst := sealedFile(t, filepath.Join(t.TempDir(), "sealed"), mustKEK(t))
	if _, err := dst.Load(); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("Load of an empty storage: %v", err)
	}
	for range 2 {
		if err := CopyKeys(doc, dst); err != nil {
			t.Fatal(err)
		}
	}
	ks, err := OpenKeySet(dst, KeyOptions{Now: clock.Now})
	if err != nil || !slices.Equal(ks.KIDs(), kids) {
		t.Fatalf("copied keys: %v %v", ks.KIDs(), err)
	}
	other := mustKeySet(t, AlgEdDSA, clock)
	otherDoc, _, _ := ReadKeys(other.Storage())
	if err := CopyKeys(otherDoc, dst); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("copy over other keys: %v", err)
	}
	if err := CopyKeys([]byte(`{"version":1,"keys":[{}]}`), sealedFile(t, filepath.Join(t.TempDir(), "x"), mustKEK(t))); err == nil {
		t.Fatal("an invalid document was copied")
	}
}

func TestParseKEK(t *testing.T) {
	key := bytes.Repeat([]byte{0xfb}, KEKSize)
	for _, text := range []string{
		"+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/s=\n", "+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/v7+/s",
		"-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_v7-_s=", "  " + hex.EncodeToString(key) + "\r\n",
	} {
		if got, err := ParseKEK([]byte(text)); err != nil || !bytes.Equal(got, key) {
			t.Errorf("ParseKEK(%q) = %x, %v", text, got, err)
		}
	}
	for _, text := range []string{"", "short", strings.Repeat("A", 44), hex.EncodeToString(key[:16]), "zz" + hex.EncodeToString(key)[2:]} {
		if _, err := ParseKEK([]byte(text)); err == nil {
			t.Errorf("ParseKEK(%q) accepted", text)
		}
	}
}

// TestReseal moves sealed keys to a new key-encryption key: the new one opens them, the old
// one no longer does, and the keys are the same.
func TestReseal(t *testing.T) {
	clock := newTestClock()
	path := filepath.Join(t.TempDir(), "sealed")
	oldKEK, newKEK := mustKEK(t), mustKEK(t)
	ks, err := OpenKeySet(sealedFile(t, path, oldKEK), KeyOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := Reseal(sealedFile(t, path, oldKEK), sealedFile(t, path, newKEK)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadKeys(sealedFile(t, path, oldKEK)); !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("the old key-encryption key still opens the keys: %v", err)
	}
	_, kids, err := ReadKeys(sealedFile(t, path, newKEK))
	if err != nil || !slices.Equal(kids, ks.KIDs()) {
		t.Fatalf("after Reseal: %v %v; want %v", kids, err, ks.KIDs())
	}
	before, _ := os.ReadFile(path)
	if err := Reseal(sealedFile(t, path, oldKEK), sealedFile(t, path, mustKEK(t))); !errors.Is(err, ErrWrongKEK) {
		t.Fatalf("Reseal with a wrong key-encryption key: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a refused Reseal changed the stored keys")
	}
}
