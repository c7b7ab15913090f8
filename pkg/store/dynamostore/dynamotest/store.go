// Package dynamotest is test support for the DynamoDB store: a Store that
// can also write legacy items and bulk fixtures the way an admin or a
// benchmark would, and Counting, which counts the requests a store makes.
// No Lambda links it; the store itself never writes without its checks.
package dynamotest

import (
	"time"

	"github.com/llmgw/apitokens/pkg/store/dynamostore"
)

// Store is a dynamostore.Store with test-only writers (storetest's
// LegacyInserter and BulkCreator; store_test.go holds it to both).
type Store struct {
	*dynamostore.Store
	api   dynamostore.API
	table string
}

// RequestTimeout bounds each request of a test Store. It is far above the
// production bound (dynamostore.RequestTimeout): tests run DynamoDB Local
// on a shared two-core machine, where fifty concurrent transactions on one
// key can keep a single request waiting for seconds. The fault tests use
// the production bound, through the local stack.
const RequestTimeout = 30 * time.Second

// AuditTable is the name of the audit table that test support creates
// beside the token table tableName (dltest.TokenTable does).
func AuditTable(tableName string) string { return tableName + "-audit" }

// New returns a Store on the table tableName through api. Unless opts
// configure the audit trail otherwise, it writes events to
// AuditTable(tableName) with the default retention.
func New(api dynamostore.API, tableName string, opts ...dynamostore.Option) *Store {
	opts = append([]dynamostore.Option{dynamostore.WithAudit(AuditTable(tableName), 0)}, opts...)
	return &Store{Store: dynamostore.NewWithTimeout(api, tableName, RequestTimeout, opts...), api: api, table: tableName}
}
