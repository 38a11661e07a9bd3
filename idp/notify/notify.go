// Package notify sends messages to citizens (SMS, e-mail, paper letters)
// through one Notifier interface. The development outbox keeps them in memory
// so that a person or a test can read the codes at GET /dev/outbox; it exists
// only in development mode.
package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/esia-oidc/idp/store"
)

// Channel is how a message travels.
type Channel string

// Channels.
const (
	SMS    Channel = "sms"
	Email  Channel = "email"
	Letter Channel = "letter"
)

// Message is one notification. Its JSON form is what the development outbox
// answers (design.md, automation contract): every field is always present.
type Message struct {
	Channel Channel `json:"channel"`
	// To is the normalised phone (+7XXXXXXXXXX), the e-mail address (lower
	// case) or, for a letter, the address line.
	To string `json:"to"`
	// Subject is the e-mail subject; empty for SMS.
	Subject string `json:"subject"`
	// Body is the text sent: it holds Code, if any.
	Body string `json:"body"`
	// Code is the one-time code the message carries, empty when none. The
	// senders send only Body; Code is there for the outbox, where a person
	// or a test reads it.
	Code   string    `json:"code"`
	SentAt time.Time `json:"sent_at"`
}

// LogValue keeps a message out of the logs: a record that logs a Message
// shows its channel only, never its recipient, text or code.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(slog.String("channel", string(m.Channel)))
}

// Notifier sends messages.
type Notifier interface {
	Send(ctx context.Context, m Message) error
}

// Outbox is the development notifier: it keeps the last messages in memory.
type Outbox struct {
	mu   sync.Mutex
	msgs []Message
	max  int
	now  func() time.Time
}

// NewOutbox keeps at most max messages (the oldest are dropped).
func NewOutbox(max int, now func() time.Time) *Outbox {
	if now == nil {
		now = time.Now
	}
	return &Outbox{max: max, now: now}
}

// Send implements Notifier.
func (o *Outbox) Send(_ context.Context, m Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if m.SentAt.IsZero() {
		m.SentAt = o.now().UTC()
	}
	o.msgs = append(o.msgs, m)
	if len(o.msgs) > o.max {
		o.msgs = o.msgs[len(o.msgs)-o.max:]
	}
	return nil
}

// Messages returns a copy of the kept messages, oldest first.
func (o *Outbox) Messages() []Message {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Message(nil), o.msgs...)
}

// ServeHTTP answers GET /dev/outbox with the messages as JSON, newest last,
// optionally filtered by ?to=.
func (o *Outbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("to")
	out := []Message{}
	for _, m := range o.Messages() {
		if to == "" || m.To == to {
			out = append(out, m)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"messages": out})
}

// ToContacts addresses a notice to the account's confirmed contacts: smsBody
// by SMS to a confirmed phone, emailBody with subject to a confirmed
// e-mail address. An unconfirmed contact is never written to (it may be
// someone else's).
func ToContacts(a *store.Account, smsBody, subject, emailBody string) []Message {
	var out []Message
	if a.Phone != "" && a.PhoneVerified {
		out = append(out, Message{Channel: SMS, To: a.Phone, Body: smsBody})
	}
	if a.Email != "" && a.EmailVerified {
		out = append(out, Message{Channel: Email, To: a.Email, Subject: subject, Body: emailBody})
	}
	return out
}
