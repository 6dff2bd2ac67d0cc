// Package crashtest lets crash tests kill StreetWatch at a named point of
// the violation → evidence → ticket hand-off. It does nothing unless the
// environment variable STREETWATCH_TEST_CRASH_AT names the point; it is
// never set in production.
package crashtest

import (
	"fmt"
	"os"
	"syscall"
)

// Env is the variable naming the point to crash at.
const Env = "STREETWATCH_TEST_CRASH_AT"

var at = os.Getenv(Env)

// Point kills the process with SIGKILL (no deferred functions, no flushing:
// as a power cut would) when STREETWATCH_TEST_CRASH_AT equals name.
func Point(name string) {
	if at == "" || at != name {
		return
	}
	fmt.Fprintf(os.Stderr, "crashtest: SIGKILL at %s\n", name)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal arrives asynchronously
}
