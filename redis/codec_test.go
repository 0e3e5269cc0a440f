package redis

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

const browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"

// roundTrip encodes s with a deadline at its expiry and decodes it back.
func roundTrip(t *testing.T, s *gatehouse.Session) storedSession {
	t.Helper()
	deadline := (s.ExpiresAt.UnixNano() + 999_999) / 1e6
	v := encodeSession(s, deadline)
	got, current, ok := decodeSession(string(s.Hash[:16]), v)
	if !current || !ok {
		t.Fatalf("decode(encode(%+v)) = current %v, ok %v", *s, current, ok)
	}
	if err := storetest.SameSession(&got.Session, s); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	if got.deadline != deadline || got.derived != (s.Handle == gatehouse.SessionHandle(s.Hash)) {
		t.Fatalf("deadline %d, derived %v; want %d, %v", got.deadline, got.derived, deadline, !got.derived)
	}
	return got
}

func TestCodecRoundTrip(t *testing.T) {
	base := testkit.Start().Add(123456789)
	edits := map[string]func(s *gatehouse.Session){
		"contract session":   func(s *gatehouse.Session) {},
		"derived handle":     func(s *gatehouse.Session) { s.Handle = gatehouse.SessionHandle(s.Hash) },
		"odd handle":         func(s *gatehouse.Session) { s.Handle = "not an id ✓" },
		"empty handle":       func(s *gatehouse.Session) { s.Handle = "" },
		"id user":            func(s *gatehouse.Session) { s.User.UserID = gatehouse.NewID(base) },
		"empty user":         func(s *gatehouse.Session) { s.User = gatehouse.Principal{} },
		"admin":              func(s *gatehouse.Session) { s.User.Role = gatehouse.RoleAdmin },
		"other role":         func(s *gatehouse.Session) { s.User.Role = "auditor" },
		"ipv4":               func(s *gatehouse.Session) { s.IP = "203.0.113.42" },
		"ipv4 in ipv6":       func(s *gatehouse.Session) { s.IP = "::ffff:203.0.113.42" },
		"ipv6 long form":     func(s *gatehouse.Session) { s.IP = "2001:db8:0:0:0:0:0:1" },
		"ipv6 zone":          func(s *gatehouse.Session) { s.IP = "fe80::1%eth0" },
		"ipv4 leading zeros": func(s *gatehouse.Session) { s.IP = "010.0.0.1" },
		"no ip":              func(s *gatehouse.Session) { s.IP = "" },
		"ip with port":       func(s *gatehouse.Session) { s.IP = "203.0.113.42:4000" },
		"browser":            func(s *gatehouse.Session) { s.UserAgent = browserUA },
		"control chars":      func(s *gatehouse.Session) { s.UserAgent = "a\x00b\x01curl/\x1f\x7f" },
		"no user agent":      func(s *gatehouse.Session) { s.UserAgent = "" },
		"long user agent":    func(s *gatehouse.Session) { s.UserAgent = strings.Repeat("Safari/é", 40) },
		"zero last seen":     func(s *gatehouse.Session) { s.LastSeenAt = time.Time{} },
		"zero created":       func(s *gatehouse.Session) { s.CreatedAt = time.Time{} },
		"created after":      func(s *gatehouse.Session) { s.CreatedAt = s.ExpiresAt.Add(time.Nanosecond) },
		"odd lifetime":       func(s *gatehouse.Session) { s.ExpiresAt = s.CreatedAt.Add(7*time.Hour + 3) },
		"minute lifetime":    func(s *gatehouse.Session) { s.ExpiresAt = s.CreatedAt.Add(90 * 24 * time.Hour) },
		"before 1970":        func(s *gatehouse.Session) { s.CreatedAt = time.Date(1960, 1, 1, 0, 0, 0, 1, time.UTC) }, // a value, not a clock
		"password":           func(s *gatehouse.Session) { s.AMR, s.User.Groups = gatehouse.MethodPassword, nil },
		"password, groups":   func(s *gatehouse.Session) { s.AMR = gatehouse.MethodPassword },
		"no methods, groups": func(s *gatehouse.Session) { s.AMR = 0 },
		"e-mail at username": func(s *gatehouse.Session) { s.User.Email = s.User.Username + "@example.org" },
		"e-mail is username": func(s *gatehouse.Session) { s.User.Email = s.User.Username },
		"username prefix":    func(s *gatehouse.Session) { s.User.Email = s.User.Username + ".x@example.org" },
		"empty username":     func(s *gatehouse.Session) { s.User.Username, s.User.Email = "", "@example.org" },
		"no e-mail":          func(s *gatehouse.Session) { s.User.Email = "" },
		"last seen later":    func(s *gatehouse.Session) { s.LastSeenAt = s.CreatedAt.Add(11 * time.Hour) },
		"seen after expiry":  func(s *gatehouse.Session) { s.LastSeenAt = s.ExpiresAt.Add(time.Nanosecond) },
		"long lifetime":      func(s *gatehouse.Session) { s.ExpiresAt = s.CreatedAt.Add(79 * time.Hour) },
		"on the millisecond": func(s *gatehouse.Session) { s.ExpiresAt = s.ExpiresAt.Truncate(time.Millisecond) },
	}
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			s := storetest.NewTestSession("u1", base)
			edit(s)
			roundTrip(t, s)
		})
	}
}

// TestCodecSize pins the size of a typical session, a browser session of the session manager
// signed in with a password (the shape of BenchmarkSessionMemory): format 3 must fit it in the
// 92 bytes whose string takes a 96-byte allocation in Redis, where format 2 took 108 (a
// 112-byte allocation). A second factor costs a byte, and an e-mail address that does not
// start with the username its length.
func TestCodecSize(t *testing.T) {
	now := time.Now()
	h := gatehouse.HashSecret(gatehouse.NewSecret())
	s := &gatehouse.Session{Hash: h, Handle: gatehouse.SessionHandle(h),
		User: gatehouse.Principal{UserID: gatehouse.NewID(now), Username: "user12345", Name: "User 12345",
			Email: "user12345@example.com", Role: gatehouse.RoleUser},
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour), IP: "203.0.113.42", UserAgent: browserUA,
		AMR: gatehouse.MethodPassword}
	roundTrip(t, s)
	deadline := ceilMillis(s.ExpiresAt.UnixNano())
	v := encodeSession(s, deadline)
	if v[0]&format3Mask != format3 || len(v) > 92 {
		t.Fatalf("a browser session takes %d bytes in format %#x, want at most 92 in format 3", len(v), v[0])
	}
	if n := len(encodeSession2(s, deadline)); n != 108 {
		t.Fatalf("format 2 takes %d bytes, want 108", n)
	}
	s.AMR |= gatehouse.MethodOTP
	if n := len(encodeSession(s, deadline)); n != len(v)+1 {
		t.Fatalf("with a second factor: %d bytes, want %d", n, len(v)+1)
	}
}

// TestCodecFormat: the session manager's sessions take format 3, and what it cannot hold
// (another deadline, a lifetime of 78 hours or more, times before 1970) format 2.
func TestCodecFormat(t *testing.T) {
	base := testkit.Start().Add(123456789)
	s := storetest.NewTestSession("u1", base)
	deadline := ceilMillis(s.ExpiresAt.UnixNano())
	format := func(s *gatehouse.Session, deadline int64) byte {
		v := encodeSession(s, deadline)
		if v[0]&format3Mask == format3 {
			return 3
		}
		return v[0]
	}
	if f := format(s, deadline); f != 3 {
		t.Fatalf("format %d, want 3", f)
	}
	if f := format(s, deadline-1); f != 2 {
		t.Fatalf("a deadline before the expiry: format %d, want 2", f)
	}
	long := *s
	long.ExpiresAt = long.LastSeenAt.Add(maxLastSeenRel)
	if f := format(&long, ceilMillis(long.ExpiresAt.UnixNano())); f != 2 {
		t.Fatalf("2^48 ns between last seen and expiry: format %d, want 2", f)
	}
	long.ExpiresAt = long.LastSeenAt.Add(maxLastSeenRel - 1)
	if f := format(&long, ceilMillis(long.ExpiresAt.UnixNano())); f != 3 {
		t.Fatalf("2^48-1 ns between last seen and expiry: format %d, want 3", f)
	}
}

func TestCodecRejects(t *testing.T) {
	s := storetest.NewTestSession("u1", time.Now())
	loc := string(s.Hash[:16])
	v := encodeSession(s, ceilMillis(s.ExpiresAt.UnixNano()))
	v2 := encodeSession2(s, s.ExpiresAt.UnixMilli()+1)
	for name, bad := range map[string]string{
		"format 1":        "\x01" + v[1:],
		"format 9":        "\x09" + v[1:],
		"format 2, short": v2[:20],
		"empty":           "",
	} {
		if _, current, _ := decodeSession(loc, bad); current {
			t.Errorf("%s: decoded as the current format", name)
		}
	}
	for name, bad := range map[string]string{
		"short":                    v[:20],
		"format 2, truncated":      v2[:40],
		"format 2, long length":    v2[:sessionHeaderLen+5] + "\xff\xff\xff\xff\x0f",
		"format 2, dangling escap": v2 + "\x00",
		"unknown method":           withAuth(s, "\x80\x02"),
		"bad groups":               withAuth(s, "\x07\x03B,a"),
		"empty groups":             withAuth(s, "\x07\x00"),
		"truncated":                v[:40],
		"long length":              v[:session3Header+5] + "\xff\xff\xff\xff\x0f",
		"bad unit":                 v[:session3Header] + "\x07" + v[session3Header+2:],
		"bad e-mail":               withEmail(s, "\x06"),
		"password and":             withFlag(withAuth(s, "\x02"), flag3Password),
		"dangling escap":           v + "\x00",
	} {
		if _, current, ok := decodeSession(loc, bad); !current || ok {
			t.Errorf("%s: current %v, ok %v; want a malformed value of the current format", name, current, ok)
		}
	}
}

// withAuth returns the format 3 value of s (which has no IP) with auth as the bytes of its
// methods and groups.
func withAuth(s *gatehouse.Session, auth string) string {
	c := *s
	c.IP, c.User.Groups, c.AMR = "", nil, gatehouse.MethodOTP
	v := encodeSession(&c, ceilMillis(c.ExpiresAt.UnixNano()))
	// The methods byte of a one-time code without groups is 0x04, just before the user agent.
	i := len(v) - len(uaOf(&c))
	return v[:i-1] + auth + v[i:]
}

// withEmail returns the format 3 value of s (which has no IP, no methods or groups, and an
// e-mail address of its own) with its e-mail field replaced by email.
func withEmail(s *gatehouse.Session, email string) string {
	c := *s
	c.IP, c.User.Groups, c.AMR = "", nil, 0
	v := encodeSession(&c, ceilMillis(c.ExpiresAt.UnixNano()))
	i := len(v) - len(uaOf(&c)) - 1 - len(c.User.Email)
	return v[:i] + email + v[i+1+len(c.User.Email):]
}

func withFlag(v string, flag byte) string { return string(v[0]|flag) + v[1:] }

// uaOf returns the stored form of the user agent of s (the tail of the value).
func uaOf(s *gatehouse.Session) string { return string(appendUserAgent(nil, s.UserAgent)) }

// TestCodecAuthFields: the sign-in methods and groups cost nothing when a session has neither
// (so a value written before they were recorded is still a valid value, and decodes with
// none), one byte for the methods alone, and the joined list for groups.
func TestCodecAuthFields(t *testing.T) {
	s := storetest.NewTestSession("u1", testkit.Start())
	deadline := s.ExpiresAt.UnixMilli() + 1
	s.User.Groups, s.AMR = nil, 0
	plain := encodeSession2(s, deadline)
	if plain[offFlags]&flagAuth != 0 {
		t.Fatal("a session without methods or groups sets flagAuth")
	}
	got := roundTrip(t, s)
	if got.AMR != 0 || got.User.Groups != nil {
		t.Fatalf("no methods or groups decode as %v, %#v", got.AMR, got.User.Groups)
	}
	s.AMR = gatehouse.MethodPassword | gatehouse.MethodOTP
	if n := len(encodeSession2(s, deadline)); n != len(plain)+1 {
		t.Fatalf("the methods take %d bytes, want 1", n-len(plain))
	}
	roundTrip(t, s)
	s.User.Groups = []string{"dev", "ops"}
	if n := len(encodeSession2(s, deadline)); n != len(plain)+1+1+len("dev,ops") {
		t.Fatalf("methods and groups take %d bytes, want %d", n-len(plain), 2+len("dev,ops"))
	}
	roundTrip(t, s)
	s.AMR = 0
	roundTrip(t, s)
}

// FuzzDecodeSession checks that no value makes the decoder panic, and that what it accepts
// encodes back to a value that decodes to the same session.
func FuzzDecodeSession(f *testing.F) {
	s := storetest.NewTestSession("u1", time.Now())
	f.Add(encodeSession(s, s.ExpiresAt.UnixMilli()+1))
	s.UserAgent, s.IP, s.Handle = browserUA, "10.0.0.1", gatehouse.SessionHandle(s.Hash)
	f.Add(encodeSession(s, s.ExpiresAt.UnixMilli()+1))
	s.AMR, s.User.Groups = gatehouse.MethodPassword, nil
	f.Add(encodeSession(s, ceilMillis(s.ExpiresAt.UnixNano())))
	s.User.Email, s.AMR = s.User.Username+"@example.org", gatehouse.MethodOTP
	f.Add(encodeSession(s, ceilMillis(s.ExpiresAt.UnixNano())))
	f.Fuzz(func(t *testing.T, v string) {
		loc := string(s.Hash[:16])
		got, current, ok := decodeSession(loc, v)
		if !current || !ok {
			return
		}
		again, current, ok := decodeSession(loc, encodeSession(&got.Session, got.deadline))
		if !current || !ok {
			t.Fatalf("re-encoded session does not decode")
		}
		if err := storetest.SameSession(&again.Session, &got.Session); err != nil {
			t.Fatal(err)
		}
	})
}

func TestUserAgentCodec(t *testing.T) {
	for _, ua := range []string{browserUA, "curl/8.5.0", "", "\x00", "Mozilla/5.0 (", "ééé", "Chrome/Chrome/"} {
		enc := string(appendUserAgent(nil, ua))
		got, ok := decodeUserAgent(enc)
		if !ok || got != ua {
			t.Errorf("%q: decoded %q, %v", ua, got, ok)
		}
	}
	if n := len(appendUserAgent(nil, browserUA)); n > 10 {
		t.Errorf("browser user agent compressed to %d bytes", n)
	}
}
