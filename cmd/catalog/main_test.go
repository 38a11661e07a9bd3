package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(func(k string) string {
		if k == "CATALOG_DEV" {
			return "true"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8081" || c.Issuer != "http://127.0.0.1:8080" || c.ClientID != "demo-catalog" ||
		c.RedirectURL != "http://127.0.0.1:8081/callback" || c.DatabaseURL != "" || c.Schema != "catalog" {
		t.Errorf("defaults %+v", c)
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	env := map[string]string{"CATALOG_DEV": "maybe", "CATALOG_SIM_DELAY": "soon", "CATALOG_ISSUER": "ftp://x",
		"CATALOG_SECRET_KEY": "short", "CATALOG_REDIRECT_URL": "http://portal.example/callback"}
	_, err := loadConfig(func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("a broken configuration was accepted")
	}
	for _, want := range []string{"CATALOG_DEV", "CATALOG_SIM_DELAY", "CATALOG_ISSUER", "CATALOG_SECRET_KEY", "CATALOG_REDIRECT_URL: plain http"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not mention %s", err, want)
		}
	}
	if _, err := loadConfig(func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "CATALOG_SECRET_KEY is required") {
		t.Errorf("production without a secret key: %v", err)
	}
}

func TestConfigClientIDFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "client_id")
	if err := os.WriteFile(good, []byte("  c-0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(file string) (*config, error) {
		env := map[string]string{"CATALOG_DEV": "true", "CATALOG_CLIENT_ID": "from-env", "CATALOG_CLIENT_ID_FILE": file}
		return loadConfig(func(k string) string { return env[k] })
	}
	c, err := load(good)
	if err != nil || c.ClientID != "c-0123" {
		t.Fatalf("client id file: %+v, %v; want c-0123 from the file", c, err)
	}
	if _, err := load(empty); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("empty file: %v", err)
	}
	if _, err := load(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "CATALOG_CLIENT_ID_FILE") {
		t.Errorf("missing file: %v", err)
	}
}
