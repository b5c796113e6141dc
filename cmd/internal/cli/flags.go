package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// envPrefix starts the name of every flag's environment variable.
const envPrefix = "SESSIONKIT_"

// envName returns the environment variable of the flag named name:
// SESSIONKIT_ and the name in upper case, '-' as '_' (-members-file is
// SESSIONKIT_MEMBERS_FILE).
func envName(name string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// parse parses args into fs, then gives each flag the command line left
// out the value of its environment variable (see setFromEnv).
func parse(fs *flag.FlagSet, args []string) error {
	_, err := parseArgs(fs, args)
	return err
}

// parseArgs is parse, and also returns the names of the flags given on
// the command line.
func parseArgs(fs *flag.FlagSet, args []string) (map[string]bool, error) {
	given, err := parseFlags(fs, args)
	if err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return nil, errUsage
	}
	return given, nil
}

// parseEnv parses args into fs like fs.Parse, with a usage that names
// each flag's environment variable, then sets from the environment the
// flags the command line left out. A bad flag, which the flag set has
// already explained, is errUsage.
func parseEnv(fs *flag.FlagSet, args []string) error {
	_, err := parseFlags(fs, args)
	return err
}

// parseFlags is parseEnv, and also returns the names of the flags given
// on the command line.
func parseFlags(fs *flag.FlagSet, args []string) (map[string]bool, error) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s [flags]\n\nEvery flag can also be set by its environment variable; the command line wins.\n\n", fs.Name())
		printFlags(fs.Output(), fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return given, setFromEnv(fs, given)
}

// setFromEnv sets each flag of fs not given on the command line to the
// value of its environment variable (envName), when that is set and not
// empty: an empty variable counts as unset, so a parent process can
// clear one for its child. A value the flag refuses is an error that
// names the variable and what the flag wants, never the value, which may
// be a secret.
func setFromEnv(fs *flag.FlagSet, given map[string]bool) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] {
			return
		}
		name := envName(f.Name)
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return
		}
		if fs.Set(f.Name, v) != nil {
			err = fmt.Errorf("$%s: -%s wants %s; unset the variable or give -%s on the command line", name, f.Name, wants(f), f.Name)
		}
	})
	return err
}

// wants describes the values a flag takes, from its type.
func wants(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return "a valid value"
	}
	switch g.Get().(type) {
	case bool:
		return "true or false"
	case int, int64, uint, uint64:
		return "a whole number"
	case float64:
		return "a number"
	case time.Duration:
		return "a duration such as 500ms, 10s or 2m"
	}
	return "a valid value"
}

// printFlags writes the flags of fs as flag.PrintDefaults does, with each
// flag's environment variable on its first line:
//
//	-members-file FILE (env SESSIONKIT_MEMBERS_FILE)
//	    file of backends ...
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		var b strings.Builder
		fmt.Fprintf(&b, "  -%s", f.Name)
		if arg != "" {
			if arg == "string" && strings.HasSuffix(f.Name, "-file") {
				arg = "file"
			}
			b.WriteString(" " + strings.ToUpper(arg))
		}
		fmt.Fprintf(&b, " (env %s)\n    \t", envName(f.Name))
		b.WriteString(strings.ReplaceAll(usage, "\n", "\n    \t"))
		if d := defaultText(f); d != "" {
			fmt.Fprintf(&b, " (default %s)", d)
		}
		fmt.Fprintln(w, b.String())
	})
}

// defaultText returns a flag's default as -h shows it, "" for a zero
// value.
func defaultText(f *flag.Flag) string {
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return f.DefValue
	}
	switch g.Get().(type) {
	case string:
		if f.DefValue == "" {
			return ""
		}
		return fmt.Sprintf("%q", f.DefValue)
	case bool:
		if f.DefValue == "false" {
			return ""
		}
	case time.Duration:
		if f.DefValue == "0s" {
			return ""
		}
	default:
		if f.DefValue == "0" {
			return ""
		}
	}
	return f.DefValue
}

// logFlags are the flags of a command's log: -log-level and -log-format.
type logFlags struct {
	level, format *string
}

// addLogFlags registers -log-level, with the default level, and
// -log-format on fs.
func addLogFlags(fs *flag.FlagSet, level string) logFlags {
	return logFlags{
		level:  fs.String("log-level", level, "log level: debug, info, warn, error"),
		format: fs.String("log-format", "text", "log lines on stderr: text (key=value) or json (one object a line)"),
	}
}

// logger returns the command's logger, writing to stderr.
func (l logFlags) logger(stderr io.Writer) (*slog.Logger, error) {
	return logger(stderr, *l.level, *l.format)
}

// logger returns a logger writing lines of format ("text" or "json") at
// level and above to stderr.
func logger(stderr io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad log level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(stderr, opts)), nil
	}
	return nil, fmt.Errorf("bad log format %q: use text or json", format)
}
