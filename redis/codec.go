package redis

import (
	"encoding/base32"
	"encoding/binary"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// A session is stored as one compact binary string, under a key that holds the first 16 bytes
// of its hash (see SessionStore), in format 3 (codec3.go) when it fits, else in format 2:
//
//	[0]      format version (2); a value of another version is not a session of this format
//	[1]      flags (below)
//	[2:10]   LastSeenAt, Unix nanoseconds, big-endian (0: the zero time); at a fixed offset,
//	         since TouchSession overwrites it
//	[10:16]  the deadline: Unix milliseconds, big-endian, when the key expires at the latest
//	         (TouchSession caps the TTL with it)
//	[16:32]  bytes 16 to 32 of the session hash
//
// then, in order: the deadline minus ExpiresAt in nanoseconds (zigzag varint, usually under a
// millisecond); ExpiresAt minus CreatedAt (zigzag varint in the unit of its 2 low bits: ns,
// ms, s or minutes), or CreatedAt as 8 bytes with flagCreatedRaw; the handle unless it is
// gatehouse.SessionHandle of the hash; the user id (16 bytes when it is an id of
// gatehouse.NewID's form); the role when it is neither "user", "admin" nor empty; username,
// name and e-mail; with flagAuth, a uvarint holding the sign-in methods (gatehouse.AuthMethods)
// shifted left by one, whose low bit says that the groups follow, as one string
// (gatehouse.JoinGroups); the IP address (4 or 16 bytes when it is one in canonical form); and, as
// the rest of the value, the user agent compressed with a fixed dictionary (uacodec.go).
// Strings are a uvarint length followed by the bytes.
const (
	sessionFormat    = 2
	offFlags         = 1
	offLastSeen      = 2
	offDeadline      = 10
	offHashRest      = 16
	sessionHeaderLen = 32
)

// Flags of byte 1.
const (
	flagHandleDerived = 1 << 0 // the handle is gatehouse.SessionHandle(hash): not stored
	flagUserIDBinary  = 1 << 1 // the user id is 16 bytes in gatehouse.NewID's encoding
	roleShift         = 2      // 2 bits: roleUser, roleAdmin, roleOther (stored), roleEmpty
	ipShift           = 4      // 2 bits: ipNone, ipV4, ipV6, ipOther (stored)
	flagCreatedRaw    = 1 << 6 // CreatedAt is 8 bytes, not a difference to ExpiresAt
	// flagAuth: the sign-in methods (and groups) are stored. Values written before they were
	// recorded lack it, and a session with neither needs no byte for them.
	flagAuth = 1 << 7
)

const (
	roleUser, roleAdmin, roleOther, roleEmpty = 0, 1, 2, 3
	ipNone, ipV4, ipV6, ipOther               = 0, 1, 2, 3
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
	if u == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(u)).UTC()
}

// nanosBytes returns t as the 8 bytes TouchSession writes at offLastSeen.
func nanosBytes(t time.Time) string {
	var b [8]byte
	putNanos(b[:], t)
	return string(b[:])
}

// encodeSession returns the stored form of s, whose key expires at the latest at deadline
// (Unix ms): format 3 (codec3.go) when s fits it, as the session manager's sessions do, else
// format 2.
func encodeSession(s *gatehouse.Session, deadline int64) string {
	if fitsFormat3(s, deadline) {
		return encodeSession3(s)
	}
	return encodeSession2(s, deadline)
}

// encodeSession2 returns s in format 2.
func encodeSession2(s *gatehouse.Session, deadline int64) string {
	b := make([]byte, sessionHeaderLen, sessionHeaderLen+96+len(s.UserAgent))
	b[0] = sessionFormat
	putNanos(b[offLastSeen:], s.LastSeenAt)
	binary.BigEndian.PutUint16(b[offDeadline:], uint16(deadline>>32))
	binary.BigEndian.PutUint32(b[offDeadline+2:], uint32(deadline))
	copy(b[offHashRest:], s.Hash[16:])
	var flags byte
	b = binary.AppendVarint(b, deadline*1e6-s.ExpiresAt.UnixNano())
	if u, ok := encodeDuration(s.ExpiresAt.Sub(s.CreatedAt)); ok && !s.CreatedAt.IsZero() &&
		s.CreatedAt.Add(s.ExpiresAt.Sub(s.CreatedAt)).Equal(s.ExpiresAt) {
		b = binary.AppendUvarint(b, u)
	} else {
		flags |= flagCreatedRaw
		b = append(b, nanosBytes(s.CreatedAt)...)
	}
	if s.Handle == gatehouse.SessionHandle(s.Hash) {
		flags |= flagHandleDerived
	} else {
		b = appendString(b, s.Handle)
	}
	if id, ok := gatehouse.IDBytes(s.User.UserID); ok {
		flags |= flagUserIDBinary
		b = append(b, id[:]...)
	} else {
		b = appendString(b, s.User.UserID)
	}
	role := roleCode(s.User.Role)
	if role == roleOther {
		b = appendString(b, string(s.User.Role))
	}
	b = appendString(appendString(appendString(b, s.User.Username), s.User.Name), s.User.Email)
	if s.AMR != 0 || len(s.User.Groups) > 0 {
		flags |= flagAuth
		b = appendAuth(b, s.AMR, s.User.Groups)
	}
	ip, kind := ipBytes(s.IP)
	b = append(b, ip...)
	b = appendUserAgent(b, s.UserAgent)
	b[offFlags] = flags | role<<roleShift | kind<<ipShift
	return string(b)
}

// appendAuth appends the methods and, when there are any, the groups (see the format).
func appendAuth(b []byte, amr gatehouse.AuthMethods, groups []string) []byte {
	u := uint64(amr) << 1
	if len(groups) == 0 {
		return binary.AppendUvarint(b, u)
	}
	b = binary.AppendUvarint(b, u|1)
	b = binary.AppendUvarint(b, uint64(len(groups)-1+groupsLen(groups)))
	for i, g := range groups {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, g...)
	}
	return b
}

func groupsLen(groups []string) int {
	n := 0
	for _, g := range groups {
		n += len(g)
	}
	return n
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// encodeDuration packs d in its coarsest exact unit: 2 low bits for the unit, above them d in
// that unit, zigzag-encoded. It reports false if that takes more than 64 bits.
func encodeDuration(d time.Duration) (uint64, bool) {
	units := [...]time.Duration{time.Nanosecond, time.Millisecond, time.Second, time.Minute}
	code := 0
	for code < len(units)-1 && d%units[code+1] == 0 {
		code++
	}
	n := int64(d / units[code])
	z := uint64(n<<1 ^ n>>63)
	return z<<2 | uint64(code), z < 1<<62
}

func decodeDuration(u uint64) (time.Duration, bool) {
	units := [...]time.Duration{time.Nanosecond, time.Millisecond, time.Second, time.Minute}
	z := u >> 2
	n := int64(z>>1) ^ -int64(z&1)
	d := time.Duration(n) * units[u&3]
	return d, d/units[u&3] == time.Duration(n)
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

// ipBytes returns the stored form of ip and its kind: 4 or 16 bytes for an address that
// netip writes back exactly as ip, else the string itself.
func ipBytes(ip string) ([]byte, byte) {
	if ip == "" {
		return nil, ipNone
	}
	a, err := netip.ParseAddr(ip)
	switch {
	case err != nil || a.Zone() != "" || a.String() != ip:
		return appendString(nil, ip), ipOther
	case a.Is4():
		b := a.As4()
		return b[:], ipV4
	}
	b := a.As16()
	return b[:], ipV6
}

// maxDeadline is the last deadline (Unix ms) whose nanoseconds an int64 holds (in 2262).
const maxDeadline = math.MaxInt64 / 1_000_000

// deadlineOf returns the deadline stored in v (Unix ms); v must be at least a header long.
func deadlineOf(v string) int64 {
	var d int64
	for i := offDeadline; i < offHashRest; i++ {
		d = d<<8 | int64(v[i])
	}
	return d
}

// storedSession is a decoded value: the session and what the store needs besides.
type storedSession struct {
	gatehouse.Session
	deadline int64 // Unix ms
	derived  bool  // the handle is gatehouse.SessionHandle(Hash)
}

// decodeSession parses v, the value stored under loc (the first 16 bytes of the hash), of
// format 2 or 3. It reports current=false for a value of another format version, and ok=false
// for a value of these versions that does not parse. Strings share v's memory where they can.
func decodeSession(loc string, v string) (s storedSession, current, ok bool) {
	if len(v) > 0 && v[0]&format3Mask == format3 {
		s, ok = decodeSession3(loc, v)
		return s, true, ok
	}
	if len(v) < sessionHeaderLen || v[0] != sessionFormat {
		return s, false, false
	}
	flags := v[offFlags]
	if len(loc) != 16 {
		return s, true, false
	}
	copy(s.Hash[:16], loc)
	copy(s.Hash[16:], v[offHashRest:sessionHeaderLen])
	s.LastSeenAt = getNanos(v[offLastSeen:])
	s.deadline = deadlineOf(v)
	s.derived = flags&flagHandleDerived != 0
	r := reader{v: v, i: sessionHeaderLen, ok: s.deadline <= maxDeadline}
	s.ExpiresAt = time.Unix(0, s.deadline*1e6-r.varint()).UTC()
	if flags&flagCreatedRaw != 0 {
		if b := r.bytes(8); r.ok {
			s.CreatedAt = getNanos(b)
		}
	} else {
		d, ok := decodeDuration(r.uvarint())
		s.CreatedAt = s.ExpiresAt.Add(-d)
		// A time that Unix nanoseconds cannot hold is not one this package wrote.
		r.ok = r.ok && ok && time.Unix(0, s.CreatedAt.UnixNano()).Equal(s.CreatedAt)
	}
	if s.derived {
		s.Handle = idEncoding.EncodeToString(s.Hash[:16])
	} else {
		s.Handle = r.string()
	}
	s.User.UserID = r.userID(flags&flagUserIDBinary != 0)
	s.User.Role = r.role(flags >> roleShift & 3)
	s.User.Username, s.User.Name, s.User.Email = r.string(), r.string(), r.string()
	if flags&flagAuth != 0 {
		s.AMR, s.User.Groups = r.auth()
	}
	s.IP = r.ip(flags >> ipShift & 3)
	if !r.ok {
		return s, true, false
	}
	s.UserAgent, ok = decodeUserAgent(v[r.i:])
	return s, true, ok
}

// reader reads the variable part of a value; ok turns false at the first malformed field,
// and every read after that returns zero values.
type reader struct {
	v           string
	i           int
	ok          bool
	authFollows bool // format 3: the e-mail field says that the methods and groups follow
}

func (r *reader) uvarint() uint64 {
	u, n := uvarintString(r.v[min(r.i, len(r.v)):])
	if n <= 0 {
		r.ok, r.i = false, len(r.v)
		return 0
	}
	r.i += n
	return u
}

func (r *reader) varint() int64 {
	u := r.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (r *reader) bytes(n int) string {
	if !r.ok || n > len(r.v)-r.i {
		r.ok, r.i = false, len(r.v)
		return ""
	}
	r.i += n
	return r.v[r.i-n : r.i]
}

func (r *reader) string() string {
	n := r.uvarint()
	if n > uint64(len(r.v)) {
		r.ok = false
		return ""
	}
	return r.bytes(int(n))
}

func (r *reader) userID(binary bool) string {
	if !binary {
		return r.string()
	}
	b := r.bytes(16)
	if !r.ok {
		return ""
	}
	return idEncoding.EncodeToString([]byte(b))
}

func (r *reader) role(code byte) gatehouse.Role {
	switch code {
	case roleUser:
		return gatehouse.RoleUser
	case roleAdmin:
		return gatehouse.RoleAdmin
	case roleOther:
		return gatehouse.Role(r.string())
	}
	return ""
}

// auth reads what appendAuth wrote: the methods must be known ones, and a group list that
// is said to follow must be a normalised, non-empty one.
func (r *reader) auth() (gatehouse.AuthMethods, []string) {
	u := r.uvarint()
	amr := gatehouse.AuthMethods(u >> 1)
	if u>>1 > 0xff || !amr.Valid() {
		r.ok = false
		return 0, nil
	}
	if u&1 == 0 {
		return amr, nil
	}
	list := r.string()
	groups := gatehouse.SplitGroups(list)
	if !r.ok || list == "" || gatehouse.CheckGroups(groups) != nil {
		r.ok = false
		return 0, nil
	}
	return amr, groups
}

func (r *reader) ip(kind byte) string {
	switch kind {
	case ipV4:
		b := r.bytes(4)
		if !r.ok {
			return ""
		}
		return netip.AddrFrom4([4]byte([]byte(b))).String()
	case ipV6:
		b := r.bytes(16)
		if !r.ok {
			return ""
		}
		return netip.AddrFrom16([16]byte([]byte(b))).String()
	case ipOther:
		return r.string()
	}
	return ""
}

// idEncoding is the encoding of gatehouse.NewID and gatehouse.SessionHandle.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// uvarintString is binary.Uvarint on a string.
func uvarintString(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		c := s[i]
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				return 0, -1
			}
			return x | uint64(c)<<shift, i + 1
		}
		x |= uint64(c&0x7f) << shift
		shift += 7
	}
	return 0, 0
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
