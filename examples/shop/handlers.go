package shop

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
)

// maxFormBytes bounds the shop's form bodies; its forms have two short fields.
const maxFormBytes = 4 << 10

// howView is the "how it's served" page.
type howView struct {
	view
	MaxAge                  int
	CatalogETag             string
	SessionStore, CartStore string
	Stats                   Stats
}

// handleHow shows which parts of the shop are stateless and which stateful, with live counters.
// It reads no cookie.
func (s *Shop) handleHow(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "how.html", howView{
		view: s.view("How it's served", "how"), MaxAge: s.catalog.maxAge, CatalogETag: s.catalog.etag,
		SessionStore: s.o.SessionStore, CartStore: s.o.CartStore, Stats: s.Stats(),
	})
}

// cartView is the cart page.
type cartView struct {
	view
	Who                     *gatehouse.Principal
	Lines                   []cartLine
	Count                   int
	Total                   string
	LastOrder               *orderView
	SessionStore, CartStore string
}

type cartLine struct {
	Product  Product
	Quantity int
	Subtotal string
}

type orderView struct {
	ID, PlacedAt, Total string
	Count               int
}

var flashes = map[string]string{
	"added":   "Added to your cart.",
	"removed": "Removed from your cart.",
	"ordered": "Thank you! Your order is placed.",
}

func (s *Shop) handleCart(w http.ResponseWriter, r *http.Request) {
	who, ok := s.user(w, r, s.o.Prefix+"/cart")
	if !ok {
		return
	}
	s.cartPages.Add(1)
	s.cartReads.Add(1)
	c, err := s.o.Carts.Cart(r.Context(), who.UserID)
	if err != nil {
		s.renderStoreError(w, r, err)
		return
	}
	s.renderCart(w, r, http.StatusOK, who, c, flashes[r.URL.Query().Get("msg")], "")
}

func (s *Shop) renderCart(w http.ResponseWriter, r *http.Request, status int, who gatehouse.Principal, c *Cart, flash, errMsg string) {
	v := cartView{view: s.view("Your cart", "cart"), Who: &who, Count: c.Count(), Total: formatCents(c.TotalCents()),
		SessionStore: s.o.SessionStore, CartStore: s.o.CartStore}
	v.Flash, v.Error = flash, errMsg
	for _, it := range c.Items {
		p, ok := ProductByID(it.ProductID)
		if !ok {
			continue
		}
		v.Lines = append(v.Lines, cartLine{Product: p, Quantity: it.Quantity, Subtotal: formatCents(p.PriceCents * int64(it.Quantity))})
	}
	if o := c.LastOrder; o != nil {
		n := 0
		for _, it := range o.Items {
			n += it.Quantity
		}
		v.LastOrder = &orderView{ID: o.ID, PlacedAt: o.PlacedAt.UTC().Format("2 Jan 2006, 15:04 UTC"), Total: formatCents(o.TotalCents), Count: n}
	}
	s.render(w, r, status, "cart.html", v)
}

// cartForm is a handler of a cart form, for a signed-in user.
type cartForm func(w http.ResponseWriter, r *http.Request, who gatehouse.Principal)

// form refuses cross-origin posts, authenticates, and reads the form.
func (s *Shop) form(h cartForm) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.cop.Check(r) != nil {
			s.renderError(w, r, http.StatusForbidden, "Request refused",
				"This form was sent from another site. Nothing was changed.")
			return
		}
		who, ok := s.user(w, r, s.o.Prefix+"/catalog")
		if !ok {
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			s.renderError(w, r, http.StatusBadRequest, "Bad request", "The form could not be read.")
			return
		}
		h(w, r, who)
	}
}

// update changes the user's cart; a rule broken by f is shown on the cart page with 400.
func (s *Shop) update(w http.ResponseWriter, r *http.Request, who gatehouse.Principal, f func(*Cart) error, done string) {
	_, err := s.o.Carts.UpdateCart(r.Context(), who.UserID, s.o.Now(), f)
	var bad userError
	switch {
	case errors.As(err, &bad):
		s.showCartError(w, r, who, string(bad))
	case err != nil:
		s.renderStoreError(w, r, err)
	default:
		s.cartWrites.Add(1)
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, s.o.Prefix+"/cart?msg="+done, http.StatusSeeOther)
	}
}

// showCartError shows the cart with a message about the form that was refused (400).
func (s *Shop) showCartError(w http.ResponseWriter, r *http.Request, who gatehouse.Principal, msg string) {
	s.cartReads.Add(1)
	c, err := s.o.Carts.Cart(r.Context(), who.UserID)
	if err != nil {
		s.renderStoreError(w, r, err)
		return
	}
	s.renderCart(w, r, http.StatusBadRequest, who, c, "", msg)
}

// userError is a message for the person, shown on the cart page.
type userError string

func (e userError) Error() string { return string(e) }

func (s *Shop) handleAdd(w http.ResponseWriter, r *http.Request, who gatehouse.Principal) {
	id := r.PostForm.Get("product")
	qty := 1
	if q := strings.TrimSpace(r.PostForm.Get("quantity")); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > MaxQuantity {
			s.showCartError(w, r, who, "Quantity: must be a whole number from 1 to "+strconv.Itoa(MaxQuantity)+".")
			return
		}
		qty = n
	}
	if _, ok := ProductByID(id); !ok {
		s.showCartError(w, r, who, "That product is not in the catalog.")
		return
	}
	s.update(w, r, who, func(c *Cart) error { return c.Add(id, qty) }, "added")
}

func (s *Shop) handleRemove(w http.ResponseWriter, r *http.Request, who gatehouse.Principal) {
	id := r.PostForm.Get("product")
	s.update(w, r, who, func(c *Cart) error {
		if !c.Remove(id) {
			return userError("That article is not in your cart.")
		}
		return nil
	}, "removed")
}

func (s *Shop) handleCheckout(w http.ResponseWriter, r *http.Request, who gatehouse.Principal) {
	s.update(w, r, who, func(c *Cart) error {
		if _, err := c.Checkout(s.o.Now()); err != nil {
			return userError("Your cart is empty: add something first.")
		}
		return nil
	}, "ordered")
}
