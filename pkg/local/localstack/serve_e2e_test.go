package localstack_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmgw/apitokens/pkg/local/devupstream"
	"github.com/llmgw/apitokens/pkg/local/dynamolocal"
	"github.com/llmgw/apitokens/pkg/local/localstack"
	"github.com/llmgw/apitokens/pkg/schema"
	"github.com/llmgw/apitokens/pkg/secret"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/dynamotest"
)

// sdk returns an OpenAI Go SDK client for the stack's /v2/serve. With
// apiKeyHeader the credential goes in Api-Key (Azure-style) instead of
// Authorization.
func sdk(s *localstack.Stack, cred string, apiKeyHeader bool) openai.Client {
	opts := []option.RequestOption{
		option.WithBaseURL(s.URL + "/v2/serve/"),
		option.WithMaxRetries(0),
		option.WithRequestTimeout(30 * time.Second),
	}
	if apiKeyHeader {
		opts = append(opts, option.WithAPIKey(""), option.WithHeader("Api-Key", cred))
	} else {
		opts = append(opts, option.WithAPIKey(cred))
	}
	return openai.NewClient(opts...)
}

func models(t *testing.T, c openai.Client) []string {
	t.Helper()
	page, err := c.Models.List(context.Background())
	if err != nil {
		t.Fatalf("list models: %v", err)
	}
	var ids []string
	for _, m := range page.Data {
		ids = append(ids, m.ID)
	}
	return ids
}

func chat(c openai.Client, model, msg string) (string, error) {
	resp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(msg)},
	})
	if err != nil {
		return "", err
	}
	return resp.Choices[0].Message.Content, nil
}

func streamChat(t *testing.T, c openai.Client, model, msg string) string {
	t.Helper()
	st := c.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(msg)},
	})
	var b strings.Builder
	chunks := 0
	for st.Next() {
		chunks++
		for _, ch := range st.Current().Choices {
			b.WriteString(ch.Delta.Content)
		}
	}
	if err := st.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if chunks < 2 {
		t.Fatalf("stream had %d chunks", chunks)
	}
	return b.String()
}

func apiErrorCode(t *testing.T, err error, status int) string {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != status {
		t.Fatalf("err = %v, want an API error with status %d", err, status)
	}
	return apiErr.Code
}

// TestServeWithOpenAISDK is the serve path end to end: tokens made
// through /api-tokens, used by the OpenAI Go SDK against the local ALB.
func TestServeWithOpenAISDK(t *testing.T) {
	forEachServeMode(t, func(t *testing.T, mode string) {
		s := startStack(t, map[string]string{"SERVE_MODE": mode, "TOKEN_CACHE_SECONDS": "0"})
		c := newClient(t, s)
		adminJWT := c.jwt("admin", "lisa-admins", "lisa-users")
		userTok := c.want(c.do("POST", "/api-tokens/", `{"name":"sdk"}`, bearer(c.jwt("alice", "lisa-users", "lisa-api-users"))...), 201).str("token")
		adminTok := c.want(c.do("POST", "/api-tokens/", `{"name":"admin sdk"}`, bearer(adminJWT)...), 201).str("token")

		for _, mode := range []struct {
			name   string
			apiKey bool
		}{{"Authorization", false}, {"Api-Key", true}} {
			t.Run(mode.name, func(t *testing.T) {
				user := sdk(s, userTok, mode.apiKey)
				if ids := models(t, user); strings.Join(ids, ",") != devupstream.ModelEcho {
					t.Fatalf("user sees models %v, want only %s", ids, devupstream.ModelEcho)
				}
				got, err := chat(user, devupstream.ModelEcho, "hello from "+mode.name)
				if err != nil || got != "hello from "+mode.name {
					t.Fatalf("chat = %q, %v", got, err)
				}
				if got := streamChat(t, user, devupstream.ModelEcho, "streamed words arrive whole"); got != "streamed words arrive whole" {
					t.Fatalf("streamed chat = %q", got)
				}
				_, err = chat(user, devupstream.ModelRestricted, "let me in")
				if code := apiErrorCode(t, err, 403); code != "model_not_allowed" {
					t.Fatalf("restricted model: code %q", code)
				}
				admin := sdk(s, adminTok, mode.apiKey)
				if ids := models(t, admin); len(ids) != 2 {
					t.Fatalf("admin sees %v", ids)
				}
				if got, err := chat(admin, devupstream.ModelRestricted, "admins may"); err != nil || got != "admins may" {
					t.Fatalf("admin on restricted model: %q, %v", got, err)
				}
			})
		}

		t.Run("a JWT works too", func(t *testing.T) {
			if got, err := chat(sdk(s, adminJWT, false), devupstream.ModelEcho, "jwt"); err != nil || got != "jwt" {
				t.Fatalf("chat with JWT = %q, %v", got, err)
			}
		})

		t.Run("the upstream sees its own key, never the caller's", func(t *testing.T) {
			recs := s.Upstream.Requests()
			if len(recs) == 0 {
				t.Fatal("the upstream saw no request")
			}
			for _, r := range recs {
				if r.Authorization != "Bearer "+s.Config.ServeUpstreamKey || r.APIKey != "" {
					t.Fatalf("upstream saw Authorization %q, Api-Key %q", r.Authorization, r.APIKey)
				}
				for _, cred := range []string{userTok, adminTok, adminJWT} {
					if strings.Contains(r.Authorization+r.APIKey+r.Cookie+r.RawQuery, cred) {
						t.Fatal("a caller credential reached the upstream")
					}
				}
			}
		})

		t.Run("every call is authorized: N calls, N token reads", func(t *testing.T) {
			user := sdk(s, userTok, false)
			before := s.Reads.Counts()["GetItem"]
			const n = 7
			for i := 0; i < n; i++ {
				if _, err := chat(user, devupstream.ModelEcho, "again"); err != nil {
					t.Fatal(err)
				}
			}
			if got := s.Reads.Counts()["GetItem"] - before; got != n {
				t.Fatalf("%d calls made %d token reads, want %d", n, got, n)
			}
		})

		t.Run("expired, deleted and legacy tokens get 401", func(t *testing.T) {
			client, err := dynamolocal.NewClient(context.Background(), s.DynamoDBEndpoint)
			if err != nil {
				t.Fatal(err)
			}
			// Expired: tokenExpiration moved into the past, as an operator would.
			expTok := c.want(c.do("POST", "/api-tokens/bot", `{"name":"exp","isSystemToken":true}`, bearer(adminJWT)...), 201).str("token")
			if _, err := chat(sdk(s, expTok, false), devupstream.ModelEcho, "ok"); err != nil {
				t.Fatal(err)
			}
			_, err = client.UpdateItem(context.Background(), &dynamodb.UpdateItemInput{
				TableName:                 aws.String(s.TableName),
				Key:                       map[string]types.AttributeValue{schema.AttrToken: &types.AttributeValueMemberS{Value: secret.Hash(expTok)}},
				UpdateExpression:          aws.String("SET #e = :t"),
				ExpressionAttributeNames:  map[string]string{"#e": schema.AttrTokenExpiration},
				ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Unix()-1, 10)}},
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = chat(sdk(s, expTok, false), devupstream.ModelEcho, "expired")
			// An expired key is a valid key past its time: the code says so.
			if code := apiErrorCode(t, err, 401); code != "expired_token" {
				t.Fatalf("expired: code %q", code)
			}
			// Deleted through the API (cache TTL 0 here).
			del := c.want(c.do("POST", "/api-tokens/bot", `{"name":"del","isSystemToken":true}`, bearer(adminJWT)...), 201)
			c.want(c.do("DELETE", "/api-tokens/"+del.str("tokenUUID"), "", bearer(adminJWT)...), 200)
			_, err = chat(sdk(s, del.str("token"), true), devupstream.ModelEcho, "deleted")
			apiErrorCode(t, err, 401)
			// Legacy: a plain value in the table.
			legacy := strings.Repeat("ab12", 32)
			if err := dynamotest.New(client, s.TableName).PutLegacy(context.Background(), legacy, 0); err != nil {
				t.Fatal(err)
			}
			_, err = chat(sdk(s, legacy, false), devupstream.ModelEcho, "legacy")
			apiErrorCode(t, err, 401)
			_, err = chat(sdk(s, "YOUR_STRING_HERE", false), devupstream.ModelEcho, "legacy")
			apiErrorCode(t, err, 401)
		})
	})
}

// TestServeUpstreamFailures: a dead upstream is 502, a slow one 504, and
// nothing hangs.
func TestServeUpstreamFailures(t *testing.T) {
	forEachServeMode(t, func(t *testing.T, mode string) {
		t.Run("upstream down", func(t *testing.T) {
			s := startStack(t, map[string]string{"SERVE_MODE": mode, "SERVE_UPSTREAM_URL": "http://127.0.0.1:1/v1"})
			c := newClient(t, s)
			tok := c.want(c.do("POST", "/api-tokens/", `{"name":"x"}`, bearer(c.jwt("alice", "lisa-api-users"))...), 201).str("token")
			_, err := chat(sdk(s, tok, false), "any-model", "hi")
			apiErrorCode(t, err, 502)
		})
		t.Run("upstream slower than the timeout", func(t *testing.T) {
			s := startStack(t, map[string]string{"SERVE_MODE": mode, "SERVE_UPSTREAM_TIMEOUT_SECONDS": "1"})
			c := newClient(t, s)
			tok := c.want(c.do("POST", "/api-tokens/", `{"name":"x"}`, bearer(c.jwt("alice", "lisa-api-users"))...), 201).str("token")
			s.Upstream.SetKnobs(devupstream.Knobs{Delay: 10 * time.Second})
			start := time.Now()
			_, err := chat(sdk(s, tok, false), devupstream.ModelEcho, "slow")
			if code := apiErrorCode(t, err, 504); code == "" {
				t.Fatal("504 without a code")
			}
			// The upstream would answer after 10 s; a 504 well before that shows
			// the gateway gave up on its own timeout rather than waiting.
			if d := time.Since(start); d > 8*time.Second {
				t.Fatalf("the 504 took %v: the timeout is not enforced", d)
			}
			s.Upstream.SetKnobs(devupstream.Knobs{})
		})
	})
}
