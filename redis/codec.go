package redis

import (
	"encoding/binary"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// A session is stored as one compact binary string:
//
//	[0]      format version (1)
//	[1:9]    LastSeenAt, Unix nanoseconds, big-endian (fixed offset: TouchSession overwrites it)
//	[9:17]   CreatedAt
//	[17:25]  ExpiresAt (absolute; the touch script reads it to cap the TTL)
//	then Handle, UserID, Username, Name, Email, Role, IP, UserAgent, each as a uvarint length
//	followed by the bytes.
const (
	sessionFormat    = 1
	offLastSeen      = 1
	offCreated       = 9
	offExpires       = 17
	sessionHeaderLen = 25
)

func putNanos(b []byte, t time.Time) {
	var n int64
	if !t.IsZero() {
		n = t.UnixNano()
	}
	binary.BigEndian.PutUint64(b, uint64(n))
}

func getNanos(b string) time.Time {
	var u uint64
	for i := 0; i < 8; i++ {
		u = u<<8 | uint64(b[i])
	}
	n := int64(u)
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// nanosBytes returns t as the 8 bytes TouchSession writes at offLastSeen.
func nanosBytes(t time.Time) string {
	var b [8]byte
	putNanos(b[:], t)
	return string(b[:])
}

func encodeSession(s *gatehouse.Session) string {
	fields := [...]string{s.Handle, s.User.UserID, s.User.Username, s.User.Name, s.User.Email,
		string(s.User.Role), s.IP, s.UserAgent}
	n := sessionHeaderLen
	for _, f := range fields {
		n += binary.MaxVarintLen64 + len(f)
	}
	b := make([]byte, sessionHeaderLen, n)
	b[0] = sessionFormat
	putNanos(b[offLastSeen:], s.LastSeenAt)
	putNanos(b[offCreated:], s.CreatedAt)
	putNanos(b[offExpires:], s.ExpiresAt)
	for _, f := range fields {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return string(b)
}

// decodeSession parses v; the strings of the session share v's memory (v is immutable).
func decodeSession(h gatehouse.Hash, v string) (*gatehouse.Session, bool) {
	if len(v) < sessionHeaderLen || v[0] != sessionFormat {
		return nil, false
	}
	s := &gatehouse.Session{Hash: h}
	s.LastSeenAt = getNanos(v[offLastSeen:offCreated])
	s.CreatedAt = getNanos(v[offCreated:offExpires])
	s.ExpiresAt = getNanos(v[offExpires:sessionHeaderLen])
	rest := v[sessionHeaderLen:]
	var role string
	for _, dst := range [...]*string{&s.Handle, &s.User.UserID, &s.User.Username, &s.User.Name,
		&s.User.Email, &role, &s.IP, &s.UserAgent} {
		f, tail, ok := nextField(rest)
		if !ok {
			return nil, false
		}
		*dst, rest = f, tail
	}
	s.User.Role = gatehouse.Role(role)
	return s, rest == ""
}

// nextField splits a uvarint-length-prefixed string off the front of v.
func nextField(v string) (field, rest string, ok bool) {
	var n uint64
	var shift uint
	for i := 0; i < len(v) && i < binary.MaxVarintLen64; i++ {
		c := v[i]
		n |= uint64(c&0x7f) << shift
		if c < 0x80 {
			v = v[i+1:]
			if n > uint64(len(v)) {
				return "", "", false
			}
			return v[:n], v[n:], true
		}
		shift += 7
	}
	return "", "", false
}

// sessionOwner returns the handle and user id of an encoded session without decoding the rest.
func sessionOwner(v string) (handle, userID string, ok bool) {
	if len(v) < sessionHeaderLen || v[0] != sessionFormat {
		return "", "", false
	}
	handle, rest, ok := nextField(v[sessionHeaderLen:])
	if !ok {
		return "", "", false
	}
	userID, _, ok = nextField(rest)
	return handle, userID, ok
}

// Not-before times are stored as 19-digit zero-padded Unix nanoseconds, so that the Lua script
// that keeps the maximum can compare them as strings (Lua numbers are doubles, too coarse for
// nanoseconds). That covers 1970 to 2262.
func formatNanos(t time.Time) string {
	n := max(t.UnixNano(), 0)
	s := strconv.FormatInt(n, 10)
	const width = 19
	if len(s) < width {
		s = "0000000000000000000"[:width-len(s)] + s
	}
	return s
}

func parseNanos(s string) (time.Time, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, false
	}
	if n == 0 {
		return time.Time{}, true
	}
	return time.Unix(0, n).UTC(), true
}
