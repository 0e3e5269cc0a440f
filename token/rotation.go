package token

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
)

// KeyPolicy says when KeySet.Maintain rotates and retires keys.
type KeyPolicy struct {
	// RotateEvery makes Maintain add a new signing key once the current one is at least this
	// old (by its created_at in the key file). Zero or negative: never.
	RotateEvery time.Duration
	// RetireAfter makes Maintain remove a key from the file (and so from the JWKS) once the key
	// that replaced it has existed for at least this long. It must cover every token the old
	// key may have signed: the access-token lifetime, plus the clock-skew leeway, plus the time
	// other instances take to pick up a rotation. Zero or negative: never.
	RetireAfter time.Duration
}

// KeyChanges reports what Maintain did.
type KeyChanges struct {
	// Rotated is the kid of the signing key Maintain added, or "".
	Rotated string
	// Retired are the kids Maintain removed.
	Retired []string
	// Changed is true when the keys in use changed: by this call, or because another process
	// rewrote the file since the last load.
	Changed bool
}

// errVerifyOnly is returned by operations that need a key file.
var errVerifyOnly = errors.New("token: this key set has no key file")

// Maintain re-reads the key file, rotates and retires keys as p says, writes the file if that
// changed it, and installs the result. It is what the server runs on its maintenance tick
// (every instance sharing the file may run it: the decisions depend only on the file's
// content and the clock, and writers are serialised by a lock file where the platform has
// one). A key is retired when a later key exists in the file (keys are appended, so the next
// key is the one that replaced it) created at least p.RetireAfter ago; the key this set signs
// with is never retired. On any error the keys in use stay as they were.
func (ks *KeySet) Maintain(p KeyPolicy) (KeyChanges, error) {
	if ks.store == nil {
		return KeyChanges{}, errVerifyOnly
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	unlock, err := ks.store.Lock()
	if err != nil {
		return KeyChanges{}, err
	}
	defer unlock()
	f, raw, err := ks.read()
	if err != nil {
		return KeyChanges{}, err
	}
	if !f.hasSigningKey(ks.opts) {
		return KeyChanges{}, fmt.Errorf("token: %s: no %s signing key any more; keeping the loaded keys", ks.store, ks.opts.Alg)
	}
	var ch KeyChanges
	next, err := ks.plan(f, p, &ch)
	if err != nil {
		return KeyChanges{}, err
	}
	if next != f {
		if raw, err = encodeKeyFile(next); err != nil {
			return KeyChanges{}, err
		}
		if err := ks.store.Store(raw, false); err != nil {
			return KeyChanges{}, err
		}
	}
	if sha256.Sum256(raw) == ks.snap.Load().digest {
		return ch, nil
	}
	if err := ks.install(next, raw); err != nil {
		return KeyChanges{}, err
	}
	ch.Changed = true
	return ch, nil
}

// plan returns the key file after p's rotation and retirement (f itself when nothing is due)
// and records what it did in ch.
func (ks *KeySet) plan(f *keyFile, p KeyPolicy, ch *KeyChanges) (*keyFile, error) {
	now := ks.opts.Now()
	signing, pending := f.signingIndex(ks.opts, now)
	next := f
	if p.RotateEvery > 0 && !pending && !now.Before(f.Keys[signing].activeFrom().Add(p.RotateEvery)) {
		if ks.opts.Alg == AlgHS256 && len(ks.opts.HMACSecret) > 0 {
			return nil, errors.New("token: the HS256 secret comes from the configuration; it cannot be rotated on a schedule")
		}
		fk, err := generateKey(ks.opts.Alg, nil, now, ks.opts.PublishAhead)
		if err != nil {
			return nil, err
		}
		next = &keyFile{Version: keyFileVersion, Keys: append(f.Keys[:len(f.Keys):len(f.Keys)], fk)}
		ch.Rotated = fk.KID
		if ks.opts.PublishAhead <= 0 {
			signing = len(next.Keys) - 1
		}
		for _, alg := range ks.opts.ExtraAlgs { // the extra algorithms rotate with it
			xk, err := generateKey(alg, nil, now, ks.opts.PublishAhead)
			if err != nil {
				return nil, err
			}
			next.Keys = append(next.Keys, xk)
		}
	}
	if p.RetireAfter <= 0 {
		return next, nil
	}
	keep := next.extraSigning(ks.opts.ExtraAlgs, now)
	keep[signing] = true
	kept := make([]fileKey, 0, len(next.Keys))
	for i, fk := range next.Keys {
		succ := next.successor(i)
		if !keep[i] && succ >= 0 && !now.Before(supersededAt(next.Keys[succ]).Add(p.RetireAfter)) {
			ch.Retired = append(ch.Retired, fk.KID)
			continue
		}
		kept = append(kept, fk)
	}
	if len(ch.Retired) == 0 {
		return next, nil
	}
	return &keyFile{Version: keyFileVersion, Keys: kept}, nil
}

// supersededAt is when the key before successor stopped signing, at the latest: when successor
// became active; created_at is written in whole seconds rounded down, so one second after it.
func supersededAt(successor fileKey) time.Time {
	if t := successor.CreatedAt.Add(time.Second); t.After(successor.ActivatesAt) {
		return t
	}
	return successor.ActivatesAt
}

// signingIndex returns the index of the key that signs under opts at now (the newest active
// one; see snapshot.signingAt) and whether a newer signer is waiting for its activation time.
// The caller has checked that there is a signer.
func (f *keyFile) signingIndex(opts KeyOptions, now time.Time) (idx int, pending bool) {
	idx, first := -1, -1
	for i, fk := range f.Keys {
		if k, err := fk.decode(); err != nil || !k.signs(opts) {
			continue
		}
		switch {
		case !now.Before(fk.ActivatesAt):
			idx = i
		case first < 0 || fk.ActivatesAt.Before(f.Keys[first].ActivatesAt):
			first = i
		}
	}
	if idx < 0 {
		return first, false
	}
	return idx, first > idx
}

// successor returns the index of the next key of the same algorithm as key i, or -1: a key is
// superseded by the next one of its own algorithm, whatever keys of others lie between.
func (f *keyFile) successor(i int) int {
	for j := i + 1; j < len(f.Keys); j++ {
		if f.Keys[j].Alg == f.Keys[i].Alg {
			return j
		}
	}
	return -1
}

// extraSigning returns the indexes of the keys of the extra algorithms that sign at now (the
// newest active of each).
func (f *keyFile) extraSigning(algs []string, now time.Time) map[int]bool {
	keep := map[int]bool{}
	for _, alg := range algs {
		idx := -1
		for i, fk := range f.Keys {
			if fk.Alg == alg && (idx < 0 || !now.Before(fk.ActivatesAt)) {
				idx = i
			}
		}
		if idx >= 0 {
			keep[idx] = true
		}
	}
	return keep
}
