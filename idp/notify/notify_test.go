package notify

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"
)

func TestOutboxKeepsNewestAndFilters(t *testing.T) {
	o := NewOutbox(2, nil)
	ctx := context.Background()
	for _, to := range []string{"+79990000001", "+79990000002", "+79990000001"} {
		if err := o.Send(ctx, Message{Channel: SMS, To: to, Body: "code"}); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(o.Messages()); got != 2 {
		t.Fatalf("kept %d messages, want 2", got)
	}
	rec := httptest.NewRecorder()
	o.ServeHTTP(rec, httptest.NewRequest("GET", "/dev/outbox?to=%2B79990000001", nil))
	var body struct{ Messages []Message }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Messages) != 1 || body.Messages[0].To != "+79990000001" || body.Messages[0].SentAt.IsZero() {
		t.Fatalf("filtered outbox = %+v", body.Messages)
	}
}
