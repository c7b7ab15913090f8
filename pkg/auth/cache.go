package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// entry is a cached decision: a principal with its credential's expiry,
// or a refusal.
type entry struct {
	principal  Principal
	expiration int64
	err        error
	until      time.Time
}

// cache keeps decisions keyed by the credential's SHA-256 digest (never
// the secret) for a fixed TTL. Allowed and refused decisions live in two
// separately bounded maps: anyone can present any number of unknown
// tokens, and a flood of them must not push out the decisions about real
// ones (that would turn every real call into a database read, and the
// flood into load on the table). When a map is full its expired entries
// are dropped, and if that frees nothing that map alone is cleared, which
// costs at most one extra read per credential in it.
type cache struct {
	mu      sync.RWMutex
	ttl     time.Duration
	max     int
	allowed map[[sha256.Size]byte]entry
	refused map[[sha256.Size]byte]entry
}

func newCache(ttl time.Duration, max int) *cache {
	return &cache{
		ttl: ttl, max: max,
		allowed: make(map[[sha256.Size]byte]entry),
		refused: make(map[[sha256.Size]byte]entry),
	}
}

func (c *cache) get(hash [sha256.Size]byte, now time.Time) (entry, bool) {
	c.mu.RLock()
	e, ok := c.allowed[hash]
	if !ok {
		e, ok = c.refused[hash]
	}
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return entry{}, false
	}
	return e, true
}

func (c *cache) put(hash [sha256.Size]byte, e entry, now time.Time) {
	e.until = now.Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	m, other := c.allowed, c.refused
	if e.err != nil {
		m, other = c.refused, c.allowed
	}
	delete(other, hash) // a decision that changed replaces the old one
	if _, ok := m[hash]; !ok && len(m) >= c.max {
		for k, old := range m {
			if !now.Before(old.until) {
				delete(m, k)
			}
		}
		if len(m) >= c.max {
			clear(m)
		}
	}
	m[hash] = e
}
