package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/esia-oidc/idp/idp/notify"
	"github.com/esia-oidc/idp/idp/registry"
	"github.com/esia-oidc/idp/idp/web"
	"github.com/esia-oidc/idp/internal/tracing"
	"github.com/esia-oidc/idp/store"
)

// notifyJob is the kind of the job that sends one notification. Its
// arguments are the message sealed under the secret key: a message may
// carry a one-time code, which must not lie in the job table in the clear.
const notifyJob = "notify.send"

// sealPurpose is the sealer's purpose of notification jobs' arguments.
const sealPurpose = "notify-job"

// enqueueNotice adds the job that sends m; with a context of Atomically it
// is sent only if that transaction commits.
func (s *Server) enqueueNotice(ctx context.Context, m notify.Message) error {
	plain, err := json.Marshal(m)
	if err != nil {
		return err
	}
	sealed, err := s.Sealer.Seal(sealPurpose, plain, []byte(notifyJob))
	if err != nil {
		return err
	}
	// A code sent by SMS or e-mail lives five minutes: it is worth a few
	// quick tries, not hours of them. Letters and notices without a code
	// take the jobs' configured attempts (IDP_JOB_MAX_ATTEMPTS, with the
	// backoff up to IDP_JOB_MAX_BACKOFF): they must not be lost to a short
	// outage.
	attempts := 0
	if m.Code != "" && m.Channel != notify.Letter {
		attempts = codeNoticeAttempts
	}
	return s.Durable.EnqueueJob(ctx, notifyJob, sealed, store.JobOptions{MaxAttempts: attempts})
}

// codeNoticeAttempts bounds the tries of a message carrying a short-lived code.
const codeNoticeAttempts = 5

// notifyLater sends a message without holding up the page that asked for
// it: the message becomes a durable job, tried again on a failure. If the
// job cannot be enqueued the message is sent from a goroutine, once.
func (s *Server) notifyLater(ctx context.Context, m notify.Message) {
	err := s.enqueueNotice(context.WithoutCancel(ctx), m)
	if err == nil {
		return
	}
	s.logger.WarnContext(ctx, "enqueue a notification; sending it at once", "message", m, "err", err)
	s.sending.Add(1)
	go func() {
		defer s.sending.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sendTimeout)
		defer cancel()
		if err := s.Notifier.Send(ctx, m); err != nil {
			s.logger.WarnContext(ctx, "send a notification", "message", m, "err", err)
		}
	}()
}

// sendTimeout bounds one notification's sending, retries included.
const sendTimeout = 2 * time.Minute

// sendNotice is the notification job: the sender's own retries within the
// attempt, then the job's backoff; a message the gateway refused for good
// is not tried again. The error never holds the message's text, recipient
// or code.
func (s *Server) sendNotice(ctx context.Context, j *store.Job) error {
	plain, err := s.Sealer.Open(sealPurpose, j.Args, []byte(notifyJob))
	if err != nil {
		return fmt.Errorf("%w: open a notification: %v", store.ErrJobPermanent, err)
	}
	var m notify.Message
	if err := json.Unmarshal(plain, &m); err != nil {
		return fmt.Errorf("%w: decode a notification: %v", store.ErrJobPermanent, err)
	}
	if err := s.Notifier.Send(ctx, m); err != nil {
		if errors.Is(err, notify.ErrRejected) || errors.Is(err, notify.ErrNoChannel) {
			return fmt.Errorf("%w: %v", store.ErrJobPermanent, err)
		}
		return err
	}
	return nil
}

// openRegistry chooses who checks personal data: the configured service,
// else in development mode the simulator, else nobody (nil: the data are
// saved unchecked, and the start-up log says so).
func (s *Server) openRegistry() registry.Registry {
	switch {
	case s.cfg.RegistryURL != "":
		s.logger.Info("registry checks: the verification service at IDP_REGISTRY_URL")
		return &registry.HTTP{URL: s.cfg.RegistryURL, Token: s.cfg.RegistryToken, Client: &http.Client{Transport: tracing.Transport("registry", nil)}}
	case s.cfg.Dev:
		s.logger.Info("registry checks: the development simulator", "delay", s.cfg.RegistrySimDelay.String())
		return registry.Simulator{Delay: s.cfg.RegistrySimDelay}
	}
	s.logger.Warn("registry checks: IDP_REGISTRY_URL is not set; personal data are saved but not checked, and no account reaches the standard level")
	return nil
}

// tellOutcome tells the citizen, through their confirmed phone or else
// e-mail, how the registry check ended; it enqueues the notice in the
// transaction that records the outcome (ctx).
func (s *Server) tellOutcome(pages *web.Renderer) registry.Tell {
	return func(ctx context.Context, a *store.Account, v *store.Verification) error {
		key := "registry.notify_approved"
		if v.Status == store.VerificationRejected {
			key = "registry.notify_rejected"
		}
		text := pages.T(web.LangRU, key)
		switch {
		case a.Phone != "" && a.PhoneVerified:
			return s.enqueueNotice(ctx, notify.Message{Channel: notify.SMS, To: a.Phone, Body: text})
		case a.Email != "" && a.EmailVerified:
			return s.enqueueNotice(ctx, notify.Message{Channel: notify.Email, To: a.Email, Subject: pages.T(web.LangRU, "registry.notify_subject"), Body: text})
		}
		return nil
	}
}
