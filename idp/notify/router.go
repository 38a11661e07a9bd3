package notify

import (
	"context"
	"errors"
	"fmt"
)

// Channels lists every channel.
var Channels = []Channel{SMS, Email, Letter}

// ErrNoChannel is wrapped by the error of a message whose channel has no
// sender.
var ErrNoChannel = errors.New("notify: channel not configured")

// Router is the Notifier the provider sends through: each message goes to
// the sender of its channel. A channel without one goes to Outbox when it
// is set (development mode), and is otherwise an error wrapping
// ErrNoChannel.
type Router struct {
	// Senders holds the sender of each configured channel: SMS the SMS
	// gateway, Email the SMTP sender. Letters have none yet.
	Senders map[Channel]Notifier
	// Outbox, when not nil, takes the messages of the channels without a
	// sender. Only development mode sets it.
	Outbox Notifier
}

var _ Notifier = (*Router)(nil)

// Send sends m through the sender of m.Channel.
func (r *Router) Send(ctx context.Context, m Message) error {
	if !known(m.Channel) {
		return fmt.Errorf("notify: unknown channel %q", m.Channel)
	}
	if s := r.Senders[m.Channel]; s != nil {
		return s.Send(ctx, m)
	}
	if r.Outbox != nil {
		return r.Outbox.Send(ctx, m)
	}
	return &noChannelError{m.Channel}
}

// Unconfigured returns the channels that have no sender (in development
// mode the outbox takes their messages).
func (r *Router) Unconfigured() []Channel {
	var out []Channel
	for _, c := range Channels {
		if r.Senders[c] == nil {
			out = append(out, c)
		}
	}
	return out
}

type noChannelError struct{ c Channel }

func (e *noChannelError) Error() string {
	name := map[Channel]string{SMS: "SMS", Email: "e-mail", Letter: "letter"}[e.c]
	return "notify: no " + name + " channel configured"
}

func (e *noChannelError) Is(target error) bool { return target == ErrNoChannel }

func known(c Channel) bool {
	for _, k := range Channels {
		if c == k {
			return true
		}
	}
	return false
}
