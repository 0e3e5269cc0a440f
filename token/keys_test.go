package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/golang-jwt/jwt/v5"
)

func TestLoadKeySetCreates(t *testing.T) {
	for _, alg := range testAlgs {
		t.Run(alg, func(t *testing.T) {
			clock := newTestClock()
			dir := filepath.Join(t.TempDir(), "data")
			path := filepath.Join(dir, "keys.json")
			ks, err := LoadKeySet(path, KeyOptions{Alg: alg, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			assertMode(t, path, 0o600)
			assertMode(t, dir, 0o700)
			if kids := ks.KIDs(); len(kids) != 1 || kids[0] != ks.SigningKID() || len(kids[0]) != 16 {
				t.Fatalf("kids = %v, signing %q", kids, ks.SigningKID())
			}
			raw, _ := os.ReadFile(path)
			var f keyFile
			if err := json.Unmarshal(raw, &f); err != nil || len(f.Keys) != 1 || f.Keys[0].Alg != alg ||
				!f.Keys[0].CreatedAt.Equal(clock.Now().Truncate(time.Second)) {
				t.Fatalf("file = %s, %v", raw, err)
			}
			// Loading again keeps the same key and does not rewrite the file.
			again, err := LoadKeySet(path, KeyOptions{Alg: alg, Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(again.KIDs(), ks.KIDs()) || again.SigningKID() != ks.SigningKID() {
				t.Fatalf("reloaded kids %v, want %v", again.KIDs(), ks.KIDs())
			}
			if raw2, _ := os.ReadFile(path); !bytes.Equal(raw, raw2) {
				t.Fatal("loading an existing file rewrote it")
			}
			// A token signed before the reload verifies after it.
			tok, _ := mustIssue(t, mustService(t, ks, clock, nil), clock)
			if _, err := mustService(t, again, clock, nil).Verify(tok); err != nil {
				t.Fatalf("verify with reloaded keys: %v", err)
			}
		})
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != want {
		t.Fatalf("%s mode %04o, want %04o", path, got, want)
	}
}

// writeRaw writes a key file by hand with the given mode.
func writeRaw(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // WriteFile's mode is subject to the umask
		t.Fatal(err)
	}
	return path
}

func keyFileJSON(keys ...fileKey) string {
	b, _ := json.Marshal(keyFile{Version: 1, Keys: keys})
	return string(b)
}

func keyOfLen(kid, alg string, n int) fileKey {
	return fileKey{KID: kid, Alg: alg, CreatedAt: time.Unix(1, 0).UTC(), Key: base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, n))}
}

func TestLoadKeySetRejects(t *testing.T) {
	good := keyFileJSON(keyOfLen("k1", AlgEdDSA, 32))
	cases := []struct {
		name, content string
		mode          os.FileMode
		opts          KeyOptions
		want          string
	}{
		{"corrupt", `{"version":1,"keys":[`, 0o600, KeyOptions{}, "corrupt"},
		{"not JSON", "hello", 0o600, KeyOptions{}, "corrupt"},
		{"empty file", "", 0o600, KeyOptions{}, "corrupt"},
		{"trailing data", good + "{}", 0o600, KeyOptions{}, "corrupt"},
		{"unknown field", `{"version":1,"keys":[],"extra":1}`, 0o600, KeyOptions{}, "corrupt"},
		{"wrong version", `{"version":2,"keys":[]}`, 0o600, KeyOptions{}, "version"},
		{"world readable", good, 0o644, KeyOptions{}, "chmod 600"},
		{"group readable", good, 0o640, KeyOptions{}, "chmod 600"},
		{"other writable", good, 0o602, KeyOptions{}, "chmod 600"},
		{"short Ed25519 seed", keyFileJSON(keyOfLen("k1", AlgEdDSA, 16)), 0o600, KeyOptions{}, "seed"},
		{"short ES256 key", keyFileJSON(keyOfLen("k1", AlgES256, 31)), 0o600, KeyOptions{Alg: AlgES256}, "P-256"},
		{"short HS256 secret", keyFileJSON(keyOfLen("k1", AlgHS256, 31)), 0o600, KeyOptions{Alg: AlgHS256}, "at least 32 bytes"},
		{"ES256 scalar zero", keyFileJSON(keyOfLen("k1", AlgES256, 0)), 0o600, KeyOptions{Alg: AlgES256}, "P-256"},
		{"unknown alg", keyFileJSON(keyOfLen("k1", "PS256", 32)), 0o600, KeyOptions{}, "unsupported alg"},
		{"RS256 not a key", keyFileJSON(keyOfLen("k1", AlgRS256, 32)), 0o600, KeyOptions{}, "invalid RSA private key"},
		{"alg none", keyFileJSON(keyOfLen("k1", "none", 32)), 0o600, KeyOptions{}, "unsupported alg"},
		{"empty kid", keyFileJSON(keyOfLen("", AlgEdDSA, 32)), 0o600, KeyOptions{}, "kid"},
		{"duplicate kid", keyFileJSON(keyOfLen("k1", AlgEdDSA, 32), keyOfLen("k1", AlgEdDSA, 32)), 0o600, KeyOptions{}, "duplicate"},
		{"bad base64", strings.Replace(good, `"key":"`, `"key":"!`, 1), 0o600, KeyOptions{}, "base64"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := writeRaw(t, tc.content, tc.mode)
			tc.opts.Now = newTestClock().Now
			_, err := LoadKeySet(path, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
			if raw, _ := os.ReadFile(path); string(raw) != tc.content {
				t.Fatalf("the file was changed to %s", raw)
			}
		})
	}
}

func TestLoadKeySetUnreadable(t *testing.T) {
	// A directory where the file should be cannot be read, even by root.
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeySet(path, KeyOptions{}); err == nil {
		t.Fatal("LoadKeySet on a directory succeeded")
	}
	if os.Geteuid() != 0 { // root reads files whatever their mode
		path := writeRaw(t, keyFileJSON(keyOfLen("k1", AlgEdDSA, 32)), 0o000)
		if _, err := LoadKeySet(path, KeyOptions{}); err == nil || !strings.Contains(err.Error(), "cannot read") {
			t.Fatalf("unreadable file: %v", err)
		}
	}
}

func TestBadOptions(t *testing.T) {
	dir := t.TempDir()
	_, err := LoadKeySet(filepath.Join(dir, "k.json"), KeyOptions{Alg: AlgHS256, HMACSecret: bytes.Repeat([]byte("s"), 31)})
	if err == nil || err.Error() != "token: HS256 secret must be at least 32 bytes" {
		t.Fatalf("short secret: %v", err)
	}
	for _, alg := range []string{"none", "RS256", "eddsa"} {
		if _, err := LoadKeySet(filepath.Join(dir, "k.json"), KeyOptions{Alg: alg}); err == nil {
			t.Fatalf("alg %q accepted", alg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "k.json")); !os.IsNotExist(err) {
		t.Fatalf("a rejected configuration created the file: %v", err)
	}
}

func TestHS256Secret(t *testing.T) {
	clock := newTestClock()
	path := filepath.Join(t.TempDir(), "keys.json")
	secret := []byte("0123456789abcdef0123456789abcdef-configured")
	ks, err := LoadKeySet(path, KeyOptions{Alg: AlgHS256, HMACSecret: secret, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := mustIssue(t, mustService(t, ks, clock, nil), clock)
	// Another service that knows only the configured secret can check the signature.
	if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(clock.Now)); err != nil {
		t.Fatalf("verify with the configured secret: %v", err)
	}
	if string(ks.JWKS()) != `{"keys":[]}` {
		t.Fatalf("JWKS shows the HMAC key: %s", ks.JWKS())
	}
	if _, err := ks.Rotate(); err == nil {
		t.Fatal("Rotate with a configured secret succeeded")
	}
	// A changed secret in the configuration becomes the signing key; the old one still verifies.
	secret2 := []byte("another-secret-of-at-least-32-bytes!!")
	ks2, err := LoadKeySet(path, KeyOptions{Alg: AlgHS256, HMACSecret: secret2, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if len(ks2.KIDs()) != 2 || ks2.SigningKID() == ks.SigningKID() || !bytes.Equal(ks2.signingKey().secret, secret2) {
		t.Fatalf("kids %v, signing %s", ks2.KIDs(), ks2.SigningKID())
	}
	if _, err := mustService(t, ks2, clock, nil).Verify(tok); err != nil {
		t.Fatalf("old HS256 token after secret change: %v", err)
	}
}

func TestHS256GeneratedSecret(t *testing.T) {
	clock := newTestClock()
	path := filepath.Join(t.TempDir(), "keys.json")
	ks, err := LoadKeySet(path, KeyOptions{Alg: AlgHS256, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	k := ks.signingKey()
	if len(k.secret) != 32 || bytes.Equal(k.secret, make([]byte, 32)) {
		t.Fatalf("generated secret %x", k.secret)
	}
	again, err := LoadKeySet(path, KeyOptions{Alg: AlgHS256, Now: clock.Now})
	if err != nil || !bytes.Equal(again.signingKey().secret, k.secret) {
		t.Fatalf("the generated secret was not kept: %v", err)
	}
}

func TestLoadKeySetAddsMissingAlg(t *testing.T) {
	clock := newTestClock()
	ed := mustKeySet(t, AlgEdDSA, clock)
	es, err := LoadKeySet(ed.Path(), KeyOptions{Alg: AlgES256, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if kids := es.KIDs(); len(kids) != 2 || kids[0] != ed.SigningKID() || kids[1] != es.SigningKID() {
		t.Fatalf("kids = %v", kids)
	}
	if es.SigningAlg() != AlgES256 || es.signingKey().alg != AlgES256 {
		t.Fatal("signing key is not ES256")
	}
}

func TestRotate(t *testing.T) {
	for _, alg := range testAlgs {
		t.Run(alg, func(t *testing.T) {
			clock := newTestClock()
			ks := mustKeySet(t, alg, clock)
			s := mustService(t, ks, clock, nil)
			oldTok, _ := mustIssue(t, s, clock)
			oldKID := ks.SigningKID()
			kid, err := ks.Rotate()
			if err != nil {
				t.Fatal(err)
			}
			if kid == oldKID || ks.SigningKID() != kid || !slices.Equal(ks.KIDs(), []string{oldKID, kid}) {
				t.Fatalf("after rotate: kids %v, signing %s, returned %s", ks.KIDs(), ks.SigningKID(), kid)
			}
			assertMode(t, ks.Path(), 0o600)
			newTok, _ := mustIssue(t, s, clock)
			if h := decodeSegment(t, newTok, 0); h["kid"] != kid {
				t.Fatalf("new token kid %v, want %s", h["kid"], kid)
			}
			for _, tok := range []string{oldTok, newTok} {
				if _, err := s.Verify(tok); err != nil {
					t.Fatalf("verify after rotate: %v", err)
				}
			}
			// The file holds both keys: a fresh load signs with the new one.
			again, err := LoadKeySet(ks.Path(), KeyOptions{Alg: alg, Now: clock.Now})
			if err != nil || again.SigningKID() != kid || len(again.KIDs()) != 2 {
				t.Fatalf("reload after rotate: %v, %v", again.KIDs(), err)
			}
		})
	}
}

// TestRotateFileAndReload: the CLI rotates the file while a server runs; the server's Reload
// picks the new key up, and a token naming it verifies even before the ticker runs.
func TestRotateFileAndReload(t *testing.T) {
	clock := newTestClock()
	server := mustKeySet(t, AlgEdDSA, clock)
	if changed, err := server.Reload(); err != nil || changed {
		t.Fatalf("Reload of an unchanged file = %v, %v", changed, err)
	}
	kid, err := RotateFile(server.Path(), KeyOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	// A second rotation by the server itself must not lose the CLI's key.
	kid2, err := server.Rotate()
	if err != nil {
		t.Fatal(err)
	}
	if kids := server.KIDs(); len(kids) != 3 || kids[1] != kid || kids[2] != kid2 {
		t.Fatalf("kids = %v, want [_ %s %s]", kids, kid, kid2)
	}
	if changed, err := server.Reload(); err != nil || changed {
		t.Fatalf("Reload after own rotation = %v, %v", changed, err)
	}
	kid3, err := RotateFile(server.Path(), KeyOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := server.Reload(); err != nil || !changed || server.SigningKID() != kid3 {
		t.Fatalf("Reload = %v, %v; signing %s, want %s", changed, err, server.SigningKID(), kid3)
	}
}

func TestReloadKeepsKeysOnError(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	kids := ks.KIDs()
	for _, bad := range []string{"garbage", keyFileJSON(keyOfLen("k1", AlgES256, 32))} {
		if err := os.WriteFile(ks.Path(), []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ks.Reload(); err == nil {
			t.Fatalf("Reload of %q succeeded", bad)
		}
		if !slices.Equal(ks.KIDs(), kids) {
			t.Fatalf("kids changed to %v", ks.KIDs())
		}
	}
	os.Chmod(ks.Path(), 0o644)
	if _, err := ks.Reload(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("Reload of a world-readable file: %v", err)
	}
}

// TestUnknownKIDReload: a token from a key rotated in by another process verifies once the
// key set reloads on the unknown kid, at most once a second.
func TestUnknownKIDReload(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	s := mustService(t, ks, clock, nil)
	other := func() string { // another instance rotates and issues with the new key
		t.Helper()
		if _, err := RotateFile(ks.Path(), KeyOptions{Now: clock.Now}); err != nil {
			t.Fatal(err)
		}
		o, err := LoadKeySet(ks.Path(), KeyOptions{Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := mustIssue(t, mustService(t, o, clock, nil), clock)
		return tok
	}
	if _, err := s.Verify(other()); err != nil {
		t.Fatalf("token with a newly rotated kid: %v", err)
	}
	tok := other()
	_, err := s.Verify(tok)
	wantErr(t, err, gatehouse.ErrInvalidToken) // second reload within the same second: refused
	clock.Advance(time.Second)
	if _, err := s.Verify(tok); err != nil {
		t.Fatalf("a second later: %v", err)
	}
}

// TestConcurrentFirstStart: processes starting at once on a missing file end up with one key.
func TestConcurrentFirstStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "keys.json")
	sets := make([]*KeySet, 8)
	errs := make([]error, len(sets))
	var wg sync.WaitGroup
	for i := range sets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sets[i], errs[i] = LoadKeySet(path, KeyOptions{})
		}()
	}
	wg.Wait()
	for i, ks := range sets {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if kids := ks.KIDs(); len(kids) != 1 || kids[0] != sets[0].SigningKID() {
			t.Fatalf("set %d has kids %v, set 0 signs with %s", i, kids, sets[0].SigningKID())
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".keys-*")); len(matches) != 0 {
		t.Fatalf("temporary files left: %v", matches)
	}
}
