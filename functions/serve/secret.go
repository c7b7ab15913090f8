package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/llmgw/apitokens/pkg/config"
)

// secretGetter is the part of the Secrets Manager client the function uses.
type secretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// secretFetchTimeout bounds the fetch at cold start, well inside Lambda's
// 10 s init phase.
const secretFetchTimeout = 5 * time.Second

func secretsManager(ctx context.Context) (secretGetter, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return secretsmanager.NewFromConfig(awsCfg), nil
}

// upstreamKey resolves the key the function presents to the upstream:
// SERVE_UPSTREAM_API_KEY as is, or the plain-text value of the secret named
// by SERVE_UPSTREAM_API_KEY_SECRET_ARN, read once at cold start and kept
// for the life of the process (a rotated key reaches new execution
// environments; publish a new version to roll it out at once). Setting both
// is refused as ambiguous. An empty result means the upstream takes no key.
func upstreamKey(ctx context.Context, cfg config.Config, client func(context.Context) (secretGetter, error)) (string, error) {
	arn := cfg.ServeUpstreamKeySecretARN
	if arn == "" {
		return cfg.ServeUpstreamKey, nil
	}
	if cfg.ServeUpstreamKey != "" {
		return "", fmt.Errorf("set %s or %s, not both", config.EnvServeUpstreamKey, config.EnvServeUpstreamKeyARN)
	}
	ctx, cancel := context.WithTimeout(ctx, secretFetchTimeout)
	defer cancel()
	sm, err := client(ctx)
	if err != nil {
		return "", err
	}
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("read the upstream key from %s (%s): %w", config.EnvServeUpstreamKeyARN, arn, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("the secret %s holds binary data; store the upstream key as a plain-text SecretString", arn)
	}
	key := strings.TrimSpace(*out.SecretString)
	if key == "" {
		return "", errors.New("the upstream key secret " + arn + " is empty")
	}
	return key, nil
}
