package dltest_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/llmgw/apitokens/pkg/local/dynamolocal/dltest"
)

func TestMain(m *testing.M) { os.Exit(dltest.Main(m)) }

var validTable = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

func TestTableName(t *testing.T) {
	for _, name := range []string{"plain", "with spaces/and#odd:chars", strings.Repeat("long", 100)} {
		t.Run(name, func(t *testing.T) {
			a, b := dltest.TableName(t), dltest.TableName(t)
			if !validTable.MatchString(a) {
				t.Errorf("TableName = %q, not a valid DynamoDB table name", a)
			}
			if a == b {
				t.Errorf("two calls gave the same name %q", a)
			}
		})
	}
}

func TestTokenTable(t *testing.T) {
	client := dltest.Client(t)
	var table string
	t.Run("create", func(t *testing.T) {
		table = dltest.TokenTable(t, client)
		out, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(out.Table.GlobalSecondaryIndexes); n != 2 {
			t.Errorf("%d indexes, want 2", n)
		}
	})
	// The subtest's cleanup has dropped the table.
	if _, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)}); err == nil {
		t.Errorf("table %s still exists after its test ended", table)
	}
}

func TestUsageTable(t *testing.T) {
	client := dltest.Client(t)
	table := dltest.UsageTable(t, client)
	out, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(out.Table.GlobalSecondaryIndexes); n != 2 {
		t.Errorf("%d indexes, want 2", n)
	}
	ttl, err := client.DescribeTimeToLive(context.Background(), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != "expiresAt" {
		t.Errorf("TTL %+v, want on expiresAt", d)
	}
}
