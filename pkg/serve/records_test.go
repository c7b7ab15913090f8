package serve_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmgw/apitokens/pkg/serve"
	"github.com/llmgw/apitokens/pkg/usage"
)

// slowRecords is a usage store whose Record waits until released, and
// counts how many wait.
type slowRecords struct {
	*fakeUsage
	release  chan struct{}
	inFlight atomic.Int64
}

func (s *slowRecords) Record(ctx context.Context, id, username string, now time.Time, u usage.Usage) error {
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	select {
	case <-s.release:
	case <-ctx.Done():
	}
	return s.fakeUsage.Record(ctx, id, username, now, u)
}

// TestBackgroundRecordsAreBounded: in container mode a usage table slower
// than the calls does not pile up writes without bound: at most 64 run
// beside answers, the calls beyond that wait for their own write, and
// WaitRecords returns once the last one is done.
func TestBackgroundRecordsAreBounded(t *testing.T) {
	slow := &slowRecords{fakeUsage: newFakeUsage(), release: make(chan struct{})}
	e := newEnv(t, func(c *serve.Config) {
		c.Stream = true
		c.Usage = slow
		c.UsageTracking = true
	})
	const calls = 100
	var wg sync.WaitGroup
	var answered atomic.Int64
	for range calls {
		wg.Go(func() {
			if r := chat(e, t, userToken); r.status == 200 {
				answered.Add(1)
			}
		})
	}
	// The first 64 calls are answered while their writes wait; the rest
	// wait for their own.
	deadline := time.Now().Add(10 * time.Second)
	for slow.inFlight.Load() < 65 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if got := answered.Load(); got > 64 {
		t.Errorf("%d calls answered while every write was held: more than the 64 that may run beside answers", got)
	}
	close(slow.release)
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.h.WaitRecords(ctx); err != nil {
		t.Fatal(err)
	}
	if answered.Load() != calls || len(slow.Records()) != calls {
		t.Fatalf("%d answered, %d recorded; want %d of each", answered.Load(), len(slow.Records()), calls)
	}
}
