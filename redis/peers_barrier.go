package redis

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
)

// Barriers and their acknowledgements (see Peers).

// barrierWait is a barrier of this instance waiting for acknowledgements. need is nil until the
// registry has been read; done is closed once need is empty.
type barrierWait struct {
	seq  uint64
	need map[string]struct{}
	done chan struct{}
}

// Barrier returns once every other instance has applied the writes that returned before the
// call, or has stopped trusting its client-side cache: when each instance registered after
// those writes has acknowledged the barrier, or after leaseWait(Lease) at most. It never fails:
// if Redis does not answer, it waits the whole bound, which is enough on its own. The stores
// call it after each revoking write; ctx is not consulted, since answering before the bound
// would break the promise.
func (p *Peers) Barrier(_ context.Context) {
	if p == nil {
		return
	}
	start := time.Now()
	w := p.newWait()
	defer p.dropWait(w)
	sent := p.now()
	if peers, err := p.publish(w.seq); err == nil {
		p.expect(w, peers, p.sight(peers, sent, p.now()))
	}
	timer := time.NewTimer(leaseWait(p.opts.Lease) - time.Since(start))
	defer timer.Stop()
	waited := false
	select {
	case <-w.done:
	case <-timer.C:
		waited = true
	}
	if p.opts.OnBarrier != nil {
		p.opts.OnBarrier(time.Since(start), waited)
	}
}

func (p *Peers) newWait() *barrierWait {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	w := &barrierWait{seq: p.seq, done: make(chan struct{})}
	p.waits[w.seq] = w
	return w
}

func (p *Peers) dropWait(w *barrierWait) {
	p.mu.Lock()
	delete(p.waits, w.seq)
	p.mu.Unlock()
}

// publish announces barrier seq and reads the registry, both after the writes it covers.
func (p *Peers) publish(seq uint64) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.Timeout)
	defer cancel()
	b := p.c.B()
	res := p.c.DoMulti(ctx,
		b.Publish().Channel(p.barrierCh).Message(p.id+" "+strconv.FormatUint(seq, 10)).Build(),
		b.Hgetall().Key(p.registry).Build())
	if err := res[0].Error(); err != nil {
		return nil, err
	}
	return res[1].AsStrMap()
}

// expect sets the instances that barrier w waits for: those of the registry, but this one,
// those that acknowledged it already, and the stale ones, whose lease has run out.
func (p *Peers) expect(w *barrierWait, registered map[string]string, stale []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	w.need = make(map[string]struct{}, len(registered))
	for id := range registered {
		if id != p.id && p.acked[id] < w.seq && !slices.Contains(stale, id) {
			w.need[id] = struct{}{}
		}
	}
	if len(w.need) == 0 {
		close(w.done)
	}
}

// acknowledged records that instance id has applied every barrier of ours up to seq.
func (p *Peers) acknowledged(id string, seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if seq <= p.acked[id] {
		return
	}
	p.acked[id] = seq
	for _, w := range p.waits {
		if w.seq > seq || w.need == nil {
			continue
		}
		if _, ok := w.need[id]; ok {
			delete(w.need, id)
			if len(w.need) == 0 {
				close(w.done)
			}
		}
	}
}

// owe records a barrier of another instance to acknowledge after the next heartbeat, and asks
// for that heartbeat.
func (p *Peers) owe(origin string, seq uint64) {
	p.mu.Lock()
	if seq > p.owed[origin] {
		p.owed[origin] = seq
	}
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// takeOwed returns the barriers to acknowledge and forgets them.
func (p *Peers) takeOwed() map[string]uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.owed) == 0 {
		return nil
	}
	owed := p.owed
	p.owed = make(map[string]uint64)
	return owed
}

// acknowledge tells each origin the latest of its barriers that this instance has applied.
func (p *Peers) acknowledge(ctx context.Context, owed map[string]uint64) {
	if len(owed) == 0 {
		return
	}
	b := p.c.B()
	cmds := make(rueidis.Commands, 0, len(owed))
	for origin, seq := range owed {
		cmds = append(cmds, b.Publish().Channel(p.ackPrefix+origin).Message(p.id+" "+strconv.FormatUint(seq, 10)).Build())
	}
	_ = firstErr(p.c.DoMulti(ctx, cmds...)) // an origin that misses it waits for the lease
}

// listen receives barriers (with a cache) and acknowledgements until ctx ends, subscribing
// again after a lost connection. subscribed is closed once the first subscription holds.
func (p *Peers) listen(ctx context.Context, subscribed chan struct{}) {
	defer p.done.Done()
	channels := []string{p.ackPrefix + p.id}
	if p.opts.Cache {
		channels = append(channels, p.barrierCh)
	}
	var n atomic.Int32
	hook := rueidis.WithOnSubscriptionHook(ctx, func(s rueidis.PubSubSubscription) {
		if s.Kind == "subscribe" {
			if n.Add(1) == int32(len(channels)) {
				close(subscribed)
			}
		}
	})
	for ctx.Err() == nil {
		_ = p.c.Receive(hook, p.c.B().Subscribe().Channel(channels...).Build(), p.onMessage)
		select {
		case <-ctx.Done():
		case <-time.After(p.opts.Lease / 4):
		}
	}
}

// onMessage handles a barrier or an acknowledgement. It runs on the connection's reader, so it
// only records what arrived.
func (p *Peers) onMessage(m rueidis.PubSubMessage) {
	id, seqText, ok := strings.Cut(m.Message, " ")
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if !ok || err != nil || id == p.id {
		return
	}
	if m.Channel == p.barrierCh {
		p.owe(id, seq)
	} else {
		p.acknowledged(id, seq)
	}
}
