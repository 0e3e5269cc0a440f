package redis

import (
	"context"
	"strconv"
	"time"
)

// Heartbeats, and dropping instances that stopped from the registry (see Peers).

// pruneScript drops instance ARGV[1] from the registry KEYS[1] if its count is still ARGV[2].
const pruneScript = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0`

// sighting is when the janitor first saw an instance's current heartbeat count: at, the
// monotonic time (see Peers.now) the answer that showed it arrived.
type sighting struct {
	count string
	at    int64
}

// beatLoop sends a heartbeat every quarter of the lease, and at once when a barrier arrives,
// until ctx ends; every tick it also tidies the registry.
func (p *Peers) beatLoop(ctx context.Context) {
	defer p.done.Done()
	tick := time.NewTicker(p.opts.Lease / 4)
	defer tick.Stop()
	for {
		p.beat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-tick.C:
			p.tidy(ctx)
		}
	}
}

// beat sends a heartbeat on the connections that carry cached reads; once Redis has answered,
// the lease runs from the moment it was sent, and the barriers that arrived before it are
// acknowledged. An instance without a cache sends none.
func (p *Peers) beat(ctx context.Context) {
	if !p.opts.Cache {
		return
	}
	owed := p.takeOwed()
	sent := p.now()
	ctx, cancel := context.WithTimeout(ctx, min(p.opts.Lease, p.opts.Timeout))
	defer cancel()
	if err := p.heartbeat(ctx); err != nil {
		if p.Trusted() {
			p.log("a heartbeat to Redis failed; the client-side cache is trusted until the lease ends", "err", err)
		}
		return // the origins of owed wait for the lease to run out instead
	}
	p.extend(sent)
	p.acknowledge(ctx, owed)
}

// heartbeat writes the number of the heartbeat in the registry and, on Redis Cluster, sends a
// PING to every other node, each on the connection that the client-side cache of that node
// uses. The numbers of an instance never repeat (its id is new with each process), so an
// unchanged number in the registry means that no heartbeat came in between.
func (p *Peers) heartbeat(ctx context.Context) error {
	p.beats++
	cmd := p.c.B().Hset().Key(p.registry).FieldValue().FieldValue(p.id, strconv.FormatUint(p.beats, 10)).Build()
	if err := p.c.Do(ctx, cmd).Error(); err != nil {
		return err
	}
	if len(servers(p.c)) == 1 {
		return nil
	}
	return pingAll(ctx, p.c)
}

// tidy drops from the registry the instances whose heartbeat count has not moved for
// leaseWait(Lease) by this instance's clock (see stale). Barriers then stop waiting for
// instances that have gone.
func (p *Peers) tidy(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	sent := p.now()
	reg, err := p.c.Do(ctx, p.c.B().Hgetall().Key(p.registry).Build()).AsStrMap()
	if err != nil {
		return
	}
	for _, id := range p.sight(reg, sent, p.now()) {
		cmd := p.c.B().Eval().Script(pruneScript).Numkeys(1).Key(p.registry).Arg(id, reg[id]).Build()
		if n, err := p.c.Do(ctx, cmd).AsInt64(); err == nil && n == 1 {
			p.log("dropped a gatehouse instance that stopped sending heartbeats from the registry", "instance", id)
		}
	}
}

// sight records the registry reg, read by a call sent at sent whose answer arrived at arrived
// (both from now()), and returns the other instances that are stale in it.
func (p *Peers) sight(reg map[string]string, sent, arrived int64) (stale []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id := range p.seen {
		if _, ok := reg[id]; !ok {
			delete(p.seen, id)
			delete(p.acked, id)
			delete(p.owed, id)
		}
	}
	for id, count := range reg {
		s, ok := p.seen[id]
		switch {
		case id == p.id:
		case !ok || s.count != count:
			p.seen[id] = sighting{count: count, at: arrived}
		case sent-s.at >= int64(leaseWait(p.opts.Lease)):
			stale = append(stale, id)
		}
	}
	return stale
}
