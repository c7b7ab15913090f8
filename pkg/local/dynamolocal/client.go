package dynamolocal

import (
	"context"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Region and static credentials every local client uses. DynamoDB Local
// runs with -sharedDb, so they do not select a database; they only have to
// be present for request signing. Keeping them fixed also means a client
// built here can never reach a real AWS account by accident.
const (
	Region          = "us-east-1"
	AccessKeyID     = "local"
	SecretAccessKey = "local"
)

// NewClient returns a DynamoDB client for a local endpoint such as
// Instance.Endpoint() or $DYNAMODB_ENDPOINT. It does not read the AWS
// environment, shared config files or profiles: the result is the same on
// every machine. optFns adjust the client (tests shorten retries and
// timeouts).
//
// DisableValidateResponseChecksum is set because the SDK's CRC32 response
// check only produces a warning against DynamoDB Local (a
// known quirk); over loopback it protects nothing.
func NewClient(ctx context.Context, endpoint string, optFns ...func(*dynamodb.Options)) (*dynamodb.Client, error) {
	_ = ctx // reserved: loading config may need it later; kept for a stable signature
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("dynamolocal: endpoint %q is not an http(s) URL", endpoint)
	}
	cfg := aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider(AccessKeyID, SecretAccessKey, ""),
	}
	opts := append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.DisableValidateResponseChecksum = true
	}}, optFns...)
	return dynamodb.NewFromConfig(cfg, opts...), nil
}
