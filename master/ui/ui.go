// Package ui is the masters' web UI: static assets embedded in the
// binary (no CDN, no build step at run time) that read the HTTP API.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the UI's assets; the master mounts it at /.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	return http.FileServer(http.FS(sub))
}
