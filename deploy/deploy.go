// Package deploy holds the deployment files of the provider (the compose
// file, the Dockerfile, the Kubernetes manifests under k8s/) and renders
// the Kubernetes overlays with kustomize as a library, offline: no kubectl,
// no network. Its tests check what the files promise (probes, the non-root
// security context, secrets only through secretKeyRef, health checks in
// the compose file).
package deploy

import (
	"fmt"
	"path/filepath"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Overlays are the kustomize overlays under k8s/overlays.
var Overlays = []string{"dev", "prod"}

// Render builds the kustomization in dir (e.g. deploy/k8s/overlays/prod)
// from the files on disk. Remote bases and plugins are not used, so it
// never reaches the network.
func Render(dir string) (resmap.ResMap, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	opts := krusty.MakeDefaultOptions()
	k := krusty.MakeKustomizer(opts)
	m, err := k.Run(filesys.MakeFsOnDisk(), abs)
	if err != nil {
		return nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	return m, nil
}

// RenderYAML is Render written as one YAML stream, as kubectl kustomize
// prints it.
func RenderYAML(dir string) ([]byte, error) {
	m, err := Render(dir)
	if err != nil {
		return nil, err
	}
	return m.AsYaml()
}
