// Command render prints the Kubernetes manifests of an overlay of
// deploy/k8s, rendered by kustomize as a library (offline):
//
//	go run ./deploy/render [dev|prod|DIR]     (make manifests OVERLAY=...)
//
// The output is what `kubectl kustomize deploy/k8s/overlays/prod` prints;
// pipe it to `kubectl apply -f -`.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/esia-oidc/idp/deploy"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 1 {
		return fmt.Errorf("usage: render [dev|prod|DIR]")
	}
	dir := "prod"
	if len(args) == 1 {
		dir = args[0]
	}
	if slices.Contains(deploy.Overlays, dir) {
		dir = filepath.Join("deploy", "k8s", "overlays", dir)
	}
	out, err := deploy.RenderYAML(dir)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(out)
	return err
}
