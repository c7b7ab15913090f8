package memusage_test

import (
	"testing"

	"github.com/llmgw/apitokens/pkg/usage/memusage"
	"github.com/llmgw/apitokens/pkg/usage/usagetest"
)

func TestConformance(t *testing.T) {
	usagetest.Run(t, func(t *testing.T) usagetest.Harness {
		s := memusage.New()
		return usagetest.Harness{Store: s, Calls: s.Calls}
	})
}
