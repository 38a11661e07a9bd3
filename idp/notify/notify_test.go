package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
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

// TestOutboxShape: GET /dev/outbox answers design.md's shape, every field
// present on every message (code and subject empty when the message has
// none), the code as given.
func TestOutboxShape(t *testing.T) {
	o := NewOutbox(10, nil)
	ctx := context.Background()
	if err := o.Send(ctx, Message{Channel: SMS, To: "+79990000001", Body: "Код: 123456", Code: "123456"}); err != nil {
		t.Fatal(err)
	}
	if err := o.Send(ctx, Message{Channel: Email, To: "citizen@example.ru", Subject: "Уведомление", Body: "Проверка данных завершена"}); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	o.ServeHTTP(rec, httptest.NewRequest("GET", "/dev/outbox", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var body map[string][]map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	msgs := body["messages"]
	if len(body) != 1 || len(msgs) != 2 {
		t.Fatalf("outbox = %s", rec.Body.Bytes())
	}
	want := []string{"body", "channel", "code", "sent_at", "subject", "to"}
	for i, m := range msgs {
		if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, want) {
			t.Errorf("message %d has fields %v, want %v", i, got, want)
		}
	}
	if msgs[0]["channel"] != "sms" || msgs[0]["code"] != "123456" || msgs[0]["subject"] != "" {
		t.Errorf("SMS = %v", msgs[0])
	}
	if msgs[1]["channel"] != "email" || msgs[1]["code"] != "" || msgs[1]["subject"] != "Уведомление" {
		t.Errorf("e-mail = %v", msgs[1])
	}
}

// TestMessageNotLogged: a Message passed to a logger shows its channel and
// nothing of its recipient, text or code.
func TestMessageNotLogged(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	m := Message{Channel: SMS, To: "+79161234567", Subject: "subject-x", Body: "Ваш код 482913", Code: "482913"}
	logger.Info("send", "message", m)
	logger.Info("send", slog.Any("message", &m))
	out := buf.String()
	for _, secret := range []string{"482913", "+79161234567", "subject-x", "Ваш код"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, `"channel":"sms"`) {
		t.Errorf("log lacks the channel:\n%s", out)
	}
}
