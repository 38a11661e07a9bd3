package oidc

import (
	"slices"
	"sync"
	"time"

	"github.com/esia-oidc/idp/store"
)

// tokenCache keeps the decoded records of active access tokens in the
// process, so that introspection and userinfo, which a resource server may
// call on every request it serves, need neither a Redis round trip nor JSON
// decoding for a token they have seen.
//
// Revocation stays immediate: this process drops an entry when it changes
// the grant (before the call returns), and every replica drops it when the
// store announces the change (store.GrantWatcher). Entries are served only
// while that feed is whole; a gap empties the cache. A record read from the
// store is kept only if no change that may concern it was heard while it was
// read (put checks the log of recent changes), so an announcement that
// overtakes a slow read cannot leave a revoked token cached. An entry also
// lapses after ttl, which bounds the harm should an announcement be lost
// without the feed noticing.
type tokenCache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	ready bool   // the change feed is whole
	gen   uint64 // the number of changes and resets heard
	// log holds the latest changes: change number n at log[n%len(log)]. A
	// reset is logged as the zero GrantChange, which concerns every token.
	log   [256]store.GrantChange
	bySig map[string]*cachedToken
	byReq map[string][]string // request ID → signatures
	bySes map[string][]string // SSO session ID → signatures
	bySub map[string][]string // account ID → signatures
}

// cachedToken is an access token's decoded record.
type cachedToken struct {
	req     storedRequest // Session left empty: sess holds it decoded
	sess    *Session
	expires time.Time // the token's expiry (zero: none)
	until   time.Time // when the entry lapses
}

func newTokenCache(ttl time.Duration, max int, now func() time.Time) *tokenCache {
	return &tokenCache{ttl: ttl, max: max, now: now,
		bySig: map[string]*cachedToken{}, byReq: map[string][]string{},
		bySes: map[string][]string{}, bySub: map[string][]string{}}
}

// generation returns the current generation, to pass to put.
func (c *tokenCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// get returns the entry for a signature, if it is there and live.
func (c *tokenCache) get(sig string) (*cachedToken, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ready {
		return nil, false
	}
	e, ok := c.bySig[sig]
	if !ok {
		return nil, false
	}
	if !c.now().Before(e.until) {
		c.drop(sig)
		return nil, false
	}
	return e, true
}

// put keeps an active token's record read when the generation was gen,
// unless a change heard since may concern it.
func (c *tokenCache) put(gen uint64, sig string, e *cachedToken) {
	e.until = c.now().Add(c.ttl)
	if !e.expires.IsZero() && e.expires.Before(e.until) {
		e.until = e.expires
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ready || c.changedSince(gen, sig, e) {
		return
	}
	c.drop(sig) // a concurrent reader's copy
	if len(c.bySig) >= c.max {
		for old := range c.bySig { // an arbitrary victim
			c.drop(old)
			break
		}
	}
	c.bySig[sig] = e
	index(c.byReq, e.req.ID, sig)
	index(c.bySes, e.sess.SessionID, sig)
	index(c.bySub, e.sess.AccountID, sig)
}

// index adds sig to m[key], unless key is empty; c.mu is held.
func index(m map[string][]string, key, sig string) {
	if key != "" {
		m[key] = append(m[key], sig)
	}
}

// unindex removes sig from m[key]; c.mu is held.
func unindex(m map[string][]string, key, sig string) {
	sigs := m[key]
	for i, s := range sigs {
		if s == sig {
			sigs = append(sigs[:i], sigs[i+1:]...)
			break
		}
	}
	if len(sigs) == 0 {
		delete(m, key)
	} else {
		m[key] = sigs
	}
}

// changedSince reports whether a change heard after generation gen may
// concern the token with the signature and record e; c.mu is held.
func (c *tokenCache) changedSince(gen uint64, sig string, e *cachedToken) bool {
	if c.gen-gen > uint64(len(c.log)) {
		return true // the log no longer reaches back to gen
	}
	for n := gen + 1; n <= c.gen; n++ {
		ch := c.log[n%uint64(len(c.log))]
		if ch == (store.GrantChange{}) || ch.Signature == sig || concerns(ch, e) {
			return true
		}
	}
	return false
}

// concerns reports whether a change to a request, a session or an account
// reaches the token e.
func concerns(ch store.GrantChange, e *cachedToken) bool {
	return (ch.RequestID != "" && ch.RequestID == e.req.ID) ||
		(ch.SessionID != "" && ch.SessionID == e.sess.SessionID) ||
		(ch.Subject != "" && ch.Subject == e.sess.AccountID && (ch.ClientID == "" || ch.ClientID == e.req.ClientID))
}

// record logs a change; c.mu is held.
func (c *tokenCache) record(ch store.GrantChange) {
	c.gen++
	c.log[c.gen%uint64(len(c.log))] = ch
}

// drop removes one entry; c.mu is held.
func (c *tokenCache) drop(sig string) {
	e, ok := c.bySig[sig]
	if !ok {
		return
	}
	delete(c.bySig, sig)
	unindex(c.byReq, e.req.ID, sig)
	unindex(c.bySes, e.sess.SessionID, sig)
	unindex(c.bySub, e.sess.AccountID, sig)
}

// Changed implements store.GrantWatch, and is called directly when this
// process changes a grant.
func (c *tokenCache) Changed(ch store.GrantChange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record(ch)
	for _, x := range []struct {
		m   map[string][]string
		key string
	}{{c.byReq, ch.RequestID}, {c.bySes, ch.SessionID}, {c.bySub, ch.Subject}} {
		if x.key == "" {
			continue
		}
		for _, sig := range slices.Clone(x.m[x.key]) {
			if e := c.bySig[sig]; e != nil && concerns(ch, e) {
				c.drop(sig)
			}
		}
	}
	if ch.Signature != "" {
		c.drop(ch.Signature)
	}
}

// Ready implements store.GrantWatch.
func (c *tokenCache) Ready() { c.reset(true) }

// Lost implements store.GrantWatch.
func (c *tokenCache) Lost() { c.reset(false) }

func (c *tokenCache) reset(ready bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record(store.GrantChange{})
	c.ready = ready
	clear(c.bySig)
	clear(c.byReq)
	clear(c.bySes)
	clear(c.bySub)
}
