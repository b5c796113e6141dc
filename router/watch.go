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
	var last time.Time // the modification time before the latest load
	if st, err := os.Stat(path); err == nil {
		last = st.ModTime()
	}
	rt.loadMembersFile(path, false)
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
		case <-tick.C:
			st, err := os.Stat(path)
			if err != nil || st.ModTime().Equal(last) {
				continue
			}
			last = st.ModTime()
		}
		rt.loadMembersFile(path, true)
	}
}

// loadMembersFile sets the members to the file's, and logs the outcome:
// a failure always, a success when told.
func (rt *Router) loadMembersFile(path string, logSuccess bool) {
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
}
