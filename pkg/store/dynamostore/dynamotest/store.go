// Package dynamotest is test support for the DynamoDB store: a Store that
// can also write legacy items and bulk fixtures the way an admin or a
// benchmark would, and Counting, which counts the requests a store makes.
// No Lambda links it; the store itself never writes without its checks.
package dynamotest

import (
	"github.com/llmgw/apitokens/pkg/store/dynamostore"
	"github.com/llmgw/apitokens/pkg/store/storetest"
)

// Store is a dynamostore.Store with test-only writers (storetest's
// LegacyInserter and BulkCreator).
type Store struct {
	*dynamostore.Store
	api   dynamostore.API
	table string
}

var (
	_ storetest.LegacyInserter = (*Store)(nil)
	_ storetest.BulkCreator    = (*Store)(nil)
)

// New returns a Store on the table tableName through api.
func New(api dynamostore.API, tableName string) *Store {
	return &Store{Store: dynamostore.New(api, tableName), api: api, table: tableName}
}
