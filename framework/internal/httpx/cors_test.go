package httpx

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestAllowCORSReads(t *testing.T) {
	h := AllowCORSReads(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	for method, want := range map[string]struct {
		code int
		cors bool
	}{"GET": {201, true}, "OPTIONS": {204, true}, "POST": {201, false}} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/", nil))
		if rec.Code != want.code || (rec.Header().Get("Access-Control-Allow-Origin") == "*") != want.cors {
			t.Errorf("%s: %d, CORS header %q", method, rec.Code, rec.Header().Get("Access-Control-Allow-Origin"))
		}
	}
}
