package memstore_test

import (
	"testing"

	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/memstore"
	"github.com/llmgw/apitokens/pkg/store/storetest"
)

func newStore(*testing.T) store.Store { return memstore.New() }

func TestConformance(t *testing.T) { storetest.Run(t, newStore) }

func TestLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large listing skipped in -short mode")
	}
	storetest.RunLarge(t, newStore, 3000)
}
