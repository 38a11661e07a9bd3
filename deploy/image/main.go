// Command image assembles the provider's container image from static
// binaries, in process and without a Docker daemon or a registry: no base
// image is pulled. The image holds /usr/local/bin/idp and
// /usr/local/bin/catalog, an /etc/passwd and /etc/group with the nonroot
// user (65532), the CA certificates of the machine that builds it, and an
// empty /tmp; it has no shell. It runs as 65532:65532, its entrypoint is
// `idp` with `serve` as the default command, and its health check is
// `idp healthcheck` (GET /healthz on loopback).
//
//	go run ./deploy/image -bin DIR -tag NAME:VERSION -tarball FILE [-oci DIR]
//
// DIR holds the idp and catalog binaries, built with CGO_ENABLED=0 (a
// binary linked against a dynamic loader is refused). The tarball is what
// `docker load` and `podman load` read; the OCI layout directory is what
// `skopeo copy oci:DIR docker://...` and `crane push DIR ...` push.
// `make image` runs it.
package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Where things are in the image.
const (
	binDir    = "/usr/local/bin"
	caCerts   = "/etc/ssl/certs/ca-certificates.crt"
	nonrootID = 65532
	port      = "8080"
)

// binaries are the commands the image holds; the first is the entrypoint.
var binaries = []string{"idp", "catalog"}

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "image:", err)
		}
		os.Exit(1)
	}
}

// options say what to build and where to write it.
type options struct {
	BinDir  string
	CACerts string
	Tag     string
	Version string
	Arch    string
	Created time.Time
	Tarball string
	OCI     string
}

func run(args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.BinDir, "bin", "", "directory holding the static idp and catalog binaries")
	fs.StringVar(&o.CACerts, "ca-certs", caCerts, "PEM bundle of CA certificates copied to "+caCerts)
	fs.StringVar(&o.Tag, "tag", "esia-oidc/idp:dev", "image name and tag written into the tarball")
	fs.StringVar(&o.Arch, "arch", runtime.GOARCH, "architecture of the binaries (GOARCH)")
	fs.StringVar(&o.Tarball, "tarball", "", "write a tarball for docker load / podman load here")
	fs.StringVar(&o.OCI, "oci", "", "write an OCI image layout directory here")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.BinDir == "" || (o.Tarball == "" && o.OCI == "") {
		fs.Usage()
		return errors.New("-bin and one of -tarball or -oci are required")
	}
	ref, err := name.NewTag(o.Tag)
	if err != nil {
		return fmt.Errorf("-tag: %w", err)
	}
	o.Version = ref.TagStr()
	// Reproducible: the creation time is SOURCE_DATE_EPOCH, or the epoch.
	o.Created = time.Unix(0, 0).UTC()
	if s := getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH: %w", err)
		}
		o.Created = time.Unix(n, 0).UTC()
	}
	img, err := build(o)
	if err != nil {
		return err
	}
	if o.Tarball != "" {
		if err := tarball.WriteToFile(o.Tarball, ref, img); err != nil {
			return fmt.Errorf("write %s: %w", o.Tarball, err)
		}
		fmt.Fprintf(stdout, "wrote %s (docker load -i %s)\n", o.Tarball, o.Tarball)
	}
	if o.OCI != "" {
		if err := os.RemoveAll(o.OCI); err != nil {
			return err
		}
		p, err := layout.Write(o.OCI, empty.Index)
		if err != nil {
			return err
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": o.Tag})); err != nil {
			return fmt.Errorf("write %s: %w", o.OCI, err)
		}
		fmt.Fprintf(stdout, "wrote %s (OCI image layout)\n", o.OCI)
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s\n", o.Tag, d)
	return nil
}

// build assembles the image: a base layer (users, CA certificates, /tmp)
// and a layer of the binaries.
func build(o options) (v1.Image, error) {
	certs, err := os.ReadFile(o.CACerts)
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w (pass -ca-certs; Debian's ca-certificates package has them)", err)
	}
	base := newTar(o.Created)
	base.dir("etc", 0o755, 0)
	base.file("etc/passwd", 0o644, 0, []byte(fmt.Sprintf(
		"root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", nonrootID, nonrootID)))
	base.file("etc/group", 0o644, 0, []byte(fmt.Sprintf("root:x:0:\nnonroot:x:%d:\n", nonrootID)))
	base.dir("etc/ssl", 0o755, 0)
	base.dir("etc/ssl/certs", 0o755, 0)
	base.file(caCerts[1:], 0o644, 0, certs)
	base.dir("home", 0o755, 0)
	base.dir("home/nonroot", 0o700, nonrootID)
	base.dir("tmp", 0o1777, 0)

	bins := newTar(o.Created)
	bins.dir("usr", 0o755, 0)
	bins.dir("usr/local", 0o755, 0)
	bins.dir(binDir[1:], 0o755, 0)
	for _, b := range binaries {
		p := filepath.Join(o.BinDir, b)
		if err := checkStatic(p); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		bins.file(binDir[1:]+"/"+b, 0o755, 0, data)
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	var adds []mutate.Addendum
	for _, l := range []struct {
		t       *tarWriter
		comment string
	}{{base, "users, CA certificates, /tmp"}, {bins, "idp and catalog"}} {
		layer, err := l.t.layer()
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
			History: v1.History{Created: v1.Time{Time: o.Created}, CreatedBy: "deploy/image", Comment: l.comment}})
	}
	img, err = mutate.Append(img, adds...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Created = o.Arch, "linux", v1.Time{Time: o.Created}
	cf.Config = imageConfig(o.Version)
	return mutate.ConfigFile(img, cf)
}

// imageConfig is how a container of the image runs.
func imageConfig(version string) v1.Config {
	return v1.Config{
		User:       fmt.Sprintf("%d:%d", nonrootID, nonrootID),
		Entrypoint: []string{binDir + "/" + binaries[0]},
		Cmd:        []string{"serve"},
		Env: []string{
			"PATH=" + binDir,
			"SSL_CERT_FILE=" + caCerts,
			"IDP_LISTEN=:" + port,
		},
		WorkingDir:   "/home/nonroot",
		ExposedPorts: map[string]struct{}{port + "/tcp": {}},
		Healthcheck: &v1.HealthConfig{
			Test:        []string{"CMD", binDir + "/idp", "healthcheck"},
			Interval:    10 * time.Second,
			Timeout:     3 * time.Second,
			StartPeriod: 20 * time.Second,
			Retries:     3,
		},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "idp",
			"org.opencontainers.image.description": "ESIA-style OpenID Connect provider (idp) and its catalog portal (catalog)",
			"org.opencontainers.image.version":     version,
			"org.opencontainers.image.source":      "https://github.com/esia-oidc/idp",
		},
	}
}

// checkStatic refuses a binary that needs a dynamic loader: the image has
// no libc.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w (build it with CGO_ENABLED=0 GOOS=linux)", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}

// tarWriter builds one layer in memory.
type tarWriter struct {
	buf     bytes.Buffer
	tw      *tar.Writer
	modTime time.Time
	err     error
}

func newTar(modTime time.Time) *tarWriter {
	t := &tarWriter{modTime: modTime}
	t.tw = tar.NewWriter(&t.buf)
	return t
}

func (t *tarWriter) dir(name string, mode int64, owner int) {
	t.header(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, Uid: owner, Gid: owner})
}

func (t *tarWriter) file(name string, mode int64, owner int, data []byte) {
	t.header(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Uid: owner, Gid: owner, Size: int64(len(data))})
	if t.err == nil {
		_, t.err = t.tw.Write(data)
	}
}

func (t *tarWriter) header(h *tar.Header) {
	if t.err != nil {
		return
	}
	h.ModTime, h.Format = t.modTime, tar.FormatPAX
	t.err = t.tw.WriteHeader(h)
}

func (t *tarWriter) layer() (v1.Layer, error) {
	if t.err == nil {
		t.err = t.tw.Close()
	}
	if t.err != nil {
		return nil, t.err
	}
	b := t.buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
