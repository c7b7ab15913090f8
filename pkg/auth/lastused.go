package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"
)

// LastUsedWriter records that a token authenticated a call at a time
// (store.Store implements it). It must never move the time backwards.
type LastUsedWriter interface {
	TouchLastUsed(ctx context.Context, hash string, at int64) error
}

// lastUsedTimeout bounds the occasional write: the call it rides on waits
// for it, and an unreachable table must not hold that call for the store's
// full request deadline.
const lastUsedTimeout = 500 * time.Millisecond

// lastUsedMax bounds the per-process memory of writes; when full it is
// cleared, which costs at most one early write per token.
const lastUsedMax = 10000

// lastUsed writes a token's last use at most once per resolution in this
// process. The write happens on the call that is due (synchronously, so a
// Lambda that is frozen after answering cannot lose it) and its failure is
// logged, never the caller's problem: the time of last use is
// informational.
type lastUsed struct {
	w          LastUsedWriter
	resolution time.Duration
	log        *slog.Logger

	mu      sync.Mutex
	written map[[sha256.Size]byte]time.Time
}

func newLastUsed(w LastUsedWriter, resolution time.Duration, log *slog.Logger) *lastUsed {
	return &lastUsed{w: w, resolution: resolution, log: log, written: map[[sha256.Size]byte]time.Time{}}
}

// note returns a pass-through for a decision that records the use when the
// decision allowed the call and the token's last write here is at least
// the resolution old. On a nil *lastUsed it records nothing.
func (u *lastUsed) note(ctx context.Context, sum [sha256.Size]byte, now time.Time) func(Principal, error) (Principal, error) {
	return func(p Principal, err error) (Principal, error) {
		if u == nil || err != nil || !u.due(sum, now) {
			return p, err
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lastUsedTimeout)
		defer cancel()
		if werr := u.w.TouchLastUsed(wctx, hex.EncodeToString(sum[:]), now.Unix()); werr != nil {
			u.log.WarnContext(ctx, "last use of a token not recorded", slog.String("tokenUUID", p.TokenUUID), slog.String("error", werr.Error()))
		}
		return p, err
	}
}

// due claims the write for sum if none was made (or claimed) here within
// the resolution, so that concurrent calls with one token write once.
func (u *lastUsed) due(sum [sha256.Size]byte, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if last, ok := u.written[sum]; ok && now.Sub(last) < u.resolution && !now.Before(last) {
		return false
	}
	if len(u.written) >= lastUsedMax {
		clear(u.written)
	}
	u.written[sum] = now
	return true
}
