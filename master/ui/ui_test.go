package ui_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/agora-cluster/agora/master/ui"
)

func get(t *testing.T, srv *httptest.Server, p string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(srv.URL + p)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

// TestIndex: / serves the page with a content security policy that keeps
// scripts and styles to the master's own assets.
func TestIndex(t *testing.T) {
	srv := httptest.NewServer(ui.Handler())
	defer srv.Close()
	res, body := get(t, srv, "/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /: %s", res.Status)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET /: Content-Type %q", ct)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "style-src 'self'") {
		t.Errorf("GET /: Content-Security-Policy %q", csp)
	}
	if res.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("GET /: no X-Content-Type-Options: nosniff")
	}
	if !strings.Contains(body, `<script type="module" src="js/main.js">`) {
		t.Errorf("index.html does not load js/main.js:\n%s", body)
	}
	if res, _ := get(t, srv, "/js/nothing-here.js"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET a missing asset: %s, want 404", res.Status)
	}
}

var (
	htmlRef = regexp.MustCompile(`(?:src|href)="([^"#:]+)"`)
	jsRef   = regexp.MustCompile(`(?m)^\s*(?:import|export)\b[^;]*?from\s+'([^']+)'|^import\s+'([^']+)'`)
	// external catches anything that would make the browser fetch from
	// elsewhere: a CDN script or stylesheet, a web font, a CSS import.
	external = regexp.MustCompile(`(?i)(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|@import|@font-face|fonts\.googleapis|cdn\.|unpkg|jsdelivr`)
)

// TestAssetsResolve: every file index.html and the scripts refer to is
// embedded and served with its content type, and no asset loads anything
// from another host.
func TestAssetsResolve(t *testing.T) {
	srv := httptest.NewServer(ui.Handler())
	defer srv.Close()
	assets := ui.Assets()
	index, err := fs.ReadFile(assets, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, m := range htmlRef.FindAllStringSubmatch(string(index), -1) {
		if !strings.HasPrefix(m[1], "/api/") {
			want[path.Clean(m[1])] = true
		}
	}
	scripts := 0
	err = fs.WalkDir(assets, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(assets, p)
		if err != nil {
			return err
		}
		if loc := external.FindIndex(data); loc != nil {
			t.Errorf("%s refers to another host: %q", p, data[loc[0]:min(len(data), loc[1]+40)])
		}
		if strings.HasSuffix(p, ".js") {
			scripts++
			for _, m := range jsRef.FindAllStringSubmatch(string(data), -1) {
				ref := m[1] + m[2]
				if !strings.HasPrefix(ref, "./") && !strings.HasPrefix(ref, "../") {
					t.Errorf("%s imports %q: only relative imports of embedded files work", p, ref)
					continue
				}
				want[path.Join(path.Dir(p), ref)] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scripts < 5 || len(want) < 5 {
		t.Fatalf("found %d scripts and %d references; the patterns no longer match the assets", scripts, len(want))
	}
	types := map[string]string{".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
	for p := range want {
		res, body := get(t, srv, "/"+p)
		if res.StatusCode != http.StatusOK || body == "" {
			t.Errorf("GET /%s (referenced by the UI): %s", p, res.Status)
			continue
		}
		if ct := types[path.Ext(p)]; ct != "" && !strings.HasPrefix(res.Header.Get("Content-Type"), ct) {
			t.Errorf("GET /%s: Content-Type %q, want %s", p, res.Header.Get("Content-Type"), ct)
		}
	}
}
