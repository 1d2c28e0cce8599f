// Package httpx holds HTTP helpers the bundled frameworks share.
package httpx

import "net/http"

// AllowCORSReads lets the masters' web UI, served from another origin,
// read a framework's API from the browser. Only reads are allowed
// cross-origin.
func AllowCORSReads(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Access-Control-Allow-Methods", "GET")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}
