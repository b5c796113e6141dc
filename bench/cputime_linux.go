package bench

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time the calling thread has used. On a shared
// machine it excludes the time the benchmark waited for a core, which
// wall-clock ns/op includes.
func threadCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
