package spec

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: hostile job files get errors, never a panic, and whatever
// parses passes validation again.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("name: x\ncommand: true\nretries: {count: -1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		jobs, err := Parse(data, Auto)
		if err != nil {
			return
		}
		for _, j := range jobs {
			if _, err := Validate(j); err != nil {
				t.Fatalf("parsed job fails validation: %v", err)
			}
		}
	})
}
