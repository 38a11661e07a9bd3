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
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
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

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/argon2"

	"github.com/esia-oidc/idp/factors/password"
	"github.com/esia-oidc/idp/idp/config"
	"github.com/esia-oidc/idp/internal/testserver"
)

// Ceiling scenario names.
const (
	scCeilRS256 = "ceiling-rs256"
	scCeilLogin = "ceiling-login"
)

// ceilingEnv, when set in the environment, makes this program the ceiling
// server listening on its value (see maybeServeCeiling); ceilingArgon2Env
// gives the argon2id parameters as "memoryKiB,time,threads".
const (
	ceilingEnv       = "IDPBENCH_CEILING_LISTEN"
	ceilingArgon2Env = "IDPBENCH_CEILING_ARGON2"
)

// ceilingPassword is what the load posts to /login.
const ceilingPassword = "correct horse battery staple"

// maybeServeCeiling runs the ceiling server and exits when this process
// was started as one; otherwise it returns at once. main and the tests'
// TestMain call it first.
func maybeServeCeiling() {
	addr := os.Getenv(ceilingEnv)
	if addr == "" {
		return
	}
	if err := serveCeiling(addr, os.Getenv(ceilingArgon2Env)); err != nil {
		fmt.Fprintln(os.Stderr, "idpbench ceiling server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveCeiling serves until SIGTERM or SIGINT.
func serveCeiling(addr, argonParams string) error {
	p, err := parseArgon2Env(argonParams)
	if err != nil {
		return err
	}
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	h, err := newCeilingHandler(p, priv)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
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

// newCeilingHandler returns the ceiling server's handler, signing with
// priv and checking passwords against the argon2id key of ceilingPassword
// under a random salt.
func newCeilingHandler(p config.Argon2, priv *rsa.PrivateKey) (http.Handler, error) {
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: jose.RS256,
		Key:       jose.JSONWebKey{Key: priv, KeyID: "ceiling", Algorithm: string(jose.RS256)},
	}, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		return nil, err
	}
	keyLen := password.DefaultParams().KeyLen
	salt := make([]byte, password.DefaultParams().SaltLen)
	rand.Read(salt)
	want := argon2.IDKey([]byte(ceilingPassword), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)

	sign := func() (string, error) {
		jti := make([]byte, 16)
		rand.Read(jti)
		now := time.Now().Unix()
		claims, err := json.Marshal(map[string]any{
			"iss": "http://127.0.0.1", "sub": "ceiling", "aud": "http://127.0.0.1",
			"client_id": "ceiling", "scope": "openid", "iat": now, "nbf": now, "exp": now + 3600,
			"jti": base64.RawURLEncoding.EncodeToString(jti),
		})
		if err != nil {
			return "", err
		}
		obj, err := signer.Sign(claims)
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
		got := argon2.IDKey([]byte(r.PostForm.Get("password")), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
		if subtle.ConstantTimeCompare(got, want) != 1 {
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
	return mux, nil
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

// startCeiling starts this program again as the ceiling server and waits
// until it accepts connections.
func startCeiling(ctx context.Context, p config.Argon2) (*ceilingProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := testserver.FreeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), ceilingEnv+"="+addr, ceilingArgon2Env+"="+formatArgon2Env(p))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	cp := &ceilingProcess{cmd: cmd, addr: addr, done: make(chan error, 1)}
	go func() { cp.done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return cp, nil
		}
		select {
		case err := <-cp.done:
			return nil, fmt.Errorf("ceiling server exited: %v", err)
		case <-ctx.Done():
			cp.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cp.stop()
			return nil, errors.New("ceiling server did not listen within 30s")
		}
	}
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
// a concurrency right before the scenario it bounds runs at it, so that
// both meet the same machine (whose speed drifts from minute to minute).
func (b *bench) startCeiling(ctx context.Context) error {
	if len(ceilingScenarios(b.o.Scenarios)) == 0 {
		return nil
	}
	fmt.Fprintln(b.w, "\nidpbench: starting the ceiling server (net/http, no storage, no fosite: one RS256 signature, or one argon2id hash and two RS256 signatures, per request)")
	cp, err := startCeiling(ctx, b.o.Argon2)
	if err != nil {
		return fmt.Errorf("start the ceiling server: %w", err)
	}
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
		case status != http.StatusOK:
			return outcomeFailed, fmt.Sprintf("POST %s: status %d", path, status)
		}
		return outcomeOK, ""
	}
	if oc, desc := do(ctx, 0); oc != outcomeOK {
		return fmt.Errorf("%s: %s", sc, desc)
	}
	r := b.measure(ctx, b.ceil.p.pid(), "", sc, n, do)
	b.rep.Results = append(b.rep.Results, r)
	printResult(b.w, &r)
	return ctx.Err()
}
