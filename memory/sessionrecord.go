package memory

import (
	"encoding/binary"
	"errors"
	"math"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// A session is kept as one immutable string, its record, whose fields the reads hand out as
// substrings, so that FindSession allocates only the Session it returns (and its group list):
//
//	[0:16]   bytes 16 to 32 of the session hash (the first 16 are the key of SessionStore.byKey)
//	[16:24]  CreatedAt, Unix nanoseconds, little-endian (zeroTime: the zero time)
//	[24]     flags: the role in 2 bits, recExpiresRaw, recHandleOwn
//	[25]     the sign-in methods (gatehouse.AuthMethods)
//
// then ExpiresAt minus CreatedAt as a uvarint in the unit of its 2 low bits (ns, ms, s or
// minutes), or ExpiresAt as 8 bytes like CreatedAt with recExpiresRaw; with recHandleOwn (a
// handle that is not gatehouse.SessionHandle of the hash), bytes 0 to 16 of the hash; then the
// handle, the user id, the role when it is none of the usual ones, username, name, e-mail, the
// number of groups and each group, the IP address, each a uvarint length and the bytes; and
// as the rest of the record, the user agent. LastSeenAt, the one field that changes, is kept
// beside the record (slot.lastSeen).
const (
	recTail    = 0
	recCreated = 16
	recFlags   = 24
	recAMR     = 25
	recHeader  = 26
)

// Flags of byte recFlags.
const (
	recRoleMask   = 3      // roleUser, roleAdmin, roleEmpty, roleOther (stored)
	recExpiresRaw = 1 << 2 // ExpiresAt is 8 bytes, not a difference to CreatedAt
	recHandleOwn  = 1 << 3 // the handle is not derived from the hash: bytes 0 to 16 of it are stored
)

const (
	roleUser, roleAdmin, roleEmpty, roleOther = 0, 1, 2, 3
)

// zeroTime is how a record holds the zero time.
const zeroTime = math.MinInt64

// errTimeRange is returned for a time that Unix nanoseconds cannot hold (before 1678 or after
// 2262); no session the manager makes has one.
var errTimeRange = errors.New("memory: session time outside the years 1678 to 2262")

// nanos returns t as a record holds it; ok=false if Unix nanoseconds cannot hold it.
func nanos(t time.Time) (int64, bool) {
	if t.IsZero() {
		return zeroTime, true
	}
	n := t.UnixNano()
	return n, n != zeroTime && time.Unix(0, n).Equal(t)
}

// le64 reads 8 bytes of s as a little-endian int64.
func le64(s string) int64 {
	_ = s[7] // one bounds check; the compiler merges the loads into one
	return int64(uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56)
}

func timeOf(n int64) time.Time {
	if n == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// encodeRecord returns the record of s. It fails only for times that nanos cannot hold.
func encodeRecord(s *gatehouse.Session) (string, error) {
	created, ok1 := nanos(s.CreatedAt)
	expires, ok2 := nanos(s.ExpiresAt)
	if !ok1 || !ok2 {
		return "", errTimeRange
	}
	n := recHeader + 16 + 8 + len(s.Handle) + len(s.User.UserID) + len(s.User.Role) + len(s.User.Username) +
		len(s.User.Name) + len(s.User.Email) + len(s.IP) + len(s.UserAgent) + 8*binary.MaxVarintLen16
	for _, g := range s.User.Groups {
		n += len(g) + binary.MaxVarintLen16
	}
	b := make([]byte, recHeader, n)
	copy(b[recTail:], s.Hash[16:])
	binary.LittleEndian.PutUint64(b[recCreated:], uint64(created))
	b[recAMR] = byte(s.AMR)
	flags := roleCode(s.User.Role)
	if d, ok := encodeDuration(expires - created); ok && created != zeroTime && expires != zeroTime {
		b = binary.AppendUvarint(b, d)
	} else {
		flags |= recExpiresRaw
		b = binary.LittleEndian.AppendUint64(b, uint64(expires))
	}
	if s.Handle != gatehouse.SessionHandle(s.Hash) {
		flags |= recHandleOwn
		b = append(b, s.Hash[:16]...)
	}
	b[recFlags] = flags
	b = appendString(appendString(b, s.Handle), s.User.UserID)
	if flags&recRoleMask == roleOther {
		b = appendString(b, string(s.User.Role))
	}
	b = appendString(appendString(appendString(b, s.User.Username), s.User.Name), s.User.Email)
	b = binary.AppendUvarint(b, uint64(len(s.User.Groups)))
	for _, g := range s.User.Groups {
		b = appendString(b, g)
	}
	b = appendString(b, s.IP)
	return string(append(b, s.UserAgent...)), nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// encodeDuration packs d (ns) in its coarsest exact unit of ns, ms, s and minutes: the unit in
// the 2 low bits, above them d in that unit. It reports false for a negative d or one that
// does not fit.
func encodeDuration(d int64) (uint64, bool) {
	if d < 0 {
		return 0, false
	}
	units := [...]int64{1, 1e6, 1e9, 60e9}
	code := 0
	for code < len(units)-1 && d%units[code+1] == 0 {
		code++
	}
	n := uint64(d / units[code])
	return n<<2 | uint64(code), n < 1<<61
}

func decodeDuration(u uint64) int64 {
	units := [...]int64{1, 1e6, 1e9, 60e9}
	return int64(u>>2) * units[u&3]
}

func roleCode(r gatehouse.Role) byte {
	switch r {
	case gatehouse.RoleUser:
		return roleUser
	case gatehouse.RoleAdmin:
		return roleAdmin
	case "":
		return roleEmpty
	}
	return roleOther
}

// recordReader reads the variable part of a record. Records are written by this package
// only, so it trusts their lengths.
type recordReader struct {
	r string
	i int
}

// uvarint reads a uvarint; the one-byte case, every length under 128, is inlined.
func (rd *recordReader) uvarint() uint64 {
	c := rd.r[rd.i]
	if c < 0x80 {
		rd.i++
		return uint64(c)
	}
	return rd.uvarintLong()
}

func (rd *recordReader) uvarintLong() uint64 {
	var x uint64
	for shift := 0; ; shift += 7 {
		c := rd.r[rd.i]
		rd.i++
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x
		}
	}
}

func (rd *recordReader) bytes(n int) string {
	rd.i += n
	return rd.r[rd.i-n : rd.i]
}

func (rd *recordReader) string() string { return rd.bytes(int(rd.uvarint())) }

// expires returns ExpiresAt of record r in Unix nanoseconds, and a reader past it.
func expiresOf(r string) (int64, recordReader) {
	rd := recordReader{r: r, i: recHeader}
	if r[recFlags]&recExpiresRaw != 0 {
		return le64(rd.bytes(8)), rd
	}
	created := le64(r[recCreated:recHeader])
	return created + decodeDuration(rd.uvarint()), rd
}

// recordKey returns bytes 0 to 16 of the hash of the session of record r, its handle, and
// a reader past the handle.
func recordKey(r string) (key [16]byte, handle string, rd recordReader) {
	_, rd = expiresOf(r)
	own := r[recFlags]&recHandleOwn != 0
	if own {
		copy(key[:], rd.bytes(16))
	}
	handle = rd.string()
	if !own {
		key, _ = gatehouse.IDBytes(handle)
	}
	return key, handle, rd
}

// userOf returns the user id of the session of record r.
func userOf(r string) string {
	_, _, rd := recordKey(r)
	return rd.string()
}

// decodeRecord returns the session of record r with key (bytes 0 to 16 of its hash) and
// lastSeen (a slot's). Its strings share r's memory.
func decodeRecord(key *[16]byte, r string, lastSeen int64) *gatehouse.Session {
	s := &gatehouse.Session{LastSeenAt: timeOf(lastSeen), AMR: gatehouse.AuthMethods(r[recAMR])}
	copy(s.Hash[:16], key[:])
	copy(s.Hash[16:], r[recTail:recCreated])
	s.CreatedAt = timeOf(le64(r[recCreated:recHeader]))
	expires, rd := expiresOf(r)
	s.ExpiresAt = timeOf(expires)
	if r[recFlags]&recHandleOwn != 0 {
		rd.i += 16
	}
	s.Handle = rd.string()
	s.User.UserID = rd.string()
	switch r[recFlags] & recRoleMask {
	case roleUser:
		s.User.Role = gatehouse.RoleUser
	case roleAdmin:
		s.User.Role = gatehouse.RoleAdmin
	case roleOther:
		s.User.Role = gatehouse.Role(rd.string())
	}
	s.User.Username, s.User.Name, s.User.Email = rd.string(), rd.string(), rd.string()
	if n := int(rd.uvarint()); n > 0 {
		s.User.Groups = make([]string, n)
		for i := range s.User.Groups {
			s.User.Groups[i] = rd.string()
		}
	}
	s.IP = rd.string()
	s.UserAgent = r[rd.i:]
	return s
}
