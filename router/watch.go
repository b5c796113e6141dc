package router

import (
	"context"
	"os"
	"time"
)

// ReadMembersFile reads a members file: one member a line, in
// ParseMembers's format.
func ReadMembersFile(path string) ([]Member, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseMembers(f)
}

// WatchMembersFile keeps the router's members those of the members file
// at path until ctx ends. It loads the file at once (so that no change
// made since the router got its members is missed), then again when its
// modification time changes, checked every interval (default, when 0 or
// less: a second), and whenever reload receives (nil: never; a command
// passes the channel it has signal.Notify send SIGHUP to). A file that
// cannot be read, or whose members SetMembers refuses, is logged to
// Config.Logger and the members stay as they were. It returns when ctx
// ends: run it in a goroutine of its own.
func (rt *Router) WatchMembersFile(ctx context.Context, path string, interval time.Duration, reload <-chan os.Signal) {
	if interval <= 0 {
		interval = time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	// last is the modification time of the file the members came from:
	// a load that fails is tried again at the next tick, since a file
	// caught half-written changes again when its writer finishes.
	var last time.Time
	load := func(logSuccess bool) {
		st, err := os.Stat(path)
		if err == nil && rt.loadMembersFile(path, logSuccess) {
			last = st.ModTime()
		}
	}
	load(false)
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			load(true)
		case <-tick.C:
			if st, err := os.Stat(path); err == nil && !st.ModTime().Equal(last) {
				load(true)
			}
		}
	}
}

// loadMembersFile sets the members to the file's, logs the outcome (a
// failure always, a success when told) and reports whether it succeeded.
func (rt *Router) loadMembersFile(path string, logSuccess bool) bool {
	list, err := ReadMembersFile(path)
	if err == nil {
		err = rt.SetMembers(list)
	}
	switch {
	case err != nil:
		rt.cfg.Logger.Error("router: members file not loaded; keeping the old members", "file", path, "err", err)
	case logSuccess:
		rt.cfg.Logger.Info("router: members reloaded", "file", path, "members", len(list))
	}
	return err == nil
}
