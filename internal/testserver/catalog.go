package testserver

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/esia-oidc/idp/internal/childproc"
	"github.com/esia-oidc/idp/internal/listenfd"
	"github.com/esia-oidc/idp/internal/logbuf"
)

var (
	catalogOnce sync.Once
	catalogBin  string
	catalogErr  error
)

// CatalogBinary builds cmd/catalog once per process (with the race detector
// when this program has it) and returns its path; RemoveBinary removes it.
func CatalogBinary() (string, error) {
	catalogOnce.Do(func() {
		dir, err := os.MkdirTemp("", "catalog-bin-")
		if err != nil {
			catalogErr = err
			return
		}
		catalogBin = filepath.Join(dir, "catalog")
		args := []string{"build", "-o", catalogBin}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "github.com/esia-oidc/idp/cmd/catalog")...)
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			catalogErr = fmt.Errorf("build catalog: %v\n%s", err, out)
		}
	})
	return catalogBin, catalogErr
}

// CatalogOptions are the settings of a catalog portal process.
type CatalogOptions struct {
	// Issuer is the provider's issuer.
	Issuer string
	// Register registers the portal's client at the provider once the
	// portal's URL is known (before the process starts) and returns its
	// client id and secret (empty for a public client).
	Register func(catalogURL string) (clientID, secret string, err error)
	// Env are extra CATALOG_* settings, "KEY=value", after the harness's.
	Env []string
}

// Catalog is a running catalog portal process.
type Catalog struct {
	URL      string
	ClientID string
	Schema   string // its tables' PostgreSQL schema, on the deployment's database
	logs     *logbuf.Buffer
}

// Logs returns what the portal printed.
func (c *Catalog) Logs() string { return c.logs.String() }

// StartCatalog runs the catalog portal on a socket bound here, in
// development mode (its status simulator runs), on the deployment's
// PostgreSQL in a schema of its own (dropped at the end of the test), and
// stops it at the end of the test. It fails the test if the portal is not
// ready within 30 s, and at the end if its log shows a data race.
func StartCatalog(t testing.TB, sh *Shared, o CatalogOptions) *Catalog {
	t.Helper()
	bin, err := CatalogBinary()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close() // the child has its own copy
	c := &Catalog{URL: "http://" + ln.Addr().String(), logs: &logbuf.Buffer{}}
	clientID, secret, err := o.Register(c.URL)
	if err != nil {
		t.Fatalf("register the catalog's client: %v", err)
	}
	c.ClientID = clientID
	schema := "catalog_" + randomHex(8)
	c.Schema = schema
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := execSQL(ctx, sh.DatabaseURL, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop the catalog's schema: %v", err)
		}
	})
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"CATALOG_ISSUER="+o.Issuer,
		"CATALOG_CLIENT_ID="+clientID,
		"CATALOG_CLIENT_SECRET="+secret,
		"CATALOG_PUBLIC_URL="+c.URL,
		"CATALOG_DATABASE_URL="+sh.DatabaseURL,
		"CATALOG_DATABASE_SCHEMA="+schema,
		"CATALOG_DEV=true",
		"CATALOG_SECRET_KEY="+randomHex(32),
		"CATALOG_LOG_LEVEL=warn",
	)
	cmd.Env = append(cmd.Env, o.Env...)
	cmd.Stdout, cmd.Stderr = c.logs, c.logs
	closeFiles, err := listenfd.Pass(cmd, listenfd.Named{Name: "http", Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	childproc.DieWithParent(cmd)
	err = cmd.Start()
	closeFiles()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		CheckRaces(t, "catalog "+c.URL, c.Logs())
		if t.Failed() {
			t.Logf("catalog %s log:\n%s", c.URL, c.Logs())
		}
	})
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := client.Get(c.URL + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return c
			}
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("catalog exited: %v\n%s", err, c.Logs())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("catalog %s not ready after 30s\n%s", c.URL, c.Logs())
		}
	}
}
