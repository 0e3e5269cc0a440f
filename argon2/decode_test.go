package argon2_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse/argon2"
)

var (
	b64   = base64.RawStdEncoding.EncodeToString
	saltS = b64(bytes.Repeat([]byte{1}, 16)) // "AQEBAQEBAQEBAQEBAQEBAQ"
	keyS  = b64(bytes.Repeat([]byte{2}, 32))
	good  = "$argon2id$v=19$m=64,t=1,p=1$" + saltS + "$" + keyS
)

func withCosts(costs string) string { return "$argon2id$v=19$" + costs + "$" + saltS + "$" + keyS }
func withSalt(s string) string      { return "$argon2id$v=19$m=64,t=1,p=1$" + s + "$" + keyS }
func withKey(k string) string       { return "$argon2id$v=19$m=64,t=1,p=1$" + saltS + "$" + k }

var malformed = map[string]string{
	"empty":                  "",
	"dollar":                 "$",
	"no leading dollar":      strings.TrimPrefix(good, "$"),
	"leading space":          " " + good,
	"trailing newline":       good + "\n",
	"trailing dollar":        good + "$",
	"extra field":            good + "$AAAA",
	"missing key":            "$argon2id$v=19$m=64,t=1,p=1$" + saltS,
	"argon2i":                strings.Replace(good, "argon2id", "argon2i", 1),
	"argon2d":                strings.Replace(good, "argon2id", "argon2d", 1),
	"upper-case algorithm":   strings.Replace(good, "argon2id", "ARGON2ID", 1),
	"bcrypt":                 "$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ012",
	"missing version":        "$argon2id$m=64,t=1,p=1$" + saltS + "$" + keyS,
	"version 16":             strings.Replace(good, "v=19", "v=16", 1),
	"version 019":            strings.Replace(good, "v=19", "v=019", 1),
	"version 20":             strings.Replace(good, "v=19", "v=20", 1),
	"version after costs":    "$argon2id$m=64,t=1,p=1,v=19$" + saltS + "$" + keyS,
	"costs out of order":     withCosts("t=1,m=64,p=1"),
	"missing p":              withCosts("m=64,t=1"),
	"missing m":              withCosts("t=1,p=1"),
	"repeated m":             withCosts("m=64,m=64,t=1"),
	"keyid":                  withCosts("m=64,t=1,p=1,keyid=AAAA"),
	"data":                   withCosts("m=64,t=1,p=1,data=AAAA"),
	"trailing comma":         withCosts("m=64,t=1,p=1,"),
	"double comma":           withCosts("m=64,,t=1,p=1"),
	"space in costs":         withCosts("m=64, t=1,p=1"),
	"semicolons":             withCosts("m=64;t=1;p=1"),
	"upper-case M":           withCosts("M=64,t=1,p=1"),
	"leading zero":           withCosts("m=064,t=1,p=1"),
	"zero padding t":         withCosts("m=64,t=01,p=1"),
	"plus sign":              withCosts("m=+64,t=1,p=1"),
	"negative memory":        withCosts("m=-64,t=1,p=1"),
	"hex memory":             withCosts("m=0x40,t=1,p=1"),
	"underscore in number":   withCosts("m=6_4,t=1,p=1"),
	"fullwidth digits":       withCosts("m=６４,t=1,p=1"),
	"empty memory":           withCosts("m=,t=1,p=1"),
	"memory overflows":       withCosts("m=4294967296,t=1,p=1"),
	"memory huge":            withCosts("m=99999999999999999999999999,t=1,p=1"),
	"memory 1 GiB + 1 KiB":   withCosts("m=1048577,t=1,p=1"),
	"memory 4 GiB - 1 KiB":   withCosts("m=4294967295,t=1,p=1"),
	"memory below 8p":        withCosts("m=15,t=1,p=2"),
	"memory zero":            withCosts("m=0,t=1,p=1"),
	"time zero":              withCosts("m=64,t=0,p=1"),
	"time 101":               withCosts("m=64,t=101,p=1"),
	"time max uint32":        withCosts("m=64,t=4294967295,p=1"),
	"threads zero":           withCosts("m=64,t=1,p=0"),
	"threads 65":             withCosts("m=1024,t=1,p=65"),
	"threads 255":            withCosts("m=4096,t=1,p=255"),
	"threads 256 wraps":      withCosts("m=4096,t=1,p=256"),
	"threads 257 wraps to 1": withCosts("m=4096,t=1,p=257"),
	"empty salt":             withSalt(""),
	"salt 4 bytes":           withSalt(b64([]byte("four"))),
	"salt 7 bytes":           withSalt(b64([]byte("sevensa"))),
	"salt 65 bytes":          withSalt(b64(bytes.Repeat([]byte{7}, 65))),
	"empty key":              withKey(""),
	"key 8 bytes":            withKey(b64(bytes.Repeat([]byte{3}, 8))),
	"key 15 bytes":           withKey(b64(bytes.Repeat([]byte{3}, 15))),
	"key 129 bytes":          withKey(b64(bytes.Repeat([]byte{3}, 129))),
	"padded salt":            withSalt(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 16))),
	"padded key":             withKey(base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))),
	"url alphabet salt":      withSalt(base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, 16))),
	"non-canonical salt":     withSalt(saltS[:len(saltS)-1] + "R"),
	"salt length 1 mod 4":    withSalt(saltS[:21]),
	"newline in salt":        withSalt(saltS[:10] + "\n" + saltS[10:]),
	"CR in key":              withKey(keyS[:10] + "\r" + keyS[10:]),
	"NUL in key":             withKey(keyS[:10] + "\x00" + keyS[10:]),
	"space in salt":          withSalt(saltS[:10] + " " + saltS[10:]),
	"non-ASCII in salt":      withSalt(saltS[:10] + "é" + saltS[10:]),
	"over 512 bytes":         withSalt(strings.Repeat("A", 600)),
	"megabyte":               strings.Repeat("$", 1<<20),
}

func TestDecodeRejects(t *testing.T) {
	if _, _, _, err := argon2.Decode(good); err != nil {
		t.Fatalf("Decode(good) = %v; the table's base case must be valid", err)
	}
	for name, enc := range malformed {
		p, salt, key, err := argon2.Decode(enc)
		if !errors.Is(err, argon2.ErrInvalidHash) {
			t.Errorf("%s: Decode(%q) error = %v, want ErrInvalidHash", name, enc, err)
		}
		if p != (argon2.Params{}) || salt != nil || key != nil {
			t.Errorf("%s: Decode returned values with its error: %+v, %x, %x", name, p, salt, key)
		}
	}
}

// TestDecodeHugeInputIsCheap checks that Decode looks at the length before splitting: a
// megabyte of "$" would otherwise become a million-element slice.
func TestDecodeHugeInputIsCheap(t *testing.T) {
	_, _, _, err := argon2.Decode(strings.Repeat("$", 1<<20))
	if err == nil || !strings.Contains(err.Error(), "longer than 512 bytes") {
		t.Fatalf("Decode(1 MiB) = %v, want the length limit as the reason", err)
	}
}

func TestDecodeAcceptsLimits(t *testing.T) {
	cases := map[string]argon2.Params{
		good:                              {Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		withCosts("m=1048576,t=100,p=64"): {Memory: argon2.MaxMemory, Time: argon2.MaxTime, Threads: argon2.MaxThreads, SaltLen: 16, KeyLen: 32},
		withCosts("m=512,t=1,p=64"):       {Memory: 512, Time: 1, Threads: 64, SaltLen: 16, KeyLen: 32},
		withCosts("m=8,t=1,p=1"):          {Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		"$argon2id$v=19$m=64,t=1,p=1$" + b64(make([]byte, 8)) + "$" + b64(make([]byte, 16)):   {Memory: 64, Time: 1, Threads: 1, SaltLen: 8, KeyLen: 16},
		"$argon2id$v=19$m=64,t=1,p=1$" + b64(make([]byte, 64)) + "$" + b64(make([]byte, 128)): {Memory: 64, Time: 1, Threads: 1, SaltLen: 64, KeyLen: 128},
	}
	for enc, want := range cases {
		p, salt, key, err := argon2.Decode(enc)
		if err != nil || p != want || uint32(len(salt)) != want.SaltLen || uint32(len(key)) != want.KeyLen {
			t.Errorf("Decode(%s) = %+v, %d, %d, %v; want %+v", enc, p, len(salt), len(key), err, want)
		}
	}
}

// FuzzDecode checks that Decode never panics and that whatever it accepts is canonical: it
// encodes back to the very same string, within the limits.
func FuzzDecode(f *testing.F) {
	f.Add(good)
	for _, enc := range referenceVectors {
		f.Add(enc)
	}
	for _, enc := range malformed {
		if len(enc) < 1000 {
			f.Add(enc)
		}
	}
	f.Fuzz(func(t *testing.T, enc string) {
		p, salt, key, err := argon2.Decode(enc)
		if err != nil {
			if !errors.Is(err, argon2.ErrInvalidHash) {
				t.Fatalf("error %v does not wrap ErrInvalidHash", err)
			}
			return
		}
		if verr := p.Validate(); verr != nil {
			t.Fatalf("accepted params fail Validate: %v", verr)
		}
		if uint32(len(salt)) != p.SaltLen || uint32(len(key)) != p.KeyLen {
			t.Fatalf("lengths %d, %d disagree with params %+v", len(salt), len(key), p)
		}
		if again := argon2.Encode(p, salt, key); again != enc {
			t.Fatalf("not canonical: Decode(%q) encodes back as %q", enc, again)
		}
	})
}
