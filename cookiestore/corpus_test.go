//go:build writecorpus

package cookiestore_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFuzzCorpus writes the seed tokens to testdata/fuzz/FuzzOpen, so
// that `go test` checks them on every run. After a change of the format:
//
//	go test -tags writecorpus -run TestWriteFuzzCorpus ./cookiestore
func TestWriteFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzOpen")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, tok := range seedTokens(t) {
		body := fmt.Sprintf("go test fuzz v1\nstring(%q)\n", tok)
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
