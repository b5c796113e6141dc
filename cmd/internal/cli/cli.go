// Package cli implements the sessionkit command's subcommands. Each takes
// its arguments and output streams, so tests drive them as a user would.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/sessionkit/sessionkit/cmd/internal/ringsim"
)

const usage = `sessionkit: distributed HTTP session management for Go

Usage:
  sessionkit demo [flags]   run the demo shop (open the printed URL)
  sessionkit node [flags]   run one shop node
  sessionkit router [flags] run the session-aware router in front of nodes
  sessionkit lab [flags]    measure the strategies side by side; write a report with charts
  sessionkit ring simulate  placement, balance and disruption at any size, in one process
  sessionkit version        the version, VCS revision and Go version of this binary (also --version)
  sessionkit help           this text

Run "sessionkit COMMAND -h" for a command's flags. Every flag can also be
set by an environment variable, SESSIONKIT_ and the flag's name in upper
case with '-' as '_' (--members-file: SESSIONKIT_MEMBERS_FILE); a flag on
the command line wins. The long-running commands log text lines on stderr,
or JSON with --log-format json.
`

// Main runs the command line args (without the program name) and returns
// the process's exit code. It returns when ctx ends (the signal handler's
// context) or the command finishes.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "node":
		err = runNode(ctx, rest, stdout, stderr)
	case "demo":
		err = runDemo(ctx, rest, stdout, stderr)
	case "router":
		err = runRouter(ctx, rest, stdout, stderr)
	case "lab":
		err = runLab(ctx, rest, stdout, stderr)
	case "ring":
		if len(rest) == 0 || rest[0] != "simulate" {
			fmt.Fprintln(stderr, "usage: sessionkit ring simulate [flags]")
			return 2
		}
		err = ringsim.Command(rest[1:], stdout, parseEnv)
	case "version", "-version", "--version":
		if len(rest) > 0 {
			fmt.Fprintln(stderr, "usage: sessionkit version")
			return 2
		}
		info, _ := debug.ReadBuildInfo()
		writeVersion(stdout, info)
		return 0
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "sessionkit: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "sessionkit: %v\n", err)
		return 1
	}
}

// errUsage reports bad flags, which the flag set has already explained.
var errUsage = errors.New("usage")

var pid = os.Getpid()
