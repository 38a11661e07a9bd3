package store

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// ErrJobPermanent, wrapped in a JobHandler's error, says that trying again
// cannot help: the job is given up at once instead of being retried.
var ErrJobPermanent = errors.New("store: job failed for good")

// JobOptions tune one enqueued job.
type JobOptions struct {
	// MaxAttempts is how many times the job is tried at most; zero means
	// the runner's JobConfig.MaxAttempts.
	MaxAttempts int
	// Delay postpones the first attempt (wall-clock time, as the queue's).
	Delay time.Duration
}

// Job is one attempt at a job, as its handler sees it.
type Job struct {
	ID          int64
	Kind        string
	Args        []byte
	Attempt     int // 1 for the first attempt
	MaxAttempts int
}

// JobHandler does a job. A nil error completes it; an error makes it tried
// again after a backoff until its attempts run out, unless the error wraps
// ErrJobPermanent. A job may be tried again after its handler did its work
// (a process killed before recording the success), so handlers must be
// idempotent: check that the work is still to be done, in the same
// transaction that does it (Atomic).
type JobHandler func(ctx context.Context, j *Job) error

// Jobs enqueues durable background jobs.
type Jobs interface {
	// EnqueueJob adds a job of the kind with args (opaque to the store;
	// JSON by convention). Called with a context of Atomically, the job
	// exists only if that transaction commits.
	EnqueueJob(ctx context.Context, kind string, args []byte, opts JobOptions) error
}

// Atomic groups writes of the store of record in one transaction.
type Atomic interface {
	// Atomically calls fn with a context that makes the store's account,
	// consent, operator and audit operations and EnqueueJob part of one
	// transaction: it commits when fn returns nil, and otherwise nothing fn
	// did through the context is kept and fn's error is returned. The
	// operations of fn run one at a time (fn must not call the store from
	// other goroutines with the context, nor with any other context while
	// it runs). A write that fails in fn (ErrConflict) leaves the
	// transaction usable. Grants, keys and clients are not covered.
	Atomically(ctx context.Context, fn func(ctx context.Context) error) error
}

// JobRunner works the jobs of a store with the handlers registered for
// their kinds. Every process that shares the store may run one; a job is
// worked by one of them at a time.
type JobRunner interface {
	// Handle registers h for jobs of the kind, replacing any earlier one.
	// A job of a kind with no handler in this process fails its attempt
	// (another version of the program may know it).
	Handle(kind string, h JobHandler)
	// Start begins working jobs in the background; they are worked until
	// Stop, or until ctx ends.
	Start(ctx context.Context) error
	// Stop stops taking jobs and waits for the running ones until ctx ends;
	// then their contexts are cancelled.
	Stop(ctx context.Context) error
}

// JobStore is a store of record with durable jobs.
type JobStore interface {
	Jobs
	Atomic
	// NewJobRunner returns a runner of this store's jobs; its MaxAttempts
	// becomes the default of jobs enqueued without one.
	NewJobRunner(cfg JobConfig) (JobRunner, error)
}

// JobConfig configures a JobRunner.
type JobConfig struct {
	Workers     int           // jobs worked at once by this process
	MaxAttempts int           // default attempts of a job
	Backoff     time.Duration // wait after the first failed attempt, doubled after each further one
	MaxBackoff  time.Duration // the longest wait between attempts
	Timeout     time.Duration // an attempt's context ends after this
	// RescueAfter: a job running this long is taken to belong to a process
	// that died, and is tried again. At least Timeout.
	RescueAfter  time.Duration
	PollInterval time.Duration // how often the queue is polled for due jobs
	Logger       *slog.Logger  // nil discards
}

// DefaultJobConfig returns the defaults of the IDP_JOB_* settings.
func DefaultJobConfig() JobConfig {
	return JobConfig{
		Workers:      4,
		MaxAttempts:  10,
		Backoff:      5 * time.Second,
		MaxBackoff:   time.Hour,
		Timeout:      time.Minute,
		RescueAfter:  5 * time.Minute,
		PollInterval: time.Second,
	}
}

// Check reports whether the configuration is usable.
func (c JobConfig) Check() error {
	var errs []error
	if c.Workers < 1 {
		errs = append(errs, errors.New("jobs: Workers must be at least 1"))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, errors.New("jobs: MaxAttempts must be at least 1"))
	}
	if c.Backoff <= 0 || c.MaxBackoff < c.Backoff {
		errs = append(errs, errors.New("jobs: Backoff must be positive and MaxBackoff at least Backoff"))
	}
	if c.Timeout <= 0 || c.RescueAfter < c.Timeout {
		errs = append(errs, errors.New("jobs: Timeout must be positive and RescueAfter at least Timeout"))
	}
	if c.PollInterval < time.Millisecond {
		errs = append(errs, errors.New("jobs: PollInterval must be at least 1ms"))
	}
	return errors.Join(errs...)
}

// RetryDelay is the wait after the failed attempt number attempt (1 for
// the first): Backoff, doubled for each attempt after the first, at most
// MaxBackoff.
func (c JobConfig) RetryDelay(attempt int) time.Duration {
	d := c.Backoff
	for i := 1; i < attempt && d < c.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, c.MaxBackoff)
}
