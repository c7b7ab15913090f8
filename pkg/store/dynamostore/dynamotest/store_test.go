package dynamotest_test

import (
	"github.com/llmgw/apitokens/pkg/store/dynamostore/dynamotest"
	"github.com/llmgw/apitokens/pkg/store/storetest"
)

// The conformance suite finds the test-only writers through these.
var (
	_ storetest.LegacyInserter = (*dynamotest.Store)(nil)
	_ storetest.BulkCreator    = (*dynamotest.Store)(nil)
)
