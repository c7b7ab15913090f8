package apigw_test

import (
	"os"
	"testing"

	"github.com/llmgw/apitokens/pkg/local/dynamolocal/dltest"
	"github.com/llmgw/apitokens/pkg/store"
	"github.com/llmgw/apitokens/pkg/store/dynamostore/dynamotest"
	"github.com/llmgw/apitokens/pkg/store/memstore"
)

func TestMain(m *testing.M) { os.Exit(dltest.Main(m)) }

var memoryBackend = backend{name: "memory", new: func(t *testing.T) (store.Store, func() map[string]int) {
	return memstore.New(), nil
}}

var dynamoBackend = backend{name: "dynamodb-local", new: func(t *testing.T) (store.Store, func() map[string]int) {
	client := dltest.Client(t)
	c := dynamotest.NewCounting(client)
	return dynamotest.New(c, dltest.TokenTable(t, client)), c.Counts
}}

func TestBehaviourMemory(t *testing.T)   { runBehaviour(t, memoryBackend) }
func TestBehaviourDynamoDB(t *testing.T) { runBehaviour(t, dynamoBackend) }

func TestVolumeMemory(t *testing.T)   { runVolume(t, memoryBackend, 3000, 1000) }
func TestVolumeDynamoDB(t *testing.T) { runVolume(t, dynamoBackend, 3000, 1000) }

func TestTokenCallersMemory(t *testing.T)   { runTokenCallers(t, memoryBackend) }
func TestTokenCallersDynamoDB(t *testing.T) { runTokenCallers(t, dynamoBackend) }

func TestLifecycleMemory(t *testing.T)   { runLifecycle(t, memoryBackend) }
func TestLifecycleDynamoDB(t *testing.T) { runLifecycle(t, dynamoBackend) }

func TestUsageMemory(t *testing.T)   { runUsage(t, memoryBackend) }
func TestUsageDynamoDB(t *testing.T) { runUsage(t, dynamoBackend) }

func TestLimitsMemory(t *testing.T)   { runLimits(t, memoryBackend) }
func TestLimitsDynamoDB(t *testing.T) { runLimits(t, dynamoBackend) }
