// Package schema is the single definition of the token table: its name,
// attribute names, key schema and global secondary indexes. The DynamoDB
// store and the CDK app both read it, so the deployed table and the code that
// uses it cannot drift apart.
package schema

import "strings"

// TableSuffix is appended to the deployment name to form the table name,
// matching the name LISA deployments already use.
const TableSuffix = "-LISAApiTokenTable"

// TableName returns the token table name for a deployment, for example
// "lisa-LISAApiTokenTable".
func TableName(deploymentName string) string { return deploymentName + TableSuffix }

// Attribute names of token items. Each is spelled here and nowhere else.
const (
	AttrToken           = "token" // partition key: SHA-256 hex of the secret (or a guard key)
	AttrTokenUUID       = "tokenUUID"
	AttrUsername        = "username"
	AttrCreatedBy       = "createdBy"
	AttrCreatedVia      = "createdVia"
	AttrCreatedDate     = "createdDate"
	AttrTokenExpiration = "tokenExpiration"
	AttrName            = "name"
	AttrGroups          = "groups"
	AttrIsSystemToken   = "isSystemToken"
	AttrDisabled        = "disabled"        // BOOL; absent = enabled
	AttrDisabledBy      = "disabledBy"      // S: who disabled it
	AttrDisabledByAdmin = "disabledByAdmin" // BOOL: an admin did (only an admin may enable it)
	AttrDisabledAt      = "disabledAt"      // N, Unix seconds
	AttrUpdatedAt       = "updatedAt"       // N, Unix seconds: last PATCH or rotation (also on the settings item)
	AttrLastUsedAt      = "lastUsedAt"      // N, Unix seconds: last authenticated call (coarse)
	AttrRotatedFrom     = "rotatedFrom"     // S: the tokenUUID this token replaced
	AttrRotatedTo       = "rotatedTo"       // S: the tokenUUID that replaced this token
	AttrLimits          = "limits"          // S: the token's own limits, JSON (limits.Limits); absent = none
	AttrUsageKeyOf      = "usageKey"        // S: the tokenUUID its usage is counted under (the first of its rotations); absent = its own
	// AttrGuardFor is set only on per-user guard items; it names the
	// tokenUUID that holds the user's single non-system token slot.
	AttrGuardFor = "guardFor"
	// AttrGuardHash is set only on guard items: the partition key of the
	// token holding the slot, so that a guard whose token was removed by
	// hand (aws dynamodb delete-item) can be proven stale and reclaimed.
	AttrGuardHash = "guardHash"
	// AttrCursorKey is set only on the CursorKeyItem: the 32-byte key (B)
	// that seals list cursors.
	AttrCursorKey = "cursorKey"
	// AttrAllowUserManaged, AttrUpdatedBy and AttrUpdatedAt are set only on
	// the SettingsItem: whether users may manage their own API tokens (BOOL;
	// absent = never set), who set it (S) and when (N, Unix seconds).
	AttrAllowUserManaged = "allowUserManagedTokens"
	AttrUpdatedBy        = "updatedBy"
)

// Index names and their partition keys.
const (
	IndexUsername  = "username-index"
	IndexTokenUUID = "tokenUUID-index"
)

// KeyType is a DynamoDB scalar attribute type.
type KeyType string

// String is the DynamoDB "S" type; every key in this schema is a string.
const String KeyType = "S"

// Index describes a global secondary index with ALL projection. SortKey
// is "" for an index without one. Every key is a string (String).
type Index struct {
	Name         string
	PartitionKey string
	SortKey      string
}

// Table describes the key schema of a table. SortKey is "" for a table
// without one; TTL names the time-to-live attribute, if any.
type Table struct {
	PartitionKey string
	SortKey      string
	Indexes      []Index
	TTL          string
}

// Tokens is the token table definition.
var Tokens = Table{
	PartitionKey: AttrToken,
	Indexes: []Index{
		{Name: IndexUsername, PartitionKey: AttrUsername},
		{Name: IndexTokenUUID, PartitionKey: AttrTokenUUID},
	},
}

// Reserved partition keys. Besides tokens (SHA-256 hex) and legacy items
// (plain values inserted by hand), the table holds items that are no token:
// per-user guard items ("USER#name") and configuration items ("CONFIG#what").
// A SHA-256 hex digest never contains '#', so a reserved key can never
// collide with a token hash. The stores never return, list, count or delete
// a reserved item as a token, and never accept a reserved key as a token or
// legacy value.
const (
	guardPrefix  = "USER#"
	configPrefix = "CONFIG#"
)

// CursorKeyItem is the partition key of the configuration item that holds
// the key sealing list cursors (AttrCursorKey). The DynamoDB store creates
// it on first need; deleting it only invalidates outstanding cursors.
const CursorKeyItem = configPrefix + "cursor-key"

// SettingsItem is the partition key of the configuration item that holds
// the runtime settings of the token API (AttrAllowUserManaged, AttrUpdatedBy,
// AttrUpdatedAt). It is written only through the settings endpoint; absent,
// the deployment's defaults apply.
const SettingsItem = configPrefix + "settings"

// ReservedPrefixes returns the prefixes of every reserved partition key, for
// filters that must exclude all non-token items.
func ReservedPrefixes() []string { return []string{guardPrefix, configPrefix} }

// IsReservedKey reports whether a partition key value belongs to an item
// that is no token: a guard item or a configuration item.
func IsReservedKey(key string) bool {
	for _, p := range ReservedPrefixes() {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// GuardKey is the partition key of the item that reserves a user's single
// non-system token slot.
func GuardKey(username string) string { return guardPrefix + username }

// IsGuardKey reports whether a partition key value belongs to a guard item.
func IsGuardKey(key string) bool { return strings.HasPrefix(key, guardPrefix) }

// AuditTableSuffix is appended to the deployment name to form the audit
// table's name: every change to a token or to the settings, one item each.
const AuditTableSuffix = "-LISAApiTokenAuditTable"

// AuditTableName returns the audit table name for a deployment, for
// example "lisa-LISAApiTokenAuditTable".
func AuditTableName(deploymentName string) string { return deploymentName + AuditTableSuffix }

// Attribute names of audit items (see store.Event).
const (
	// AttrEventSubject is the partition key: the changed token's public id
	// (tokenUUID or legacy id), or "settings".
	AttrEventSubject = "tokenUUID"
	// AttrEventKey is the sort key: the event's time in Unix milliseconds,
	// zero-padded to 13 digits, "#", its id. Sorting by it is sorting by
	// time, and it is unique.
	AttrEventKey       = "eventKey"
	AttrEventID        = "eventId"
	AttrEventTime      = "time" // N, Unix milliseconds
	AttrEventAction    = "action"
	AttrEventActor     = "actor"
	AttrEventAuthType  = "authType"
	AttrEventSourceIP  = "sourceIp"
	AttrEventUserAgent = "userAgent"
	AttrEventUsername  = "username" // the changed token's owner; absent for settings
	AttrEventChanges   = "changes"  // L of M {field, old, new}
	// AttrEventMonth ("2026-12", UTC) partitions month-index, which lists
	// every event newest first without a scan.
	AttrEventMonth = "month"
	// AttrEventExpiresAt is the TTL attribute (N, Unix seconds): the time
	// plus the deployment's audit retention.
	AttrEventExpiresAt = "expiresAt"
)

// Audit table index names.
const (
	IndexEventUsername = "username-index"
	IndexEventActor    = "actor-index"
	IndexEventMonth    = "month-index"
)

// Audit is the audit table definition.
var Audit = Table{
	PartitionKey: AttrEventSubject,
	SortKey:      AttrEventKey,
	Indexes: []Index{
		{Name: IndexEventUsername, PartitionKey: AttrEventUsername, SortKey: AttrEventKey},
		{Name: IndexEventActor, PartitionKey: AttrEventActor, SortKey: AttrEventKey},
		{Name: IndexEventMonth, PartitionKey: AttrEventMonth, SortKey: AttrEventKey},
	},
	TTL: AttrEventExpiresAt,
}

// UsageTableSuffix is appended to the deployment name to form the usage
// table's name: per token and day, the request counters of rate limits and
// what the token used.
const UsageTableSuffix = "-LISAApiTokenUsageTable"

// UsageTableName returns the usage table name for a deployment, for
// example "lisa-LISAApiTokenUsageTable".
func UsageTableName(deploymentName string) string { return deploymentName + UsageTableSuffix }

// Attribute names of usage items (see usage.Row). Counters are numbers
// (N) added to atomically.
const (
	// AttrUsageKey is the partition key: the tokenUUID, or usage.GlobalKey
	// for the counters of GLOBAL_LIMITS.
	AttrUsageKey = "tokenUUID"
	// AttrUsageDay is the sort key: the UTC day, "2006-01-02".
	AttrUsageDay      = "day"
	AttrUsageUsername = "username" // the token's owner (absent on the global item)
	AttrUsageMonth    = "month"    // "2006-01": month-index's partition key
	AttrUsageRequests = "requests" // requests that day (all of them, limited or not)
	AttrUsageErrors   = "errors"
	AttrUsagePrompt   = "promptTokens"
	AttrUsageOutput   = "completionTokens"
	AttrUsageTokens   = "tokens"    // prompt + completion, what tokensPerDay is checked against
	AttrUsageCost     = "costNanos" // billionths of the budget's unit
	// AttrUsageHourPrefix and AttrUsageMinutePrefix name the day's
	// request counters per hour ("h15") and minute ("m1504"); the write
	// that adds to the current minute removes the few before it.
	AttrUsageHourPrefix   = "h"
	AttrUsageMinutePrefix = "m"
	// AttrUsageExpiresAt is the TTL attribute (N, Unix seconds).
	AttrUsageExpiresAt = "expiresAt"
)

// Usage table index names.
const (
	IndexUsageUsername = "username-index" // username, day: one user's tokens
	IndexUsageMonth    = "month-index"    // month, day: every token in a month
)

// Usage is the usage table definition.
var Usage = Table{
	PartitionKey: AttrUsageKey,
	SortKey:      AttrUsageDay,
	Indexes: []Index{
		{Name: IndexUsageUsername, PartitionKey: AttrUsageUsername, SortKey: AttrUsageDay},
		{Name: IndexUsageMonth, PartitionKey: AttrUsageMonth, SortKey: AttrUsageDay},
	},
	TTL: AttrUsageExpiresAt,
}
