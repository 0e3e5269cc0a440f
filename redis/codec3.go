package redis

import (
	"encoding/binary"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// Format 3 is the compact form of the sessions the session manager makes; encodeSession writes
// format 2 for any other (see fitsFormat3), and both are read. Its fixed part:
//
//	[0]      the top bit marks format 3 (format 2 starts with 2); the other 7 are flags (below)
//	[1:9]    ExpiresAt, Unix nanoseconds, big-endian; the deadline is ExpiresAt rounded up
//	         to a millisecond
//	[9:25]   bytes 16 to 32 of the session hash
//	[25:31]  ExpiresAt minus LastSeenAt in nanoseconds, 48 bits big-endian; at a fixed offset,
//	         since TouchSession overwrites it
//
// then, in order: ExpiresAt minus CreatedAt as a uvarint in the unit of its 3 low bits (ns,
// µs, ms, s, minutes, hours); the handle unless it is gatehouse.SessionHandle of the hash; the
// user id (16 bytes when it is an id of gatehouse.NewID's form); the role when it is neither
// "user", "admin" nor empty; username and name; the e-mail address as a uvarint holding its
// stored length shifted left by 3, the e-mail kind in bits 1 and 2 (emailOwn: the address
// follows; emailAtUsername: the username, "@" and the domain that follows; emailUsername:
// the username itself) and in bit 0 whether the sign-in methods and groups follow, as in
// format 2 (appendAuth), unless flag3Password says that the session has the one method of
// most, a password, and no groups; the IP address and the user agent as in format 2.
const (
	format3Mask     = 0x80
	format3         = 0x80
	off3Expires     = 1
	off3HashRest    = 9
	off3LastSeen    = 25
	session3Header  = 31
	maxLastSeenRel  = 1 << 48 // ns: about 78 hours
	flag3HandleOwn  = 1 << 6  // the handle is not gatehouse.SessionHandle(hash): stored
	flag3UserBinary = 1 << 5  // the user id is 16 bytes in gatehouse.NewID's encoding
	flag3Password   = 1 << 4  // signed in with a password alone, no groups: nothing follows the e-mail
	role3Shift      = 2       // 2 bits: roleUser, roleAdmin, roleOther (stored), roleEmpty
	ip3Shift        = 0       // 2 bits: ipNone, ipV4, ipV6, ipOther (stored)
)

// The kinds of e-mail address in format 3.
const (
	emailOwn, emailAtUsername, emailUsername = 0, 1, 2
)

// durationUnits3 are the units of ExpiresAt minus CreatedAt in format 3.
var durationUnits3 = [...]time.Duration{time.Nanosecond, time.Microsecond, time.Millisecond, time.Second, time.Minute, time.Hour}

// ceilMillis returns Unix nanoseconds n rounded up to a millisecond.
func ceilMillis(n int64) int64 { return (n + 999_999) / 1_000_000 }

// fitsFormat3 reports whether s, stored with that deadline (Unix ms), has the form that format
// 3 holds: the deadline is its expiry rounded up to a millisecond, and its times are after
// 1970, in order, with at most about 78 hours between LastSeenAt and ExpiresAt. The session
// manager's sessions have it unless their absolute timeout is longer than that.
func fitsFormat3(s *gatehouse.Session, deadline int64) bool {
	if s.CreatedAt.IsZero() || s.LastSeenAt.IsZero() || s.CreatedAt.Before(time.Unix(0, 1)) ||
		s.LastSeenAt.Before(time.Unix(0, 1)) || s.ExpiresAt.UnixNano() <= 0 {
		return false
	}
	e := s.ExpiresAt.UnixNano()
	rel := e - s.LastSeenAt.UnixNano()
	return deadline == ceilMillis(e) && !s.CreatedAt.After(s.ExpiresAt) && rel >= 0 && rel < maxLastSeenRel &&
		time.Unix(0, e).Equal(s.ExpiresAt) && time.Unix(0, s.LastSeenAt.UnixNano()).Equal(s.LastSeenAt) &&
		time.Unix(0, s.CreatedAt.UnixNano()).Equal(s.CreatedAt)
}

// encodeSession3 returns s in format 3; s must fit it (fitsFormat3).
func encodeSession3(s *gatehouse.Session) string {
	b := make([]byte, session3Header, session3Header+96+len(s.UserAgent))
	e := s.ExpiresAt.UnixNano()
	binary.BigEndian.PutUint64(b[off3Expires:], uint64(e))
	copy(b[off3HashRest:], s.Hash[16:])
	rel := uint64(e - s.LastSeenAt.UnixNano())
	binary.BigEndian.PutUint16(b[off3LastSeen:], uint16(rel>>32))
	binary.BigEndian.PutUint32(b[off3LastSeen+2:], uint32(rel))
	b = binary.AppendUvarint(b, encodeDuration3(s.ExpiresAt.Sub(s.CreatedAt)))
	flags := byte(format3)
	if s.Handle != gatehouse.SessionHandle(s.Hash) {
		flags |= flag3HandleOwn
		b = appendString(b, s.Handle)
	}
	if id, ok := gatehouse.IDBytes(s.User.UserID); ok {
		flags |= flag3UserBinary
		b = append(b, id[:]...)
	} else {
		b = appendString(b, s.User.UserID)
	}
	role := roleCode(s.User.Role)
	if role == roleOther {
		b = appendString(b, string(s.User.Role))
	}
	b = appendString(appendString(b, s.User.Username), s.User.Name)
	kind, email := emailKind(s.User.Email, s.User.Username)
	var auth uint64
	if s.AMR == gatehouse.MethodPassword && len(s.User.Groups) == 0 {
		flags |= flag3Password
	} else if s.AMR != 0 || len(s.User.Groups) > 0 {
		auth = 1
	}
	b = append(binary.AppendUvarint(b, uint64(len(email))<<3|uint64(kind)<<1|auth), email...)
	if auth == 1 {
		b = appendAuth(b, s.AMR, s.User.Groups)
	}
	ip, kindIP := ipBytes(s.IP)
	b = append(b, ip...)
	b = appendUserAgent(b, s.UserAgent)
	b[0] = flags | role<<role3Shift | kindIP<<ip3Shift
	return string(b)
}

// emailKind returns how format 3 stores email, whose user has that username, and the part it
// stores.
func emailKind(email, username string) (byte, string) {
	switch {
	case email == username && email != "":
		return emailUsername, ""
	case username != "" && len(email) > len(username) && email[:len(username)] == username && email[len(username)] == '@':
		return emailAtUsername, email[len(username)+1:]
	}
	return emailOwn, email
}

// encodeDuration3 packs d, which is not negative, in its coarsest exact unit of
// durationUnits3: the unit in the 3 low bits, d in that unit above them.
func encodeDuration3(d time.Duration) uint64 {
	code := 0
	for code < len(durationUnits3)-1 && d%durationUnits3[code+1] == 0 {
		code++
	}
	return uint64(d/durationUnits3[code])<<3 | uint64(code)
}

// decodeSession3 parses v, a value of format 3 stored under loc. ok=false if it does not
// parse.
func decodeSession3(loc string, v string) (s storedSession, ok bool) {
	if len(v) < session3Header || len(loc) != 16 {
		return s, false
	}
	flags := v[0]
	copy(s.Hash[:16], loc)
	copy(s.Hash[16:], v[off3HashRest:off3LastSeen])
	e := int64(binary.BigEndian.Uint64([]byte(v[off3Expires:off3HashRest])))
	rel := int64(binary.BigEndian.Uint16([]byte(v[off3LastSeen:])))<<32 | int64(binary.BigEndian.Uint32([]byte(v[off3LastSeen+2:])))
	if e <= 0 || e-rel <= 0 {
		return s, false
	}
	s.ExpiresAt, s.LastSeenAt = time.Unix(0, e).UTC(), time.Unix(0, e-rel).UTC()
	s.deadline = ceilMillis(e)
	s.derived = flags&flag3HandleOwn == 0
	r := reader{v: v, i: session3Header, ok: true}
	d, unit := r.uvarint(), 0
	if unit = int(d & 7); unit >= len(durationUnits3) || d>>3 > uint64(e)/uint64(durationUnits3[unit]) {
		return s, false
	}
	s.CreatedAt = time.Unix(0, e-int64(d>>3)*int64(durationUnits3[unit])).UTC()
	if s.derived {
		s.Handle = idEncoding.EncodeToString(s.Hash[:16])
	} else {
		s.Handle = r.string()
	}
	s.User.UserID = r.userID(flags&flag3UserBinary != 0)
	s.User.Role = r.role(flags >> role3Shift & 3)
	s.User.Username, s.User.Name = r.string(), r.string()
	s.User.Email = r.email(s.User.Username)
	switch {
	case flags&flag3Password != 0 && r.authFollows:
		r.ok = false
	case flags&flag3Password != 0:
		s.AMR = gatehouse.MethodPassword
	case r.authFollows:
		s.AMR, s.User.Groups = r.auth()
	}
	s.IP = r.ip(flags >> ip3Shift & 3)
	if !r.ok {
		return s, false
	}
	s.UserAgent, ok = decodeUserAgent(v[r.i:])
	return s, ok
}

// email reads the e-mail field of format 3 of a user with that username, and sets
// r.authFollows.
func (r *reader) email(username string) string {
	u := r.uvarint()
	r.authFollows = u&1 == 1
	n := u >> 3
	if n > uint64(len(r.v)) {
		r.ok = false
		return ""
	}
	part := r.bytes(int(n))
	switch u >> 1 & 3 {
	case emailOwn:
		return part
	case emailAtUsername:
		return username + "@" + part
	case emailUsername:
		if part == "" {
			return username
		}
	}
	r.ok = false
	return ""
}
