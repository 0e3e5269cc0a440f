package redis

import "strings"

// User agents are stored compressed with a fixed dictionary of the substrings that fill the
// user agents of today's browsers and common HTTP clients: a browser's 100 to 140 bytes shrink
// to about 10 (its version numbers). A byte from 0x01 to 0x1F stands for a dictionary entry,
// 0x00 escapes the next byte (a control character of the user agent itself), and every other
// byte is itself. The dictionary is part of format version 2: it never changes within it.
var uaDict = [31]string{
	"Mozilla/5.0 (",
	"Windows NT 10.0; Win64; x64",
	"Macintosh; Intel Mac OS X 10_15_7",
	"Macintosh; Intel Mac OS X 10.15",
	"X11; Linux x86_64",
	"Linux; Android 10; K",
	") AppleWebKit/537.36 (KHTML, like Gecko) Chrome/",
	".0.0.0 Safari/537.36",
	".0.0.0 Mobile Safari/537.36",
	" Edg/",
	" OPR/",
	") AppleWebKit/605.1.15 (KHTML, like Gecko) Version/",
	" Safari/605.1.15",
	" Mobile/15E148 Safari/604.1",
	"iPhone; CPU iPhone OS ",
	"iPad; CPU OS ",
	" like Mac OS X",
	"; rv:",
	") Gecko/20100101 Firefox/",
	"X11; Ubuntu; Linux x86_64",
	"Mozilla/5.0 (compatible; ",
	"curl/",
	"Wget/",
	"python-requests/",
	"Go-http-client/",
	"okhttp/",
	"PostmanRuntime/",
	"AppleWebKit/",
	"Safari/",
	"Chrome/",
	"Firefox/",
}

// appendUserAgent appends ua compressed: at each position the longest dictionary entry that
// matches, or the byte itself.
func appendUserAgent(b []byte, ua string) []byte {
	for i := 0; i < len(ua); {
		best, n := 0, 0
		for j, w := range uaDict {
			if len(w) > n && strings.HasPrefix(ua[i:], w) {
				best, n = j+1, len(w)
			}
		}
		switch c := ua[i]; {
		case n > 0:
			b = append(b, byte(best))
			i += n
			continue
		case c < 0x20:
			b = append(b, 0, c)
		default:
			b = append(b, c)
		}
		i++
	}
	return b
}

// decodeUserAgent expands what appendUserAgent wrote. A user agent without dictionary entries
// is returned without a copy.
func decodeUserAgent(v string) (string, bool) {
	i := 0
	for i < len(v) && v[i] >= 0x20 {
		i++
	}
	if i == len(v) {
		return v, true
	}
	var sb strings.Builder
	sb.Grow(expandedLen(v))
	sb.WriteString(v[:i])
	for ; i < len(v); i++ {
		switch c := v[i]; {
		case c == 0:
			if i++; i == len(v) {
				return "", false
			}
			sb.WriteByte(v[i])
		case c < 0x20:
			sb.WriteString(uaDict[c-1])
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String(), true
}

// expandedLen returns the length of the user agent that v encodes (for a well-formed v).
func expandedLen(v string) int {
	n := 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == 0:
			i++
			n++
		case c < 0x20:
			n += len(uaDict[c-1])
		default:
			n++
		}
	}
	return n
}
