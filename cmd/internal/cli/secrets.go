package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sessionkit/sessionkit/internal/redact"
)

// maxSecretFile caps a secret file: keys, tokens and URLs are short.
const maxSecretFile = 64 << 10

// parseSecrets parses args like parse, after giving each named flag a
// twin NAME-file that reads the flag's value from a file instead: a
// secret on the command line is shown by ps and /proc to every local
// user, a file or the environment is not. A secret file must be readable
// by its owner only. A secret given on the command line still works, with
// a warning; a URL only warns when it holds a password. The command line
// wins over a file, and a file (-NAME-file, or its variable
// SESSIONKIT_NAME_FILE) over the variable SESSIONKIT_NAME.
func parseSecrets(fs *flag.FlagSet, args []string, names ...string) error {
	files := make(map[string]*string, len(names))
	for _, name := range names {
		if fs.Lookup(name) == nil {
			panic("parseSecrets: no flag " + name) // a programming error
		}
		files[name] = fs.String(name+"-file", "", fmt.Sprintf("read -%s from this file (mode 0600 or stricter) instead of the command line", name))
	}
	onArgv, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	for _, name := range names {
		file := *files[name]
		switch {
		case onArgv[name] && onArgv[name+"-file"]:
			return fmt.Errorf("give -%s or -%s-file, not both", name, name)
		case onArgv[name]:
			if v := fs.Lookup(name).Value.String(); v != "" && (!strings.Contains(v, "://") || redact.URL(v) != v) {
				fmt.Fprintf(fs.Output(), "warning: -%s on the command line is visible to every local user (ps, /proc/PID/cmdline); use -%s-file or the environment (%s)\n", name, name, envName(name))
			}
		case file != "":
			v, err := readSecretFile(file)
			if err != nil {
				return fmt.Errorf("-%s-file: %w", name, err)
			}
			if err := fs.Set(name, v); err != nil {
				return fmt.Errorf("-%s-file %s: %w", name, file, err)
			}
		}
	}
	return nil
}

// errSecretFileMode reports a secret file that group or others may read.
var errSecretFileMode = errors.New("readable by group or others: chmod 600 it (on Kubernetes, give secrets through the environment, as deploy/kubernetes does)")

// readSecretFile reads a secret from a regular file that only its owner
// can read, without its trailing newline.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("%s has mode %04o, %w", path, perm, errSecretFileMode)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("%s is over %d bytes: not a secret file", path, maxSecretFile)
	}
	b = bytes.TrimRight(b, "\r\n")
	if len(bytes.TrimSpace(b)) == 0 {
		return "", fmt.Errorf("%s is empty", path)
	}
	return string(b), nil
}
