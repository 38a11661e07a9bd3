package notify

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
)

// recorder is a sender that keeps what it is given and answers err.
type recorder struct {
	err  error
	mu   sync.Mutex
	msgs []Message
}

func (r *recorder) Send(_ context.Context, m Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return r.err
}

func (r *recorder) channels() []Channel {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Channel
	for _, m := range r.msgs {
		out = append(out, m.Channel)
	}
	return out
}

func msgOn(c Channel) Message { return Message{Channel: c, To: "x", Body: "y"} }

// TestRouterProduction: without an outbox each channel goes to its sender;
// a channel without one, letters among them, is an ErrNoChannel error
// that says which; an unknown channel is an error too; a sender's error
// comes back as it is.
func TestRouterProduction(t *testing.T) {
	t.Parallel()
	sms, email := &recorder{}, &recorder{}
	r := &Router{Senders: map[Channel]Notifier{SMS: sms, Email: email}}
	ctx := t.Context()
	if err := r.Send(ctx, msgOn(SMS)); err != nil {
		t.Fatal(err)
	}
	if err := r.Send(ctx, msgOn(Email)); err != nil {
		t.Fatal(err)
	}
	if got := sms.channels(); !slices.Equal(got, []Channel{SMS}) {
		t.Errorf("SMS sender got %v", got)
	}
	if got := email.channels(); !slices.Equal(got, []Channel{Email}) {
		t.Errorf("e-mail sender got %v", got)
	}
	err := r.Send(ctx, msgOn(Letter))
	if !errors.Is(err, ErrNoChannel) || err.Error() != "notify: no letter channel configured" {
		t.Errorf("letter: %v", err)
	}
	if err := r.Send(ctx, msgOn("pigeon")); err == nil || errors.Is(err, ErrNoChannel) {
		t.Errorf("unknown channel: %v", err)
	}
	if got := r.Unconfigured(); !slices.Equal(got, []Channel{Letter}) {
		t.Errorf("Unconfigured() = %v", got)
	}

	failing := errors.New("gateway down")
	r = &Router{Senders: map[Channel]Notifier{SMS: &recorder{err: failing}}}
	if err := r.Send(ctx, msgOn(SMS)); !errors.Is(err, failing) {
		t.Errorf("a failing sender: %v", err)
	}
	err = r.Send(ctx, msgOn(Email))
	if !errors.Is(err, ErrNoChannel) || err.Error() != "notify: no e-mail channel configured" {
		t.Errorf("e-mail without a sender: %v", err)
	}
	if got := r.Unconfigured(); !slices.Equal(got, []Channel{Email, Letter}) {
		t.Errorf("Unconfigured() = %v", got)
	}
	if got := (&Router{}).Unconfigured(); !slices.Equal(got, Channels) {
		t.Errorf("Unconfigured() of an empty router = %v", got)
	}
}

// TestRouterDevelopment: with an outbox, the channels without a sender go
// to it, and a channel with a real sender does not.
func TestRouterDevelopment(t *testing.T) {
	t.Parallel()
	email := &recorder{}
	outbox := NewOutbox(10, nil)
	r := &Router{Senders: map[Channel]Notifier{Email: email}, Outbox: outbox}
	for _, c := range Channels {
		if err := r.Send(t.Context(), msgOn(c)); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
	}
	var inOutbox []Channel
	for _, m := range outbox.Messages() {
		inOutbox = append(inOutbox, m.Channel)
	}
	if !slices.Equal(inOutbox, []Channel{SMS, Letter}) {
		t.Errorf("outbox got %v, want [sms letter]", inOutbox)
	}
	if got := email.channels(); !slices.Equal(got, []Channel{Email}) {
		t.Errorf("e-mail sender got %v", got)
	}
	if err := r.Send(t.Context(), msgOn("pigeon")); err == nil {
		t.Error("an unknown channel went to the outbox")
	}
}
