// Package ui is the masters' web UI: hand-written HTML, CSS and JavaScript
// embedded in the binary (no CDN, no external fonts, no build step) that
// read the masters' HTTP API from the browser every two seconds.
//
// The pages are an overview (leader, members, resources as bars, agents,
// frameworks), agents, frameworks with the allocator's offer diagnostics,
// tasks with links to their sandbox stdout and stderr, and the batch jobs
// and service apps of the bundled frameworks, read from each framework's
// own API at its webui_url. A page opened on a standby moves itself to the
// leader's UI, because standbys redirect API reads to the leader.
//
// The UI uses these routes of the master: GET /health, /api/v1/leader,
// /api/v1/members, /api/v1/agents, /api/v1/frameworks, /api/v1/tasks and
// /api/v1/agents/{agent}/sandbox/{framework}/{task}/{file}?offset=&length=.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy is sent with every asset: scripts, styles and
// images come from the master itself; the browser may call other origins
// only to read the bundled frameworks' APIs.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' http: https:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// Assets returns the embedded files (index.html at the root).
func Assets() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	return sub
}

// Handler serves the UI's assets; the master mounts it at /.
func Handler() http.Handler {
	files := http.FileServer(http.FS(Assets()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		// Embedded files carry no modification time; make browsers
		// revalidate so that an upgraded master serves its new UI.
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
