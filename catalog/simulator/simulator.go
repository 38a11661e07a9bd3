// Package simulator moves applications on in development, standing in for
// the departments: a submitted application goes to review after a delay,
// and a reviewed one is approved, or rejected when its number is a multiple
// of four, each with a department's comment.
package simulator

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/esia-oidc/idp/catalog/store"
)

// Comments the simulated departments write.
const (
	CommentInReview = "Заявление принято к рассмотрению ведомством"
	CommentApproved = "Заявление одобрено. Результат направлен в личный кабинет"
	CommentRejected = "Отказано: сведения не подтверждены ведомством. Проверьте данные и подайте заявление снова"
)

// Simulator is the development status simulator.
type Simulator struct {
	Store  store.Store
	Delay  time.Duration // how long each status lasts (default 5 s)
	Now    func() time.Time
	Logger *slog.Logger
}

func (s *Simulator) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// Step moves on every application whose status has lasted Delay, and
// returns how many it moved.
func (s *Simulator) Step(ctx context.Context) (int, error) {
	delay := s.Delay
	if delay == 0 {
		delay = 5 * time.Second
	}
	moved := 0
	for _, from := range []store.Status{store.StatusInReview, store.StatusSubmitted} {
		list, err := s.Store.ListApplications(ctx, store.ApplicationFilter{Status: from, UpdatedBefore: s.now().Add(-delay).Add(time.Nanosecond), Limit: 100})
		if err != nil {
			return moved, err
		}
		for _, a := range list {
			err := s.Store.UpdateApplication(ctx, a.Number, func(a *store.Application) error {
				if a.Status != from { // moved by another replica meanwhile
					return errSkip
				}
				switch {
				case from == store.StatusSubmitted:
					a.Append(store.StatusInReview, s.now(), CommentInReview)
				case a.Number%4 == 0:
					a.Append(store.StatusRejected, s.now(), CommentRejected)
				default:
					a.Append(store.StatusApproved, s.now(), CommentApproved)
				}
				return nil
			})
			if errors.Is(err, errSkip) {
				continue
			}
			if err != nil {
				return moved, err
			}
			moved++
		}
	}
	return moved, nil
}

var errSkip = errors.New("simulator: already moved")

// Run steps every tick until ctx ends.
func (s *Simulator) Run(ctx context.Context, tick time.Duration) {
	logger := s.Logger
	if logger == nil {
		logger = slog.Default()
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := s.Step(ctx); err != nil && ctx.Err() == nil {
				logger.WarnContext(ctx, "catalog: status simulator", "err", err)
			}
		}
	}
}
