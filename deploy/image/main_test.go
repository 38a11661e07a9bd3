package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// staticBinaries builds a tiny program with CGO_ENABLED=0 under the names
// of the image's binaries.
func staticBinaries(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(src, "go.mod"), "module tiny\n\ngo 1.22\n")
	write(t, filepath.Join(src, "main.go"), "package main\n\nfunc main() {}\n")
	bin := filepath.Join(dir, "bin")
	cmd := exec.Command("go", "build", "-o", filepath.Join(bin, "idp"), ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(bin, "idp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "catalog"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestImage builds the image from static binaries and reads both outputs
// back: the configuration (non-root user, entrypoint, health check) and
// the files (binaries, users, certificates, /tmp), and no shell.
func TestImage(t *testing.T) {
	bin := staticBinaries(t)
	certs := filepath.Join(t.TempDir(), "ca.pem")
	write(t, certs, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	out := t.TempDir()
	tarPath, ociPath := filepath.Join(out, "image.tar"), filepath.Join(out, "oci")
	var stdout bytes.Buffer
	env := func(k string) string { return map[string]string{"SOURCE_DATE_EPOCH": "1764547200"}[k] }
	if err := run([]string{"-bin", bin, "-ca-certs", certs, "-tag", "example.test/idp:1.2.3", "-tarball", tarPath, "-oci", ociPath}, env, &stdout); err != nil {
		t.Fatal(err)
	}

	img, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("User = %q, want 65532:65532 (non-root)", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/idp"}) || !slices.Equal(c.Cmd, []string{"serve"}) {
		t.Errorf("Entrypoint %q Cmd %q", c.Entrypoint, c.Cmd)
	}
	if c.Healthcheck == nil || !slices.Equal(c.Healthcheck.Test, []string{"CMD", "/usr/local/bin/idp", "healthcheck"}) {
		t.Errorf("Healthcheck = %+v, want CMD idp healthcheck (no shell)", c.Healthcheck)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok || !slices.Contains(c.Env, "IDP_LISTEN=:8080") {
		t.Errorf("ExposedPorts %v Env %v: want 8080 and IDP_LISTEN=:8080", c.ExposedPorts, c.Env)
	}
	if c.Labels["org.opencontainers.image.version"] != "1.2.3" || cf.OS != "linux" || cf.Created.Unix() != 1764547200 {
		t.Errorf("version label %q, OS %q, created %v", c.Labels["org.opencontainers.image.version"], cf.OS, cf.Created)
	}

	files := map[string]*tar.Header{}
	contents := map[string]string{}
	rc := mutate.Extract(img)
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files[strings.TrimSuffix(h.Name, "/")] = h
		if strings.HasPrefix(h.Name, "etc/") && h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			contents[h.Name] = string(b)
		}
	}
	rc.Close()
	for _, f := range []string{"usr/local/bin/idp", "usr/local/bin/catalog"} {
		if h := files[f]; h == nil || h.Mode&0o111 == 0 || h.Uid != 0 {
			t.Errorf("%s: %+v, want an executable owned by root", f, h)
		}
	}
	if !strings.Contains(contents["etc/passwd"], "nonroot:x:65532:65532:") || !strings.Contains(contents["etc/group"], "nonroot:x:65532:") {
		t.Errorf("passwd %q group %q", contents["etc/passwd"], contents["etc/group"])
	}
	if !strings.Contains(contents["etc/ssl/certs/ca-certificates.crt"], "BEGIN CERTIFICATE") {
		t.Error("no CA certificates")
	}
	if h := files["tmp"]; h == nil || h.Typeflag != tar.TypeDir || h.Mode&0o1777 != 0o1777 {
		t.Errorf("tmp: %+v, want a sticky world-writable directory", files["tmp"])
	}
	for _, sh := range []string{"bin/sh", "bin/bash", "usr/bin/sh", "bin/busybox"} {
		if files[sh] != nil {
			t.Errorf("the image has a shell: %s", sh)
		}
	}

	// The OCI layout holds the same image (the docker tarball keeps the
	// configuration, not the manifest: compare configurations), and its
	// digest is the one printed.
	want := ociDigest(t, ociPath)
	ociImg, err := mustLayout(t, ociPath).Image(want)
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := img.ConfigName()
	c2, _ := ociImg.ConfigName()
	if c1 != c2 {
		t.Errorf("tarball config %s, OCI layout config %s", c1, c2)
	}
	if !strings.Contains(stdout.String(), want.String()) {
		t.Errorf("printed %q, want the digest %s", stdout.String(), want)
	}

	// Built again from the same inputs: the same digest.
	again := filepath.Join(out, "again")
	if err := run([]string{"-bin", bin, "-ca-certs", certs, "-tag", "example.test/idp:1.2.3", "-oci", again}, env, io.Discard); err != nil {
		t.Fatal(err)
	}
	if d := ociDigest(t, again); d != want {
		t.Errorf("rebuilt digest %s, want %s (reproducible)", d, want)
	}
}

func mustLayout(t *testing.T, dir string) layout.Path {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ociDigest is the digest of the one image in an OCI layout.
func ociDigest(t *testing.T, dir string) v1.Hash {
	t.Helper()
	idx, err := mustLayout(t, dir).ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("OCI layout %s: %d manifests, want 1", dir, len(m.Manifests))
	}
	return m.Manifests[0].Digest
}

// TestImageRefusesDynamicBinary: a binary that needs a dynamic loader
// would not start in an image without libc.
func TestImageRefusesDynamicBinary(t *testing.T) {
	dynamic := "/bin/true"
	if _, err := os.Stat(dynamic); err != nil {
		t.Fatalf("need %s (a dynamically linked binary): %v", dynamic, err)
	}
	bin := t.TempDir()
	data, err := os.ReadFile(dynamic)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range binaries {
		if err := os.WriteFile(filepath.Join(bin, b), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	certs := filepath.Join(t.TempDir(), "ca.pem")
	write(t, certs, "x")
	err = run([]string{"-bin", bin, "-ca-certs", certs, "-tarball", filepath.Join(t.TempDir(), "i.tar")}, func(string) string { return "" }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("err = %v, want dynamically linked", err)
	}
}
