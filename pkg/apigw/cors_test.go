package apigw_test

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/llmgw/apitokens/pkg/apigw"
)

func TestWithCORSNamesOnlyTheConsole(t *testing.T) {
	inner := func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return apigw.JSON(401, apigw.ErrorBody{Message: "Unauthorized"}), nil
	}
	resp, err := apigw.WithCORS("https://console.example.com", inner)(context.Background(), events.APIGatewayProxyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Headers["Access-Control-Allow-Origin"]; got != "https://console.example.com" || resp.Headers["Vary"] != "Origin" {
		t.Fatalf("headers = %v", resp.Headers)
	}
	if resp.StatusCode != 401 || resp.Headers["Content-Type"] != "application/json" {
		t.Fatalf("the answer itself changed: %+v", resp)
	}
	plain, _ := apigw.WithCORS("", inner)(context.Background(), events.APIGatewayProxyRequest{})
	if _, ok := plain.Headers["Access-Control-Allow-Origin"]; ok {
		t.Fatal("no console origin configured, yet CORS allowed")
	}
}
