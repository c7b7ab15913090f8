package dynamostore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/llmgw/apitokens/pkg/store"
)

// scripted answers TransactWriteItems and DeleteItem from a script; an
// unexpected call panics through the nil embedded API.
type scripted struct {
	API
	tx      []error
	txCalls int
	deletes []error
}

func (f *scripted) Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	return &dynamodb.QueryOutput{}, nil // no UUID clash
}

// GetItem answers every read with a present item: the guard names a token
// and that token exists, so a taken slot is genuinely taken.
func (f *scripted) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{Item: map[string]types.AttributeValue{
		"token": &types.AttributeValueMemberS{Value: "x"}, "guardHash": &types.AttributeValueMemberS{Value: "h"},
	}}, nil
}

func (f *scripted) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.txCalls++
	if len(f.tx) == 0 {
		return &dynamodb.TransactWriteItemsOutput{}, nil
	}
	err := f.tx[0]
	f.tx = f.tx[1:]
	return &dynamodb.TransactWriteItemsOutput{}, err
}

func (f *scripted) DeleteItem(context.Context, *dynamodb.DeleteItemInput, ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	if len(f.deletes) == 0 {
		return &dynamodb.DeleteItemOutput{}, nil
	}
	err := f.deletes[0]
	f.deletes = f.deletes[1:]
	return &dynamodb.DeleteItemOutput{}, err
}

func canceled(codes ...string) error {
	e := &types.TransactionCanceledException{Message: aws.String("Transaction cancelled")}
	for _, c := range codes {
		e.CancellationReasons = append(e.CancellationReasons, types.CancellationReason{Code: aws.String(c)})
	}
	return e
}

func TestCreateMapsCancellation(t *testing.T) {
	conflict := canceled("None", codeConflict)
	tok := store.Token{Hash: "h", UUID: "u", Username: "alice"}
	for _, tc := range []struct {
		name  string
		tx    []error
		want  error // nil: success; errAny: a non-sentinel error
		calls int
	}{
		{"success", nil, nil, 1},
		{"hash taken", []error{canceled(codeConditionFailed, "None")}, store.ErrExists, 1},
		{"hash and slot taken", []error{canceled(codeConditionFailed, codeConditionFailed)}, store.ErrExists, 1},
		{"slot taken", []error{canceled("None", codeConditionFailed)}, store.ErrSlotTaken, 1},
		{"slot taken while conflicting", []error{canceled(codeConflict, codeConditionFailed)}, store.ErrSlotTaken, 1},
		{"conflicts then success", []error{conflict, conflict}, nil, 3},
		{"conflicts then slot taken", []error{conflict, canceled("None", codeConditionFailed)}, store.ErrSlotTaken, 2},
		{"conflicts without end", []error{conflict, conflict, conflict, conflict, conflict, conflict, conflict, conflict, conflict}, errAny, transactAttempts},
		{"other failure", []error{errors.New("connection reset")}, errAny, 1},
		{"validation cancellation", []error{canceled("ValidationError", "None")}, errAny, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &scripted{tx: tc.tx}
			err := New(f, "table").Create(context.Background(), tok)
			checkErr(t, err, tc.want)
			if f.txCalls != tc.calls {
				t.Errorf("%d TransactWriteItems calls, want %d", f.txCalls, tc.calls)
			}
		})
	}
}

func TestCreateRetryHonoursContext(t *testing.T) {
	conflict := canceled("None", codeConflict)
	f := &scripted{tx: []error{conflict, conflict, conflict, conflict, conflict, conflict, conflict, conflict}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := New(f, "table").Create(ctx, store.Token{Hash: "h", UUID: "u", Username: "alice"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Create: %v, want the context's error", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s after the deadline", d)
	}
}

func TestDeleteMapsCancellation(t *testing.T) {
	tok := store.Token{Hash: "h", UUID: "u", Username: "alice"}
	ccf := &types.ConditionalCheckFailedException{Message: aws.String("failed")}
	for _, tc := range []struct {
		name    string
		tx      []error
		deletes []error
		want    error
	}{
		{"success", nil, nil, nil},
		{"token gone", []error{canceled(codeConditionFailed, "None")}, nil, store.ErrNotFound},
		{"guard of another token: delete the token alone", []error{canceled("None", codeConditionFailed)}, nil, nil},
		{"guard of another token, token gone meanwhile", []error{canceled("None", codeConditionFailed)}, []error{ccf}, store.ErrNotFound},
		{"outage", []error{errors.New("timeout")}, nil, errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &scripted{tx: tc.tx, deletes: tc.deletes}
			checkErr(t, New(f, "table").Delete(context.Background(), tok), tc.want)
		})
	}
}

var errAny = errors.New("any non-sentinel error")

func checkErr(t *testing.T, err, want error) {
	t.Helper()
	switch want {
	case nil:
		if err != nil {
			t.Errorf("error %v, want success", err)
		}
	case errAny:
		if err == nil {
			t.Fatal("succeeded, want an error")
		}
		for _, s := range []error{store.ErrNotFound, store.ErrSlotTaken, store.ErrExists, store.ErrBadCursor} {
			if errors.Is(err, s) {
				t.Errorf("error %v matches %v, want a non-sentinel error", err, s)
			}
		}
	default:
		if !errors.Is(err, want) {
			t.Errorf("error %v, want %v", err, want)
		}
	}
}
