package shop

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// Product is an article of the catalog. Prices are in cents.
type Product struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	PriceCents  int64  `json:"price_cents"`
	// Initials and Hue draw the product's tile; there are no product images.
	Initials string `json:"-"`
	Hue      int    `json:"-"`
}

// Price formats the price as euros.
func (p Product) Price() string { return formatCents(p.PriceCents) }

// Catalog is the demo's fixed product list. It is the same for every visitor, which is what
// lets the catalog be served statelessly and cached by anyone.
var Catalog = []Product{
	{ID: "brass-key", Name: "Brass key", Description: "Opens exactly one door. Cut from a single blank; never copied.", PriceCents: 1200, Initials: "BK", Hue: 42},
	{ID: "wax-seal", Name: "Wax seal kit", Description: "Stick, stamp and spoon: tamper evidence, the old way.", PriceCents: 2450, Initials: "WS", Hue: 0},
	{ID: "guest-book", Name: "Guest book", Description: "A bound ledger of who came in and when. Audit log included.", PriceCents: 1800, Initials: "GB", Hue: 210},
	{ID: "lanyard", Name: "Visitor lanyard", Description: "Expires at midnight, like a well-behaved session.", PriceCents: 450, Initials: "VL", Hue: 280},
	{ID: "padlock", Name: "Combination padlock", Description: "Four wheels, 10,000 codes. Please choose more than four.", PriceCents: 1575, Initials: "PL", Hue: 150},
	{ID: "bell", Name: "Desk bell", Description: "Ring for service. Rate limited by the person at the desk.", PriceCents: 990, Initials: "DB", Hue: 25},
}

var productsByID = func() map[string]Product {
	m := make(map[string]Product, len(Catalog))
	for _, p := range Catalog {
		m[p.ID] = p
	}
	return m
}()

// ProductByID returns the product with that id.
func ProductByID(id string) (Product, bool) {
	p, ok := productsByID[id]
	return p, ok
}

func formatCents(c int64) string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s€%d.%02d", sign, c/100, c%100)
}

// etagOf returns a strong validator for body.
func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
}

// etagMatches reports whether an If-None-Match header value matches etag, with the weak
// comparison that RFC 9110 (13.1.2) prescribes for If-None-Match: "*" matches, and W/"x"
// matches "x".
func etagMatches(header, etag string) bool {
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		if part == "*" || strings.TrimPrefix(part, "W/") == etag {
			return true
		}
	}
	return false
}
