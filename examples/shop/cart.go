package shop

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// Limits of a cart.
const (
	MaxQuantity = 99 // of one product in a cart
)

// Item is a line of a cart.
type Item struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
}

// Order is a checked-out cart.
type Order struct {
	ID         string    `json:"id"`
	Items      []Item    `json:"items"`
	TotalCents int64     `json:"total_cents"`
	PlacedAt   time.Time `json:"placed_at"`
}

// Cart is a user's cart and their last order.
type Cart struct {
	Items     []Item    `json:"items"`
	LastOrder *Order    `json:"last_order,omitempty"`
	UpdatedAt time.Time `json:"-"`
}

// ErrBadItem is returned by Cart.Add for an unknown product or a quantity out of range.
var ErrBadItem = errors.New("shop: unknown product or quantity out of range")

// Add puts n of the product in the cart, up to MaxQuantity in all.
func (c *Cart) Add(productID string, n int) error {
	if _, ok := ProductByID(productID); !ok || n < 1 || n > MaxQuantity {
		return ErrBadItem
	}
	for i := range c.Items {
		if c.Items[i].ProductID == productID {
			c.Items[i].Quantity = min(c.Items[i].Quantity+n, MaxQuantity)
			return nil
		}
	}
	c.Items = append(c.Items, Item{ProductID: productID, Quantity: n})
	return nil
}

// Remove takes the product out of the cart and reports whether it was there.
func (c *Cart) Remove(productID string) bool {
	for i := range c.Items {
		if c.Items[i].ProductID == productID {
			c.Items = append(c.Items[:i], c.Items[i+1:]...)
			return true
		}
	}
	return false
}

// Count is the number of articles in the cart.
func (c *Cart) Count() int {
	n := 0
	for _, it := range c.Items {
		n += it.Quantity
	}
	return n
}

// TotalCents is the cart's price. Products that left the catalog count for nothing.
func (c *Cart) TotalCents() int64 { return totalOf(c.Items) }

func totalOf(items []Item) int64 {
	var t int64
	for _, it := range items {
		if p, ok := ProductByID(it.ProductID); ok {
			t += p.PriceCents * int64(it.Quantity)
		}
	}
	return t
}

// Checkout turns the items into an order placed at now. The cart must not be empty.
func (c *Cart) Checkout(now time.Time) (*Order, error) {
	if len(c.Items) == 0 {
		return nil, errEmptyCart
	}
	o := &Order{ID: gatehouse.NewID(now), Items: c.Items, TotalCents: c.TotalCents(), PlacedAt: now}
	c.Items, c.LastOrder = nil, o
	return o, nil
}

var errEmptyCart = errors.New("shop: the cart is empty")

func (c *Cart) empty() bool { return len(c.Items) == 0 && c.LastOrder == nil }

// CartStore keeps one cart per user, keyed by user id: the cart is reached only through an
// authenticated session, and follows its user from device to device and from instance to
// instance when the store is shared. Implementations are safe for concurrent use.
type CartStore interface {
	// Cart returns the user's cart; an empty one when the user has none.
	Cart(ctx context.Context, userID string) (*Cart, error)
	// UpdateCart applies f to the user's cart and stores the result, atomically with respect
	// to other updates of the same cart (two tabs adding at once both count). If f returns an
	// error nothing is stored and the error is returned. A cart left with no items and no
	// order is deleted.
	UpdateCart(ctx context.Context, userID string, now time.Time, f func(*Cart) error) (*Cart, error)
	// DeleteStaleCarts removes the carts last updated before t and returns how many.
	DeleteStaleCarts(ctx context.Context, t time.Time) (int, error)
}

// MemoryCarts is a CartStore in process memory: for one instance, lost on restart.
type MemoryCarts struct {
	mu    sync.Mutex
	carts map[string]*Cart
}

var _ CartStore = (*MemoryCarts)(nil)

// NewMemoryCarts returns an empty MemoryCarts.
func NewMemoryCarts() *MemoryCarts { return &MemoryCarts{carts: map[string]*Cart{}} }

// Cart implements CartStore.
func (m *MemoryCarts) Cart(_ context.Context, userID string) (*Cart, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.carts[userID].clone(), nil
}

// UpdateCart implements CartStore.
func (m *MemoryCarts) UpdateCart(_ context.Context, userID string, now time.Time, f func(*Cart) error) (*Cart, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.carts[userID].clone()
	if err := f(c); err != nil {
		return nil, err
	}
	c.UpdatedAt = now
	if c.empty() {
		delete(m.carts, userID)
	} else {
		m.carts[userID] = c.clone()
	}
	return c, nil
}

// DeleteStaleCarts implements CartStore.
func (m *MemoryCarts) DeleteStaleCarts(_ context.Context, t time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, c := range m.carts {
		if c.UpdatedAt.Before(t) {
			delete(m.carts, id)
			n++
		}
	}
	return n, nil
}

// clone returns a deep copy, or an empty cart for nil.
func (c *Cart) clone() *Cart {
	if c == nil {
		return &Cart{}
	}
	out := &Cart{Items: append([]Item(nil), c.Items...), UpdatedAt: c.UpdatedAt}
	if c.LastOrder != nil {
		o := *c.LastOrder
		o.Items = append([]Item(nil), o.Items...)
		out.LastOrder = &o
	}
	return out
}
