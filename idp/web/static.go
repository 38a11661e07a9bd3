package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// staticTypes are the content types of the assets; an asset of any other
// kind fails New.
var staticTypes = map[string]string{
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".svg":   "image/svg+xml",
	".ico":   "image/x-icon",
	".png":   "image/png",
	".woff2": "font/woff2",
}

// staticFile is one embedded asset.
type staticFile struct {
	data        []byte
	contentType string
	version     string // first hex digits of the content's SHA-256
}

func loadStatic(fsys fs.FS) (map[string]staticFile, error) {
	entries, err := fs.ReadDir(fsys, "static")
	if err != nil {
		return nil, fmt.Errorf("web: read static assets: %w", err)
	}
	files := make(map[string]staticFile, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		ct, ok := staticTypes[path.Ext(e.Name())]
		if !ok {
			return nil, fmt.Errorf("web: static asset %s has no known content type", e.Name())
		}
		data, err := fs.ReadFile(fsys, "static/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("web: read static asset %s: %w", e.Name(), err)
		}
		sum := sha256.Sum256(data)
		files[e.Name()] = staticFile{data: data, contentType: ct, version: hex.EncodeToString(sum[:6])}
	}
	return files, nil
}

// Static serves the assets under /static/ (mount it at "GET /static/"). A
// URL carrying the asset's current version (?v=, as the pages link it) is
// cached for a year as immutable; any other for a day. Responses carry an
// ETag and the asset's content type.
func (r *Renderer) Static() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		name, ok := strings.CutPrefix(req.URL.Path, "/static/")
		f, found := r.static[name]
		if !ok || !found {
			http.NotFound(w, req)
			return
		}
		h := w.Header()
		h.Set("Content-Type", f.contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", `"`+f.version+`"`)
		if req.URL.Query().Get("v") == f.version {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "public, max-age=86400")
		}
		http.ServeContent(w, req, name, time.Time{}, bytes.NewReader(f.data))
	})
}
