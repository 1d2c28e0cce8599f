package batch

import "os"

func writeBytes(p string, b []byte) error { return os.WriteFile(p, b, 0o644) }
