package postgres_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/esia-oidc/idp/store"
	"github.com/esia-oidc/idp/store/postgres"
	"github.com/esia-oidc/idp/store/postgres/postgrestest"
)

// envCrashChild, when set to a database URL, makes the test binary the
// process that TestJobRescuedAfterCrash kills (see TestMain).
const envCrashChild = "IDP_TEST_JOB_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dbURL := os.Getenv(envCrashChild); dbURL != "" {
		os.Exit(crashChild(dbURL))
	}
	os.Exit(m.Run())
}

// crashConfig is the runner configuration of both processes: a job running
// for two seconds counts as stuck.
func crashConfig() store.JobConfig {
	cfg := store.DefaultJobConfig()
	cfg.Backoff, cfg.MaxBackoff = 50*time.Millisecond, 100*time.Millisecond
	cfg.Timeout, cfg.RescueAfter = time.Second, 2*time.Second
	cfg.PollInterval = 100 * time.Millisecond
	return cfg
}

// crashChild works jobs of kind "crash" with a handler that records its
// start, says so on stdout and then hangs, as a process does that is
// killed in the middle of a job.
func crashChild(dbURL string) int {
	ctx := context.Background()
	s, err := postgres.Open(ctx, dbURL, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	r, err := s.NewJobRunner(crashConfig())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	r.Handle("crash", func(ctx context.Context, j *store.Job) error {
		if err := postgres.ExecForTest(ctx, s, `INSERT INTO job_log (job_id, attempt, pid, phase) VALUES ($1, $2, $3, 'start')`,
			j.ID, j.Attempt, os.Getpid()); err != nil {
			return err
		}
		fmt.Printf("STARTED %d\n", j.ID)
		time.Sleep(time.Hour) // never returns: the test kills the process
		return nil
	})
	if err := r.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	select {}
}

// TestJobRescuedAfterCrash: a process is SIGKILLed while a job's handler
// runs; another process on the same database (a restarted server) takes
// the job up once it has been running longer than RescueAfter, and the job
// completes exactly once.
func TestJobRescuedAfterCrash(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dbURL := postgrestest.NewSchemaURL(t)
	s := open(t, dbURL, nil)
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if err := postgres.ExecForTest(ctx, s, `CREATE TABLE job_log (job_id bigint, attempt int, pid int, phase text)`); err != nil {
		t.Fatal(err)
	}
	if err := s.EnqueueJob(ctx, "crash", []byte(`{"account":"acc-1"}`), store.JobOptions{}); err != nil {
		t.Fatalf("EnqueueJob: %v", err)
	}

	// The first process takes the job and is killed in its handler.
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCrashChild+"="+dbURL)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the first process: %v", err)
	}
	started := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "STARTED ") {
				started <- strings.TrimPrefix(sc.Text(), "STARTED ")
				return
			}
		}
		close(started)
	}()
	var jobID int64
	select {
	case line, ok := <-started:
		if !ok {
			t.Fatal("the first process ended without starting the job")
		}
		if jobID, err = strconv.ParseInt(line, 10, 64); err != nil {
			t.Fatalf("job id %q: %v", line, err)
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("the first process did not start the job")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	_ = cmd.Wait()
	if state, attempt, err := postgres.JobStateForTest(ctx, s, jobID); err != nil || state != "running" || attempt != 1 {
		t.Fatalf("after the kill the job is %q at attempt %d (%v), want running at 1", state, attempt, err)
	}

	// The second process: its runner rescues the job and finishes it.
	r, err := s.NewJobRunner(crashConfig())
	if err != nil {
		t.Fatal(err)
	}
	r.Handle("crash", func(ctx context.Context, j *store.Job) error {
		if string(j.Args) != `{"account":"acc-1"}` {
			return fmt.Errorf("args %q: %w", j.Args, store.ErrJobPermanent)
		}
		return postgres.ExecForTest(ctx, s, `INSERT INTO job_log (job_id, attempt, pid, phase) VALUES ($1, $2, $3, 'done')`,
			j.ID, j.Attempt, os.Getpid())
	})
	if err := r.Start(context.WithoutCancel(ctx)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Stop(c)
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		state, _, err := postgres.JobStateForTest(ctx, s, jobID)
		if err != nil {
			t.Fatal(err)
		}
		if state == "completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job is still %q long after the crash", state)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // room for a wrong second run to show
	starts, err := postgres.QueryForTest(ctx, s, `SELECT attempt FROM job_log WHERE phase = 'start' ORDER BY attempt`)
	if err != nil {
		t.Fatal(err)
	}
	dones, err := postgres.QueryForTest(ctx, s, `SELECT attempt FROM job_log WHERE phase = 'done' ORDER BY attempt`)
	if err != nil {
		t.Fatal(err)
	}
	if len(starts) != 1 || starts[0] != 1 {
		t.Errorf("the killed process started attempts %v, want [1]", starts)
	}
	if len(dones) != 1 || dones[0] != 2 {
		t.Errorf("the job was completed by attempts %v, want exactly once, by attempt 2", dones)
	}
	pids, err := postgres.QueryForTest(ctx, s, `SELECT DISTINCT pid FROM job_log`)
	if err != nil || len(pids) != 2 {
		t.Errorf("the attempts ran in processes %v (%v), want two", pids, err)
	}
}
