package spec

import (
	"os"
	"testing"
)

// FuzzParse: hostile app specs get errors, never a panic, and whatever
// parses passes validation again.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/web.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"id":"a","cmd":"x","instances":2,"constraints":[["hostname","UNIQUE"]]}`))
	f.Add([]byte("id: a\ncmd: x\nports: [0, 0]\nupgrade: {min_health_capacity: 2}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		app, err := Parse(data)
		if err != nil {
			return
		}
		if err := app.Validate(); err != nil {
			t.Fatalf("parsed app fails validation: %v", err)
		}
	})
}
