package cookiestore_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The store starts no goroutine, nor do the compressors it drives.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
