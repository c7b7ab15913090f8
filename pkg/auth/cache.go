package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// entry is a cached API-token decision: a principal with its token's
// expiry, or a refusal.
type entry struct {
	principal  Principal
	expiration int64
	err        error
	until      time.Time
}

// cache keeps API-token decisions keyed by the token's SHA-256 digest
// (never the secret)
// for a fixed TTL. It is bounded: when full, expired entries are dropped,
// and if that frees nothing the whole cache is cleared, which costs at most
// one extra read per live token.
type cache struct {
	mu   sync.RWMutex
	ttl  time.Duration
	max  int
	data map[[sha256.Size]byte]entry
}

func newCache(ttl time.Duration, max int) *cache {
	return &cache{ttl: ttl, max: max, data: make(map[[sha256.Size]byte]entry)}
}

func (c *cache) get(hash [sha256.Size]byte, now time.Time) (entry, bool) {
	c.mu.RLock()
	e, ok := c.data[hash]
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
	if len(c.data) >= c.max {
		for k, old := range c.data {
			if !now.Before(old.until) {
				delete(c.data, k)
			}
		}
		if len(c.data) >= c.max {
			clear(c.data)
		}
	}
	c.data[hash] = e
}
