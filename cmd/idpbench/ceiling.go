package main

// The ceiling: a server that does nothing but the work that bounds a
// scenario, behind net/http on keep-alive connections, in a process of its
// own like the idp server and driven by the same workers over the same kind
// of connection:
//
//	POST /rs256   signs one access token (RS256, fresh jti) and returns it
//	POST /login   hashes the posted password with argon2id, compares it and
//	              signs two tokens (access and ID): the least a code flow
//	              does, without its other four requests
//
// No client authentication, no storage, no fosite. What it reaches is the
// most that any server could reach on this machine with this load
// generator beside it, so each target is also read against it: a target
// above the ceiling cannot be met by any change to the idp server.

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/idp/keys"
	"github.com/esia-oidc/idp/internal/childproc"
)

// Ceiling scenario names.
const (
	scCeilRS256 = "ceiling-rs256"
	scCeilLogin = "ceiling-login"
)

// ceilingEnv, set to 1 in the environment, makes this program the ceiling
// server, serving on the listener it inherits as file descriptor 3 (see
// maybeServeCeiling); ceilingArgon2Env gives the argon2id parameters as
// "memoryKiB,time,threads".
const (
	ceilingEnv       = "IDPBENCH_CEILING"
	ceilingArgon2Env = "IDPBENCH_CEILING_ARGON2"
)

// ceilingPassword is what the load posts to /login.
const ceilingPassword = "correct horse battery staple"

// maybeServeCeiling runs the ceiling server and exits when this process
// was started as one; otherwise it returns at once. main and the tests'
// TestMain call it first.
func maybeServeCeiling() {
	if os.Getenv(ceilingEnv) != "1" {
		return
	}
	if err := serveCeiling(os.NewFile(3, "ceiling-listener"), os.Getenv(ceilingArgon2Env)); err != nil {
		fmt.Fprintln(os.Stderr, "idpbench ceiling server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveCeiling serves on the listener in f until SIGTERM or SIGINT.
func serveCeiling(f *os.File, argonParams string) error {
	p, err := parseArgon2Env(argonParams)
	if err != nil {
		return err
	}
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		return err
	}
	h, _, err := newCeilingHandler(p)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newCeilingHandler returns the ceiling server's handler and the public key
// it signs with. It signs as the raw rate does (keys.NewRawSigner, the
// typical claims with a fresh jti) and checks passwords as the idp server
// does: password.Hasher with the server's default slots (GOMAXPROCS) and
// queue, against a stored hash of ceilingPassword.
func newCeilingHandler(p config.Argon2) (http.Handler, crypto.PublicKey, error) {
	signer, priv, err := keys.NewRawSigner(keys.RS256)
	if err != nil {
		return nil, nil, err
	}
	params := password.DefaultParams()
	params.Memory, params.Time, params.Threads = p.MemoryKiB, p.Time, p.Threads
	hasher, err := password.New(params, config.Defaults().MaxConcurrentHashes, password.DefaultQueueWait)
	if err != nil {
		return nil, nil, err
	}
	stored, err := hasher.Hash(context.Background(), ceilingPassword)
	if err != nil {
		return nil, nil, err
	}

	sign := func() (string, error) {
		jti := make([]byte, 16)
		rand.Read(jti)
		claims := keys.TypicalClaims(time.Now())
		claims["jti"] = base64.RawURLEncoding.EncodeToString(jti)
		payload, err := json.Marshal(map[string]any(claims))
		if err != nil {
			return "", err
		}
		obj, err := signer.Sign(payload)
		if err != nil {
			return "", err
		}
		return obj.CompactSerialize()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /rs256", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		tok, err := sign()
		if err != nil {
			http.Error(w, "sign", http.StatusInternalServerError)
			return
		}
		writeCeilingTokens(w, tok)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		ok, err := hasher.Verify(r.Context(), r.PostForm.Get("password"), stored)
		switch {
		case errors.Is(err, password.ErrBusy):
			w.Header().Set("Retry-After", "5")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		case err != nil:
			http.Error(w, "verify", http.StatusInternalServerError)
			return
		case !ok:
			http.Error(w, "wrong password", http.StatusUnauthorized)
			return
		}
		at, err := sign()
		if err != nil {
			http.Error(w, "sign", http.StatusInternalServerError)
			return
		}
		id, err := sign()
		if err != nil {
			http.Error(w, "sign", http.StatusInternalServerError)
			return
		}
		writeCeilingTokens(w, at, id)
	})
	return mux, priv.Public(), nil
}

// writeCeilingTokens answers with an access token and, if given, an ID
// token.
func writeCeilingTokens(w http.ResponseWriter, access string, id ...string) {
	resp := map[string]any{"access_token": access, "token_type": "bearer", "expires_in": 3600}
	if len(id) > 0 {
		resp["id_token"] = id[0]
	}
	body, _ := json.Marshal(resp)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
}

func formatArgon2Env(p config.Argon2) string {
	return fmt.Sprintf("%d,%d,%d", p.MemoryKiB, p.Time, p.Threads)
}

func parseArgon2Env(s string) (config.Argon2, error) {
	f := strings.Split(s, ",")
	if len(f) != 3 {
		return config.Argon2{}, fmt.Errorf("%s: want memoryKiB,time,threads, got %q", ceilingArgon2Env, s)
	}
	var n [3]uint64
	for i, v := range f {
		var err error
		if n[i], err = strconv.ParseUint(v, 10, 32); err != nil || n[i] == 0 {
			return config.Argon2{}, fmt.Errorf("%s: %q is not a positive number", ceilingArgon2Env, v)
		}
	}
	if n[2] > 255 {
		return config.Argon2{}, fmt.Errorf("%s: %d threads", ceilingArgon2Env, n[2])
	}
	return config.Argon2{MemoryKiB: uint32(n[0]), Time: uint32(n[1]), Threads: uint8(n[2])}, nil
}

// ceilingProcess is a running ceiling server.
type ceilingProcess struct {
	cmd  *exec.Cmd
	addr string
	done chan error
}

// startCeiling starts this program again as the ceiling server, on a
// listener made here and handed down (so the address is known and cannot
// be taken by anything else meanwhile), dying with this process.
func startCeiling(p config.Argon2) (*ceilingProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), ceilingEnv+"=1", ceilingArgon2Env+"="+formatArgon2Env(p))
	cmd.ExtraFiles = []*os.File{f} // descriptor 3
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	childproc.DieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	cp := &ceilingProcess{cmd: cmd, addr: ln.Addr().String(), done: make(chan error, 1)}
	go func() { cp.done <- cmd.Wait() }()
	return cp, nil
}

func (cp *ceilingProcess) pid() int { return cp.cmd.Process.Pid }

// stop ends the server and waits for it.
func (cp *ceilingProcess) stop() {
	_ = cp.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-cp.done:
	case <-time.After(10 * time.Second):
		_ = cp.cmd.Process.Kill()
		<-cp.done
	}
}

// ceiling is the running ceiling server and the workers' connections to it.
type ceiling struct {
	p     *ceilingProcess
	wires []*wire
}

// startCeiling starts the ceiling server when a ceiling scenario is asked
// for. It stays up, idle, for the whole run: each ceiling scenario runs at
// a concurrency right before the first scenario it bounds runs at it, so
// that both meet the same machine (whose speed drifts from minute to
// minute).
func (b *bench) startCeiling(ctx context.Context) error {
	if len(ceilingScenarios(b.o.Scenarios)) == 0 {
		return nil
	}
	fmt.Fprintln(b.w, "\nidpbench: starting the ceiling server (net/http, no storage, no fosite: one RS256 signature, or one argon2id hash and two RS256 signatures, per request)")
	cp, err := startCeiling(b.o.Argon2)
	if err != nil {
		return fmt.Errorf("start the ceiling server: %w", err)
	}
	b.rep.ceilingPID = cp.pid()
	c := &ceiling{p: cp, wires: make([]*wire, b.maxConc)}
	for i := range c.wires {
		c.wires[i] = newWire(cp.addr)
	}
	b.ceil = c
	return nil
}

// stopCeiling stops the ceiling server, if any.
func (b *bench) stopCeiling() {
	if b.ceil == nil {
		return
	}
	for _, w := range b.ceil.wires {
		w.close()
	}
	b.ceil.p.stop()
	b.ceil = nil
}

// ceilingOf is the ceiling scenario that bounds a scenario, or "".
func ceilingOf(sc string) string {
	switch sc {
	case scCCRS256, scRefresh:
		return scCeilRS256
	case scCodeFlow:
		return scCeilLogin
	}
	return ""
}

// measureCeiling runs ceiling scenario sc at n clients unless it was asked
// for not or has run already.
func (b *bench) measureCeiling(ctx context.Context, sc string, n int) error {
	if b.ceil == nil || !slices.Contains(b.o.Scenarios, sc) || b.rep.find(sc, n) != nil {
		return nil
	}
	path, form := "/rs256", "grant_type=client_credentials"
	if sc == scCeilLogin {
		path, form = "/login", "password="+strings.ReplaceAll(ceilingPassword, " ", "+")
	}
	wires := b.ceil.wires
	do := func(ctx context.Context, w int) (outcome, string) {
		status, _, err := wires[w].post(ctx, path, "", form)
		switch {
		case err != nil:
			return outcomeFailed, fmt.Sprintf("POST %s: %v", path, err)
		case status == http.StatusServiceUnavailable:
			return outcomeShed, ""
		case status != http.StatusOK:
			return outcomeFailed, fmt.Sprintf("POST %s: status %d", path, status)
		}
		return outcomeOK, ""
	}
	if oc, desc := do(ctx, 0); oc != outcomeOK {
		return fmt.Errorf("%s: %s", sc, desc)
	}
	r := b.measure(ctx, b.ceil.p.pid(), "", sc, n, func(ctx context.Context) result {
		return runLoad(ctx, n, b.o.Warmup, b.o.Duration, do)
	})
	b.rep.Results = append(b.rep.Results, r)
	printResult(b.w, &r)
	return ctx.Err()
}
